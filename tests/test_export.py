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


SEED_HEADER = "created_at,host_email,meeting_id,meeting_topic,start_time,timezone,duration,join_url,registration_url," \
              "recurrence_type,occurrences\n"


def _seed_csv(path, *rows: str) -> bytes:
    data = (SEED_HEADER + "".join(r + "\n" for r in rows)).encode("utf-8")
    path.write_bytes(data)
    return data


def test_rows_zoomstate_does_not_own_stay_in_order_after_its_own(tmp_path):
    path = tmp_path / "zoom_meetings.csv"
    original = _seed_csv(
        path,
        "2026-01-05T10:00:00,a@x.com,71111111111,Old Year,,America/New_York,,https://zoom.us/j/71111111111,,2,"
        "\"[{'occurrence_id': '1', 'start_time': '2026-02-01T14:00:00Z'}]\"",
        "2027-01-02T10:00:00,a@x.com,80000000001,Team Sync,,America/New_York,,https://zoom.us/j/80000000001,,2,[]",
        "2026-01-05T10:00:01,b@x.com,72222222222,Other Tool,,UTC,30,https://zoom.us/j/72222222222,,1,0",
    )
    write_csv(_state(), path)
    rows = read_csv(path)
    # zoomstate's four rows first (80000000001 is now managed: its seed row is replaced), then the others.
    assert [r["meeting_id"] for r in rows] == ["80000000000", "80000000001", "80000000002", "80000000003",
                                               "71111111111", "72222222222"]
    assert rows[4]["occurrences"].startswith("[{'occurrence_id'") and rows[4]["key"] == ""
    assert rows[5]["duration"] == "30" and rows[5]["meeting_topic"] == "Other Tool"
    # The first rewrite of a CSV zoomstate did not write keeps a copy; later rewrites keep the first copy.
    backup = tmp_path / "zoom_meetings.csv.seed-backup"
    assert backup.read_bytes() == original
    state = _state()
    del state.meetings["k3"]
    write_csv(state, path)
    rows = read_csv(path)
    assert [r["meeting_id"] for r in rows] == ["80000000000", "80000000001", "80000000002",
                                               "71111111111", "72222222222"]  # its own row of k3 is dropped
    assert backup.read_bytes() == original


def test_a_csv_zoomstate_wrote_gets_no_backup(tmp_path):
    path = write_csv(_state(), tmp_path / "out.csv")
    write_csv(State.new(), path)
    assert not (tmp_path / "out.csv.seed-backup").exists()
    assert path.read_text().strip() == ",".join([*SEED_COLUMNS, "key"])


def test_an_unreadable_csv_is_never_written_over(tmp_path):
    import pytest

    from zoomstate.export import check_csv_path
    from zoomstate.state import StateError

    path = tmp_path / "out.csv"
    path.write_bytes(b"\xff\xfe\x00broken")
    with pytest.raises(StateError, match="cannot be read as a CSV"):
        check_csv_path(path)
    with pytest.raises(StateError, match="not written over"):
        write_csv(_state(), path)
    assert path.read_bytes() == b"\xff\xfe\x00broken"
