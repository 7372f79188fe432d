from __future__ import annotations

import errno
import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from zoomstate.model import InputError
from zoomstate.state import (
    STATE_VERSION,
    LockHeldError,
    ManagedMeeting,
    PendingCreate,
    State,
    StateError,
    StateStore,
    StateWriter,
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


def test_force_unlock_refuses_while_the_holder_runs(tmp_path):
    path = tmp_path / "zoomstate.json"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(path, ready, release))
    proc.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockHeldError) as info:
            StateStore(path).force_unlock()
        assert f"pid {proc.pid}" in str(info.value) and "still running" in str(info.value)
        # The lock is still held: nobody else gets it.
        with pytest.raises(LockHeldError):
            with StateStore(path).lock("apply"):
                pass
        assert f"pid {proc.pid}" in (StateStore(path).lock_holder() or "")
    finally:
        release.set()
        proc.join(10)


def test_force_unlock_without_a_holder_clears_the_stale_record(tmp_path):
    store = StateStore(tmp_path / "zoomstate.json")
    assert store.force_unlock() is None  # no lock file at all
    pid = os.fork()
    if pid == 0:  # child: take the lock and die without releasing it; its holder record stays behind
        held = StateStore(store.path).lock("apply")
        held.__enter__()
        os._exit(0)
    os.waitpid(pid, 0)
    assert f'"pid": {pid}' in store.lock_path.read_text()
    cleared = store.force_unlock()
    assert cleared is not None and f"pid {pid}" in cleared
    assert store.lock_path.read_text() == ""
    assert store.force_unlock() is None
    with store.lock("apply"):
        pass


class _StepClock:
    """A fake monotonic clock whose sleeps advance it (and can run a hook, e.g. to let a holder go)."""

    def __init__(self, on_sleep=None):
        self.now_s, self.sleeps, self.on_sleep = 100.0, [], on_sleep

    def monotonic(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def test_lock_timeout_waits_then_names_the_holder(tmp_path):
    path = tmp_path / "zoomstate.json"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(path, ready, release))
    proc.start()
    try:
        assert ready.wait(10)
        clock = _StepClock()
        with pytest.raises(LockHeldError) as info:
            with StateStore(path).lock("apply", timeout=30, clock=clock, poll=5):
                pass
        assert sum(clock.sleeps) == 30 and len(clock.sleeps) == 6
        assert f"pid {proc.pid}" in str(info.value) and "waited 30s" in str(info.value)
        # Default: no wait at all.
        clock = _StepClock()
        with pytest.raises(LockHeldError):
            with StateStore(path).lock("apply", clock=clock):
                pass
        assert clock.sleeps == []
    finally:
        release.set()
        proc.join(10)


def test_lock_timeout_gets_the_lock_once_the_holder_finishes(tmp_path):
    path = tmp_path / "zoomstate.json"
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(path, ready, release))
    proc.start()
    assert ready.wait(10)

    def let_go(n: int) -> None:
        if n == 2:
            release.set()
            proc.join(10)

    clock = _StepClock(let_go)
    with StateStore(path).lock("apply", timeout=60, clock=clock, poll=1):
        assert f"pid {os.getpid()}" in (StateStore(path).lock_holder() or "")
    assert len(clock.sleeps) == 2


class _FakeMsvcrt:
    """msvcrt.locking as Windows behaves: a byte range, PermissionError while another process holds it."""

    LK_UNLCK, LK_NBLCK = 0, 2

    def __init__(self):
        self.calls, self.held_elsewhere = [], 0

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        self.calls.append((mode, os.lseek(fd, 0, os.SEEK_CUR), nbytes))
        if mode == self.LK_NBLCK and self.held_elsewhere:  # Windows says EACCES or EDEADLOCK
            raise OSError(self.held_elsewhere, os.strerror(self.held_elsewhere))


def test_lock_uses_msvcrt_where_there_is_no_fcntl(tmp_path, monkeypatch):
    from zoomstate import state as state_module

    fake = _FakeMsvcrt()
    monkeypatch.setattr(state_module, "_fcntl", None)
    monkeypatch.setattr(state_module, "_msvcrt", fake)
    store = StateStore(tmp_path / "zoomstate.json")
    with store.lock("apply"):
        assert '"operation": "apply"' in store.lock_path.read_text()  # the record stays readable
    offset = state_module._WINDOWS_LOCK_OFFSET
    assert fake.calls == [(fake.LK_NBLCK, offset, 1), (fake.LK_UNLCK, offset, 1)]
    for code in (errno.EACCES, errno.EDEADLK):
        fake.held_elsewhere = code
        with pytest.raises(LockHeldError):
            with store.lock("apply"):
                pass
        with pytest.raises(LockHeldError):
            store.force_unlock()


