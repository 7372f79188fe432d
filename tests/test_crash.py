"""Kill apply at every step (SIGKILL through ZOOMSTATE_CRASH_AT), then run it again: nothing is lost or doubled.

The crashing apply runs as a real subprocess against a sandbox Zoom in this process, with the real clock (meeting
dates are relative to today). The runs after the crash go in-process: they only see what the killed one left on
disk and in Zoom.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import meeting, read_csv, sandbox_env, write_meetings
from zoomstate import cli
from zoomstate.crashpoints import CRASH_ENV
from zoomstate.state import StateStore

ALICE, BOB = "alice@example.com", "bob@example.com"
START = date.today() + timedelta(days=30)  # never stale: always a month ahead of the real clock


def _meeting(key: str, host: str, **fields) -> dict:
    weekday = str(START.isoweekday() % 7 + 1)  # Zoom's weekly_days: 1 = Sunday
    return meeting(key, host, start_date=START.isoformat(), weekly_days=weekday, **fields)


BASE = [
    _meeting("standup", ALICE),
    _meeting("review", ALICE),
    _meeting("planning", BOB),
    _meeting("retro", BOB),
]
EDITED = [  # two meetings changed: a topic and a duration, a time and the waiting room
    BASE[0],
    _meeting("review", ALICE, topic="Design Review", duration=60),
    _meeting("planning", BOB, start_time="14:30", waiting_room=False),
    BASE[3],
]
REMOVED = [BASE[0], BASE[2]]  # review and retro deleted
REHOSTED = [  # review moves to bob, planning to alice: two replaces
    BASE[0],
    _meeting("review", BOB),
    _meeting("planning", ALICE),
    BASE[3],
]

# scenario -> (meetings applied cleanly first, or None; meetings of the apply that is killed; meetings of the
# runs after it)
SCENARIOS: dict[str, tuple[list[dict] | None, list[dict], list[dict]]] = {
    "create": (None, BASE, BASE),
    "update": (BASE, EDITED, EDITED),
    "delete": (BASE, REMOVED, REMOVED),
    "replace": (BASE, REHOSTED, REHOSTED),
    "recreate": (BASE, BASE, BASE),  # review is deleted in Zoom's web UI first: apply creates it again
    "abandon": (None, BASE, BASE[1:]),  # standup, the first create, is dropped from the file after the crash
}

# (scenario, "point:n"): every kill point each kind of apply reaches; n = 2 where the second change meets the first
# one's leftovers (a meeting of the same host already made, or already recorded).
CASES = [
    *[("create", p) for p in ("before-pending:1", "before-create:1", "after-create:1", "after-create:2",
                              "after-save:1", "after-save:4", "during-csv:1")],
    *[("update", p) for p in ("before-update:1", "after-update:1", "after-update:2", "after-save:1",
                              "during-csv:1")],
    *[("delete", p) for p in ("before-delete:1", "after-delete:1", "after-delete:2")],
    *[("replace", p) for p in ("before-pending:1", "before-create:1", "after-create:1", "after-create:2",
                               "before-delete:1", "after-delete:1", "after-delete:2", "after-save:1")],
    *[("recreate", p) for p in ("before-create:1", "after-create:1")],
    *[("abandon", p) for p in ("before-create:1", "after-create:1")],
    # The state store's own steps: each change is a journal line; the run ends by compacting it into the file.
    *[("create", p) for p in ("before-journal:1", "mid-journal:1", "mid-journal:2", "after-journal:2",
                              "before-compact:1", "during-compact:1", "after-compact:1")],
    *[("update", p) for p in ("mid-journal:1", "after-compact:1")],
    *[("delete", p) for p in ("mid-journal:1",)],
    *[("replace", p) for p in ("mid-journal:2",)],
    *[("abandon", p) for p in ("mid-journal:2",)],
]
# A second run killed while it folds the first one's journal into the file (at load), or while it adds to it.
RECOVERY_POINTS = ["before-compact:1", "during-compact:1", "after-compact:1", "mid-journal:1"]


def _main(args: list[str], env: dict[str, str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main([str(a) for a in args], environ=env)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _apply_killed_at(point: str, path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM")}
    child_env.update(env, **{CRASH_ENV: point, "NO_COLOR": "1"})
    return subprocess.run(
        [sys.executable, "-m", "zoomstate", "apply", "-f", str(path), "--auto-approve", "--parallelism", "1", "-q"],
        cwd=path.parent, env=child_env, capture_output=True, text=True, timeout=60,
    )


def _check_converged(sb, path: Path, wanted: list[dict], env: dict[str, str], capsys) -> None:
    state = StateStore(path.parent / "state" / "zoomstate.json").load()
    # The journal was folded into the file, and no temp file of a killed write is left.
    assert sorted(p.name for p in (path.parent / "state").iterdir()) in (
        ["zoomstate.json", "zoomstate.json.backup", "zoomstate.json.lock"],
        ["zoomstate.json", "zoomstate.json.lock"])
    assert not list(path.parent.glob(".*.tmp"))
    live = sb.meetings()
    # Exactly one Zoom meeting per key (topics are unique here), with the right host, and nothing else left.
    assert Counter(m["topic"] for m in live) == Counter(m["topic"] for m in wanted)
    host_of = {m["topic"]: m["host_email"] for m in wanted}
    assert all(m["host_email"] == host_of[m["topic"]] for m in live)
    assert set(state.meetings) == {m["key"] for m in wanted}
    assert not state.pending
    assert {m.meeting_id for m in state.meetings.values()} == {m["id"] for m in live}
    # The state records what Zoom holds now, not what it held before the crash.
    by_id = {m["id"]: m for m in live}
    for record in state.meetings.values():
        assert record.topic == by_id[record.meeting_id]["topic"]
        assert record.host_email == by_id[record.meeting_id]["host_email"]
    rows = read_csv(path.parent / "zoom_meetings.csv")
    assert sorted(r["key"] for r in rows) == sorted(state.meetings)
    assert {r["key"]: int(r["meeting_id"]) for r in rows} == {k: m.meeting_id for k, m in state.meetings.items()}
    assert {r["key"]: r["meeting_topic"] for r in rows} == {m["key"]: m["topic"] for m in wanted}
    code, out = _main(["plan", "-f", path, "--detailed-exitcode"], env, capsys)
    assert code == 0, out
    # The recorded view matches the file too, so planning from the state alone also finds nothing to do.
    code, out = _main(["plan", "-f", path, "--detailed-exitcode", "--refresh=false"], env, capsys)
    assert code == 0, out


@pytest.mark.parametrize(("scenario", "point"), CASES, ids=[f"{s}-{p.replace(':', '-')}" for s, p in CASES])
def test_killed_apply_then_rerun_converges(tmp_path: Path, capsys, scenario: str, point: str):
    from zoomstate.sandbox import Sandbox

    before, during, after = SCENARIOS[scenario]
    path = tmp_path / "meetings.yaml"
    with Sandbox(users=[ALICE, BOB]) as sb:
        env = sandbox_env(sb)
        if before is not None:
            write_meetings(path, before)
            code, out = _main(["apply", "-f", path, "--auto-approve"], env, capsys)
            assert code == 0, out
        if scenario == "recreate":
            state = StateStore(tmp_path / "state" / "zoomstate.json").load()
            sb.delete_out_of_band(state.meetings["review"].meeting_id)
        write_meetings(path, during)

        killed = _apply_killed_at(point, path, env)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        write_meetings(path, after)

        codes = []
        for _ in range(2):  # a run that reports an ambiguous create may need one more
            code, out = _main(["apply", "-f", path, "--auto-approve"], env, capsys)
            codes.append(code)
            if code == 0:
                break
        assert codes[-1] == 0, out
        _check_converged(sb, path, after, env, capsys)


@pytest.mark.parametrize("point", RECOVERY_POINTS, ids=[p.replace(":", "-") for p in RECOVERY_POINTS])
def test_killed_again_while_recovering_then_rerun_converges(tmp_path: Path, capsys, point: str):
    from zoomstate.sandbox import Sandbox

    path = write_meetings(tmp_path / "meetings.yaml", BASE)
    state_path = tmp_path / "state" / "zoomstate.json"
    with Sandbox(users=[ALICE, BOB]) as sb:
        env = sandbox_env(sb)
        killed = _apply_killed_at("after-save:2", path, env)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        journal = state_path.with_name("zoomstate.json.journal")
        assert journal.exists()
        assert json.loads(state_path.read_text())["meetings"] == {}  # the empty state the first run began with
        # Read-only commands see what the journal holds, and leave it alone.
        code, out = _main(["state", "list", "-f", path], env, capsys)
        assert code == 0 and out.split() == ["review", "standup"], out
        assert journal.exists()
        killed = _apply_killed_at(point, path, env)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        code, out = _main(["apply", "-f", path, "--auto-approve"], env, capsys)
        assert code == 0, out
        _check_converged(sb, path, BASE, env, capsys)


def test_unknown_crash_point_never_fires(tmp_path: Path, capsys):
    """A point name apply never reaches leaves the run alone: the variable kills only at the point it names."""
    from zoomstate.sandbox import Sandbox

    path = write_meetings(tmp_path / "meetings.yaml", BASE[:1])
    with Sandbox(users=[ALICE, BOB]) as sb:
        result = _apply_killed_at("no-such-point:1", path, sandbox_env(sb))
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(sb.meetings()) == 1
