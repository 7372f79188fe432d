"""Coming from the seed script: convert its JSON config, start a file with init."""

from __future__ import annotations

import json

from tests.conftest import TEST_NOW
from zoomstate import cli
from zoomstate.desired import load_desired

SEED_EXAMPLE_2 = {
    "zoom_api": {"account_id": "abc123xyz", "client_id": "client_id_here", "client_secret": "client_secret_here"},
    "meetings": [
        {"host_email": "sales@company.com", "topic": "Sales Pipeline Review", "start_date": "2027-03-04",
         "start_time": "10:00:00", "duration": 60, "timezone": "America/Los_Angeles", "recurrence_type": "weekly",
         "weekly_days": "3", "end_date": "2027-12-31", "enable_registration": False},
        {"host_email": "engineering@company.com", "topic": "Engineering Sprint Planning", "start_date": "2027-03-04",
         "start_time": "14:00:00", "duration": 120, "timezone": "America/New_York", "recurrence_type": "weekly",
         "weekly_days": "3", "repeat_interval": 2, "end_date": "2027-12-31", "enable_registration": True},
    ],
}


def test_convert_seed_config_gives_equivalent_meetings_with_keys(tmp_path, capsys, clock):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED_EXAMPLE_2, indent=2))
    out = tmp_path / "meetings.yaml"
    assert cli.main(["convert", str(seed), "--out", str(out)], clock=clock, environ={}) == 0
    captured = capsys.readouterr()
    text = out.read_text()
    for secret in ("abc123xyz", "client_id_here", "client_secret_here"):
        assert secret not in text and secret not in captured.out + captured.err
    assert "ZOOM_CLIENT_SECRET" in captured.err
    assert "$schema" in text.splitlines()[0]
    converted = load_desired(out, environ={}, now=TEST_NOW)
    original = load_desired(seed, environ={}, now=TEST_NOW)
    assert list(converted.meetings) == ["sales-sales-pipeline-review", "engineering-engineering-sprint-planning"]
    assert list(converted.meetings.values()) == list(original.meetings.values())
    assert not converted.credentials
    # refuses to overwrite
    assert cli.main(["convert", str(seed), "--out", str(out)], clock=clock, environ={}) == 1
    assert "already exists" in capsys.readouterr().err


def test_init_writes_a_valid_starter(tmp_path, capsys, clock):
    out = tmp_path / "meetings.yaml"
    assert cli.main(["init", "--out", str(out)], clock=clock, environ={}) == 0
    desired = load_desired(out, environ={}, now=TEST_NOW)
    assert set(desired.meetings) == {"team-sync", "monthly-review"}
    assert not [w for w in desired.warnings if "past" in w.message]


def test_import_seed_csv_brings_seed_meetings_under_management(tmp_path, run, sandbox):
    from tests.conftest import meeting, read_csv, write_meetings, writes
    from zoomstate.desired import load_desired
    from zoomstate.export import SEED_COLUMNS
    from zoomstate.zoombody import create_body

    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync"), meeting("review", "bob@example.com"),
                                                        meeting("not-in-csv", "carol@example.com")])
    desired = load_desired(path, environ={}, now=TEST_NOW)
    # What the seed script made: the meetings exist in Zoom, and its CSV lists two of them.
    made = {k: sandbox.create_out_of_band(s.host_email, create_body(s, TEST_NOW)) for k, s in desired.meetings.items()}
    seed_csv = tmp_path / "zoom_meetings_output.csv"
    lines = [",".join(SEED_COLUMNS)]
    for key in ("team-sync", "review"):
        m, s = made[key], desired.meetings[key]
        lines.append(f"2027-01-01T10:00:00,{s.host_email},{m['id']},{s.topic},2027-02-01T09:00:00,"
                     f"{s.timezone},45,{m['join_url']},,2,10")
    lines.append("2027-01-01T10:00:00,dave@example.com,99999999999,Unknown Meeting,,,,,,,")
    seed_csv.write_text("\n".join(lines) + "\n")
    sandbox.reset_requests()
    result = run("import", "-f", path, "--csv", seed_csv)
    assert result.code == 1  # one row matched nothing, and says so
    assert "2 meeting(s) imported, 0 left as they are, 1 skipped" in result.out
    assert "zoom_meetings_output.csv:4" in result.out
    assert writes(sandbox) == 0
    # The meeting the CSV did not list is adopted by the plan; nothing is created twice.
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert len(sandbox.meetings()) == 3
    assert {r["key"]: int(r["meeting_id"]) for r in read_csv(tmp_path / "zoom_meetings.csv")} == {
        k: m["id"] for k, m in made.items()}


def test_import_csv_reads_back_the_cells_zoomstate_neutralised(tmp_path, run, sandbox):
    # zoomstate writes "=Budget" as "'=Budget" so that a spreadsheet does not run it; importing its own CSV
    # (after the state was lost) must read the topic as it is.
    from tests.conftest import meeting, write_meetings, writes

    topics = {"budget": "=Budget", "daily": "-Daily", "plus": "+Plus one", "here": "@here sync"}
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(k, topic=t) for k, t in topics.items()])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    exported = (tmp_path / "zoom_meetings.csv").read_text(encoding="utf-8")
    assert all(f",'{t}," in exported for t in topics.values())
    made = {m["topic"]: m["id"] for m in sandbox.meetings()}
    (tmp_path / "state" / "zoomstate.json").unlink()
    (tmp_path / "zoom_meetings.csv").rename(tmp_path / "saved.csv")
    sandbox.reset_requests()
    result = run("import", "-f", path, "--csv", tmp_path / "saved.csv")
    assert result.code == 0, result.out + result.err
    assert "4 meeting(s) imported, 0 left as they are, 0 skipped" in result.out and writes(sandbox) == 0
    state = json.loads((tmp_path / "state" / "zoomstate.json").read_text(encoding="utf-8"))
    assert {k: m["meeting_id"] for k, m in state["meetings"].items()} == {k: made[t] for k, t in topics.items()}


def test_read_seed_csv_takes_short_and_long_rows(tmp_path):
    from zoomstate.importer import read_seed_csv

    path = tmp_path / "seed.csv"
    path.write_text("meeting_id,host_email,meeting_topic\n1,a@x.com\n2,b@x.com,'=T,extra,cells\n3,c@x.com,''=x\n",
                    encoding="utf-8")
    assert read_seed_csv(path) == [
        {"meeting_id": "1", "host_email": "a@x.com", "meeting_topic": ""},
        {"meeting_id": "2", "host_email": "b@x.com", "meeting_topic": "=T"},
        {"meeting_id": "3", "host_email": "c@x.com", "meeting_topic": "''=x"},
    ]
