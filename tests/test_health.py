"""The health check: exit 2 on a deleted, an ending and a drifted meeting, 0 once apply has fixed them."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.conftest import meeting, write_meetings
from zoomstate.state import StateStore


def _state(tmp_path):
    return StateStore(tmp_path / "state" / "zoomstate.json").load()


def test_check_reports_deleted_ending_and_drifted_then_healthy_after_apply(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("gone"), meeting("drifted", "bob@example.com"),
        meeting("ending", "carol@example.com", start_date="2027-01-05", weekly_days="3", occurrences=3),
        meeting("fine", start_time="11:00", occurrences=40),
    ])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    healthy = run("check", "-f", path)
    assert healthy.code == 2 and "ending" in healthy.out  # three weekly occurrences end within 30 days
    assert run("check", "-f", path, "--days", "7").code == 0, run("check", "-f", path, "--days", "7").out
    ids = {k: m.meeting_id for k, m in _state(tmp_path).meetings.items()}
    sandbox.delete_out_of_band(ids["gone"])
    sandbox.update_out_of_band(ids["drifted"], {"settings": {"waiting_room": False}, "duration": 90})
    sandbox.create_out_of_band("alice@example.com", {"topic": "Not ours", "type": 2,
                                                     "start_time": "2027-03-01T10:00:00Z", "duration": 30})
    text = run("check", "-f", path)
    assert text.code == 2, text.out + text.err
    report = json.loads(run("check", "-f", path, "--format", "json").out)
    kinds = {(f["kind"], f["key"]) for f in report["findings"]}
    assert {("deleted", "gone"), ("drift", "drifted"), ("ending", "ending")} <= kinds
    assert report["unmanaged_meetings_by_host"]["alice@example.com"] == 1
    drift = next(f for f in report["findings"] if f["kind"] == "drift")
    assert "duration" in drift["message"] and "settings.waiting_room" in drift["message"]
    markdown = run("check", "-f", path, "--format", "markdown")
    assert markdown.code == 2 and "> [!WARNING]" in markdown.out and "### Changed in Zoom (drift) (1)" in markdown.out
    assert run("apply", "-f", path, "--auto-approve").code == 0
    after = run("check", "-f", path, "--days", "7", "--format", "markdown")
    assert after.code == 0, after.out
    assert "> [!NOTE]" in after.out and "| alice@example.com | 1 |" in after.out


def test_check_error_exits_1(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("x", "nobody@example.com")])
    result = run("check", "-f", path)
    assert result.code == 1 and "nobody@example.com" in result.out + result.err


def test_check_reports_a_series_at_zooms_cap(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml",
                          [meeting("long", occurrences=50), meeting("short", start_time="11:00")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    report = json.loads(run("check", "-f", path, "--format", "json").out)
    assert [(f["kind"], f["key"]) for f in report["findings"]] == [("at_cap", "long")]
    assert report["counts"]["at_cap"] == 1 and report["healthy"] is False


def test_check_reports_duplicates_and_double_bookings(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("sync", occurrences=40), meeting("review", start_time="09:30", occurrences=40),
    ])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    kept = next(m for m in sandbox.meetings() if m["topic"] == "Sync")
    # A second run of a one-shot script: the same host, topic and series again, unmanaged.
    start = datetime.fromisoformat(kept["start_time"].replace("Z", "+00:00"))
    local = start.astimezone(ZoneInfo(kept["timezone"])).strftime("%Y-%m-%dT%H:%M:%S")  # wall clock, as the seed
    copy = sandbox.create_out_of_band("alice@example.com", {
        "topic": "Sync", "type": 8, "start_time": local, "timezone": kept["timezone"],
        "duration": kept["duration"], "recurrence": kept["recurrence"]})
    plan = json.loads(run("plan", "-f", path, "--format", "json").out)
    assert [d["meeting_id"] for d in plan["duplicates"]] == [copy["id"]], plan["duplicates"]
    report = json.loads(run("check", "-f", path, "--format", "json").out)
    kinds = {(f["kind"], f["key"]) for f in report["findings"]}
    assert ("duplicate", "sync") in kinds, report
    assert ("double_booking", "review") in kinds or ("double_booking", "sync") in kinds, report
    duplicate = next(f for f in report["findings"] if f["kind"] == "duplicate")
    assert str(copy["id"]) in duplicate["message"] and "--delete-duplicates" in duplicate["message"]
    assert report["healthy"] is False
