"""Migrating from the seed script on the data its real runs leave behind.

The seed repository's situation, built in the sandbox: one host holds the same topic twice (a Wednesday 17:00
series east of UTC and a Thursday 07:00 series west of it), a monthly meeting whose config gives monthly_day
beside the week form, bodies as the seed script sends them (end_date as ``<end_date>T00:00:00Z``), a CSV with an
earlier year's rows and this year's rows with empty start_time/duration cells and Zoom's raw occurrences list,
then a second run of the script that made a copy of every series.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import read_csv, writes
from zoomstate.export import SEED_COLUMNS
from zoomstate.state import StateStore

HOST, OTHER = "alice@example.com", "bob@example.com"
SEED_MEETINGS = [
    {"host_email": HOST, "topic": "Office Hours", "agenda": "Open questions", "start_date": "2027-01-06",
     "start_time": "17:00:00", "duration": 60, "timezone": "Europe/Berlin", "recurrence_type": "Weekly",
     "weekly_days": "4", "end_date": "2027-03-31"},
    {"host_email": HOST, "topic": "Office Hours", "agenda": "Open questions", "start_date": "2027-01-07",
     "start_time": "07:00:00", "duration": 60, "timezone": "America/New_York", "recurrence_type": "weekly",
     "weekly_days": "5", "end_date": "2027-03-31"},
    {"host_email": OTHER, "topic": "Monthly Review", "start_date": "2027-01-05", "start_time": "10:00:00",
     "duration": 90, "timezone": "Europe/London", "recurrence_type": "monthly", "monthly_day": 5,
     "monthly_week": 1, "monthly_week_day": 3, "occurrences": 6, "enable_registration": False},
]
EARLIER_YEAR = [  # the 2026 run: its meetings have long expired in Zoom
    ("2026-01-05T09:12:44.120512", HOST, 71234567890, "Office Hours"),
    ("2026-01-05T09:12:45.301877", HOST, 71234567891, "Office Hours"),
    ("2026-01-05T09:12:46.551203", OTHER, 71234567892, "Monthly Review"),
]


def seed_body(config: dict) -> dict:
    """The create body the seed script sends for one of its meetings (its defaults, its end encoding)."""
    kind = config["recurrence_type"].lower()
    recurrence: dict = {"type": {"daily": 1, "weekly": 2, "monthly": 3}[kind],
                        "repeat_interval": config.get("repeat_interval", 1)}
    if kind == "weekly":
        recurrence["weekly_days"] = config["weekly_days"]
    elif "monthly_week" in config and "monthly_week_day" in config:
        recurrence.update(monthly_week=config["monthly_week"], monthly_week_day=config["monthly_week_day"])
    elif "monthly_day" in config:
        recurrence["monthly_day"] = config["monthly_day"]
    if "end_date" in config:
        recurrence["end_date_time"] = f"{config['end_date']}T00:00:00Z"  # midnight UTC, as the seed sends it
    else:
        recurrence["end_times"] = config["occurrences"]
    registration = config.get("enable_registration", True)
    return {
        "topic": config["topic"], "type": 8, "start_time": f"{config['start_date']}T{config['start_time']}",
        "duration": config.get("duration", 60), "timezone": config.get("timezone", "UTC"),
        "agenda": config.get("agenda", ""), "recurrence": recurrence,
        "settings": {"host_video": True, "participant_video": True, "join_before_host": False,
                     "mute_upon_entry": True, "watermark": False, "use_pmi": False,
                     "approval_type": 0 if registration else 2, "registration_type": 1, "audio": "both",
                     "auto_recording": "none", "waiting_room": True, "meeting_authentication": False},
    }


def seed_run(sandbox, clock, csv_path: Path) -> list[dict]:
    """One run of the seed script: every meeting created again, one row appended per meeting."""
    made = [sandbox.create_out_of_band(m["host_email"], seed_body(m)) for m in SEED_MEETINGS]
    new_file = not csv_path.exists()
    with open(csv_path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new_file:
            writer.writerow(SEED_COLUMNS)
        for config, meeting in zip(SEED_MEETINGS, made, strict=True):
            occurrences = [{k: o[k] for k in ("occurrence_id", "start_time", "duration", "status")}
                           for o in meeting["occurrences"]]
            # start_time and duration come back empty from real Zoom's create answer; occurrences is its list.
            writer.writerow([clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f"), config["host_email"], meeting["id"],
                             config["topic"], "", config["timezone"], "", meeting["join_url"],
                             meeting.get("registration_url", ""), meeting["recurrence"]["type"], str(occurrences)])
    clock.advance(3600)
    return made


def test_migrating_the_seed_repositorys_data(tmp_path, run, sandbox, clock):
    seed_config = tmp_path / "my-meetings-config.json"
    seed_config.write_text(json.dumps({
        "zoom_api": {"account_id": "abc", "client_id": "id", "client_secret": "secret"},
        "output_file": "zoom_meetings.csv", "meetings": SEED_MEETINGS}, indent=2))
    csv_path = tmp_path / "zoom_meetings.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(SEED_COLUMNS)
        for created, host, meeting_id, topic in EARLIER_YEAR:
            writer.writerow([created, host, meeting_id, topic, "", "Europe/Berlin", "", f"https://zoom.us/j/{meeting_id}",
                             "", 2, "[{'occurrence_id': '1767715200000', 'start_time': '2026-01-06T16:00:00Z', "
                             "'duration': 60, 'status': 'available'}]"])
    first = seed_run(sandbox, clock, csv_path)
    copies = seed_run(sandbox, clock, csv_path)  # the second run, by mistake
    original_csv = csv_path.read_bytes()
    earlier_rows = read_csv(csv_path)[:3]
    sandbox.reset_requests()

    meetings = tmp_path / "meetings.yaml"
    assert run("convert", seed_config, "--out", meetings).code == 0
    keys = ["alice-office-hours", "alice-office-hours-2", "bob-monthly-review"]
    assert f"key: {keys[1]}" in meetings.read_text()
    validate = run("validate", "-f", meetings)
    assert validate.code == 0 and "Zoom uses monthly_week and monthly_week_day" in validate.out + validate.err

    imported = run("import", "-f", meetings, "--csv", csv_path)
    assert imported.code == 0, imported.out + imported.err
    assert "3 meeting(s) imported, 6 left as they are, 0 skipped" in imported.out
    for meeting in copies:
        assert f"meeting {meeting['id']} is a copy of" in imported.out
    assert "meeting 71234567890 no longer exists in Zoom" in imported.out
    assert writes(sandbox) == 0
    # Every key holds its own series: the Wednesday one, the Thursday one, the monthly one (the oldest of each).
    state = StateStore(tmp_path / "state" / "zoomstate.json").load()
    assert {k: state.meetings[k].meeting_id for k in keys} == dict(zip(keys, (m["id"] for m in first), strict=True))

    plan = run("plan", "-f", meetings)
    assert plan.code == 0, plan.out + plan.err
    assert "0 to create" in plan.out and "0 to replace" in plan.out and "0 to delete" in plan.out
    # East of UTC the seed's midnight-UTC end dropped the last Wednesday: an update that names it. West of UTC
    # no Thursday falls between the two ends: nothing to do.
    assert "1 to update" in plan.out and "missing 2027-03-31 17:00" in plan.out
    assert "3 duplicate(s)" in plan.out
    for meeting in copies:
        assert f"meeting {meeting['id']} duplicates" in plan.out
    as_json = json.loads(run("plan", "-f", meetings, "--format", "json").out)
    assert {d["meeting_id"] for d in as_json["duplicates"]} == {m["id"] for m in copies}
    assert as_json["summary"]["create"] == as_json["summary"]["replace"] == as_json["summary"]["delete"] == 0
    markdown = run("plan", "-f", meetings, "--format", "markdown").out
    assert all(str(m["id"]) in markdown for m in copies)

    assert run("apply", "-f", meetings, "--auto-approve").code == 0
    rows = read_csv(csv_path)
    assert [r["key"] for r in rows[:3]] == keys
    assert [r["meeting_id"] for r in rows[3:6]] == [r["meeting_id"] for r in earlier_rows]
    assert [r["occurrences"] for r in rows[3:6]] == [r["occurrences"] for r in earlier_rows]
    assert (tmp_path / "zoom_meetings.csv.seed-backup").read_bytes() == original_csv
    assert len(sandbox.meetings()) == 6  # the copies are left alone without --delete-duplicates

    sandbox.reset_requests()
    plan = run("plan", "-f", meetings, "--delete-duplicates")
    assert "3 to delete" in plan.out and "3 destructive change(s)" in plan.out
    assert "apply will refuse" not in plan.out
    done = run("apply", "-f", meetings, "--auto-approve", "--delete-duplicates")
    assert done.code == 0, done.out + done.err
    deleted = sorted(int(r.path.split("?")[0].rsplit("/", 1)[1]) for r in sandbox.requests
                     if r.route.startswith("DELETE"))
    assert deleted == sorted(m["id"] for m in copies)
    assert sorted(m["id"] for m in sandbox.meetings()) == sorted(m["id"] for m in first)
    rows = read_csv(csv_path)
    assert [r["meeting_id"] for r in rows if r["meeting_id"].startswith("712")] == [
        r["meeting_id"] for r in earlier_rows]
    final = run("plan", "-f", meetings)
    assert "No changes" in final.out and "duplicate" not in final.out


def test_import_pairs_a_row_only_with_the_key_whose_schedule_zoom_agrees_with(tmp_path, run, sandbox, clock):
    from tests.conftest import meeting, write_meetings

    wednesday = meeting("wed", topic="Office Hours", start_date="2027-01-06", start_time="17:00", weekly_days="4")
    thursday = meeting("thu", topic="Office Hours", start_date="2027-01-07", start_time="07:00", weekly_days="5")
    # The Thursday row first in the CSV: it still goes to the Thursday key.
    made = {name: sandbox.create_out_of_band(HOST, seed_body({
        "topic": "Office Hours", "start_date": m["start_date"], "start_time": m["start_time"] + ":00",
        "duration": 45, "timezone": "America/New_York", "recurrence_type": "weekly",
        "weekly_days": m["weekly_days"], "occurrences": 10})) for name, m in (("thu", thursday), ("wed", wednesday))}
    friday = sandbox.create_out_of_band(HOST, seed_body({
        "topic": "Office Hours", "start_date": "2027-01-08", "start_time": "09:00:00", "timezone": "America/New_York",
        "recurrence_type": "weekly", "weekly_days": "6", "occurrences": 10}))
    csv_path = tmp_path / "seed.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(SEED_COLUMNS)
        for m in (made["thu"], made["wed"], friday):
            writer.writerow(["2027-01-04T12:00:00", HOST, m["id"], "Office Hours", "", "America/New_York", "",
                             m["join_url"], "", 2, "[]"])
    path = write_meetings(tmp_path / "meetings.yaml", [wednesday, thursday])
    result = run("import", "-f", path, "--csv", csv_path)
    assert result.code == 1  # the Friday row matches no key's schedule, and says so
    assert f"Imported meeting {made['thu']['id']} as thu." in result.out
    assert f"Imported meeting {made['wed']['id']} as wed." in result.out
    assert f"seed.csv:4: meeting {friday['id']} (next on Fri 2027-01-08 09:00 America/New_York" in result.out
    assert "not the schedule" in result.out and "weekly on Wed at 17:00" in result.out
    state = StateStore(tmp_path / "state" / "zoomstate.json").load()
    assert {k: m.meeting_id for k, m in state.meetings.items()} == {"thu": made["thu"]["id"], "wed": made["wed"]["id"]}

    # Two keys with one host, topic and schedule cannot be told apart: the row is imported as neither.
    twin = tmp_path / "twin"
    twin.mkdir()
    twins = write_meetings(twin / "meetings.yaml", [meeting("a", topic="Office Hours", start_date="2027-01-08",
                                                            start_time="09:00", weekly_days="6"),
                                                    meeting("b", topic="Office Hours", start_date="2027-01-08",
                                                            start_time="09:00", weekly_days="6", agenda="x")])
    result = run("import", "-f", twins, "--csv", csv_path)
    assert f"meeting {friday['id']} matches a, b" in result.out and result.code == 1
    assert "0 meeting(s) imported" in result.out
