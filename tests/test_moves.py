"""Moves: a key renamed with moved_from, or with `zoomstate state mv`, keeps the Zoom meeting."""

from __future__ import annotations

from tests.conftest import meeting, write_meetings, writes
from zoomstate.state import StateStore


def _state(tmp_path):
    return StateStore(tmp_path / "state" / "zoomstate.json").load()


def test_moved_from_renames_the_key_and_keeps_the_meeting(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("old-sync"), meeting("other")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    old_id = _state(tmp_path).meetings["old-sync"].meeting_id
    write_meetings(path, [meeting("team-sync", topic="Old Sync", moved_from="old-sync"), meeting("other")])
    plan = run("plan", "-f", path, "--format", "json")
    changes = {c["key"]: c for c in __import__("json").loads(plan.out)["changes"]}
    assert "old-sync" not in changes
    assert changes["team-sync"]["reason_code"] == "moved" and changes["team-sync"]["meeting_id"] == old_id
    assert changes["team-sync"]["moved_from"] == "old-sync" and changes["team-sync"]["payload"] is None
    sandbox.reset_requests()
    result = run("apply", "-f", path, "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert writes(sandbox) == 0
    state = _state(tmp_path)
    assert set(state.meetings) == {"team-sync", "other"}
    assert state.meetings["team-sync"].meeting_id == old_id
    assert sandbox.meeting(old_id) is not None
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0  # moved_from is inert after the move


def test_moved_from_with_a_changed_field_updates_the_same_meeting(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("old-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    old_id = _state(tmp_path).meetings["old-sync"].meeting_id
    write_meetings(path, [meeting("team-sync", topic="Team Sync", moved_from="old-sync")])
    result = run("apply", "-f", path, "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert "moved from old-sync" in result.out
    state = _state(tmp_path)
    assert set(state.meetings) == {"team-sync"} and state.meetings["team-sync"].meeting_id == old_id
    assert sandbox.meeting(old_id)["topic"] == "Team Sync"
    assert len(sandbox.meetings()) == 1


def test_moved_from_a_key_still_in_the_file_is_an_error(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("old-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    write_meetings(path, [meeting("old-sync"), meeting("team-sync", topic="Other", moved_from="old-sync")])
    result = run("plan", "-f", path)
    assert result.code == 1 and "still in the meetings file" in result.out + result.err


def test_a_delete_and_a_create_alike_suggest_moved_from(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("old-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    write_meetings(path, [meeting("team-sync", topic="Team Sync")])
    result = run("plan", "-f", path, "-v")
    assert "moved_from: old-sync" in result.out, result.out


def test_state_mv_renames_without_zoom(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("old-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    old_id = _state(tmp_path).meetings["old-sync"].meeting_id
    sandbox.reset_requests()
    result = run("state", "mv", "-f", path, "old-sync", "team-sync")
    assert result.code == 0, result.err
    assert not sandbox.requests
    assert _state(tmp_path).meetings["team-sync"].meeting_id == old_id
    write_meetings(path, [meeting("team-sync", topic="Old Sync")])
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0
    bad = run("state", "mv", "-f", path, "nope", "x")
    assert bad.code == 1 and "not in the state file" in bad.out + bad.err
    bad = run("state", "mv", "-f", path, "team-sync", "Bad Key")
    assert bad.code == 1 and "is not a meeting key" in bad.out + bad.err
