"""Refresh: Zoom's bodies (in the shapes Zoom returns) in, a LiveSnapshot of live views out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TEST_NOW, meeting, write_meetings
from zoomstate.desired import load_desired
from zoomstate.model import InputError
from zoomstate.plan import build_plan
from zoomstate.refresh import refresh, refresh_shallow, verify_hosts
from zoomstate.state import ManagedMeeting, PendingCreate, State
from zoomstate.zoom import MeetingNotFound, ScopeError, UserNotFound
from zoomstate.zoombody import DesiredMeeting, LiveMeeting, managed_view, utc_text


def get_body(meeting_id: int, topic: str, **changes) -> dict:
    """A type-8 GET body as Zoom returns it: here without a top-level start_time (seen on real accounts)."""
    body = {
        "uuid": "QmFzZTY0VXVpZD09", "id": meeting_id, "host_id": "xUq2-hostid", "host_email": "alice@example.com",
        "topic": topic, "type": 8, "status": "waiting", "duration": 45, "timezone": "America/New_York",
        "agenda": "", "created_at": "2027-01-04T12:00:05Z", "join_url": f"https://us05web.zoom.us/j/{meeting_id}",
        "settings": {"waiting_room": True, "join_before_host": True},
        "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "2", "end_times": 2},
        "occurrences": [
            {"occurrence_id": "1", "start_time": "2027-02-01T14:00:00Z", "duration": 45, "status": "deleted"},
            {"occurrence_id": "2", "start_time": "2027-02-08T14:00:00Z", "duration": 45, "status": "available"},
        ],
    }
    body.update(changes)
    return body


def list_item(meeting_id: int, topic: str, kind: int = 8) -> dict:
    """A list item as Zoom lists it in 2026: no agenda, no recurrence, no settings."""
    return {"uuid": "x", "id": meeting_id, "host_id": "xUq2-hostid", "topic": topic, "type": kind,
            "start_time": "2027-02-08T14:00:00Z", "duration": 45, "timezone": "America/New_York",
            "created_at": "2027-01-04T12:00:05Z", "join_url": f"https://us05web.zoom.us/j/{meeting_id}"}


class FakeZoom:
    def __init__(self, meetings: dict[int, dict], lists: dict[str, list[dict]], users: set[str] | None = None,
                 scope: bool = True):
        self.meetings, self.lists, self.users, self.scope = meetings, lists, users, scope
        self.gets: list[int] = []

    def get_meeting(self, meeting_id: int) -> dict:
        self.gets.append(meeting_id)
        if meeting_id not in self.meetings:
            raise MeetingNotFound("Invalid meeting id.", status=400, code=300)
        return self.meetings[meeting_id]

    def list_meetings(self, host: str) -> list[dict]:
        if host not in self.lists:
            raise UserNotFound(f"User does not exist: {host}.", status=404, code=1001)
        return self.lists[host]

    def get_user(self, host: str) -> dict:
        if not self.scope:
            raise ScopeError("Invalid access token, does not contain scopes:[user:read:user:admin].", code=4711)
        if self.users is not None and host not in self.users:
            raise UserNotFound(f"User does not exist: {host}.", status=404, code=1001)
        return {"email": host}


def desired_of(tmp_path: Path, *meetings: dict):
    return load_desired(write_meetings(tmp_path / "meetings.yaml", list(meetings)), now=TEST_NOW)


def test_managed_meetings_become_live_views_and_gone_ones_missing(tmp_path):
    desired = desired_of(tmp_path, meeting("sync"), meeting("gone"))
    state = State(lineage="l")
    state.meetings["sync"] = ManagedMeeting("sync", 81000000001, "alice@example.com", "Sync")
    state.meetings["gone"] = ManagedMeeting("gone", 81000000002, "alice@example.com", "Gone")
    zoom = FakeZoom({81000000001: get_body(81000000001, "Sync")}, {})
    live = refresh(zoom, desired, state, parallelism=2)
    view = live.meetings[81000000001]
    assert isinstance(view, LiveMeeting) and view.topic == "Sync"
    assert view.occurrences is not None and len(view.occurrences) == 1  # the deleted one is no meeting
    assert view.local_start is not None and view.local_start.strftime("%Y-%m-%d %H:%M") == "2027-02-08 09:00"
    assert live.missing == {81000000002}
    assert not live.candidates  # the host could not be listed: no duplicates known, and no error for it


def test_candidates_are_unclaimed_type8_meetings_of_the_host_and_topic(tmp_path):
    desired = desired_of(tmp_path, meeting("new-one", topic="Planning"))
    state = State(lineage="l")
    state.meetings["other"] = ManagedMeeting("other", 81000000003, "alice@example.com", "Planning")
    state.pending["left"] = PendingCreate("left", "alice@example.com", "Left Out", {}, "2027-01-04T11:00:00Z")
    items = [list_item(81000000001, "Planning"), list_item(81000000002, "Planning", kind=2),
             list_item(81000000003, "Planning"), list_item(81000000004, "Left Out"), list_item(81000000005, "Else")]
    zoom = FakeZoom({i: get_body(i, t) for i, t in ((81000000001, "Planning"), (81000000003, "Planning"),
                                                    (81000000004, "Left Out"))}, {"alice@example.com": items})
    live = refresh(zoom, desired, state, parallelism=2)
    assert [c.meeting_id for c in live.candidates["new-one"]] == [81000000001]
    assert [c.meeting_id for c in live.candidates["left"]] == [81000000004]
    assert 81000000005 not in zoom.gets and 81000000002 not in zoom.gets


def test_unknown_host_is_bad_input_with_its_line(tmp_path):
    desired = desired_of(tmp_path, meeting("sync", host="nobody@example.com"))
    with pytest.raises(InputError, match="no user nobody@example.com"):
        refresh(FakeZoom({}, {}), desired, State(lineage="l"))


def test_host_check_without_user_read_scope_warns_and_goes_on(tmp_path):
    desired = desired_of(tmp_path, meeting("sync"))
    warnings = verify_hosts(FakeZoom({}, {}, scope=False), desired)
    assert len(warnings) == 1 and "user:read:user:admin" in warnings[0]
    with pytest.raises(InputError):
        verify_hosts(FakeZoom({}, {}, users=set()), desired)


def test_verbose_plan_against_a_zoom_without_user_scope_warns_and_plans(tmp_path, run, sandbox):
    sandbox.zoom_like(user_read_scope=False)
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("sync")])
    result = run("plan", "-f", path, "-v")
    assert result.code == 0, result.out + result.err
    assert "Skipping user verification" in result.out + result.err
    assert "1 to create" in result.out


def test_hosts_of_managed_meetings_are_listed_once_for_duplicates(tmp_path):
    desired = desired_of(tmp_path, meeting("sync", topic="Sync"), meeting("other", topic="Other"))
    state = State(lineage="l")
    state.meetings["sync"] = ManagedMeeting("sync", 81000000001, "alice@example.com", "Sync")
    state.meetings["other"] = ManagedMeeting("other", 81000000002, "alice@example.com", "Other")
    items = [list_item(81000000001, "Sync"), list_item(81000000002, "Other"), list_item(81000000003, "Sync"),
             list_item(81000000004, "Unrelated")]
    zoom = FakeZoom({i: get_body(i, t) for i, t in ((81000000001, "Sync"), (81000000002, "Other"),
                                                    (81000000003, "Sync"))}, {"alice@example.com": items})
    calls: list[str] = []
    listed = zoom.list_meetings
    zoom.list_meetings = lambda host: calls.append(host) or listed(host)  # type: ignore[method-assign]
    live = refresh(zoom, desired, state, parallelism=2)
    assert calls == ["alice@example.com"]  # one list for the host, however many meetings it has
    assert [c.meeting_id for c in live.candidates["sync"]] == [81000000003]
    assert "other" not in live.candidates and 81000000004 not in zoom.gets


def test_managed_meeting_answered_with_code_300_is_gone_and_planned_again(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    (made,) = sandbox.meetings()
    sandbox.delete_out_of_band(made["id"])
    sandbox.set_faults(unknown_meeting_code_300=True)  # {"code": 300, "message": "Invalid meeting id."}
    plan = run("plan", "-f", path, "--format", "json")
    assert plan.code in (0, 2), plan.out + plan.err
    (change,) = json.loads(plan.out)["changes"]
    assert (change["action"], change["reason_code"]) == ("create", "deleted_in_zoom")


# ------------------------------------------------------------------------------------- shallow refresh


def shallow_setup(tmp_path: Path):
    """Six managed meetings over two hosts, listed as Zoom lists them; one of them is gone from Zoom."""
    specs = [meeting(f"m{i}", host="alice@example.com" if i < 3 else "bob@example.com") for i in range(6)]
    desired = desired_of(tmp_path, *specs)
    state = State(lineage="l")
    lists: dict[str, list[dict]] = {"alice@example.com": [], "bob@example.com": []}
    for i, (key, spec) in enumerate(desired.meetings.items()):
        meeting_id = 81000000100 + i
        state.meetings[key] = ManagedMeeting(key, meeting_id, spec.host_email, spec.topic,
                                             managed=managed_view(spec))
        item = list_item(meeting_id, spec.topic)
        item.update(start_time=utc_text(DesiredMeeting(spec, TEST_NOW).upcoming[0]), agenda="")
        lists[spec.host_email].append(item)
    return desired, state, lists


def test_shallow_refresh_lists_each_host_once_and_gets_no_meeting(tmp_path):
    desired, state, lists = shallow_setup(tmp_path)
    del lists["bob@example.com"][0]  # m3: deleted in Zoom, or expired (Zoom lists neither)
    zoom = FakeZoom({}, lists)
    calls: list[str] = []
    listed = zoom.list_meetings
    zoom.list_meetings = lambda host: calls.append(host) or listed(host)  # type: ignore[method-assign]
    live = refresh_shallow(zoom, desired, state, parallelism=2)
    assert sorted(calls) == ["alice@example.com", "bob@example.com"] and zoom.gets == []
    assert live.shallow and live.missing == {state.meetings["m3"].meeting_id}
    assert set(live.meetings) == {m.meeting_id for k, m in state.meetings.items() if k != "m3"}
    assert any("shallow refresh" in w and "settings" in w and "passcode" in w for w in live.warnings)


def test_shallow_plan_finds_meetings_gone_from_zoom_and_drift_in_listed_fields(tmp_path):
    desired, state, lists = shallow_setup(tmp_path)
    alice, bob = lists["alice@example.com"], lists["bob@example.com"]
    alice[1]["topic"] = "Renamed In Zoom"  # m1
    bob[1]["duration"] = 90  # m4
    bob[2]["start_time"] = "2027-02-01T15:30:00Z"  # m5: the series moved to 10:30 New York time
    del bob[0]  # m3
    live = refresh_shallow(FakeZoom({}, lists), desired, state)
    plan = build_plan(desired, state, live, TEST_NOW)
    by_key = {c.key: c for c in plan.changes}
    assert (by_key["m3"].action, by_key["m3"].reason_code) == ("create", "deleted_in_zoom")
    assert (by_key["m1"].action, by_key["m1"].reason_code) == ("update", "drift")
    assert [(d.path, d.before, d.after) for d in by_key["m1"].diffs] == [("topic", "Renamed In Zoom", "M1")]
    assert [(d.path, d.before, d.after) for d in by_key["m4"].diffs] == [("duration", 90, 45)]
    assert [(d.path, d.before, d.after) for d in by_key["m5"].diffs] == [
        ("schedule", "next 2027-02-01 10:30", "next 2027-02-01 09:00")]
    assert {by_key[k].action for k in ("m0", "m2")} == {"unchanged"}
    assert plan.to_json()["refresh"] == "shallow" and any("not checked" in w for w in plan.warnings)
    assert "refresh" not in build_plan(desired, state, refresh(FakeZoom({}, lists), desired, state),
                                       TEST_NOW).to_json()


def test_shallow_plan_still_sends_file_changes_a_list_cannot_confirm(tmp_path):
    desired, state, lists = shallow_setup(tmp_path)
    old = state.meetings["m0"]
    record = dict(old.managed, settings={**old.managed["settings"], "waiting_room": False})
    state.meetings["m0"] = ManagedMeeting("m0", old.meeting_id, old.host_email, old.topic, managed=record)
    plan = build_plan(desired, state, refresh_shallow(FakeZoom({}, lists), desired, state), TEST_NOW)
    (change,) = [c for c in plan.changes if c.key == "m0"]
    assert change.action == "update" and [d.path for d in change.diffs] == ["settings.waiting_room"]


def test_plan_refresh_shallow_against_the_sandbox_lists_instead_of_getting(tmp_path, run, sandbox):
    hosts = ["alice@example.com", "bob@example.com"]
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(f"m{i}", host=hosts[i % 2]) for i in range(6)])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    ids = {m["topic"]: m["id"] for m in sandbox.meetings()}
    sandbox.delete_out_of_band(ids["M0"])
    sandbox.update_out_of_band(ids["M1"], {"topic": "Renamed In Zoom"})
    sandbox.update_out_of_band(ids["M2"], {"settings": {"waiting_room": False}})  # not in the list: unseen
    sandbox.reset_requests()
    result = run("plan", "-f", path, "--refresh=shallow", "--format", "json")
    assert result.code == 0, result.out + result.err
    routes = [r.route for r in sandbox.requests if "oauth" not in r.route]
    assert routes.count("GET /users/{userId}/meetings") == 2 and "GET /meetings/{meetingId}" not in routes
    data = json.loads(result.out)
    assert data["refresh"] == "shallow" and any("not checked" in w for w in data["warnings"])
    actions = {c["key"]: (c["action"], c["reason_code"]) for c in data["changes"]}
    assert actions["m0"] == ("create", "deleted_in_zoom") and actions["m1"] == ("update", "drift")
    assert actions["m2"] == ("unchanged", "in_sync")  # what a full plan sees:
    full = json.loads(run("plan", "-f", path, "--format", "json").out)
    assert {c["key"]: c["action"] for c in full["changes"]}["m2"] == "update" and "refresh" not in full
    text = run("plan", "-f", path, "--refresh=shallow")
    shown = " ".join(text.out.split())  # however the terminal wraps it
    assert "shallow refresh:" in shown and "not checked: settings" in shown


def test_shallow_plan_cannot_be_saved_and_apply_refuses_shallow(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("sync")])
    saved = run("plan", "-f", path, "--refresh=shallow", "--out", tmp_path / "plan.json")
    assert saved.code == 1 and "--refresh=shallow" in saved.err and not (tmp_path / "plan.json").exists()
    applied = run("apply", "-f", path, "--auto-approve", "--refresh=shallow")
    assert applied.code == 1 and "apply always reads every managed meeting" in applied.err
    assert "Traceback" not in saved.err + applied.err and sandbox.meetings() == []
