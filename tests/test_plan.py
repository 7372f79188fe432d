"""The pure diff: desired x state x live in, changes (with reason codes) out. Live bodies in Zoom's shapes."""

from __future__ import annotations

import copy
from pathlib import Path

from tests.conftest import TEST_NOW, meeting, write_meetings
from zoomstate.desired import load_desired
from zoomstate.model import LiveSnapshot
from zoomstate.plan import REASON_CODES, Change, build_plan
from zoomstate.state import ManagedMeeting, PendingCreate, State
from zoomstate.zoombody import create_body, live_meeting, managed_view

MEETING_ID = 84512345678


def zoom_get(body_sent: dict, **changes) -> dict:
    """What Zoom's GET returns for a meeting created with ``body_sent`` (America/New_York, weekly, Tue 09:00)."""
    body = {
        "uuid": "QmFzZTY0VXVpZD09", "id": MEETING_ID, "host_id": "xUq2-hostid", "host_email": "alice@example.com",
        "topic": body_sent["topic"], "type": 8, "status": "waiting", "duration": body_sent["duration"],
        "timezone": body_sent["timezone"], "agenda": body_sent["agenda"], "created_at": "2027-01-04T12:00:05Z",
        "join_url": f"https://us05web.zoom.us/j/{MEETING_ID}?pwd=abc.1", "password": "Xy12ab",
        "settings": {**body_sent["settings"], "jbh_time": 0, "use_pmi": False,
                     "encryption_type": "enhanced_encryption"},
        "recurrence": dict(body_sent["recurrence"]),
        "start_time": "2027-02-02T14:00:00Z",
        "occurrences": [
            {"occurrence_id": str(i), "start_time": f"{day}T14:00:00Z", "duration": body_sent["duration"],
             "status": "available"}
            for i, day in enumerate(("2027-02-02", "2027-02-09", "2027-02-16", "2027-02-23", "2027-03-02"))
        ],
    }
    body.update(changes)
    return body


def setup(tmp_path: Path, **fields):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("sync", start_date="2027-02-02", weekly_days="3",
                                                              occurrences=5, **fields)])
    desired = load_desired(path, now=TEST_NOW)
    spec = desired.meetings["sync"]
    view = {**managed_view(spec), "prevent_delete": False}
    state = State(lineage="l")
    state.meetings["sync"] = ManagedMeeting("sync", MEETING_ID, spec.host_email, spec.topic, "", view, {})
    return desired, state, create_body(spec, TEST_NOW)


def plan_of(desired, state, body=None, missing=()) -> Change:
    live = LiveSnapshot(True, {MEETING_ID: live_meeting(body)} if body else {}, set(missing))
    return build_plan(desired, state, live, TEST_NOW).changes[0]


def test_every_change_has_a_known_reason_code_and_it_survives_json(tmp_path):
    desired, state, sent = setup(tmp_path)
    change = plan_of(desired, state, zoom_get(sent))
    assert change.action == "unchanged" and change.reason_code == "in_sync"
    assert Change.from_json(change.to_json()).reason_code == "in_sync"
    assert plan_of(desired, state, missing=[MEETING_ID]).reason_code == "deleted_in_zoom"
    fresh = build_plan(desired, State(lineage="l"), LiveSnapshot(True), TEST_NOW).changes[0]
    assert (fresh.action, fresh.reason_code) == ("create", "new")
    for code in ("new", "deleted_in_zoom", "drift", "host_changed", "removed_from_file", "recover_pending",
                 "adopt_match", "state_only", "kept_by_zoom"):
        assert code in REASON_CODES


def test_end_at_midnight_utc_instead_of_end_of_local_day_is_not_drift(tmp_path):
    desired, state, sent = setup(tmp_path)
    recurrence = {k: v for k, v in sent["recurrence"].items() if k != "end_times"}
    body = zoom_get(sent, recurrence={**recurrence, "end_date_time": "2027-03-03T00:00:00Z"})
    del body["occurrences"]
    assert plan_of(desired, state, body).action == "unchanged"


def test_missing_occurrence_is_drift_naming_the_date(tmp_path):
    desired, state, sent = setup(tmp_path)
    body = zoom_get(sent)
    body["occurrences"] = body["occurrences"][:-1]
    change = plan_of(desired, state, body)
    assert (change.action, change.reason_code) == ("update", "drift")
    assert "missing 2027-03-02 09:00" in change.reason
    assert [d.path for d in change.diffs] == ["schedule"]


