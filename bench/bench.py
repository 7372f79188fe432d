"""zoomstate benchmark: apply, refresh and offline plan against the sandbox with Pro limits and 50 ms latency.

    python bench/bench.py                 # the full run (about two minutes)
    python bench/bench.py --meetings 200  # a shorter run

Measures, in one run:
  1. apply of N new meetings over H hosts: wall time, requests by kind, 429s, ratio to creates / 20 per second;
  2. plan with refresh of those N managed meetings: wall time, requests by kind, ratio to its bound
     (GETs / 30 per second + lists / 20 per second);
  3. plan of 10,000 meetings over 500 hosts with --refresh=false: CPU time and peak memory;
  4. the seed script's pattern (one create at a time, 1 s pause) for the same N meetings, computed from the
     measured create latency, as a ratio.
zoomstate runs as a separate process (`python -m zoomstate`), the sandbox Zoom in this one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoomstate.desired import load_desired  # noqa: E402
from zoomstate.sandbox import Sandbox  # noqa: E402
from zoomstate.state import ManagedMeeting, State, StateStore  # noqa: E402
from zoomstate.zoombody import managed_view  # noqa: E402

PRO_MEDIUM, PRO_LIGHT = 20.0, 30.0
TIMEZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "America/Los_Angeles", "Australia/Sydney"]


def meetings_doc(n: int, hosts: int, start: date) -> dict:
    meetings = []
    for i in range(n):
        kind = i % 3
        m = {
            "key": f"meeting-{i:05d}",
            "host_email": f"host{i % hosts:03d}@example.com",
            "topic": f"Recurring meeting {i}",
            "start_date": (start + timedelta(days=i % 28)).isoformat(),
            "start_time": f"{8 + i % 10:02d}:{(i % 4) * 15:02d}",
            "timezone": TIMEZONES[i % len(TIMEZONES)],
            "duration": 30 + (i % 4) * 15,
            "occurrences": 10 + i % 30,
        }
        if kind == 0:
            m.update(recurrence_type="weekly", weekly_days=str(1 + i % 7))
        elif kind == 1:
            m.update(recurrence_type="weekly", weekly_days="2,4", repeat_interval=2, enable_registration=False)
        else:
            m.update(recurrence_type="monthly", monthly_day=1 + i % 28, occurrences=6)
        meetings.append(m)
    return {"meetings": meetings}


def run_zoomstate(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int, str]:
    """Run zoomstate as a child process: (wall seconds, CPU seconds, peak RSS MiB, output)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "zoomstate", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 2):
        raise SystemExit(f"zoomstate {' '.join(args)} failed ({proc.returncode}):\n{output[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, output


def kinds(counts: Counter) -> dict[str, int]:
    names = {
        "POST /users/{userId}/meetings": "create",
        "GET /users/{userId}/meetings": "list",
        "GET /meetings/{meetingId}": "get",
        "PATCH /meetings/{meetingId}": "update",
        "DELETE /meetings/{meetingId}": "delete",
        "GET /users/{userId}": "get_user",
        "POST /oauth/token": "token",
    }
    out = {names.get(route, route): n for route, n in counts.items() if n}
    return dict(sorted(out.items()))


def bench_live(n: int, hosts: int, latency: float, workdir: Path) -> dict:
    start = date.today() + timedelta(days=14)
    meetings_path = workdir / "meetings.yaml"
    meetings_path.write_text(yaml.safe_dump(meetings_doc(n, hosts, start), sort_keys=False))
    users = [f"host{h:03d}@example.com" for h in range(hosts)]
    results: dict = {}
    with Sandbox(users=users, plan="pro", latency=latency) as sandbox:
        env = dict(os.environ, ZOOM_API_URL=sandbox.api_url, ZOOM_OAUTH_URL=sandbox.oauth_url,
                   ZOOM_ACCOUNT_ID=sandbox.account_id, ZOOM_CLIENT_ID=sandbox.client_id,
                   ZOOM_CLIENT_SECRET=sandbox.client_secret, NO_COLOR="1")
        sandbox.reset_requests()
        wall, cpu, _, _ = run_zoomstate(["apply", "-f", str(meetings_path), "--auto-approve", "-q"], env, workdir)
        counts = sandbox.counts()
        creates = counts.get("POST /users/{userId}/meetings", 0)
        bound = creates / PRO_MEDIUM
        results["apply"] = {
            "meetings": n, "hosts": hosts, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "requests": kinds(counts), "429s": counts.get("429", 0), "meetings_in_zoom": len(sandbox.meetings()),
            "bound_s": round(bound, 2), "ratio_to_bound": round(wall / bound, 3) if bound else None,
        }
        sandbox.reset_requests()
        wall, cpu, _, _ = run_zoomstate(["plan", "-f", str(meetings_path), "-q"], env, workdir)
        counts = sandbox.counts()
        gets = counts.get("GET /meetings/{meetingId}", 0)
        lists = counts.get("GET /users/{userId}/meetings", 0)
        bound = gets / PRO_LIGHT + lists / PRO_MEDIUM
        results["refresh"] = {
            "managed": n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "requests": kinds(counts),
            "429s": counts.get("429", 0), "bound_s": round(bound, 2),
            "ratio_to_bound": round(wall / bound, 3) if bound else None,
        }
    # The seed script: one create after another, each followed by a 1 s pause.
    per_create = latency + 0.005
    seed_wall = n * (per_create + 1.0)
    results["seed_pattern"] = {
        "computed_wall_s": round(seed_wall, 1),
        "model": f"{n} x ({per_create * 1000:.0f} ms create + 1 s pause)",
        "ratio_seed_to_zoomstate_apply": round(seed_wall / results["apply"]["wall_s"], 1),
    }
    return results


def bench_offline(n: int, hosts: int, workdir: Path) -> dict:
    start = date.today() + timedelta(days=14)
    meetings_path = workdir / "big.yaml"
    meetings_path.write_text(yaml.safe_dump(meetings_doc(n, hosts, start), sort_keys=False))
    desired = load_desired(meetings_path)
    state = State.new()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i, (key, spec) in enumerate(desired.meetings.items()):
        view = managed_view(spec)
        view["prevent_delete"] = spec.prevent_delete
        state.meetings[key] = ManagedMeeting(key, 80_000_000_000 + i, spec.host_email, spec.topic, now, view,
                                             {"join_url": f"https://zoom.us/j/{80_000_000_000 + i}"})
    state_path = workdir / "big-state.json"
    StateStore(state_path).save(state)
    env = dict(os.environ, NO_COLOR="1")
    runs = [run_zoomstate(["plan", "-f", str(meetings_path), "--state", str(state_path), "--refresh=false", "-q"],
                          env, workdir) for _ in range(3)]
    wall, cpu, rss, output = sorted(runs, key=lambda r: r[1])[1]  # the median by CPU
    return {"meetings": n, "hosts": hosts, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "peak_rss_mib": rss,
            "summary": output.strip().splitlines()[-1] if output.strip() else ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meetings", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--big", type=int, default=10_000, help="meetings in the offline plan (500 hosts)")
    parser.add_argument("--latency", type=float, default=0.05, help="sandbox latency per request, seconds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zoomstate-bench-") as tmp:
        workdir = Path(tmp)
        results = bench_live(args.meetings, args.hosts, args.latency, workdir)
        results["offline_plan"] = bench_offline(args.big, max(1, args.big // 20), workdir)
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    a, r, o, s = results["apply"], results["refresh"], results["offline_plan"], results["seed_pattern"]
    print(f"apply   {a['meetings']} meetings / {a['hosts']} hosts: {a['wall_s']} s wall "
          f"(bound {a['bound_s']} s, ratio {a['ratio_to_bound']}), 429s {a['429s']}, requests {a['requests']}, "
          f"{a['meetings_in_zoom']} meetings in Zoom")
    print(f"refresh {r['managed']} managed: {r['wall_s']} s wall (bound {r['bound_s']} s, ratio "
          f"{r['ratio_to_bound']}), 429s {r['429s']}, requests {r['requests']}")
    print(f"offline plan {o['meetings']} meetings / {o['hosts']} hosts: {o['cpu_s']} s CPU, {o['wall_s']} s wall, "
          f"peak {o['peak_rss_mib']} MiB")
    print(f"seed pattern: {s['computed_wall_s']} s ({s['model']}), {s['ratio_seed_to_zoomstate_apply']}x "
          "zoomstate's apply")
    print(f"lists expected: sum over hosts of ceil(meetings/300) = "
          f"{args.hosts * math.ceil(args.meetings / args.hosts / 300)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
