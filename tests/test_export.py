from __future__ import annotations

from tests.conftest import read_csv
from zoomstate.export import SEED_COLUMNS, neutralise, render_csv, write_csv
from zoomstate.state import ManagedMeeting, State


def _state() -> State:
    state = State.new()
    for i, topic in enumerate(["=HYPERLINK(\"http://evil\")", "Team Sync", "-2+3", "@SUM(A1)"]):
        state.meetings[f"k{i}"] = ManagedMeeting(
            key=f"k{i}", meeting_id=80000000000 + i, host_email="a@x.com", topic=topic,
            created_at=f"2027-01-04T12:00:0{i}Z",
            outputs={"join_url": f"https://zoom.us/j/{80000000000 + i}", "registration_url": "",
                     "start_time": "2027-02-01T09:00:00", "timezone": "America/New_York", "duration": 45,
                     "recurrence_type": 2, "occurrences": 10},
        )
    return state


def test_columns_are_the_seed_columns_in_order_then_key(tmp_path):
    path = write_csv(_state(), tmp_path / "out.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert header == [*SEED_COLUMNS, "key"]
    rows = read_csv(path)
    assert [r["meeting_id"] for r in rows] == ["80000000000", "80000000001", "80000000002", "80000000003"]
    assert rows[1]["meeting_topic"] == "Team Sync"
    assert rows[1]["recurrence_type"] == "2" and rows[1]["occurrences"] == "10"
    assert rows[1]["start_time"] == "2027-02-01T09:00:00"


def test_formula_cells_are_neutralised():
    text = render_csv(_state())
    assert "'=HYPERLINK" in text and "'-2+3" in text and "'@SUM" in text
    assert neutralise("+1") == "'+1" and neutralise("Team") == "Team" and neutralise(None) == ""


def test_empty_state_writes_header_only(tmp_path):
    path = write_csv(State.new(), tmp_path / "out.csv")
    assert path.read_text().strip() == ",".join([*SEED_COLUMNS, "key"])