def test_deleted_occurrence_is_not_a_meeting(tmp_path):
    desired, state, sent = setup(tmp_path)
    body = zoom_get(sent)
    body["occurrences"][1]["status"] = "deleted"
    # Cancelled in Zoom, not in the file: a series PATCH cannot bring it back, so the plan warns instead.
    live = LiveSnapshot(True, {MEETING_ID: live_meeting(body)}, set())
    plan = build_plan(desired, state, live, TEST_NOW)
    assert plan.changes[0].action == "unchanged"
    assert any("occurrence 2027-02-09 was cancelled in Zoom" in w and "cannot restore" in w for w in plan.warnings)
    # Gone from Zoom's list altogether: the schedule differs.
    del body["occurrences"][1]
    change = plan_of(desired, state, body)
    assert change.action == "update" and "missing 2027-02-09 09:00" in change.reason


def test_get_without_top_level_start_time_and_zone_alias_is_unchanged(tmp_path):
    desired, state, sent = setup(tmp_path, timezone="Asia/Kolkata")
    body = zoom_get(sent, timezone="Asia/Calcutta")
    # 09:00 in Kolkata is 03:30 UTC.
    for o in body["occurrences"]:
        o["start_time"] = o["start_time"].replace("T14:00", "T03:30")
    body.pop("start_time", None)
    assert plan_of(desired, state, body).action == "unchanged"


def test_setting_changed_in_zoom_is_drift_and_the_file_wins(tmp_path):
    desired, state, sent = setup(tmp_path)
    body = zoom_get(sent)
    body["settings"]["auto_recording"] = "cloud"
    change = plan_of(desired, state, body)
    assert (change.action, change.reason_code) == ("update", "drift")
    assert [(d.path, d.before, d.after) for d in change.diffs] == [("settings.auto_recording", "cloud", "none")]


def test_value_zoom_kept_is_not_proposed_again_until_the_file_changes(tmp_path):
    desired, state, sent = setup(tmp_path)
    body = zoom_get(sent)
    body["settings"]["waiting_room"] = False  # locked off by the account
    record = state.meetings["sync"]
    state.meetings["sync"] = ManagedMeeting(
        record.key, record.meeting_id, record.host_email, record.topic, "",
        {**record.managed, "kept": {"settings.waiting_room": {"sent": True, "kept": False}}}, {})
    change = plan_of(desired, state, body)
    assert (change.action, change.reason_code) == ("unchanged", "kept_by_zoom")
    assert [(d.path, d.before, d.after) for d in change.kept] == [("settings.waiting_room", False, True)]
    plan = build_plan(desired, state, LiveSnapshot(True, {MEETING_ID: live_meeting(body)}), TEST_NOW)
    assert not plan.has_changes
    assert plan.changes[0].kept and not plan.pending_changes
    # Another value in the file is proposed again.
    other = copy.deepcopy(body)
    other["settings"]["waiting_room"] = "locked"
    assert plan_of(desired, state, other).action == "update"


def test_ignore_changes_leaves_a_field_alone(tmp_path):
    desired, state, sent = setup(tmp_path, ignore_changes=["agenda", "settings.auto_recording"])
    body = zoom_get(sent, agenda="edited in Zoom")
    body["settings"]["auto_recording"] = "cloud"
    assert plan_of(desired, state, body).action == "unchanged"
    body["settings"]["mute_upon_entry"] = not body["settings"]["mute_upon_entry"]
    change = plan_of(desired, state, body)
    assert [d.path for d in change.diffs] == ["settings.mute_upon_entry"]


def test_passcode_diff_shows_no_value(tmp_path):
    desired, state, sent = setup(tmp_path, password="Secret12")
    change = plan_of(desired, state, zoom_get(sent, password="Other99"))
    assert change.action == "update"
    (diff,) = change.diffs
    assert diff.path == "password" and "Secret12" not in str(change.to_json()).replace(
        str(change.payload), "") and "Other99" not in str(diff.to_json())
    assert diff.after == "passcode changed"


