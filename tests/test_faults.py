"""Apply under Zoom's bad days: 429 storms, 5xx, expiring tokens, dropped connections, the daily limit."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from tests.conftest import HOSTS, meeting, sandbox_env, write_meetings
from zoomstate import cli
from zoomstate.state import StateStore


def _no_faults(sb) -> None:
    sb.set_faults(rate_429=0.0, rate_5xx=0.0, rate_5xx_reads=0.0, drop_after_create=0.0, expire_token_every=0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_apply_under_faults_makes_exactly_one_meeting_per_key(tmp_path, clock, capsys, seed):
    from zoomstate.sandbox import Sandbox

    keys = [f"m{i:02d}" for i in range(24)]
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(k, HOSTS[i % 3]) for i, k in enumerate(keys)])
    with Sandbox(users=HOSTS, clock=clock, seed=seed) as sb:
        sb.set_faults(rate_429=0.3, rate_5xx_reads=0.1, expire_token_every=5, drop_after_create=0.25)
        codes = []
        for _ in range(4):  # a run that reports an ambiguous create may be re-run
            codes.append(cli.main(["apply", "-f", str(path), "--auto-approve", "-q"], clock=clock,
                                  environ=sandbox_env(sb)))
            if codes[-1] == 0:
                break
        assert codes[-1] == 0, capsys.readouterr()
        counts = sb.counts()
        assert counts["429"] > 0 and counts["POST /oauth/token"] > 1  # the faults really happened
        _no_faults(sb)
        per_topic = Counter(m["topic"] for m in sb.meetings())
        assert sorted(per_topic) == sorted(k.title() for k in keys)
        assert set(per_topic.values()) == {1}
        state = StateStore(tmp_path / "state" / "zoomstate.json").load()
        assert set(state.meetings) == set(keys) and not state.pending
        assert {m.meeting_id for m in state.meetings.values()} == {m["id"] for m in sb.meetings()}
        capsys.readouterr()
        assert cli.main(["plan", "-f", str(path), "--detailed-exitcode"], clock=clock, environ=sandbox_env(sb)) == 0


def test_daily_limit_defers_then_next_day_finishes_without_duplicates(tmp_path, clock, capsys):
    from zoomstate.sandbox import Sandbox

    keys = [f"d{i}" for i in range(8)]
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(k, "alice@example.com") for k in keys])
    with Sandbox(users=HOSTS, clock=clock, daily_limit=5) as sb:
        code = cli.main(["apply", "-f", str(path), "--auto-approve", "--parallelism", "1"], clock=clock,
                        environ=sandbox_env(sb))
        captured = capsys.readouterr()
        assert code == 1
        assert "deferred" in captured.out and "daily" in captured.out
        assert "run apply again" in captured.err
        assert len(sb.meetings()) == 5
        state = StateStore(tmp_path / "state" / "zoomstate.json").load()
        assert len(state.meetings) == 5 and not state.pending
        clock.advance(timedelta(days=1).total_seconds())
        code = cli.main(["apply", "-f", str(path), "--auto-approve"], clock=clock, environ=sandbox_env(sb))
        assert code == 0, capsys.readouterr()
        assert sorted(m["topic"] for m in sb.meetings()) == sorted(k.title() for k in keys)
        assert len(StateStore(tmp_path / "state" / "zoomstate.json").load().meetings) == 8


def test_plan_warns_when_a_host_would_pass_the_daily_limit(tmp_path, clock, capsys):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(f"w{i:03d}") for i in range(101)])
    code = cli.main(["plan", "-f", str(path), "--refresh=false"], clock=clock, environ={})
    out = capsys.readouterr().out
    assert code == 0
    assert "alice@example.com would need 101" in out and "100 per host per UTC day" in out