def test_start_path_imports_nothing_posix_only(tmp_path):
    """With fcntl unavailable (as on Windows) and msvcrt present, the CLI starts, validates and locks."""
    from tests.conftest import meeting, write_meetings

    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    script = f"""
import sys, types
sys.modules["fcntl"] = None  # import fcntl raises ImportError
fake = types.ModuleType("msvcrt")
fake.LK_UNLCK, fake.LK_NBLCK, fake.calls = 0, 2, []
fake.locking = lambda fd, mode, n: fake.calls.append(mode)
sys.modules["msvcrt"] = fake
from zoomstate import cli
from zoomstate.state import StateStore
assert cli.main(["validate", "-f", {str(path)!r}]) == 0
with StateStore({str(tmp_path / "zoomstate.json")!r}).lock("export"):
    pass
assert fake.calls == [2, 0], fake.calls
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


# ---------------------------------------------------------------------------------------------- the journal

def _record(i: int, rev: int = 0) -> ManagedMeeting:
    return ManagedMeeting(key=f"m{i:05d}", meeting_id=80000000000 + i, host_email="a@x.com",
                          topic=f"Meeting {i} r{rev}", created_at="2027-01-04T12:00:00Z",
                          managed={"topic": f"Meeting {i}", "duration": 30},
                          outputs={"join_url": f"https://zoom.us/j/{80000000000 + i}"})


def _base(path, n: int) -> State:
    state = State.new()
    state.account_id = "acct"
    for i in range(n):
        state.meetings[f"m{i:05d}"] = _record(i)
    StateStore(path).save(state)
    return StateStore(path).load()


def _set(record: ManagedMeeting):
    return lambda state: state.meetings.__setitem__(record.key, record)


def test_commits_append_journal_lines_whose_size_does_not_grow_with_the_state(tmp_path):
    path = tmp_path / "zoomstate.json"
    sizes = {}
    for n in (10, 2000):
        folder = tmp_path / str(n)
        state = _base(folder / "zoomstate.json", n)
        before = (folder / "zoomstate.json").read_bytes()
        writer = StateWriter(StateStore(folder / "zoomstate.json"), state)
        writer.commit(_set(_record(3, rev=1)))
        writer.commit(lambda s: s.meetings.pop("m00004"))
        writer.commit(lambda s: s.pending.__setitem__(
            "new", PendingCreate("new", "a@x.com", "New", {"topic": "New"}, "2027-01-04T12:00:00Z")))
        journal = (folder / "zoomstate.json.journal").read_bytes()
        assert journal.count(b"\n") == 3 and journal.endswith(b"\n")
        assert (folder / "zoomstate.json").read_bytes() == before  # the file itself is not rewritten
        sizes[n] = len(journal)
    assert sizes[10] == sizes[2000]
    del path


def test_journal_is_read_without_the_lock_and_compacted_with_it(tmp_path):
    path = tmp_path / "zoomstate.json"
    state = _base(path, 5)
    store = StateStore(path)
    writer = StateWriter(store, state)
    writer.commit(_set(_record(1, rev=7)))
    writer.commit(lambda s: s.meetings.pop("m00002"))
    journal = store.journal_path.read_bytes()
    # A read-only command sees the journal's changes and leaves both files alone.
    seen = StateStore(path).load()
    assert seen.meetings["m00001"].topic == "Meeting 1 r7" and "m00002" not in seen.meetings
    assert seen.serial == state.serial and seen.lineage == state.lineage
    assert store.journal_path.read_bytes() == journal
    # A run that takes the lock folds it into the file, which looks as if it had been saved whole.
    reader = StateStore(path)
    with reader.lock("apply"):
        again = reader.load()
    assert not store.journal_path.exists()
    assert again.meetings == seen.meetings and again.serial == seen.serial
    text = path.read_text()
    assert text == StateStore(tmp_path / "other.json").render(again)
    assert [line[:12] for line in text.splitlines() if line.startswith("    ")] == [
        '    "m00000"', '    "m00001"', '    "m00003"', '    "m00004"']  # one line per meeting


def test_compact_writes_the_usual_file_and_removes_the_journal(tmp_path):
    path = tmp_path / "zoomstate.json"
    state = _base(path, 3)
    first = path.read_text()
    store = StateStore(path)
    writer = StateWriter(store, state)
    for rev in range(1, 4):
        writer.commit(_set(_record(0, rev=rev)))
    writer.compact()
    assert not store.journal_path.exists()
    assert store.backup_path.read_text() == first
    loaded = StateStore(path).load()
    assert loaded.meetings["m00000"].topic == "Meeting 0 r3" and loaded.serial == state.serial == 4
    assert json.loads(path.read_text())["serial"] == 4
    writer.compact()  # nothing more to do
    assert StateStore(path).load().serial == 4


def test_a_torn_last_journal_line_is_ignored(tmp_path):
    path = tmp_path / "zoomstate.json"
    state = _base(path, 3)
    store = StateStore(path)
    writer = StateWriter(store, state)
    writer.commit(_set(_record(0, rev=1)))
    writer.commit(_set(_record(1, rev=1)))
    good = store.journal_path.read_bytes()
    torn_line = good.splitlines(keepends=True)[1]
    for torn in (good[: -len(torn_line) // 2],  # killed mid-write: half a line, no newline
                 good + b'{"serial": 4, "line',  # a third line cut short
                 good + b"\x00" * 40 + b"\n"):  # blocks the disk never filled in
        store.journal_path.write_bytes(torn)
        expected = 1 if torn is not None and len(torn) < len(good) else 2
        loaded = StateStore(path).load()
        assert loaded.serial == 1 + expected
        assert loaded.meetings["m00001"].topic == ("Meeting 1 r1" if expected == 2 else "Meeting 1 r0")
    locked = StateStore(path)
    with locked.lock("apply"):
        assert locked.load().serial == 3
    assert not store.journal_path.exists()
    assert StateStore(path).load().meetings["m00001"].topic == "Meeting 1 r1"


@pytest.mark.parametrize("damage, words", [
    (lambda lines: [b"not json\n", *lines], "not valid JSON"),
    (lambda lines: [lines[1], lines[0]], "a change is missing"),
    (lambda lines: [lines[0].replace(b'"lineage": "', b'"lineage": "x'), lines[1]], "another state file"),
])
def test_a_damaged_journal_is_refused_and_left_untouched(tmp_path, damage, words):
    path = tmp_path / "zoomstate.json"
    state = _base(path, 3)
    store = StateStore(path)
    writer = StateWriter(store, state)
    writer.commit(_set(_record(0, rev=1)))
    writer.commit(_set(_record(1, rev=1)))
    lines = store.journal_path.read_bytes().splitlines(keepends=True)
    store.journal_path.write_bytes(b"".join(damage(lines)))
    before = (path.read_bytes(), store.journal_path.read_bytes())
    locked = StateStore(path)
    with pytest.raises(InputError) as info:
        with locked.lock("apply"):
            locked.load()
    assert words in str(info.value) and "journal" in str(info.value)
    assert (path.read_bytes(), store.journal_path.read_bytes()) == before


def test_journal_lines_already_in_the_file_are_skipped(tmp_path):
    """A crash after the compacted file was renamed, before the journal was removed."""
    path = tmp_path / "zoomstate.json"
    state = _base(path, 3)
    store = StateStore(path)
    writer = StateWriter(store, state)
    writer.commit(_set(_record(0, rev=1)))
    journal = store.journal_path.read_bytes()
    writer.compact()
    path.with_name("zoomstate.json.journal").write_bytes(journal)
    compacted = path.read_bytes()
    locked = StateStore(path)
    with locked.lock("apply"):
        assert locked.load().serial == 2
    assert path.read_bytes() == compacted and not store.journal_path.exists()


def test_a_failed_append_leaves_no_part_of_the_line(tmp_path, monkeypatch):
    path = tmp_path / "zoomstate.json"
    state = _base(path, 3)
    store = StateStore(path)
    writer = StateWriter(store, state)
    writer.commit(_set(_record(0, rev=1)))
    size = store.journal_path.stat().st_size
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(StateError) as info:
        writer.commit(_set(_record(1, rev=1)))
    assert "zoomstate.json.journal" in str(info.value) and "disk is full" in str(info.value)
    assert store.journal_path.stat().st_size == size
    monkeypatch.setattr(os, "write", real_write)
    writer.commit(_set(_record(2, rev=1)))  # carries the record whose line failed, too
    loaded = StateStore(path).load()
    assert [loaded.meetings[f"m{i:05d}"].topic for i in range(3)] == ["Meeting 0 r1", "Meeting 1 r1", "Meeting 2 r1"]
    assert loaded.serial == state.serial == 3


def test_concurrent_commits_share_lines_and_all_reach_the_file(tmp_path):
    path = tmp_path / "zoomstate.json"
    state = _base(path, 50)
    store = StateStore(path)
    writer = StateWriter(store, state)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: writer.commit(_set(_record(i, rev=1))), range(50)))
    lines = store.journal_path.read_bytes().count(b"\n")
    assert 1 <= lines <= 50 and state.serial == 1 + lines
    assert all(m.topic.endswith("r1") for m in StateStore(path).load().meetings.values())
    writer.compact()
    assert all(m.topic.endswith("r1") for m in StateStore(path).load().meetings.values())


# -- a damaged state is refused, never coerced -------------------------------------------------------

GOOD_STATE = """\
{
  "format": "zoomstate-state",
  "version": 1,
  "lineage": "6f1c2a8e-0000-4000-8000-000000000001",
  "serial": 3,
  "account_id": "acct",
  "meetings": {
    "planning": {"meeting_id": 85000000002, "host_email": "b@x.com", "topic": "Planning", "created_at": "", "adopted": false, "updated_at": "", "managed": {}, "outputs": {}},
    "team-sync": {"meeting_id": 85000000001, "host_email": "a@x.com", "topic": "Team Sync", "created_at": "", "adopted": false, "updated_at": "", "managed": {}, "outputs": {}}
  },
  "pending": {
    "retro": {"host_email": "a@x.com", "topic": "Retro", "fingerprint": {}, "started_at": "2027-01-04T12:00:00Z"}
  }
}
"""  # noqa: E501 - one line per record, as zoomstate writes it


def _damage(old: str, new: str, count: int = 1) -> str:
    assert GOOD_STATE.count(old) >= count, old
    return GOOD_STATE.replace(old, new, count)


DAMAGED = {
    # name: (file text, line of the error, words the message holds)
    "meeting id true": (_damage('"meeting_id": 85000000001', '"meeting_id": true'), 9,
                        "meetings.team-sync.meeting_id must be a Zoom meeting id (a positive whole number), not true"),
    "meeting id as text": (_damage('"meeting_id": 85000000001', '"meeting_id": "85000000001"'), 9,
                           'meetings.team-sync.meeting_id must be a Zoom meeting id (a positive whole number), '
                           'not the text "85000000001"'),
    "meeting id zero": (_damage('"meeting_id": 85000000001', '"meeting_id": 0'), 9, "not the number 0"),
    "meeting id negative": (_damage('"meeting_id": 85000000001', '"meeting_id": -1'), 9, "not the number -1"),
    "meeting id float": (_damage('"meeting_id": 85000000001', '"meeting_id": 85000000001.0'), 9,
                         "not the number 85000000001.0"),
    "meeting id missing": (_damage('"meeting_id": 85000000001, ', ""), 9, "meetings.team-sync.meeting_id is missing"),
    "host missing": (_damage('"host_email": "a@x.com", "topic": "Team Sync"', '"topic": "Team Sync"'), 9,
                     "meetings.team-sync.host_email is missing"),
    "topic null": (_damage('"topic": "Team Sync"', '"topic": null'), 9,
                   "meetings.team-sync.topic must be text, not null"),
    "topic number": (_damage('"topic": "Team Sync"', '"topic": 7'), 9, "must be text, not the number 7"),
    "adopted text": (_damage('"adopted": false', '"adopted": "no"'), 8,
                     'meetings.planning.adopted must be true or false, not the text "no"'),
    "managed list": (_damage('"managed": {}', '"managed": []'), 8, "meetings.planning.managed must be a mapping"),
    "outputs text": (_damage('"outputs": {}', '"outputs": "x"'), 8, "meetings.planning.outputs must be a mapping"),
    "record a list": (_damage('"planning": {', '"planning": [{').replace(
        '"outputs": {}},\n    "team', '"outputs": {}}],\n    "team'), 8,
                      "meetings.planning must be a mapping, not a list"),
    "pending host number": (_damage('"host_email": "a@x.com", "topic": "Retro"', '"host_email": 1, "topic": "Retro"'),
                            12, "pending.retro.host_email must be text, not the number 1"),
    "pending fingerprint list": (_damage('"fingerprint": {}', '"fingerprint": []'), 12,
                                 "pending.retro.fingerprint must be a mapping"),
    "serial text": (_damage('"serial": 3', '"serial": "3"'), 5,
                    'serial must be a whole number, 0 or more, not the text "3"'),
    "serial negative": (_damage('"serial": 3', '"serial": -1'), 5, "serial must be a whole number, 0 or more"),
    "serial true": (_damage('"serial": 3', '"serial": true'), 5, "serial must be a whole number, 0 or more, not true"),
    "version true": (_damage('"version": 1', '"version": true'), 3, "unknown state format version true"),
    "lineage number": (_damage('"lineage": "6f1c2a8e-0000-4000-8000-000000000001"', '"lineage": 5'), 4,
                       "lineage must be text, not the number 5"),
    "lineage missing": (_damage('  "lineage": "6f1c2a8e-0000-4000-8000-000000000001",\n', ""), None,
                        "lineage is missing"),
    "account id number": (_damage('"account_id": "acct"', '"account_id": 12'), 6, "account_id must be text or null"),
    "meetings a list": (_damage('"pending": {\n    "retro": {"host_email": "a@x.com", "topic": "Retro", '
                                '"fingerprint": {}, "started_at": "2027-01-04T12:00:00Z"}\n  }', '"pending": []'), 11,
                        "pending must be a mapping, not a list"),
    "meetings null": (_damage('"meetings": {\n', '"meetings": null, "x": {\n'), 7,
                      "meetings must be a mapping, not null"),
    "duplicate meeting key": (_damage('"planning": {', '"team-sync": {'), 9,
                              'the key "team-sync" is written twice in one object'),
    "duplicate field": (_damage('"meeting_id": 85000000001', '"meeting_id": 85000000001, "meeting_id": 85000000009'),
                        None, 'the key "meeting_id" is written twice in one object'),
    "one meeting under two keys": (_damage('"meeting_id": 85000000002', '"meeting_id": 85000000001'), 9,
                                   "meeting 85000000001 is recorded under two keys, planning and team-sync"),
    "key with capitals": (_damage('"planning": {', '"Planning": {'), 8,
                          'meetings.Planning: the key "Planning" is not a meeting key'),
    "key with escape sequence": (_damage('"planning": {', '"plan\\u001b[2Jning": {'), 8,
                                 'meetings.plan\\x1b[2Jning: the key "plan\\x1b[2Jning" is not a meeting key'),
    "key too long": (_damage('"planning": {', f'"{"p" * 65}": {{'), 8, "is not a meeting key"),
    "pending key with a space": (_damage('"retro": {', '"re tro": {'), 12, 'pending.re tro: the key "re tro"'),
    "nested too deeply": ('{"format": "zoomstate-state", "version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
                          None, "it is not valid JSON (it is nested too deeply)"),
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_state_is_refused_with_where_and_how_to_restore(tmp_path, name):
    text, line, words = DAMAGED[name]
    path = tmp_path / "state" / "zoomstate.json"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    backup = path.with_name("zoomstate.json.backup")
    backup.write_text(GOOD_STATE, encoding="utf-8")
    with pytest.raises(InputError) as info:
        StateStore(path).load()
    (diag,) = info.value.diagnostics
    assert (diag.file, diag.line) == (str(path), line)
    assert diag.message.startswith("the state file is damaged: ") and words in diag.message, diag.message
    assert diag.hint == f"it was left untouched; check {backup} and restore it with `cp {backup} {path}`"
    assert "\x1b" not in str(info.value)
    assert path.read_text(encoding="utf-8") == text and backup.read_text(encoding="utf-8") == GOOD_STATE


def test_good_state_loads_and_a_missing_backup_is_said(tmp_path):
    path = tmp_path / "zoomstate.json"
    path.write_text(GOOD_STATE, encoding="utf-8")
    state = StateStore(path).load()
    assert sorted(state.meetings) == ["planning", "team-sync"] and list(state.pending) == ["retro"]
    assert state.meetings["team-sync"].meeting_id == 85000000001 and state.serial == 3
    path.write_text(DAMAGED["topic null"][0], encoding="utf-8")
    with pytest.raises(InputError) as info:
        StateStore(path).load()
    assert "there is no zoomstate.json.backup to restore" in info.value.diagnostics[0].hint
