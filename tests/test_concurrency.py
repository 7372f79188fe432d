"""Two runs at once never duplicate a meeting; parallel apply gives the same result as a sequential one."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta

import pytest

from tests.conftest import HOSTS, meeting, sandbox_env, write_meetings
from zoomstate import cli
from zoomstate.sandbox import Sandbox
from zoomstate.state import StateStore

START = date.today() + timedelta(days=30)  # subprocesses use the real clock: keep dates ahead of it


def test_two_applies_started_together_never_duplicate(tmp_path):
    weekday = str(START.isoweekday() % 7 + 1)
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting(f"c{i:02d}", HOSTS[i % 3], start_date=START.isoformat(), weekly_days=weekday) for i in range(12)])
    with Sandbox(users=HOSTS, latency=0.02) as sb:
        env = dict(os.environ, **sandbox_env(sb), NO_COLOR="1")
        command = [sys.executable, "-m", "zoomstate", "apply", "-f", str(path), "--auto-approve", "-q"]
        first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        second = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        results = [(p.wait(60), *p.communicate()) for p in (first, second)]
        codes = sorted(code for code, _, _ in results)
        # One applied; the other either found the state locked (and said by whom) or ran after it and found
        # nothing to do.
        assert codes[0] == 0
        for code, out, err in results:
            if code != 0:
                assert "locked by pid" in err and "apply" in err, err
            assert "Traceback" not in out + err
        per_topic = Counter(m["topic"] for m in sb.meetings())
        assert len(per_topic) == 12 and set(per_topic.values()) == {1}
        # Whatever happened, one more run leaves everything in place.
        assert cli.main(["apply", "-f", str(path), "--auto-approve", "-q"], environ=sandbox_env(sb)) == 0
        assert len(sb.meetings()) == 12
        assert len(StateStore(tmp_path / "state" / "zoomstate.json").load().meetings) == 12


def test_lock_held_refuses_with_the_holder(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    store = StateStore(tmp_path / "state" / "zoomstate.json")
    with store.lock("apply"):
        result = run("apply", "-f", path, "--auto-approve")
    assert result.code == 1
    assert f"locked by pid {os.getpid()}" in result.err and "force-unlock" in result.err
    assert sandbox.meetings() == []


def test_parallel_apply_matches_sequential(tmp_path, clock, capsys):
    specs = [meeting(f"p{i:02d}", HOSTS[i % 3], weekly_days=str(1 + i % 7), duration=30 + i) for i in range(15)]

    def outcome(parallelism: int) -> tuple[dict, dict]:
        folder = tmp_path / f"p{parallelism}"
        folder.mkdir()
        path = write_meetings(folder / "meetings.yaml", specs)
        with Sandbox(users=HOSTS, clock=clock) as sb:
            assert cli.main(["apply", "-f", str(path), "--auto-approve", "-q", "--parallelism", str(parallelism)],
                            clock=clock, environ=sandbox_env(sb)) == 0
            live = {m["topic"]: (m["host_email"], m["duration"], m["recurrence"], m["settings"]["waiting_room"])
                    for m in sb.meetings()}
        state = StateStore(folder / "state" / "zoomstate.json").load()
        managed = {k: (m.host_email, m.topic, m.managed) for k, m in state.meetings.items()}
        return live, managed

    assert outcome(1) == outcome(8)


def _hold(path, ready, release):
    with StateStore(path).lock("apply"):
        ready.set()
        release.wait(10)


def _holder_process(state_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(state_path, ready, release))
    proc.start()
    assert ready.wait(10)
    return proc, release


def test_force_unlock_refuses_a_live_holder_and_says_when_nothing_was_locked(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    state_path = tmp_path / "state" / "zoomstate.json"
    proc, release = _holder_process(state_path)
    try:
        result = run("force-unlock", "-f", path)
        assert result.code == 1
        assert f"pid {proc.pid}" in result.err and "still running" in result.err and "Traceback" not in result.err
        # Still held: an apply is refused and changes nothing.
        assert run("apply", "-f", path, "--auto-approve").code == 1 and sandbox.meetings() == []
    finally:
        release.set()
        proc.join(10)
    result = run("force-unlock", "-f", path)
    assert result.code == 0 and "nothing to unlock" in result.out
    assert run("apply", "-f", path, "--auto-approve").code == 0 and len(sandbox.meetings()) == 1


def test_lock_timeout_waits_for_the_holder(tmp_path, run, sandbox, clock):
    """The wait runs on the injected clock: a holder that never leaves fails after the timeout, named."""
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    proc, release = _holder_process(tmp_path / "state" / "zoomstate.json")
    try:
        start = clock.monotonic()
        result = run("apply", "-f", path, "--auto-approve", "--lock-timeout", "2m")
        assert result.code == 1 and f"locked by pid {proc.pid}" in result.err and "waited 120s" in result.err
        assert clock.monotonic() - start == pytest.approx(120)
        assert sandbox.meetings() == []
    finally:
        release.set()
        proc.join(10)
    assert run("apply", "-f", path, "--auto-approve", "--lock-timeout", "30s").code == 0


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("2m", 120), ("45", 45), ("1.5h", 5400), ("0", 0)])
def test_lock_timeout_durations(text, seconds):
    assert cli.build_parser().parse_args(["apply", "--lock-timeout", text]).lock_timeout == seconds


@pytest.mark.parametrize("text", ["soon", "-5s", "inf", "5x"])
def test_lock_timeout_refuses_what_is_not_a_duration(text, capsys):
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["apply", f"--lock-timeout={text}"])
    assert info.value.code != 0
    assert "not a duration" in capsys.readouterr().err
