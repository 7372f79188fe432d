from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from zoomstate.model import InputError
from zoomstate.state import (
    STATE_VERSION,
    LockHeldError,
    ManagedMeeting,
    PendingCreate,
    State,
    StateStore,
)


def _state_with_one() -> State:
    state = State.new()
    state.account_id = "acct"
    state.meetings["team-sync"] = ManagedMeeting(
        key="team-sync", meeting_id=87654321098, host_email="a@x.com", topic="Team Sync",
        created_at="2027-01-04T12:00:00Z", managed={"topic": "Team Sync"},
        outputs={"join_url": "https://zoom.us/j/87654321098", "start_url": "https://zoom.us/s/1?zak=SECRET"},
    )
    state.pending["other"] = PendingCreate("other", "a@x.com", "Other", {"topic": "Other"}, "2027-01-04T12:00:00Z")
    return state


def test_save_load_round_trip_bumps_serial_and_drops_secrets(tmp_path):
    store = StateStore(tmp_path / "state" / "zoomstate.json")
    state = _state_with_one()
    store.save(state)
    assert state.serial == 1
    loaded = store.load()
    assert loaded.lineage == state.lineage
    assert loaded.serial == 1
    assert loaded.account_id == "acct"
    assert loaded.meetings["team-sync"].meeting_id == 87654321098
    assert loaded.pending["other"].topic == "Other"
    text = store.path.read_text()
    assert "start_url" not in text and "SECRET" not in text
    data = json.loads(text)
    assert data["format"] == "zoomstate-state" and data["version"] == STATE_VERSION


def test_second_save_keeps_backup_of_previous(tmp_path):
    store = StateStore(tmp_path / "zoomstate.json")
    state = _state_with_one()
    store.save(state)
    first = store.path.read_text()
    state.meetings.pop("team-sync")
    store.save(state)
    assert store.backup_path.read_text() == first
    assert json.loads(store.path.read_text())["serial"] == 2


def test_missing_file_gives_new_state(tmp_path):
    store = StateStore(tmp_path / "none.json")
    state = store.load()
    assert state.serial == 0 and state.meetings == {} and state.lineage == ""
    store.save(state)
    assert len(state.lineage) == 36 and store.load().lineage == state.lineage


@pytest.mark.parametrize("content, words", [
    (b'{"format": "zoomstate-state", "version": 1, "lin', "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b'{"hello": 1}', "not a zoomstate state file"),
    (b'{"format": "zoomstate-state", "version": 99, "lineage": "x"}', "newer than this zoomstate"),
    (b'{"format": "zoomstate-state", "version": 1, "lineage": "x", "meetings": {"k": {"host_email": "a"}}}',
     "damaged"),
])
def test_bad_state_file_is_refused_and_left_untouched(tmp_path, content, words):
    path = tmp_path / "zoomstate.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        StateStore(path).load()
    assert words in str(info.value)
    assert path.read_bytes() == content


def _hold_lock(path, ready, release):
    store = StateStore(path)
    with store.lock("apply"):
        ready.set()
        release.wait(10)


def test_lock_held_by_another_process_names_the_holder(tmp_path):
    path = tmp_path / "zoomstate.json"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(path, ready, release))
    proc.start()
    try:
        assert ready.wait(10)
        store = StateStore(path)
        assert f"pid {proc.pid}" in (store.lock_holder() or "")
        with pytest.raises(LockHeldError) as info:
            with store.lock("plan"):
                pass
        message = str(info.value)
        assert f"pid {proc.pid}" in message and "apply" in message and "force-unlock" in message
    finally:
        release.set()
        proc.join(10)
    # Released when the holder is done; free again.
    with StateStore(path).lock("apply"):
        pass
    assert StateStore(path).lock_holder() is None


def test_lock_is_released_when_the_holder_dies(tmp_path):
    path = tmp_path / "zoomstate.json"
    pid = os.fork()
    if pid == 0:  # child: take the lock and die without releasing it
        store = StateStore(path)
        cm = store.lock("apply")
        cm.__enter__()
        os._exit(0)
    os.waitpid(pid, 0)
    with StateStore(path).lock("apply"):
        pass


def test_force_unlock_removes_lock_file(tmp_path):
    store = StateStore(tmp_path / "zoomstate.json")
    with store.lock("apply"):
        pass
    assert store.force_unlock() is True
    assert store.force_unlock() is False