def test_adopt_matches_by_occurrences_and_recovers_pending(tmp_path):
    desired, _, sent = setup(tmp_path)
    body = zoom_get(sent)
    state = State(lineage="l")
    live = LiveSnapshot(True, candidates={"sync": [live_meeting(body)]})
    change = build_plan(desired, state, live, TEST_NOW).changes[0]
    assert (change.action, change.reason_code, change.meeting_id) == ("adopt", "adopt_match", MEETING_ID)
    state.pending["sync"] = PendingCreate("sync", "alice@example.com", "Sync", {}, "2027-01-04T12:00:00Z")
    change = build_plan(desired, state, live, TEST_NOW).changes[0]
    assert change.reason_code == "recover_pending"
    # The same series ending earlier (the seed script's end encoding drops the last meeting) is adopted, with
    # the PATCH that gives it back its missing dates.
    other = zoom_get(sent)
    other["occurrences"] = other["occurrences"][:4]
    live = LiveSnapshot(True, candidates={"sync": [live_meeting(other)]})
    change = build_plan(desired, State(lineage="l"), live, TEST_NOW).changes[0]
    assert (change.action, change.meeting_id, [d.path for d in change.diffs]) == ("adopt", MEETING_ID, ["schedule"])
    assert change.payload is not None and change.writes == 1
    assert "missing 2027-03-02 09:00" in change.reason and "adopted with a PATCH for schedule" in change.reason
    from zoomstate.render import summary_line
    assert "1 to adopt (1 with a PATCH)" in summary_line(build_plan(desired, State(lineage="l"), live, TEST_NOW))
    # Another weekday or time is another meeting: never adopted.
    moved = zoom_get(sent)
    for item in moved["occurrences"]:
        item["start_time"] = item["start_time"].replace("T14:00", "T15:00")
    live = LiveSnapshot(True, candidates={"sync": [live_meeting(moved)]})
    assert build_plan(desired, State(lineage="l"), live, TEST_NOW).changes[0].action == "create"


def test_duplicates_are_listed_and_deleted_only_on_request(tmp_path):
    from zoomstate.plan import Plan

    desired, state, sent = setup(tmp_path)
    copy_body = zoom_get(sent, id=MEETING_ID + 1, created_at="2027-01-04T13:00:00Z")
    other_topic = zoom_get(sent, id=MEETING_ID + 2, topic="Another")
    other_time = zoom_get(sent, id=MEETING_ID + 3)
    other_time["occurrences"] = [{**o, "start_time": o["start_time"].replace("T14:", "T16:")}
                                 for o in other_time["occurrences"]]
    live = LiveSnapshot(True, {MEETING_ID: live_meeting(zoom_get(sent))},
                        candidates={"sync": [live_meeting(b) for b in (copy_body, other_topic, other_time)]})
    plan = build_plan(desired, state, live, TEST_NOW)
    assert [(d.key, d.meeting_id, d.of_meeting_id) for d in plan.duplicates] == [("sync", MEETING_ID + 1, MEETING_ID)]
    assert not plan.has_changes and not plan.destructive_changes
    plan = build_plan(desired, state, live, TEST_NOW, delete_duplicates=True)
    (delete,) = plan.pending_changes
    assert (delete.action, delete.meeting_id, delete.reason_code, delete.destructive) == (
        "delete", MEETING_ID + 1, "duplicate", True)
    # Counted for the safety threshold, but never as "every managed meeting would be deleted".
    assert plan.safety_problem() is None
    saved = Plan.from_json(plan.to_json())
    assert saved.duplicates == plan.duplicates and saved.delete_duplicates
    saved.raise_if_stale(plan)
    import pytest

    from zoomstate.plan import StalePlanError
    with pytest.raises(StalePlanError, match="without --delete-duplicates"):
        build_plan(desired, state, live, TEST_NOW).raise_if_stale(plan)
    # Offline, nothing is known of Zoom's other meetings: no duplicates.
    assert build_plan(desired, state, LiveSnapshot(False, candidates=live.candidates), TEST_NOW).duplicates == []


def test_adopting_the_oldest_of_several_names_the_others(tmp_path):
    desired, _, sent = setup(tmp_path)
    bodies = [zoom_get(sent, id=MEETING_ID + i, created_at=f"2027-01-04T1{i}:00:00Z") for i in (2, 1, 3)]
    live = LiveSnapshot(True, candidates={"sync": [live_meeting(b) for b in bodies]})
    plan = build_plan(desired, State(lineage="l"), live, TEST_NOW)
    change = plan.changes[0]
    assert (change.action, change.meeting_id) == ("adopt", MEETING_ID + 1)
    assert f"also found {MEETING_ID + 2}, {MEETING_ID + 3}" in change.reason
    assert [d.meeting_id for d in plan.duplicates] == [MEETING_ID + 2, MEETING_ID + 3]
