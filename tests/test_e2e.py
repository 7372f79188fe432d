"""End to end over real HTTP: the CLI against the sandbox Zoom, with a fake clock."""

from __future__ import annotations

import json

import yaml

from tests.conftest import meeting, read_csv, write_meetings, writes
from zoomstate.export import SEED_COLUMNS
from zoomstate.state import StateStore


def _three(tmp_path):
    return write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync", "alice@example.com", end_date="2027-06-28", occurrences=None),
        meeting("biweekly-planning", "bob@example.com", weekly_days="4", repeat_interval=2, start_date="2027-02-03",
                enable_registration=False),
        meeting("all-hands", "carol@example.com", recurrence_type="monthly", weekly_days=None, monthly_week=-1,
                monthly_week_day=6, start_date="2027-01-29", timezone="Europe/London", occurrences=6,
                waiting_room=False, auto_recording="cloud"),
    ])


def _state(tmp_path):
    return StateStore(tmp_path / "state" / "zoomstate.json").load()


def test_apply_creates_every_meeting_then_nothing_changes(tmp_path, run, sandbox):
    path = _three(tmp_path)
    result = run("apply", "-f", path, "--auto-approve", "-v")  # -v: each meeting's links
    assert result.code == 0, result.err
    assert "Meeting ID:" in result.out and "Join URL:" in result.out and "Registration URL:" in result.out
    assert len(sandbox.meetings()) == 3
    state = _state(tmp_path)
    assert set(state.meetings) == {"team-sync", "biweekly-planning", "all-hands"}
    assert not state.pending
    rows = read_csv(tmp_path / "zoom_meetings.csv")
    assert list(rows[0].keys())[: len(SEED_COLUMNS)] == list(SEED_COLUMNS)
    assert {r["key"] for r in rows} == set(state.meetings)
    by_key = {r["key"]: r for r in rows}
    assert by_key["team-sync"]["registration_url"].startswith("https://")
    assert by_key["biweekly-planning"]["registration_url"] == ""
    assert by_key["all-hands"]["recurrence_type"] == "3"
    # Zoom got what the YAML says: local time, weekly Monday, end of the end date's local day in UTC.
    team = sandbox.meeting(state.meetings["team-sync"].meeting_id)
    assert team["recurrence"]["weekly_days"] == "2"
    assert team["recurrence"]["end_date_time"] == "2027-06-29T03:59:59Z"
    assert team["timezone"] == "America/New_York"

    sandbox.reset_requests()
    again = run("plan", "-f", path, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert "No changes" in again.out
    again = run("apply", "-f", path, "--auto-approve")
    assert again.code == 0
    assert writes(sandbox) == 0
    assert len(sandbox.meetings()) == 3


def test_meeting_deleted_in_zoom_is_planned_as_create_again(tmp_path, run, sandbox):
    path = _three(tmp_path)
    assert run("apply", "-f", path, "--auto-approve").code == 0
    old_id = _state(tmp_path).meetings["team-sync"].meeting_id
    sandbox.delete_out_of_band(old_id)
    plan = run("plan", "-f", path, "--detailed-exitcode")
    assert plan.code == 2
    assert "deleted in Zoom" in plan.out and "team-sync" in plan.out
    assert run("apply", "-f", path, "--auto-approve").code == 0
    new_id = _state(tmp_path).meetings["team-sync"].meeting_id
    assert new_id != old_id and sandbox.meeting(new_id) is not None
    assert len(sandbox.meetings()) == 3


def test_plan_json_and_saved_plan(tmp_path, run, sandbox):
    path = _three(tmp_path)
    result = run("plan", "-f", path, "--format", "json", "--out", tmp_path / "plan.json")
    data = json.loads(result.out)
    assert data["summary"]["create"] == 3
    assert {c["key"] for c in data["changes"]} == {"team-sync", "biweekly-planning", "all-hands"}
    assert all(c["payload"]["type"] == 8 for c in data["changes"])
    assert writes(sandbox) == 0
    applied = run("apply", "-f", path, tmp_path / "plan.json")
    assert applied.code == 0, applied.err
    assert len(sandbox.meetings()) == 3
    # The same plan again is stale: the state moved on.
    stale = run("apply", "-f", path, tmp_path / "plan.json")
    assert stale.code == 1 and "stale" in stale.err and "plan" in stale.err


def test_stale_plan_when_meetings_file_changed(tmp_path, run, sandbox):
    path = _three(tmp_path)
    run("plan", "-f", path, "--out", tmp_path / "plan.json")
    path.write_text(path.read_text().replace("Team Sync", "Team Sync Renamed"))
    result = run("apply", "-f", path, tmp_path / "plan.json")
    assert result.code == 1 and "meetings file changed" in result.err
    assert sandbox.meetings() == []


def test_yaml_edit_is_an_update_with_field_diffs(tmp_path, run, sandbox):
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    doc = yaml.safe_load(path.read_text())
    doc["meetings"][0]["waiting_room"] = False
    doc["meetings"][0]["start_time"] = "10:30"
    doc["meetings"][0]["topic"] = "Team Sync (new time)"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    plan = run("plan", "-f", path)
    assert "update" in plan.out
    assert "settings.waiting_room: true -> false" in plan.out
    assert 'local_time: "09:00" -> "10:30"' in plan.out
    assert "changed in the meetings file" in plan.out
    sandbox.reset_requests()
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert sandbox.counts()["PATCH /meetings/{meetingId}"] == 1
    assert sandbox.counts()["POST /users/{userId}/meetings"] == 0
    live = sandbox.meeting(_state(tmp_path).meetings["team-sync"].meeting_id)
    assert live["settings"]["waiting_room"] is False and live["topic"] == "Team Sync (new time)"
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0


def test_drift_in_zoom_is_put_back(tmp_path, run, sandbox):
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    meeting_id = _state(tmp_path).meetings["all-hands"].meeting_id
    sandbox.update_out_of_band(meeting_id, {"settings": {"auto_recording": "none"}})
    plan = run("plan", "-f", path, "--detailed-exitcode")
    assert plan.code == 2
    assert "drift" in plan.out and 'settings.auto_recording: "none" -> "cloud"' in plan.out
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert sandbox.meeting(meeting_id)["settings"]["auto_recording"] == "cloud"
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0


def test_lost_state_adopts_instead_of_duplicating(tmp_path, run, sandbox):
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    ids = {k: m.meeting_id for k, m in _state(tmp_path).meetings.items()}
    (tmp_path / "state" / "zoomstate.json").unlink()
    plan = run("plan", "-f", path)
    assert plan.out.count("adopt ") >= 3 and "create " not in plan.out.replace("to create", "")
    sandbox.reset_requests()
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert writes(sandbox) == 0
    assert {k: m.meeting_id for k, m in _state(tmp_path).meetings.items()} == ids
    assert len(sandbox.meetings()) == 3
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0


def test_removed_entry_is_deleted_and_host_change_is_replace(tmp_path, run, sandbox):
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    before = _state(tmp_path).meetings
    doc = yaml.safe_load(path.read_text())
    doc["meetings"] = [m for m in doc["meetings"] if m["key"] != "biweekly-planning"]
    doc["meetings"][0]["host_email"] = "bob@example.com"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    plan = run("plan", "-f", path)
    assert "delete" in plan.out and "replace" in plan.out and "destructive" in plan.out
    assert run("apply", "-f", path, "--auto-approve").code == 0
    after = _state(tmp_path).meetings
    assert "biweekly-planning" not in after
    assert sandbox.meeting(before["biweekly-planning"].meeting_id) is None
    assert after["team-sync"].host_email == "bob@example.com"
    assert after["team-sync"].meeting_id != before["team-sync"].meeting_id
    assert sandbox.meeting(before["team-sync"].meeting_id) is None
    assert len(sandbox.meetings()) == 2
    assert {r["key"] for r in read_csv(tmp_path / "zoom_meetings.csv")} == {"team-sync", "all-hands"}


def test_prevent_delete_blocks_removal(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("keep-me", prevent_delete=True), meeting("other")])
    run("apply", "-f", path, "--auto-approve")
    write_meetings(path, [meeting("other")])
    result = run("apply", "-f", path, "--auto-approve")
    assert result.code == 1 and "prevent_delete" in result.out + result.err
    assert len(sandbox.meetings()) == 2


