"""zoomstate benchmark: apply, refresh and offline plan against the sandbox with Pro limits and 50 ms latency.

    python bench/bench.py                      # the full run (a few minutes)
    python bench/bench.py --meetings 200       # a shorter run
    python bench/bench.py --big-apply 5000     # also a 5,000-meeting apply (long: over four minutes)

Measures, in one run:
  1. start-up: `zoomstate --version` and `validate` of a small file (process start, imports, nothing else);
  2. apply of N new meetings over H hosts: process wall time and the API phase (first to last request the
     sandbox saw) apart, CPU, requests by kind, 429s, and the ratio of the API phase to its bound:
     (creates + lists) / 20 per second (both are Medium);
  3. plan with refresh of those N managed meetings, once per offset of the sandbox's one-second windows
     against the client's clock: the API phase against GETs / 30 + lists / 20 per second, and 429s; then
     `plan --refresh=shallow` (lists only) beside it;
  4. optionally, the same apply for --big-apply meetings (client CPU, 429s, ratio);
  5. state-save cost per change: one committed change to a state of 1,000 and of 10,000 managed meetings;
  6. plan of 10,000 meetings over 500 hosts with --refresh=false: CPU time and peak memory;
  7. the seed script's request pattern run against the sandbox (one create at a time, each followed by a
     1 s pause) for a few meetings, beside zoomstate's apply of the same meetings.
zoomstate runs as a separate process (`python -m zoomstate`), the sandbox Zoom in this one.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zoomstate  # noqa: E402
from zoomstate.clock import SystemClock  # noqa: E402
from zoomstate.desired import load_desired  # noqa: E402
from zoomstate.sandbox import Sandbox  # noqa: E402
from zoomstate.state import ManagedMeeting, State, StateStore, StateWriter  # noqa: E402
from zoomstate.zoom.http import basic_authorization  # noqa: E402
from zoomstate.zoombody import managed_view  # noqa: E402

PRO_MEDIUM, PRO_LIGHT = 20.0, 30.0
TIMEZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "America/Los_Angeles", "Australia/Sydney"]
ROUTE_KINDS = {
    "POST /users/{userId}/meetings": "create",
    "GET /users/{userId}/meetings": "list",
    "GET /meetings/{meetingId}": "get",
    "PATCH /meetings/{meetingId}": "update",
    "DELETE /meetings/{meetingId}": "delete",
    "GET /users/{userId}": "get_user",
    "POST /oauth/token": "token",
}


class ShiftedClock(SystemClock):
    """The real clock, with the sandbox's one-second windows (on ``monotonic``) moved by ``offset`` seconds
    against the client's wall clock: where the windows fall decides how a client that reads the rate-limit
    headers behaves."""

    def __init__(self, offset: float = 0.0):
        self.offset = offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


def meetings_doc(n: int, hosts: int, start: date, prefix: str = "meeting") -> dict:
    meetings = []
    for i in range(n):
        kind = i % 3
        m = {
            "key": f"{prefix}-{i:05d}",
            "host_email": f"host{i % hosts:03d}@example.com",
            "topic": f"Recurring {prefix} {i}",
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
    # The repository's zoomstate, the one this process imports, not another copy installed elsewhere.
    env = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
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
    out = {ROUTE_KINDS.get(route, route): n for route, n in counts.items() if n and route != "429"}
    return dict(sorted(out.items()))


def api_phase(sandbox: Sandbox, latency: float) -> float:
    """Seconds from the first request the sandbox saw to the last answer: the run minus process start-up,
    loading and saving (a record is made when its answer is ready, so the first request began a latency
    earlier)."""
    times = [r.time for r in sandbox.requests]
    return (max(times) - min(times)).total_seconds() + latency if times else 0.0


def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    return dict(os.environ, ZOOM_API_URL=sandbox.api_url, ZOOM_OAUTH_URL=sandbox.oauth_url,
                ZOOM_ACCOUNT_ID=sandbox.account_id, ZOOM_CLIENT_ID=sandbox.client_id,
                ZOOM_CLIENT_SECRET=sandbox.client_secret, NO_COLOR="1")


def ratio(value: float, bound: float) -> float | None:
    return round(value / bound, 3) if bound else None


def measured_apply(sandbox: Sandbox, meetings_path: Path, latency: float, workdir: Path) -> dict:
    sandbox.reset_requests()
    wall, cpu, _, _ = run_zoomstate(["apply", "-f", str(meetings_path), "--auto-approve", "-q"],
                                    sandbox_env(sandbox), workdir)
    counts = sandbox.counts()
    creates = counts.get("POST /users/{userId}/meetings", 0)
    lists = counts.get("GET /users/{userId}/meetings", 0)
    bound = (creates + lists) / PRO_MEDIUM
    phase = api_phase(sandbox, latency)
    return {
        "wall_s": round(wall, 2), "api_phase_s": round(phase, 2), "cpu_s": round(cpu, 2),
        "requests": kinds(counts), "429s": counts.get("429", 0), "bound_s": round(bound, 2),
        "ratio_to_bound": ratio(phase, bound), "wall_ratio_to_bound": ratio(wall, bound),
    }


def bench_live(n: int, hosts: int, latency: float, offsets: list[float], workdir: Path) -> dict:
    start = date.today() + timedelta(days=14)
    meetings_path = workdir / "meetings.yaml"
    meetings_path.write_text(yaml.safe_dump(meetings_doc(n, hosts, start), sort_keys=False))
    users = [f"host{h:03d}@example.com" for h in range(hosts)]
    clock = ShiftedClock()
    results: dict = {}
    with Sandbox(users=users, plan="pro", latency=latency, clock=clock) as sandbox:
        results["apply"] = {"meetings": n, "hosts": hosts, **measured_apply(sandbox, meetings_path, latency, workdir),
                            "meetings_in_zoom": len(sandbox.meetings())}
        refreshes = []
        for offset in offsets:
            clock.offset = offset
            sandbox.reset_requests()
            wall, cpu, _, _ = run_zoomstate(["plan", "-f", str(meetings_path), "-q"], sandbox_env(sandbox), workdir)
            counts = sandbox.counts()
            gets = counts.get("GET /meetings/{meetingId}", 0)
            lists = counts.get("GET /users/{userId}/meetings", 0)
            bound = gets / PRO_LIGHT + lists / PRO_MEDIUM
            phase = api_phase(sandbox, latency)
            refreshes.append({
                "window_offset_s": offset, "wall_s": round(wall, 2), "api_phase_s": round(phase, 2),
                "cpu_s": round(cpu, 2), "requests": kinds(counts), "429s": counts.get("429", 0),
                "bound_s": round(bound, 2), "ratio_to_bound": ratio(phase, bound),
            })
        results["refresh"] = {"managed": n, "runs": refreshes,
                              "worst_ratio": max((r["ratio_to_bound"] or 0) for r in refreshes),
                              "429s": sum(r["429s"] for r in refreshes)}
        clock.offset = 0.0
        sandbox.reset_requests()
        wall, cpu, _, _ = run_zoomstate(["plan", "-f", str(meetings_path), "-q", "--refresh=shallow"],
                                        sandbox_env(sandbox), workdir)
        counts = sandbox.counts()
        full_wall = statistics.median(r["wall_s"] for r in refreshes)
        results["shallow_refresh"] = {
            "managed": n, "wall_s": round(wall, 2), "api_phase_s": round(api_phase(sandbox, latency), 2),
            "cpu_s": round(cpu, 2), "requests": kinds(counts), "429s": counts.get("429", 0),
            "lists": counts.get("GET /users/{userId}/meetings", 0), "gets": counts.get("GET /meetings/{meetingId}", 0),
            "full_wall_s": full_wall, "speedup": round(full_wall / wall, 1) if wall else None,
        }
    return results


def bench_big_apply(n: int, latency: float, workdir: Path) -> dict:
    hosts = max(1, n // 20)
    folder = workdir / "big-apply"
    folder.mkdir()
    meetings_path = folder / "meetings.yaml"
    meetings_path.write_text(yaml.safe_dump(meetings_doc(n, hosts, date.today() + timedelta(days=14)),
                                            sort_keys=False))
    users = [f"host{h:03d}@example.com" for h in range(hosts)]
    with Sandbox(users=users, plan="pro", latency=latency) as sandbox:
        return {"meetings": n, "hosts": hosts, **measured_apply(sandbox, meetings_path, latency, folder)}


def bench_startup(workdir: Path, repeats: int = 20) -> dict:
    """Medians of `--version`, `validate` of 3 meetings and bare `python -c pass`, the three interleaved so that
    a busy moment of the machine slows each of them alike."""
    # Bytecode caches first: a run without them (a fresh checkout, PYTHONDONTWRITEBYTECODE) compiles every
    # module it imports, and would time the compiler, not the start. The children import this same copy.
    compileall.compile_dir(Path(zoomstate.__file__).parent, quiet=1)
    small = workdir / "small.yaml"
    small.write_text(yaml.safe_dump(meetings_doc(3, 1, date.today() + timedelta(days=14)), sort_keys=False))
    env = dict(os.environ, NO_COLOR="1")
    commands = {"version": ["--version"], "validate_small": ["validate", "-f", str(small)]}
    walls: dict[str, list[float]] = {name: [] for name in (*commands, "python_start")}
    for _ in range(repeats):
        for name, args in commands.items():
            walls[name].append(run_zoomstate(args, env, workdir)[0])
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env, cwd=workdir)
        walls["python_start"].append(time.perf_counter() - started)
    return {"repeats": repeats, **{f"{name}_s": round(statistics.median(w), 3) for name, w in walls.items()}}


def managed_state(n: int) -> State:
    spec = next(iter(load_desired_small().meetings.values()))
    view = managed_view(spec)
    state = State.new()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(n):
        key = f"meeting-{i:05d}"
        state.meetings[key] = ManagedMeeting(key, 80_000_000_000 + i, spec.host_email, f"{spec.topic} {i}", now,
                                             dict(view), {"join_url": f"https://zoom.us/j/{80_000_000_000 + i}"})
    return state


_SMALL: list = []


def load_desired_small():
    if not _SMALL:
        with tempfile.TemporaryDirectory(prefix="zoomstate-bench-") as tmp:
            path = Path(tmp) / "one.yaml"
            path.write_text(yaml.safe_dump(meetings_doc(1, 1, date.today() + timedelta(days=14)), sort_keys=False))
            _SMALL.append(load_desired(path))
    return _SMALL[0]


def bench_state_saves(sizes: list[int], changes: int, workdir: Path) -> dict:
    """Milliseconds per committed change (one writer, so no group commit hides the cost)."""
    out = {}
    for n in sizes:
        path = workdir / f"state-{n}" / "zoomstate.json"
        path.parent.mkdir()
        store = StateStore(path)
        state = managed_state(n)
        store.save(state)
        writer = StateWriter(store, store.load())
        keys = list(state.meetings)
        costs = []
        for i in range(changes):
            key = keys[(i * 7919) % len(keys)]

            def touch(s: State, key: str = key, i: int = i) -> None:
                old = s.meetings[key]
                s.meetings[key] = ManagedMeeting(old.key, old.meeting_id, old.host_email, f"{old.topic} v{i}",
                                                 old.created_at, old.managed, old.outputs, old.adopted, f"v{i}")

            started = time.perf_counter()
            writer.commit(touch)
            costs.append(time.perf_counter() - started)
        out[str(n)] = {"ms_per_change": round(statistics.median(costs) * 1000, 2),
                       "ms_worst": round(max(costs) * 1000, 2)}
    return out


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


def seed_body(i: int, start: date) -> dict:
    """A recurring meeting as the seed script creates one (weekly, registration on)."""
    day = start + timedelta(days=i % 28)
    return {
        "topic": f"Seed meeting {i}", "type": 8, "start_time": f"{day.isoformat()}T09:00:00",
        "timezone": "America/New_York", "duration": 45, "agenda": "",
        "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "2", "end_times": 10},
        "settings": {"approval_type": 0, "registration_type": 1, "waiting_room": True},
    }


def bench_seed_pattern(n: int, latency: float, workdir: Path) -> dict:
    """The seed script's pattern, run: a token, then one create at a time, each followed by a 1 s pause;
    beside zoomstate's apply of n meetings against a fresh sandbox."""
    start = date.today() + timedelta(days=14)
    host = "host000@example.com"
    with Sandbox(users=[host], plan="pro", latency=latency) as sandbox:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
        query = urllib.parse.urlencode({"grant_type": "account_credentials", "account_id": sandbox.account_id})
        started = time.perf_counter()
        asked = urllib.request.Request(f"{sandbox.oauth_url}?{query}", data=b"", method="POST",
                                       headers={"Authorization": basic_authorization(sandbox.client_id,
                                                                                    sandbox.client_secret)})
        with opener.open(asked, timeout=30) as answer:
            token = json.load(answer)["access_token"]
        for i in range(n):
            create = urllib.request.Request(f"{sandbox.api_url}/users/{host}/meetings", method="POST",
                                            data=json.dumps(seed_body(i, start)).encode(),
                                            headers={"Authorization": f"Bearer {token}",
                                                     "Content-Type": "application/json"})
            with opener.open(create, timeout=30) as answer:  # raises on anything but 2xx, as the seed stops
                answer.read()
            time.sleep(1.0)
        seed_wall = time.perf_counter() - started
    folder = workdir / "seed-compare"
    folder.mkdir()
    meetings_path = folder / "meetings.yaml"
    meetings_path.write_text(yaml.safe_dump(meetings_doc(n, 1, start, prefix="seedcmp"), sort_keys=False))
    with Sandbox(users=[host], plan="pro", latency=latency) as sandbox:
        ours = measured_apply(sandbox, meetings_path, latency, folder)
    return {"meetings": n, "seed_wall_s": round(seed_wall, 2), "zoomstate_wall_s": ours["wall_s"],
            "zoomstate_api_phase_s": ours["api_phase_s"],
            "ratio_seed_to_zoomstate": round(seed_wall / ours["wall_s"], 1) if ours["wall_s"] else None,
            "ratio_seed_to_zoomstate_api_phase": (round(seed_wall / ours["api_phase_s"], 1)
                                                  if ours["api_phase_s"] else None)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meetings", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--big", type=int, default=10_000, help="meetings in the offline plan (500 hosts)")
    parser.add_argument("--big-apply", type=int, default=0, metavar="N",
                        help="also apply N meetings (20 per host); 5000 takes over four minutes")
    parser.add_argument("--latency", type=float, default=0.05, help="sandbox latency per request, seconds")
    parser.add_argument("--offsets", default="0,0.25,0.5,0.75",
                        help="offsets of the sandbox's one-second windows for the refresh runs, seconds")
    parser.add_argument("--state-sizes", default="1000,10000", help="managed meetings for the state-save cost")
    parser.add_argument("--seed-meetings", type=int, default=30, help="meetings in the seed-pattern run")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: startup, live, state, "
                        "offline, seed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    offsets = [float(x) for x in args.offsets.split(",") if x.strip()]
    results: dict = {}

    def done(part: dict) -> None:
        results.update(part)
        if not args.json:
            print_summary(part)  # as each part ends: a long run shows its progress
            sys.stdout.flush()

    with tempfile.TemporaryDirectory(prefix="zoomstate-bench-") as tmp:
        workdir = Path(tmp)
        if "startup" not in skip:
            done({"startup": bench_startup(workdir)})
        if "live" not in skip:
            done(bench_live(args.meetings, args.hosts, args.latency, offsets, workdir))
        if args.big_apply:
            done({"big_apply": bench_big_apply(args.big_apply, args.latency, workdir)})
        if "state" not in skip:
            done({"state_save": bench_state_saves([int(x) for x in args.state_sizes.split(",")], 20, workdir)})
        if "offline" not in skip:
            done({"offline_plan": bench_offline(args.big, max(1, args.big // 20), workdir)})
        if "seed" not in skip:
            done({"seed_pattern": bench_seed_pattern(args.seed_meetings, args.latency, workdir)})
    done({"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                      "load_average": [round(x, 2) for x in os.getloadavg()]}})
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def print_summary(results: dict) -> None:
    if "startup" in results:
        s = results["startup"]
        print(f"start-up: --version {s['version_s']} s, validate (3 meetings) {s['validate_small_s']} s, "
              f"bare python {s['python_start_s']} s (medians of {s['repeats']} interleaved runs)")
    if "apply" in results:
        a = results["apply"]
        print(f"apply   {a['meetings']} meetings / {a['hosts']} hosts: API phase {a['api_phase_s']} s, bound "
              f"{a['bound_s']} s (creates + lists at 20/s), ratio {a['ratio_to_bound']}; process {a['wall_s']} s "
              f"wall ({a['wall_ratio_to_bound']}x), {a['cpu_s']} s CPU; 429s {a['429s']}; requests {a['requests']}; "
              f"{a['meetings_in_zoom']} meetings in Zoom")
    if "refresh" in results:
        r = results["refresh"]
        for run in r["runs"]:
            print(f"refresh {r['managed']} managed, windows offset {run['window_offset_s']} s: API phase "
                  f"{run['api_phase_s']} s, bound {run['bound_s']} s, ratio {run['ratio_to_bound']}; process "
                  f"{run['wall_s']} s; 429s {run['429s']}; requests {run['requests']}")
        print(f"refresh worst ratio {r['worst_ratio']}, 429s {r['429s']}")
    if "shallow_refresh" in results:
        r = results["shallow_refresh"]
        print(f"plan --refresh=shallow {r['managed']} managed: {r['lists']} lists, {r['gets']} GETs, process "
              f"{r['wall_s']} s wall (API phase {r['api_phase_s']} s), beside the full refresh's {r['full_wall_s']} s "
              f"(median): {r['speedup']}x faster; 429s {r['429s']}")
    if "big_apply" in results:
        b = results["big_apply"]
        print(f"apply   {b['meetings']} meetings / {b['hosts']} hosts: API phase {b['api_phase_s']} s, bound "
              f"{b['bound_s']} s, ratio {b['ratio_to_bound']}; process {b['wall_s']} s, client CPU {b['cpu_s']} s; "
              f"429s {b['429s']}")
    if "state_save" in results:
        costs = ", ".join(f"{n} managed: {c['ms_per_change']} ms (worst {c['ms_worst']} ms)"
                          for n, c in results["state_save"].items())
        print(f"state save per committed change: {costs}")
    if "offline_plan" in results:
        o = results["offline_plan"]
        print(f"offline plan {o['meetings']} meetings / {o['hosts']} hosts: {o['cpu_s']} s CPU, {o['wall_s']} s "
              f"wall, peak {o['peak_rss_mib']} MiB")
    if "seed_pattern" in results:
        s = results["seed_pattern"]
        print(f"seed pattern, run: {s['meetings']} creates one at a time with a 1 s pause: {s['seed_wall_s']} s; "
              f"zoomstate apply of {s['meetings']}: {s['zoomstate_wall_s']} s (API phase "
              f"{s['zoomstate_api_phase_s']} s); {s['ratio_seed_to_zoomstate']}x "
              f"({s['ratio_seed_to_zoomstate_api_phase']}x the API phase)")
    if "machine" in results:
        m = results["machine"]
        print(f"machine: {m['cpus']} CPUs, Python {m['python']}, load average {m['load_average']}")


if __name__ == "__main__":
    raise SystemExit(main())
