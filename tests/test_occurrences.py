"""Occurrences as code, end to end against the sandbox: skips, one-off overrides, occurrences changed in
Zoom, rolling series and double-booked hosts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import meeting, read_csv, write_meetings, writes
from zoomstate import calendar
from zoomstate.desired import load_desired
from zoomstate.state import StateStore
from zoomstate.zoom import ZoomClient, ZoomCredentials

HOLIDAYS = {"us-holidays": ["2027-02-15", "2027-03-08"]}


def _state(tmp_path):
    return StateStore(tmp_path / "state" / "zoomstate.json").load()


def _occurrences(sandbox, meeting_id):
    return {o["start_time"]: o for o in sandbox.meeting(meeting_id)["occurrences"]}


def _client(sandbox):
    return ZoomClient(ZoomCredentials(sandbox.account_id, sandbox.client_id, sandbox.client_secret),
                      api_url=sandbox.api_url, oauth_url=sandbox.oauth_url, clock=sandbox.clock)


def test_skips_from_a_shared_calendar_are_cancelled_and_the_next_plan_is_empty(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync", skip_dates=["us-holidays", "2027-02-22"]),
    ], calendars=HOLIDAYS)
    shown = run("plan", "-f", path)
    assert shown.code == 0, shown.err
    for day in ("2027-02-15", "2027-02-22", "2027-03-08"):
        assert f"cancel occurrence {day}" in shown.out, shown.out
    assert "7 occurrences" in shown.out  # 10 in the series, 3 skipped
    applied = run("apply", "-f", path, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    meeting_id = _state(tmp_path).meetings["team-sync"].meeting_id
    held = _occurrences(sandbox, meeting_id)
    deleted = sorted(t[:10] for t, o in held.items() if o["status"] == "deleted")
    assert deleted == ["2027-02-15", "2027-02-22", "2027-03-08"]
    assert len(held) == 10
    cancels = [r for r in sandbox.requests if r.route == "DELETE /meetings/{meetingId}"]
    assert len(cancels) == 3 and all("cancel_meeting_reminder=false" in r.path for r in cancels)
    assert read_csv(tmp_path / "zoom_meetings.csv")[0]["occurrences"] == "7"
    sandbox.reset_requests()
    again = run("plan", "-f", path, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert "No changes" in again.out


def test_notify_on_cancel_emails_registrants(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync", skip_dates=["2027-02-15"], notify_on_cancel=True)])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    cancels = [r for r in sandbox.requests if r.route == "DELETE /meetings/{meetingId}"]
    assert len(cancels) == 1 and "cancel_meeting_reminder=true" in cancels[0].path


def test_a_skip_added_later_cancels_only_that_occurrence(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    write_meetings(path, [meeting("team-sync", skip_dates=["2027-03-01"])])
    sandbox.reset_requests()
    shown = run("plan", "-f", path)
    assert "cancel occurrence 2027-03-01" in shown.out, shown.out
    assert run("apply", "-f", path, "--auto-approve").code == 0
    routes = [r.route for r in sandbox.requests if r.route.split()[0] in ("PATCH", "DELETE", "POST")
              and "oauth" not in r.route]
    assert routes == ["DELETE /meetings/{meetingId}"]  # no series PATCH
    assert "No changes" in run("plan", "-f", path).out


def test_an_override_moves_one_occurrence_and_only_that(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    meeting_id = _state(tmp_path).meetings["team-sync"].meeting_id
    before = _occurrences(sandbox, meeting_id)
    write_meetings(path, [meeting("team-sync", overrides=[
        {"date": "2027-02-08", "start_time": "10:00", "duration": 30, "agenda": "Quarter review"}])])
    shown = run("plan", "-f", path)
    assert "move occurrence 2027-02-08 to 10:00, 30 min, own agenda" in shown.out, shown.out
    sandbox.reset_requests()
    applied = run("apply", "-f", path, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    sent = [r for r in sandbox.requests if r.route == "PATCH /meetings/{meetingId}"]
    assert len(sent) == 1 and "occurrence_id=" in sent[0].path
    assert sent[0].body == {"start_time": "2027-02-08T15:00:00Z", "duration": 30, "agenda": "Quarter review"}
    after = _occurrences(sandbox, meeting_id)
    moved = {t: o for t, o in after.items() if t not in before}
    assert list(moved) == ["2027-02-08T15:00:00Z"] and moved["2027-02-08T15:00:00Z"]["duration"] == 30
    assert {t: o for t, o in after.items() if t != "2027-02-08T15:00:00Z"} == {
        t: o for t, o in before.items() if t != "2027-02-08T14:00:00Z"}
    assert "No changes" in run("plan", "-f", path).out


def test_occurrences_changed_in_zoom_show_as_drift(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    meeting_id = _state(tmp_path).meetings["team-sync"].meeting_id
    ids = {o["start_time"][:10]: o["occurrence_id"] for o in sandbox.meeting(meeting_id)["occurrences"]}
    with _client(sandbox) as client:  # as if done in Zoom's web portal
        client.cancel_occurrence(meeting_id, ids["2027-02-15"])
        client.update_occurrence(meeting_id, ids["2027-02-22"], {"start_time": "2027-02-22T16:00:00Z"})
    shown = run("plan", "-f", path)
    assert "move occurrence 2027-02-22 back to 09:00" in shown.out, shown.out
    assert "occurrence 2027-02-15 was cancelled in Zoom" in shown.out
    assert "cannot restore" in shown.out
    sandbox.reset_requests()
    assert run("apply", "-f", path, "--auto-approve").code == 0
    sent = [r for r in sandbox.requests if r.route.split()[0] in ("PATCH", "DELETE", "POST") and "oauth" not in r.route]
    assert [r.route for r in sent] == ["PATCH /meetings/{meetingId}"] and "occurrence_id=" in sent[0].path
    held = _occurrences(sandbox, meeting_id)
    assert held["2027-02-22T14:00:00Z"]["status"] == "available"
    assert held["2027-02-15T14:00:00Z"]["status"] == "deleted"  # left as it is: Zoom cannot undo it
    again = run("plan", "-f", path)
    assert "No changes" in again.out and "cancelled in Zoom" in again.out
    # Accepting it in the file ends the warning.
    write_meetings(path, [meeting("team-sync", skip_dates=["2027-02-15"])])
    accepted = run("plan", "-f", path)
    assert "No changes" in accepted.out and "cancelled in Zoom" not in accepted.out


def test_a_daily_series_through_next_year_stays_rolling_with_one_meeting_id(tmp_path, run, sandbox, clock):
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("daily-sync", recurrence_type="daily", weekly_days=None, occurrences=None, end_date="2028-12-31",
                start_date="2027-01-05", rolling=True, enable_registration=True)])
    shown = run("plan", "-f", path)
    assert shown.code == 0, shown.err
    assert "Zoom holds 50 occurrences through 2027-02-23" in shown.out, shown.out
    assert run("apply", "-f", path, "--auto-approve").code == 0
    record = _state(tmp_path).meetings["daily-sync"]
    meeting_id, join, registration = record.meeting_id, record.outputs["join_url"], record.outputs["registration_url"]
    for month in range(1, 6):
        clock.set(datetime(2027, 1, 4, 12, tzinfo=UTC) + timedelta(days=30 * month))
        plan = run("plan", "-f", path)
        assert "extend rolling series to" in plan.out, plan.out
        sandbox.reset_requests()
        assert run("apply", "-f", path, "--auto-approve").code == 0
        patches = [r for r in sandbox.requests if r.route == "PATCH /meetings/{meetingId}"]
        assert len(patches) == 1 and writes(sandbox) == 1
        held = sandbox.meeting(meeting_id)
        upcoming = [o for o in held["occurrences"] if o["start_time"] > clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")]
        assert len(upcoming) == 50
        assert "No changes" in run("plan", "-f", path).out
    assert [m["id"] for m in sandbox.meetings()] == [meeting_id]
    record = _state(tmp_path).meetings["daily-sync"]
    assert (record.outputs["join_url"], record.outputs["registration_url"]) == (join, registration)


def test_a_non_rolling_series_past_the_cap_suggests_rolling(tmp_path):
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("daily-sync", recurrence_type="daily", weekly_days=None, occurrences=None, end_date="2028-12-31")])
    import pytest

    from zoomstate.model import InputError
    with pytest.raises(InputError) as caught:
        load_desired(path, now=datetime(2027, 1, 4, 12, tzinfo=UTC))
    assert "rolling: true" in str(caught.value)


def test_a_double_booking_is_warned_with_both_keys(tmp_path, run):
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync"),
        meeting("one-on-one", start_time="09:30", weekly_days="2,5", start_date="2027-02-05"),
        meeting("other-host", "bob@example.com"),
    ])
    checked = run("validate", "-f", path)
    assert checked.code == 0
    text = checked.out + checked.err
    assert "double-booked: team-sync and one-on-one overlap, first on 2027-02-08 at 09:30" in text, text
    assert "other-host" not in text
    plan = run("plan", "-f", path)
    assert "double-booked: team-sync and one-on-one" in plan.out + plan.err
    write_meetings(path, [meeting("team-sync"), meeting("one-on-one", start_time="09:30", weekly_days="2,5",
                                                          start_date="2027-02-05")],
                   max_concurrent_meetings_per_host=2)
    assert "double-booked" not in run("validate", "-f", path).out


def test_double_booking_check_finds_one_pair_among_ten_thousand(tmp_path):
    """10,000 meetings of one host, back to back, and one more on top of one of them: exactly that pair."""
    now = datetime(2027, 1, 4, 12, tzinfo=UTC)
    items = [meeting(f"m{i}", start_time=f"{i % 24:02d}:{(i // 24) % 60:02d}", duration=1,
                     start_date=(datetime(2027, 2, 1) + timedelta(days=i // 1440)).strftime("%Y-%m-%d"),
                     recurrence_type="daily", weekly_days=None, occurrences=1)
             for i in range(10_000)]
    items.append(meeting("extra", start_time="05:07", duration=1, start_date="2027-02-02", recurrence_type="daily",
                         weekly_days=None, occurrences=1))
    config = load_desired(write_meetings(tmp_path / "meetings.yaml", items), now=now)
    found = [w.message for w in config.warnings if "double-booked" in w.message]
    # m1613 is 05:07 on 2027-02-02 (1440 + 7 * 24 + 5)
    assert len(found) == 1 and "m1613 and extra overlap, first on 2027-02-02 at 05:07" in found[0], found
    assert calendar.double_bookings(config.meetings.values(), now, limit=2) == []


def test_plan_file_keeps_occurrence_calls(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", skip_dates=["2027-02-15"])])
    out = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--out", out).code == 0
    change = json.loads(out.read_text())["changes"][0]
    assert change["occurrences"][0]["op"] == "cancel" and change["occurrences"][0]["date"] == "2027-02-15"
    applied = run("apply", "-f", path, out, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert "No changes" in run("plan", "-f", path).out
