"""The state store at the edges of the disk: symbolic links, folders in the way, unwritable, read-only and full
disks. Each is one error line naming the path and what to do, exit 1, no traceback, files left as they were."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.conftest import meeting, write_meetings
from zoomstate.state import StateStore

VICTIM = "precious content\n"


def _setup(tmp_path: Path, run, keys=("team-sync",)) -> Path:
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(k) for k in keys])
    return path


def _one_error(result) -> str:
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.out + result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (temp files and the journal included), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and "sandbox" not in p.parts}


@pytest.mark.parametrize("name", [
    "state/zoomstate.json.lock", "state/zoomstate.json", "state/zoomstate.json.backup",
    "state/zoomstate.json.journal", "zoom_meetings.csv"])
@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_symlink_is_never_followed(tmp_path, run, sandbox, name, dangling):
    path = _setup(tmp_path, run)
    (tmp_path / "state").mkdir()
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    if not dangling:
        victim.write_text(VICTIM)
    (tmp_path / name).symlink_to(victim)
    line = _one_error(run("apply", "-f", path, "--auto-approve"))
    assert "symbolic link" in line and name.split("/")[-1] in line
    assert sandbox.meetings() == []
    assert (victim.read_text() == VICTIM) if not dangling else not victim.exists()
    assert (tmp_path / name).is_symlink()


def test_a_symlinked_state_file_is_refused_by_read_only_commands_too(tmp_path, run, sandbox):
    path = _setup(tmp_path, run)
    assert run("apply", "-f", path, "--auto-approve").code == 0
    real = tmp_path / "real.json"
    (tmp_path / "state" / "zoomstate.json").rename(real)
    (tmp_path / "state" / "zoomstate.json").symlink_to(real)
    before = real.read_bytes()
    for command in (["plan", "-f", path], ["show", "-f", path], ["export", "-f", path]):
        line = _one_error(run(*command))
        assert "symbolic link" in line and "zoomstate.json" in line
    assert real.read_bytes() == before


@pytest.mark.parametrize("name", ["state/zoomstate.json.lock", "state/zoomstate.json.backup",
                                  "state/zoomstate.json.journal", "zoom_meetings.csv"])
def test_a_folder_in_the_way_is_named(tmp_path, run, sandbox, name):
    path = _setup(tmp_path, run, keys=("team-sync", "other"))
    write_meetings(path, [meeting("team-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    write_meetings(path, [meeting("team-sync"), meeting("other")])
    (tmp_path / name).unlink(missing_ok=True)
    (tmp_path / name).mkdir()
    before = _snapshot(tmp_path)
    line = _one_error(run("apply", "-f", path, "--auto-approve"))
    assert "is a folder" in line and name.split("/")[-1] in line
    assert len(sandbox.meetings()) == 1
    assert _snapshot(tmp_path) == before


def test_state_path_that_is_a_folder(tmp_path, run, sandbox):
    path = _setup(tmp_path, run)
    folder = tmp_path / "somewhere"
    folder.mkdir()
    for command, flag in (("plan", "-q"), ("apply", "--auto-approve"), ("show", "--format=text")):
        line = _one_error(run(command, "-f", path, "--state", folder, flag))
        assert "is a folder" in line and "somewhere" in line and "--state" in line
    assert sandbox.meetings() == []


def _fail_open(monkeypatch, code: int, applies) -> None:
    """os.open raises OSError(code) for the paths ``applies`` selects, when they are opened for writing."""
    real_open = os.open

    def fake_open(file, flags, *args, **kwargs):
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if writing and applies(Path(file)):
            raise OSError(code, os.strerror(code), str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)


def _after_one_apply(tmp_path, run) -> Path:
    path = _setup(tmp_path, run)
    assert run("apply", "-f", path, "--auto-approve").code == 0
    write_meetings(path, [meeting("team-sync"), meeting("other")])
    return path


@pytest.mark.parametrize("code, words", [(errno.EACCES, "permissions"), (errno.EROFS, "read-only")])
def test_unwritable_state_folder(tmp_path, run, sandbox, monkeypatch, code, words):
    path = _after_one_apply(tmp_path, run)
    state_dir = tmp_path / "state"
    before = _snapshot(tmp_path)
    # New files cannot be made in the folder (the lock file from the first run still opens).
    _fail_open(monkeypatch, code, lambda p: p.parent == state_dir and p.name != "zoomstate.json.lock")
    line = _one_error(run("apply", "-f", path, "--auto-approve"))
    assert words in line and str(state_dir) in line
    assert len(sandbox.meetings()) == 1 and _snapshot(tmp_path) == before
    # Not even the lock file: the same, before anything else.
    _fail_open(monkeypatch, code, lambda p: p.parent == state_dir)
    line = _one_error(run("apply", "-f", path, "--auto-approve"))
    assert words in line and "zoomstate.json.lock" in line
    assert len(sandbox.meetings()) == 1 and _snapshot(tmp_path) == before


def test_full_disk_at_the_first_change(tmp_path, run, sandbox, monkeypatch):
    path = _after_one_apply(tmp_path, run)
    before = _snapshot(tmp_path)

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    line = _one_error(run("apply", "-f", path, "--auto-approve", "-q"))
    assert "disk is full" in line
    assert len(sandbox.meetings()) == 1  # the pending record could not be saved, so nothing was created
    assert _snapshot(tmp_path) == before  # no temp file, no journal, state and CSV as they were


def test_full_disk_in_the_middle_then_a_run_with_space_converges(tmp_path, run, sandbox, monkeypatch):
    keys = [f"m{i:02d}" for i in range(6)]
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(k) for k in keys])
    real_write, calls = os.write, {"n": 0}

    def fills_up(fd, data):
        calls["n"] += 1
        if calls["n"] > 6:  # the lock record, then a few journal lines; then half a line and a full disk
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", fills_up)
    line = _one_error(run("apply", "-f", path, "--auto-approve", "-q", "--parallelism", "1"))
    assert "disk is full" in line
    monkeypatch.setattr(os, "write", real_write)
    assert not list(tmp_path.rglob(".*.tmp"))
    made = len(sandbox.meetings())
    assert 0 < made < len(keys)
    # What was made before the disk filled is in the journal (as a meeting, or as the pending create whose
    # record failed, which the next run adopts); a read-only command sees it.
    seen = StateStore(tmp_path / "state" / "zoomstate.json").load()
    assert {k.title() for k in [*seen.meetings, *seen.pending]} >= {m["topic"] for m in sandbox.meetings()}
    assert seen.meetings
    result = run("apply", "-f", path, "--auto-approve", "-q")
    assert result.code == 0, result.out + result.err
    assert sorted(m["topic"] for m in sandbox.meetings()) == sorted(k.title() for k in keys)
    assert not (tmp_path / "state" / "zoomstate.json.journal").exists()
    assert sorted(StateStore(tmp_path / "state" / "zoomstate.json").load().meetings) == keys


def test_unwritable_csv(tmp_path, run, sandbox, monkeypatch):
    path = _after_one_apply(tmp_path, run)
    csv_before = (tmp_path / "zoom_meetings.csv").read_bytes()
    _fail_open(monkeypatch, errno.EACCES, lambda p: p.name.startswith(".zoom_meetings.csv."))
    line = _one_error(run("apply", "-f", path, "--auto-approve", "-q"))
    assert "zoom_meetings.csv" in line and "permissions" in line
    assert (tmp_path / "zoom_meetings.csv").read_bytes() == csv_before
    assert not list(tmp_path.rglob(".*.tmp"))
    # The state holds what was made; with the CSV writable again it is written.
    assert sorted(StateStore(tmp_path / "state" / "zoomstate.json").load().meetings) == ["other", "team-sync"]
    monkeypatch.undo()
    result = run("apply", "-f", path, "--auto-approve", "-q")
    assert result.code == 0 and "other" in (tmp_path / "zoom_meetings.csv").read_text()
    assert len(sandbox.meetings()) == 2
