"""Saved plan files are checked, never trusted: apply plans again and carries out only an equal plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import meeting, write_meetings, writes
from zoomstate.state import StateStore

STALE = ("stale", "plan again")


def _files(tmp_path: Path) -> dict[str, bytes | None]:
    """Everything apply may write: the state, its backup and the CSV."""
    names = ["state/zoomstate.json", "state/zoomstate.json.backup", "zoom_meetings.csv"]
    return {n: (tmp_path / n).read_bytes() if (tmp_path / n).exists() else None for n in names}


def _edit(plan_path: Path, edit) -> None:
    data = json.loads(plan_path.read_text())
    edit(data)
    plan_path.write_text(json.dumps(data))


def _two(tmp_path: Path) -> Path:
    return write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync"), meeting("standup", "bob@example.com")])


def _refused_without_writes(result, tmp_path: Path, sandbox, before: dict, words=STALE) -> None:
    assert result.code == 1, result.out + result.err
    for word in words:
        assert word in result.err, result.err
    assert "Traceback" not in result.err
    assert writes(sandbox) == 0
    assert _files(tmp_path) == before


def test_a_delete_pointed_at_another_meeting_is_refused(tmp_path, run, sandbox):
    path = _two(tmp_path)
    assert run("apply", "-f", path, "--auto-approve").code == 0
    bystander = sandbox.create_out_of_band("carol@example.com", {"topic": "Not managed", "type": 8,
                                           "start_time": "2027-02-01T09:00:00", "timezone": "UTC", "duration": 30,
                                           "recurrence": {"type": 1, "repeat_interval": 1, "end_times": 3}})
    write_meetings(path, [meeting("team-sync")])  # standup leaves the file: the plan deletes it
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--out", plan_file).code == 0

    def retarget(data):
        for change in data["changes"]:
            if change["action"] == "delete":
                change["meeting_id"] = bystander["id"]

    _edit(plan_file, retarget)
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before)
    assert f"standup: meeting id is {bystander['id']} in the plan" in result.err
    assert sandbox.meeting(bystander["id"]) is not None and len(sandbox.meetings()) == 3


def test_a_hand_added_delete_is_refused(tmp_path, run, sandbox):
    path = _two(tmp_path)
    assert run("apply", "-f", path, "--auto-approve").code == 0
    managed = StateStore(tmp_path / "state" / "zoomstate.json").load().meetings["team-sync"]
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--out", plan_file).code == 0  # nothing to do

    def add_delete(data):
        data["changes"] = [c for c in data["changes"] if c["key"] != "team-sync"]
        data["changes"].append({"key": "team-sync", "action": "delete", "meeting_id": managed.meeting_id})

    _edit(plan_file, add_delete)
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before)
    assert "team-sync: the plan says delete, but planning now gives no change" in result.err
    assert len(sandbox.meetings()) == 2


def test_a_create_moved_to_another_host_is_refused(tmp_path, run, sandbox):
    path = _two(tmp_path)
    plan_file = tmp_path / "plan.json"
    run("plan", "-f", path, "--out", plan_file)

    def other_host(data):
        for change in data["changes"]:
            if change["key"] == "team-sync":
                change["host_email"] = "carol@example.com"

    _edit(plan_file, other_host)
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before)
    assert "team-sync: host email" in result.err
    assert sandbox.meetings() == []


def test_a_create_of_a_key_not_in_the_meetings_file_is_refused(tmp_path, run, sandbox):
    path = _two(tmp_path)
    plan_file = tmp_path / "plan.json"
    run("plan", "-f", path, "--out", plan_file)

    def smuggle(data):
        extra = json.loads(json.dumps(data["changes"][0]))
        extra.update(key="smuggled", topic="Smuggled")
        extra["payload"]["topic"] = "Smuggled"
        data["changes"].append(extra)

    _edit(plan_file, smuggle)
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before)
    assert "smuggled" in result.err
    assert sandbox.meetings() == []


def test_a_changed_body_is_refused_and_the_message_names_the_key_and_part(tmp_path, run, sandbox):
    path = _two(tmp_path)
    plan_file = tmp_path / "plan.json"
    run("plan", "-f", path, "--out", plan_file)

    def body(data):
        for change in data["changes"]:
            if change["key"] == "standup":
                change["payload"]["settings"]["waiting_room"] = False

    _edit(plan_file, body)
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before)
    assert "standup" in result.err and "body.settings.waiting_room" in result.err


def test_a_plan_whose_errors_were_removed_is_still_refused(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("keep-me", prevent_delete=True), meeting("other")])
    run("apply", "-f", path, "--auto-approve")
    write_meetings(path, [meeting("other")])
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--out", plan_file).code == 1  # the plan has the prevent_delete error
    _edit(plan_file, lambda d: d.update(errors=[]))
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before, words=("prevent_delete",))
    assert len(sandbox.meetings()) == 2


def test_a_plan_whose_safety_numbers_were_edited_still_needs_force(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(f"m{i}") for i in range(8)])
    run("apply", "-f", path, "--auto-approve")
    write_meetings(path, [meeting(f"m{i}") for i in range(5)])
    plan_file = tmp_path / "plan.json"
    run("plan", "-f", path, "--out", plan_file)
    _edit(plan_file, lambda d: d["state"].update(managed=0))  # would skip the threshold if trusted
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before, words=("--force",))
    assert len(sandbox.meetings()) == 8
    assert run("apply", "-f", path, plan_file, "--force").code == 0
    assert len(sandbox.meetings()) == 5


def test_an_unrefreshed_plan_after_a_lost_state_does_not_duplicate(tmp_path, run, sandbox):
    path = _two(tmp_path)
    assert run("apply", "-f", path, "--auto-approve").code == 0
    for name in ("zoomstate.json", "zoomstate.json.backup"):
        (tmp_path / "state" / name).unlink(missing_ok=True)
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--refresh=false", "--out", plan_file).code == 0
    assert json.loads(plan_file.read_text())["summary"]["create"] == 2
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before)
    assert "planning now gives adopt" in result.err or "action is 'create' in the plan, 'adopt' now" in result.err
    assert len(sandbox.meetings()) == 2
    # Planned again with a refresh, the same situation adopts both meetings.
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert len(sandbox.meetings()) == 2 and len(StateStore(tmp_path / "state" / "zoomstate.json").load().meetings) == 2


def test_a_saved_plan_still_applies_when_only_the_clock_moved(tmp_path, run, sandbox, clock):
    # Weekly on Mondays from 2027-02-01, 10 occurrences: applied a week into the series, the body's start
    # and its count of upcoming occurrences both differ from the plan's.
    path = _two(tmp_path)
    plan_file = tmp_path / "plan.json"
    run("plan", "-f", path, "--out", plan_file)
    saved = json.loads(plan_file.read_text())["changes"][0]["payload"]
    clock.advance(30 * 86400 + 3600)  # 2027-02-03: the first occurrence is past
    result = run("apply", "-f", path, plan_file)
    assert result.code == 0, result.err
    sent = [r.body for r in sandbox.requests if r.route == "POST /users/{userId}/meetings"]
    assert len(sent) == 2
    assert sent[0]["start_time"] != saved["start_time"]
    assert sent[0]["recurrence"]["end_times"] != saved["recurrence"]["end_times"]


def test_plan_files_never_hold_a_passcode_and_a_changed_one_is_stale(tmp_path, run, sandbox, zoom_env):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", password="${TEAM_PW}")])
    env = {**zoom_env, "TEAM_PW": "Secret42"}
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--out", plan_file, env=env).code == 0
    text = plan_file.read_text()
    assert "Secret42" not in text
    assert "hmac-sha256" in text
    json_out = run("plan", "-f", path, "--format", "json", env=env)
    assert json_out.code == 0 and "Secret42" not in json_out.out
    # The same passcode applies; another one (the meetings file is byte for byte the same) is stale.
    sandbox.reset_requests()
    before = _files(tmp_path)
    changed = run("apply", "-f", path, plan_file, env={**env, "TEAM_PW": "Other99"})
    _refused_without_writes(changed, tmp_path, sandbox, before)
    assert "team-sync" in changed.err and "password" in changed.err and "Other99" not in changed.err
    assert run("apply", "-f", path, plan_file, env=env).code == 0
    assert len(sandbox.meetings()) == 1


def _valid_plan(tmp_path, run) -> tuple[Path, Path]:
    path = _two(tmp_path)
    plan_file = tmp_path / "plan.json"
    run("plan", "-f", path, "--out", plan_file)
    return path, plan_file


def _set(*keys, value):
    def edit(data):
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


@pytest.mark.parametrize("edit, named", [
    (_set("changes", 0, "action", value="explode"), "changes[0].action"),
    (_set("changes", 0, "meeting_id", value="123"), "changes[0].meeting_id"),
    (_set("changes", 0, "meeting_id", value=True), "changes[0].meeting_id"),
    (_set("changes", 0, "meeting_id", value=-5), "changes[0].meeting_id"),
    (_set("changes", 0, "meeting_id", value=10**30), "changes[0].meeting_id"),
    (_set("changes", 0, "meeting_id", value=1.5), "changes[0].meeting_id"),
    (_set("state", "serial", value=-1), "state.serial"),
    (_set("state", "serial", value=10**40), "state.serial"),
    (_set("state", "serial", value=True), "state.serial"),
    (_set("state", "serial", value="0"), "state.serial"),
    (_set("state", value=[]), "plan.state"),
    (_set("changes", value={}), "plan.changes"),
    (_set("changes", 0, value=5), "changes[0]"),
    (_set("changes", 0, "payload", value="body"), "changes[0].payload"),
    (_set("changes", 0, "key", value=7), "changes[0].key"),
    (_set("changes", 0, "diffs", value=[1]), "changes[0].diffs[0]"),
    (_set("errors", value="none"), "plan.errors"),
    (_set("refreshed", value="yes"), "plan.refreshed"),
    (lambda d: d["changes"].append(dict(d["changes"][0])), "changes[2].key"),
])
def test_a_damaged_plan_file_is_one_error_line_naming_it(tmp_path, run, sandbox, edit, named):
    path, plan_file = _valid_plan(tmp_path, run)
    _edit(plan_file, edit)
    sandbox.reset_requests()
    result = run("apply", "-f", path, plan_file)
    assert result.code == 1
    assert result.err.count("error:") == 1 and "Traceback" not in result.err
    assert str(plan_file) in result.err and named in result.err and "zoomstate plan --out" in result.err
    assert sandbox.requests == [] and not (tmp_path / "state" / "zoomstate.json").exists()


@pytest.mark.parametrize("content", [
    "[1, 2]",
    '{"format": "zoomstate-plan", "version": 1, "serial": ' + "9" * 5000 + "}",  # past Python's int digits limit
    "[" * 100000 + "]" * 100000,  # nested past the recursion limit
], ids=["list", "huge-number", "deep"])
def test_a_plan_file_that_is_not_json_we_can_read_is_one_error_line(tmp_path, run, sandbox, content):
    path = _two(tmp_path)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(content)
    result = run("apply", "-f", path, plan_file)
    assert result.code == 1 and result.err.count("error:") == 1 and "Traceback" not in result.err
    assert str(plan_file) in result.err and "zoomstate plan --out" in result.err


def test_a_plan_file_that_is_a_folder_is_one_error_line(tmp_path, run, sandbox):
    path = _two(tmp_path)
    result = run("apply", "-f", path, tmp_path)
    assert result.code == 1 and result.err.count("error:") == 1 and str(tmp_path) in result.err


def test_a_plan_made_offline_with_credentials_seals_the_passcode_and_applies(tmp_path, run, sandbox, zoom_env):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", password="Secret42")])
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--refresh=false", "--out", plan_file).code == 0
    assert "Secret42" not in plan_file.read_text()
    result = run("apply", "-f", path, plan_file)
    assert result.code == 0, result.err
    assert sandbox.meetings()[0]["password"] == "Secret42"


def test_a_passcode_planned_without_credentials_cannot_be_checked(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", password="Secret42")])
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--refresh=false", "--out", plan_file, env={}).code == 0
    assert "Secret42" not in plan_file.read_text()
    sandbox.reset_requests()
    before = _files(tmp_path)
    result = run("apply", "-f", path, plan_file)
    _refused_without_writes(result, tmp_path, sandbox, before)
    assert "without Zoom credentials" in result.err


def test_a_passcode_update_leaves_neither_passcode_in_the_plan_file(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", password="Old1234")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    write_meetings(path, [meeting("team-sync", password="New5678")])
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--out", plan_file).code == 0
    text = plan_file.read_text()
    assert json.loads(text)["summary"]["update"] == 1
    assert "Old1234" not in text and "New5678" not in text
    assert run("apply", "-f", path, plan_file).code == 0
    assert sandbox.meetings()[0]["password"] == "New5678"