def test_safety_threshold_needs_force(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(f"m{i}") for i in range(8)])
    run("apply", "-f", path, "--auto-approve")
    write_meetings(path, [meeting(f"m{i}") for i in range(5)])
    refused = run("apply", "-f", path, "--auto-approve")
    assert refused.code == 1 and "--force" in refused.err
    assert len(sandbox.meetings()) == 8
    forced = run("apply", "-f", path, "--auto-approve", "--force")
    assert forced.code == 0
    assert len(sandbox.meetings()) == 5


def test_target_limits_the_plan_and_unknown_target_is_an_error(tmp_path, run, sandbox):
    path = _three(tmp_path)
    plan = run("plan", "-f", path, "--target", "all-hands", "--format", "json")
    assert [c["key"] for c in json.loads(plan.out)["changes"]] == ["all-hands"]
    bad = run("plan", "-f", path, "--target", "no-such-key")
    assert bad.code == 1 and "no-such-key" in bad.err


def test_refresh_false_plans_offline(tmp_path, run, sandbox):
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    sandbox.reset_requests()
    result = run("plan", "-f", path, "--refresh=false", "--detailed-exitcode")
    assert result.code == 0
    assert sandbox.requests == []


def test_import_and_state_rm(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    made = sandbox.create_out_of_band("alice@example.com", {
        "topic": "Something Else", "type": 8, "start_time": "2027-02-01T09:00:00", "timezone": "America/New_York",
        "duration": 45, "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "2", "end_times": 10}})
    result = run("import", "-f", path, "team-sync", made["id"])
    assert result.code == 0, result.err
    assert _state(tmp_path).meetings["team-sync"].meeting_id == made["id"]
    plan = run("plan", "-f", path)
    assert "update" in plan.out and 'topic: "Something Else" -> "Team Sync"' in plan.out
    assert run("state", "rm", "-f", path, "team-sync").code == 0
    assert "team-sync" not in _state(tmp_path).meetings
    assert sandbox.meeting(made["id"]) is not None


def test_show_lists_managed_meetings(tmp_path, run, sandbox):
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    result = run("show", "-f", path, "--format", "json")
    data = json.loads(result.out)
    assert {m["key"] for m in data["meetings"]} == {"team-sync", "biweekly-planning", "all-hands"}
    assert all(m["join_url"].startswith("https://") for m in data["meetings"])


def test_apply_without_approval_is_refused_when_not_interactive(tmp_path, run, sandbox):
    path = _three(tmp_path)
    result = run("apply", "-f", path)
    assert result.code == 1 and "--auto-approve" in result.err
    assert sandbox.meetings() == []


def test_no_credentials_is_a_clear_error(tmp_path, run):
    path = _three(tmp_path)
    result = run("plan", "-f", path, env={})
    assert result.code == 1 and "ZOOM_ACCOUNT_ID" in result.err and "--sandbox" in result.err


def test_bad_input_changes_nothing(tmp_path, run, sandbox):
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    state_before = (tmp_path / "state" / "zoomstate.json").read_bytes()
    csv_before = (tmp_path / "zoom_meetings.csv").read_bytes()
    path.write_text(path.read_text().replace("weekly_days: '4'", "weekly_day: '4'"))
    sandbox.reset_requests()
    result = run("apply", "-f", path, "--auto-approve")
    assert result.code == 1
    assert "weekly_day" in result.err and "did you mean weekly_days" in result.err
    assert "Traceback" not in result.err
    assert sandbox.requests == []
    assert (tmp_path / "state" / "zoomstate.json").read_bytes() == state_before
    assert (tmp_path / "zoom_meetings.csv").read_bytes() == csv_before


def test_account_binding(tmp_path, run, sandbox, zoom_env):
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    other = dict(zoom_env, ZOOM_ACCOUNT_ID="another-account")
    result = run("plan", "-f", path, env=other)
    assert result.code == 1
    assert "account" in result.err


def test_sandbox_flag_runs_with_no_credentials_and_is_idempotent(tmp_path, capsys, clock):
    from zoomstate import cli

    path = _three(tmp_path)
    code = cli.main(["apply", "--sandbox", "--auto-approve", "-v", "-f", str(path)], clock=clock, environ={})
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("Meeting ID:") == 3
    sandbox_dir = tmp_path / "state" / "sandbox"
    state = StateStore(sandbox_dir / "zoomstate.json").load()
    assert len(state.meetings) == 3
    assert len(read_csv(sandbox_dir / "zoom_meetings.csv")) == 3
    assert not (tmp_path / "zoom_meetings.csv").exists()  # a demo never touches the real CSV
    code = cli.main(["apply", "--sandbox", "--auto-approve", "-f", str(path)], clock=clock, environ={})
    out = capsys.readouterr().out
    assert code == 0 and "Nothing to do" in out
    assert StateStore(sandbox_dir / "zoomstate.json").load().serial == state.serial


def test_shipped_meetings_file_is_valid(capsys, clock):
    from pathlib import Path

    from zoomstate import cli

    shipped = Path(__file__).resolve().parents[1] / "meetings.yaml"
    code = cli.main(["validate", "-f", str(shipped)], clock=clock, environ={})
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "8 meeting(s)" in captured.out


def test_every_field_set_then_plan_is_empty(tmp_path, run, sandbox):
    everything = dict(
        agenda="All the fields", duration=50, timezone="Europe/London", enable_registration=True, approval_type=1,
        registration_type=2, host_video=False, participant_video=False, join_before_host=True,
        mute_upon_entry=False, waiting_room=False, password="Ab1@_*-", watermark=True, auto_recording="local",
        audio="voip", meeting_authentication=True, prevent_delete=True, repeat_interval=2,
    )
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("weekly-all", weekly_days="2,4,6", end_date="2027-05-28", occurrences=None, **everything),
        meeting("monthly-day", "bob@example.com", recurrence_type="monthly", weekly_days=None, monthly_day=20,
                **everything),
        meeting("monthly-nth", "bob@example.com", recurrence_type="monthly", weekly_days=None, monthly_week=2,
                monthly_week_day=3, **dict(everything, enable_registration=False, approval_type=None,
                                           registration_type=None)),
        meeting("daily-all", "carol@example.com", recurrence_type="daily", weekly_days=None, occurrences=30,
                **dict(everything, repeat_interval=3)),
    ], output_file="out/meetings.csv", default_password="Dflt123",
        defaults={"timezone": "Asia/Kolkata", "duration": 30})
    applied = run("apply", "-f", path, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert len(read_csv(tmp_path / "out" / "meetings.csv")) == 4
    plan = run("plan", "-f", path, "--detailed-exitcode")
    assert plan.code == 0, plan.out
    # and from the state file alone
    assert run("plan", "-f", path, "--refresh=false", "--detailed-exitcode").code == 0
    monthly = sandbox.meeting(_state(tmp_path).meetings["monthly-nth"].meeting_id)
    assert monthly["recurrence"]["monthly_week"] == 2 and monthly["settings"]["approval_type"] == 2
    assert monthly["password"] == "Ab1@_*-"


def test_request_bodies_follow_zoom_contract(tmp_path, run, sandbox):
    from tests.conftest import assert_requests_follow_contract
    from tests.contract import require_spec

    require_spec()
    path = _three(tmp_path)
    run("apply", "-f", path, "--auto-approve")
    doc = yaml.safe_load(path.read_text())
    doc["meetings"][2]["duration"] = 75
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run("apply", "-f", path, "--auto-approve")
    assert assert_requests_follow_contract(sandbox) == 4  # 3 creates + 1 update, each validated
