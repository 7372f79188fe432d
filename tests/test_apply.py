"""Apply: what Zoom kept is compared with what was sent, reported and recorded; against a Zoom-like account
(locked settings, inherited defaults, bodies without start_time) a second plan is empty and a second apply
sends nothing."""

from __future__ import annotations

from tests.conftest import HOSTS, meeting, write_meetings
from zoomstate.apply import not_kept
from zoomstate.state import StateStore
from zoomstate.zoombody import live_meeting


def _patches(sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.route == "PATCH /meetings/{meetingId}")


def test_not_kept_names_each_field_zoom_did_not_keep():
    sent = {"topic": "Sync", "agenda": "a", "duration": 45, "timezone": "Asia/Kolkata",
            "settings": {"auto_recording": "cloud", "waiting_room": False, "audio": "both"}}
    body = {"id": 84512345678, "type": 8, "topic": "Sync", "agenda": "a", "duration": 45,
            "timezone": "Asia/Calcutta",  # the same zone by another name: kept
            "settings": {"auto_recording": "none", "waiting_room": True, "audio": "both", "jbh_time": 0}}
    found = not_kept(sent, live_meeting(body))
    assert [(d.path, d.before, d.after) for d in found] == [
        ("settings.auto_recording", "none", "cloud"), ("settings.waiting_room", True, False)]


def test_apply_against_zoom_like_host_converges(tmp_path, run, sandbox):
    host = HOSTS[0]
    sandbox.zoom_like(host, locked_settings={"auto_recording": "none"}, inherited_settings={"mute_upon_entry": False},
                      get_without_start_time=True, create_without_schedule=True, list_without_agenda=True,
                      pages_without_page_count=True)
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("sync", host, auto_recording="cloud", mute_upon_entry=True, agenda="Weekly"),
        meeting("review", host, start_time="15:00"),
    ])
    first = run("apply", "-f", path, "--auto-approve")
    assert first.code == 0, first.out + first.err
    assert "Zoom kept settings.auto_recording = \"none\" (sent \"cloud\")" in first.out
    assert "Zoom kept settings.mute_upon_entry = false (sent true)" in first.out
    record = StateStore(tmp_path / "state" / "zoomstate.json").load().meetings["sync"]
    assert record.managed["kept"] == {"settings.auto_recording": {"sent": "cloud", "kept": "none"},
                                      "settings.mute_upon_entry": {"sent": True, "kept": False}}
    assert record.outputs["start_time"] == "2027-02-01T09:00:00"  # from the GET: the create answer had none
    assert sum(1 for r in sandbox.requests if r.route == "GET /meetings/{meetingId}") >= 2

    second = run("plan", "-f", path, "--detailed-exitcode")
    assert second.code == 0, second.out
    assert "note: sync: Zoom keeps settings.auto_recording = \"none\" (sent \"cloud\")" in second.out
    assert "No changes." in second.out
    sandbox.reset_requests()
    again = run("apply", "-f", path, "--auto-approve")
    assert again.code == 0
    assert _patches(sandbox) == 0 and not any(r.route.startswith("POST /users") for r in sandbox.requests)

    # A new desired value for a kept field is sent once more; what Zoom keeps is recorded again.
    doc = path.read_text().replace("auto_recording: cloud", "auto_recording: local")
    path.write_text(doc)
    assert "settings.auto_recording" in run("plan", "-f", path).out
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert _patches(sandbox) == 1
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0


def test_a_create_answer_that_carries_the_meeting_is_not_read_back(tmp_path, run, sandbox):
    host = HOSTS[0]
    sandbox.zoom_like(host, locked_settings={"auto_recording": "none"})
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("sync", host, auto_recording="cloud")])
    sandbox.reset_requests()
    first = run("apply", "-f", path, "--auto-approve")
    assert first.code == 0, first.out + first.err
    assert not any(r.route == "GET /meetings/{meetingId}" for r in sandbox.requests)
    assert "Zoom kept settings.auto_recording = \"none\" (sent \"cloud\")" in first.out  # seen in the answer
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0


def test_state_file_of_an_apply_where_zoom_kept_values_still_plans_offline(tmp_path, run, sandbox):
    sandbox.zoom_like(locked_settings={"waiting_room": True})
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("sync", waiting_room=False)])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert run("plan", "-f", path, "--refresh=false", "--detailed-exitcode").code == 0


def test_passcode_is_kept_only_as_a_keyed_digest_and_diffs_hide_it(tmp_path, run, sandbox):
    state_path = tmp_path / "state" / "zoomstate.json"
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("sync", password="Secret12")])
    applied = run("apply", "-f", path, "--auto-approve")
    assert applied.code == 0 and "Secret12" not in applied.out + applied.err
    text = state_path.read_text()
    assert "Secret12" not in text and '"password_hmac"' in text and '"passcode_key"' in text
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0
    assert run("plan", "-f", path, "--refresh=false", "--detailed-exitcode").code == 0
    path.write_text(path.read_text().replace("Secret12", "Other987"))
    for flags in ((), ("--refresh=false",)):
        plan = run("plan", "-f", path, *flags)
        assert "password: \"********\" -> \"passcode changed\"" in plan.out, plan.out
        assert "Other987" not in plan.out and "Secret12" not in plan.out
        markdown = run("plan", "-f", path, *flags, "--format", "markdown")
        assert "Other987" not in markdown.out and "passcode changed" in markdown.out


def test_old_state_with_plaintext_passcode_loads_and_is_sealed(tmp_path, run, sandbox):
    import json

    state_path = tmp_path / "state" / "zoomstate.json"
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("sync", password="Secret12")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    data = json.loads(state_path.read_text())  # as an older zoomstate wrote it: the passcode in plaintext
    record = data["meetings"]["sync"]["managed"]
    del record["password_hmac"]
    record["password"] = "Secret12"
    del data["passcode_key"]
    state_path.write_text(json.dumps(data))
    state = StateStore(state_path).load()
    assert "password" not in state.meetings["sync"].managed and state.passcode_key
    assert run("plan", "-f", path, "--refresh=false", "--detailed-exitcode").code == 0
    StateStore(state_path).save(state)
    assert "Secret12" not in state_path.read_text()
