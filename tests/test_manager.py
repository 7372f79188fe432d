"""Apply's rules live in the Plan and the Manager: every caller of Manager.apply gets them."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import TEST_NOW, meeting, write_meetings, writes
from zoomstate.manager import Manager, Options
from zoomstate.plan import PlanError, StalePlanError, UnsafePlanError
from zoomstate.state import PendingCreate, StateStore

STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _manager(path: Path, zoom_env, clock) -> Manager:
    return Manager(Options(meetings_path=path), environ=zoom_env, clock=clock)


def _apply_all(path: Path, zoom_env, clock, **kwargs) -> None:
    manager = _manager(path, zoom_env, clock)
    with manager.session(online=True, operation="apply", lock=True) as session:
        result = manager.apply(session, manager.make_plan(session), **kwargs)
    assert result.ok


def _store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state" / "zoomstate.json")


def test_manager_apply_refuses_a_plan_with_errors(tmp_path, sandbox, zoom_env, clock):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("keep-me", prevent_delete=True), meeting("other")])
    _apply_all(path, zoom_env, clock)
    write_meetings(path, [meeting("other")])
    manager = _manager(path, zoom_env, clock)
    sandbox.reset_requests()
    with manager.session(online=True, operation="apply", lock=True) as session:
        plan = manager.make_plan(session)
        assert plan.errors
        with pytest.raises(PlanError, match="prevent_delete"):
            manager.apply(session, plan)
        plan.errors.clear()  # a caller that drops the errors gets them back: they are planned again
        with pytest.raises(PlanError, match="prevent_delete"):
            manager.apply(session, plan)
    assert writes(sandbox) == 0 and len(sandbox.meetings()) == 2


def test_manager_apply_enforces_the_safety_threshold_unless_forced(tmp_path, sandbox, zoom_env, clock):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(f"m{i}") for i in range(8)])
    _apply_all(path, zoom_env, clock)
    write_meetings(path, [meeting(f"m{i}") for i in range(5)])
    manager = _manager(path, zoom_env, clock)
    sandbox.reset_requests()
    with manager.session(online=True, operation="apply", lock=True) as session:
        plan = manager.make_plan(session)
        with pytest.raises(UnsafePlanError, match="--force"):
            manager.apply(session, plan)
        plan.managed_count = 0  # a number edited by the caller is not what decides
        with pytest.raises(UnsafePlanError):
            manager.apply(session, plan)
        assert writes(sandbox) == 0
        assert manager.apply(session, manager.make_plan(session), force=True).ok
    assert len(sandbox.meetings()) == 5


def test_manager_apply_refuses_a_tampered_plan_object(tmp_path, sandbox, zoom_env, clock):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync"), meeting("standup")])
    _apply_all(path, zoom_env, clock)
    bystander = sandbox.create_out_of_band("carol@example.com", {"topic": "Not managed", "type": 8,
                                           "start_time": "2027-02-01T09:00:00", "timezone": "UTC", "duration": 30,
                                           "recurrence": {"type": 1, "repeat_interval": 1, "end_times": 3}})
    write_meetings(path, [meeting("team-sync")])
    manager = _manager(path, zoom_env, clock)
    sandbox.reset_requests()
    with manager.session(online=True, operation="apply", lock=True) as session:
        plan = manager.make_plan(session)
        forged = dataclasses.replace(plan, changes=[
            dataclasses.replace(c, meeting_id=bystander["id"]) if c.action == "delete" else c for c in plan.changes])
        with pytest.raises(StalePlanError, match="plan again"):
            manager.apply(session, forged)
    assert writes(sandbox) == 0
    assert sandbox.meeting(bystander["id"]) is not None


def test_manager_apply_refuses_a_plan_older_than_the_state(tmp_path, sandbox, zoom_env, clock):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    manager = _manager(path, zoom_env, clock)
    with manager.session(online=True, operation="apply", lock=True) as session:
        plan = manager.make_plan(session)
        assert manager.apply(session, plan).ok
        with pytest.raises(StalePlanError, match="state file was created since the plan was made"):
            manager.apply(session, plan)  # the same creates again would duplicate the meeting
    assert len(sandbox.meetings()) == 1


def test_deleting_every_managed_meeting_needs_force_whatever_the_count(tmp_path, run, sandbox):
    # Two meetings files pointed at one state: the second would delete the first one's meetings.
    first = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync"), meeting("standup")])
    assert run("apply", "-f", first, "--auto-approve").code == 0
    other = write_meetings(tmp_path / "other.yaml", [meeting("retro", "bob@example.com")])
    sandbox.reset_requests()
    refused = run("apply", "-f", other, "--state", tmp_path / "state" / "zoomstate.json", "--auto-approve")
    assert refused.code == 1 and "every managed meeting" in refused.err and "--force" in refused.err
    assert writes(sandbox) == 0 and len(sandbox.meetings()) == 2
    forced = run("apply", "-f", other, "--state", tmp_path / "state" / "zoomstate.json", "--auto-approve",
                 "--force")
    assert forced.code == 0
    assert [m["topic"] for m in sandbox.meetings()] == ["Retro"]


def test_deleting_the_only_managed_meeting_needs_no_force(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync"), meeting("standup")])
    run("apply", "-f", path, "--auto-approve")
    write_meetings(path, [meeting("standup")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    write_meetings(path, [])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert sandbox.meetings() == []


def _pending(key: str, spec_view: dict, started, deadline=None) -> PendingCreate:
    return PendingCreate(key, "alice@example.com", spec_view["topic"], spec_view, started.strftime(STAMP),
                         deadline.strftime(STAMP) if deadline else "")


def _look_alike(sandbox, topic: str = "Gone Meeting") -> dict:
    """The meeting(\"gone-meeting\") body, made by hand in Zoom's web UI."""
    return sandbox.create_out_of_band("alice@example.com", {
        "topic": topic, "type": 8, "start_time": "2027-02-02T09:00:00", "timezone": "America/New_York",
        "duration": 45, "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "2", "end_times": 10}})


VIEW = {"topic": "Gone Meeting", "timezone": "America/New_York", "local_time": "09:00",
        "recurrence": {"type": "weekly", "repeat_interval": 1, "weekly_days": "2"}}


@pytest.mark.parametrize("deadline", [timedelta(minutes=15), None], ids=["deadline", "old-state-file"])
def test_a_hand_made_look_alike_after_the_pending_window_survives(tmp_path, sandbox, zoom_env, clock, deadline):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    store = _store(tmp_path)
    started = TEST_NOW - timedelta(days=2)  # a create interrupted two days ago, then removed from the file
    state = store.load()
    state.pending["gone-meeting"] = _pending("gone-meeting", VIEW, started, started + deadline if deadline else None)
    store.save(state)
    hand_made = _look_alike(sandbox)  # made by hand today: same host, topic and schedule
    manager = _manager(path, zoom_env, clock)
    with manager.session(online=True, operation="apply", lock=True) as session:
        plan = manager.make_plan(session)
        gone = next(c for c in plan.changes if c.key == "gone-meeting")
        assert gone.action == "delete" and gone.meeting_id is None and "never reached Zoom" in gone.reason
        assert manager.apply(session, plan).ok
    assert sandbox.meeting(hand_made["id"]) is not None
    assert "gone-meeting" not in store.load().pending


def test_a_meeting_made_within_the_pending_window_is_still_recovered(tmp_path, sandbox, zoom_env, clock):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    store = _store(tmp_path)
    state = store.load()
    state.pending["gone-meeting"] = _pending("gone-meeting", VIEW, TEST_NOW - timedelta(minutes=1),
                                             TEST_NOW + timedelta(minutes=10))
    store.save(state)
    ours = _look_alike(sandbox)
    manager = _manager(path, zoom_env, clock)
    with manager.session(online=True, operation="plan", lock=False) as session:
        gone = next(c for c in manager.make_plan(session).changes if c.key == "gone-meeting")
    assert gone.action == "delete" and gone.meeting_id == ours["id"]


def test_a_key_still_in_the_file_does_not_recover_a_look_alike_made_after_its_window(tmp_path, sandbox, zoom_env,
                                                                                      clock):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("gone-meeting")])
    store = _store(tmp_path)
    started = TEST_NOW - timedelta(days=2)
    state = store.load()
    state.pending["gone-meeting"] = _pending("gone-meeting", VIEW, started, started + timedelta(minutes=15))
    store.save(state)
    _look_alike(sandbox)
    manager = _manager(path, zoom_env, clock)
    with manager.session(online=True, operation="plan", lock=False) as session:
        change = next(c for c in manager.make_plan(session).changes if c.key == "gone-meeting")
    assert change.action == "create" and change.meeting_id is None


def test_a_create_records_its_window_in_the_pending_record(tmp_path, sandbox, zoom_env, clock, monkeypatch):
    from zoomstate.zoom import ZoomClient

    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    seen: list[PendingCreate] = []
    real_create = ZoomClient.create_meeting

    def create(self, host, body):
        seen.extend(_store(tmp_path).load().pending.values())
        return real_create(self, host, body)

    monkeypatch.setattr(ZoomClient, "create_meeting", create)
    _apply_all(path, zoom_env, clock)
    assert len(seen) == 1
    started = seen[0].started_at
    assert started == TEST_NOW.strftime(STAMP)
    deadline = seen[0].deadline
    # The client's attempts and waits, from its defaults: a bounded window of minutes, not forever.
    assert TEST_NOW + timedelta(minutes=1) < _parse(deadline) < TEST_NOW + timedelta(hours=1)


def _parse(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_second_post_after_an_ambiguous_create_extends_the_window(tmp_path, sandbox, zoom_env, clock,
                                                                     monkeypatch):
    from zoomstate.zoom import AmbiguousCreateError, ZoomClient

    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    seen: list[PendingCreate] = []
    real_create = ZoomClient.create_meeting

    def create(self, host, body):
        seen.extend(_store(tmp_path).load().pending.values())
        if len(seen) == 1:
            clock.advance(3 * 3600)  # the first attempt hung for hours, then failed without reaching Zoom
            raise AmbiguousCreateError("no answer after the request was sent", host=host)
        return real_create(self, host, body)

    monkeypatch.setattr(ZoomClient, "create_meeting", create)
    _apply_all(path, zoom_env, clock)
    assert len(seen) == 2 and seen[0].started_at == seen[1].started_at
    assert _parse(seen[1].deadline) > TEST_NOW + timedelta(hours=3)  # counted from the second POST
    assert len(sandbox.meetings()) == 1
