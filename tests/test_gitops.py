"""The shell and Python steps of the example workflows, run for real: the commit-back against a local bare git
remote (with a push racing it), the plan comment and the health issue against a local fake of GitHub's API,
and the action's run step against zoomstate itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import meeting, write_meetings
from zoomstate import render
from zoomstate.plan import Change, Plan

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "examples" / "github-actions" / "scripts"


# ------------------------------------------------------------------------------------------- commit-back


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def git_env(tmp_path, monkeypatch) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    for name, value in {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
                        "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@example.com"}.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


def _repository(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare remote with meetings.yaml and a state file; the runner's shallow checkout; a teammate's clone."""
    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    seed = tmp_path / "seed"
    _git(tmp_path, "clone", "-q", str(remote), str(seed))
    (seed / "state").mkdir()
    (seed / "meetings.yaml").write_text("meetings: []\n")
    (seed / "state" / "zoomstate.json").write_text('{"serial": 1}\n')
    _git(seed, "add", ".")
    _git(seed, "commit", "-q", "-m", "start")
    _git(seed, "push", "-q", "origin", "HEAD:main")
    runner = tmp_path / "runner"
    _git(tmp_path, "clone", "-q", "--depth", "1", f"file://{remote}", str(runner))  # like actions/checkout
    teammate = tmp_path / "teammate"
    _git(tmp_path, "clone", "-q", str(remote), str(teammate))
    return remote, runner, teammate


def _commit_back(runner: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**env, "ZOOMSTATE_BRANCH": "main", "ZOOMSTATE_PUSH_DELAY": "0"}
    return subprocess.run(["bash", str(SCRIPTS / "commit-back.sh"), "state/zoomstate.json", "zoom_meetings.csv"],
                          cwd=runner, env=env, capture_output=True, text=True)


def test_commit_back_survives_a_push_made_while_it_pushes(tmp_path, git_env):
    remote, runner, teammate = _repository(tmp_path)
    # apply ran: the state and the CSV changed in the runner's checkout.
    (runner / "state" / "zoomstate.json").write_text('{"serial": 2}\n')
    (runner / "zoom_meetings.csv").write_text("key,meeting_id\na,1\n")
    # A teammate merges while the commit-back pushes: a pre-push hook lands their push first, once.
    hook = runner / ".git" / "hooks" / "pre-push"
    hook.write_text(f"""#!/usr/bin/env bash
if [ ! -e "{tmp_path}/raced" ]; then
  touch "{tmp_path}/raced"
  cd "{teammate}" && printf 'meetings: [] # edited\\n' > meetings.yaml && git commit -qam "teammate" \\
    && git push -q origin HEAD:main
fi
""")
    hook.chmod(0o755)

    result = _commit_back(runner, git_env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "raced").exists()
    assert "refused" in result.stderr and "attempt 2" in result.stdout
    log = _git(remote, "log", "--format=%s", "main").splitlines()
    assert log == ["zoomstate: record applied meetings [skip ci]", "teammate", "start"]
    assert _git(remote, "show", "main:state/zoomstate.json") == '{"serial": 2}\n'
    assert _git(remote, "show", "main:zoom_meetings.csv") == "key,meeting_id\na,1\n"
    assert _git(remote, "show", "main:meetings.yaml") == "meetings: [] # edited\n"


def test_commit_back_does_nothing_without_changes_and_never_forces_over_a_conflict(tmp_path, git_env):
    remote, runner, teammate = _repository(tmp_path)
    unchanged = _commit_back(runner, git_env)
    assert unchanged.returncode == 0 and "already committed" in unchanged.stdout
    # Someone else changed the state file on main: the rebase conflicts, and nothing is pushed or forced.
    (teammate / "state" / "zoomstate.json").write_text('{"serial": 7}\n')
    _git(teammate, "commit", "-qam", "other state")
    _git(teammate, "push", "-q", "origin", "HEAD:main")
    (runner / "state" / "zoomstate.json").write_text('{"serial": 2}\n')
    result = _commit_back(runner, git_env)
    assert result.returncode == 1
    assert "::error::commit-back:" in result.stderr and "artifact" in result.stderr
    assert _git(remote, "show", "main:state/zoomstate.json") == '{"serial": 7}\n'
    assert not (runner / ".git" / "rebase-merge").exists()  # the rebase was aborted, the checkout is usable


# ------------------------------------------------------------------------------------ a fake GitHub API


class FakeGitHub:
    """Issue comments and issues of one repository, as GitHub's REST API serves them (two items a page)."""

    PAGE = 2

    def __init__(self) -> None:
        self.comments: dict[int, dict] = {}
        self.issues: dict[int, dict] = {}
        self.issue_comments: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.refuse_writes = False
        self._next = 100
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body=None, link: str = "") -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if link:
                    self.send_header("Link", link)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _handle(self) -> None:
                fake.requests.append((self.command, self.path))
                assert self.headers["Authorization"] == "Bearer test-token"
                path, _, query = self.path.partition("?")
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                if self.command != "GET" and fake.refuse_writes:
                    return self._send(403, {"message": "Resource not accessible by integration"})
                if m := re.fullmatch(r"/repos/o/r/issues/(\d+)/comments", path):
                    if self.command == "GET":
                        items = [c for c in fake.comments.values() if c["issue"] == int(m.group(1))]
                        return self._page(items, path, params)
                    fake._next += 1
                    if int(m.group(1)) in fake.issues:
                        fake.issue_comments.append({"issue": int(m.group(1)), **self._body()})
                        return self._send(201, {"id": fake._next})
                    comment = {"id": fake._next, "issue": int(m.group(1)), "user": {"login": "github-actions[bot]"},
                               "html_url": f"https://example.test/c/{fake._next}", **self._body()}
                    fake.comments[comment["id"]] = comment
                    return self._send(201, comment)
                if m := re.fullmatch(r"/repos/o/r/issues/comments/(\d+)", path):
                    if self.command == "DELETE":
                        del fake.comments[int(m.group(1))]
                        return self._send(204)
                    fake.comments[int(m.group(1))].update(self._body())
                    return self._send(200, fake.comments[int(m.group(1))])
                if path == "/repos/o/r/issues":
                    if self.command == "GET":
                        items = [i for i in fake.issues.values() if i["state"] == params.get("state", "open")
                                 and params.get("labels", "") in i["labels"]]
                        return self._page(items, path, params)
                    fake._next += 1
                    body = self._body()
                    issue = {"number": fake._next, "state": "open", **body}
                    fake.issues[issue["number"]] = issue
                    return self._send(201, issue)
                if m := re.fullmatch(r"/repos/o/r/issues/(\d+)", path):
                    fake.issues[int(m.group(1))].update(self._body())
                    return self._send(200, fake.issues[int(m.group(1))])
                return self._send(404, {"message": "Not Found"})

            def _page(self, items: list[dict], path: str, params: dict) -> None:
                page = int(params.get("page", 1))
                chunk = items[(page - 1) * fake.PAGE: page * fake.PAGE]
                more = len(items) > page * fake.PAGE
                query = "&".join(f"{k}={v}" for k, v in {**params, "page": str(page + 1)}.items())
                link = f'<{fake.url}{path}?{query}>; rel="next"' if more else ""
                return self._send(200, chunk, link)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_comment(self, issue: int, body: str, login: str) -> int:
        self._next += 1
        self.comments[self._next] = {"id": self._next, "issue": issue, "body": body, "user": {"login": login}}
        return self._next

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github():
    fake = FakeGitHub()
    yield fake
    fake.close()


def _script(name: str, *args: str, github: FakeGitHub) -> subprocess.CompletedProcess:
    env = {**os.environ, "GITHUB_API_URL": github.url, "GITHUB_TOKEN": "test-token"}
    return subprocess.run([sys.executable, str(SCRIPTS / name), "--repo", "o/r", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=60)


def _plan_file(tmp_path: Path, changes: int) -> Path:
    plan = Plan(changes=[Change(f"meeting-{i:04d}", "create", "new", "h@x.com", "T" * 150, schedule="s" * 300)
                         for i in range(changes)], desired_path="meetings.yaml", desired_sha256="x", lineage="l",
                serial=1, account_id=None, created_at="2027-01-04T12:00:00Z")
    path = tmp_path / "plan.md"
    path.write_text(render.plan_markdown(plan) + "\n")
    return path


def _ours(github: FakeGitHub) -> list[dict]:
    return sorted((c for c in github.comments.values() if c["user"]["login"] == "github-actions[bot]"),
                  key=lambda c: c["id"])


def test_plan_comment_posts_each_part_once_then_edits_in_place_and_drops_stale_parts(tmp_path, github):
    someone = github.add_comment(7, "<!-- zoomstate-plan -->\nI quote the marker", "mallory")
    other = github.add_comment(7, "LGTM", "alice")
    plan = _plan_file(tmp_path, 400)
    first = _script("plan_comment.py", "--pr", 7, "--sha", "a" * 40, "--plan", plan, "--exit-code", 2,
                    github=github)
    assert first.returncode == 0, first.stderr
    posted = _ours(github)
    parts = len(re.findall(r"^<!-- zoomstate-plan", plan.read_text(), re.MULTILINE))
    assert parts > 2 and len(posted) == parts
    for number, comment in enumerate(posted, start=1):
        marker = "<!-- zoomstate-plan -->" if number == 1 else f"<!-- zoomstate-plan part {number} -->"
        title = "### zoomstate plan" + (" (continued)" if number > 1 else "")
        assert comment["body"].startswith(f"{marker}\n{title}\n\nPlanned at commit `aaaaaaaaaaaa`.")
        assert f"Part {number} of {parts}" in comment["body"]
        assert len(comment["body"].encode("utf-16-le")) // 2 < 65_536

    # The next push: a shorter plan edits part 1 in place and deletes the parts it no longer has.
    plan = _plan_file(tmp_path, 3)
    second = _script("plan_comment.py", "--pr", 7, "--sha", "b" * 40, "--plan", plan, "--exit-code", 2,
                     "--note", "planned offline", github=github)
    assert second.returncode == 0, second.stderr
    now = _ours(github)
    assert [c["id"] for c in now] == [posted[0]["id"]]
    assert "Planned at commit `bbbbbbbbbbbb`." in now[0]["body"] and "> [!NOTE]\n> planned offline" in now[0]["body"]
    assert github.comments[someone]["body"].endswith("I quote the marker") and other in github.comments
    assert not any(method == "POST" for method, _ in github.requests[-6:])  # nothing new was posted

    # The plan failed before it could render: the same comment now carries the errors (not the annotations).
    log = tmp_path / "plan.log"
    log.write_text("::error file=meetings.yaml,line=3::duration: must be at least 1\n"
                   "meetings.yaml:3:5: error: meetings[0].duration: must be at least 1\n"
                   "1 error: nothing was changed.\n")
    third = _script("plan_comment.py", "--pr", 7, "--sha", "c" * 40, "--plan", tmp_path / "missing.md",
                    "--log", log, "--exit-code", 1, github=github)
    assert third.returncode == 0, third.stderr
    body = _ours(github)[0]["body"]
    assert "> [!CAUTION]\n> **The plan failed** (exit code 1)" in body
    assert "meetings.yaml:3:5: error: meetings[0].duration" in body and "::error" not in body


def test_plan_comment_from_a_fork_is_a_warning_not_a_failure(tmp_path, github):
    github.refuse_writes = True
    result = _script("plan_comment.py", "--pr", 7, "--plan", _plan_file(tmp_path, 1), github=github)
    assert result.returncode == 0
    assert "::warning::could not comment" in result.stderr and "job summary" in result.stderr


def test_health_issue_stays_one_while_the_check_fails_and_closes_when_it_passes(tmp_path, github):
    report = _plan_file(tmp_path, 2)
    for _ in range(2):
        result = _script("health_issue.py", "--exit-code", 2, "--report", report, "--run-url", "https://run/1",
                         github=github)
        assert result.returncode == 0, result.stderr
    assert len(github.issues) == 1
    issue = next(iter(github.issues.values()))
    assert issue["state"] == "open" and issue["labels"] == ["zoomstate-health"]
    assert issue["body"].startswith("<!-- zoomstate-health -->") and "> [!WARNING]" in issue["body"]
    assert "<!-- zoomstate-plan -->" in issue["body"]
    failed = _script("health_issue.py", "--exit-code", 1, "--log", tmp_path / "none.log", github=github)
    assert failed.returncode == 0 and len(github.issues) == 1 and "> [!CAUTION]" in issue["body"]
    passed = _script("health_issue.py", "--exit-code", 0, "--run-url", "https://run/3", github=github)
    assert passed.returncode == 0
    assert issue["state"] == "closed"
    assert github.issue_comments[-1]["body"].startswith("The health check passes again")


# ------------------------------------------------------------------------------- the action's run step


def _run_step(tmp_path: Path, meetings: Path, args: str, **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    wrapper = tmp_path / "zoomstate"
    wrapper.write_text(f'#!/usr/bin/env bash\nexec "{sys.executable}" -m zoomstate "$@"\n')
    wrapper.chmod(0o755)
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    summary = tmp_path / "summary.md"
    full_env = {**os.environ, "ZOOMSTATE_BIN": str(wrapper), "ZOOMSTATE_COMMAND": "plan", "ZOOMSTATE_ARGS": args,
                "RUNNER_TEMP": str(tmp_path / "runner"), "GITHUB_OUTPUT": str(outputs),
                "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true", "PYTHONPATH": str(ROOT), **env}
    result = subprocess.run(["bash", str(SCRIPTS / "run.sh")], cwd=meetings.parent, env=full_env,
                            capture_output=True, text=True, timeout=120)
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
    return result, values


def test_action_run_step_writes_the_plan_file_and_keeps_annotations_in_the_log(tmp_path):
    meetings = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", topic="Team | sync")])
    result, outputs = _run_step(tmp_path, meetings, "--format markdown --detailed-exitcode --refresh=false")
    assert result.returncode == 0, result.stderr
    assert outputs["exit-code"] == "2"
    plan = Path(outputs["output-file"]).read_text()
    assert plan.startswith("<!-- zoomstate-plan -->") and "Team &#124; sync" in plan
    assert plan in (tmp_path / "summary.md").read_text()

    write_meetings(meetings, [meeting("team-sync", duration=0)])
    failed, outputs = _run_step(tmp_path, meetings, "--format markdown --detailed-exitcode --refresh=false")
    assert failed.returncode == 1 and outputs["exit-code"] == "1"
    assert "::error file=meetings.yaml" in failed.stderr  # in the job's log, on the diff line
    assert "::error" not in Path(outputs["output-file"]).read_text()
    assert "duration" in Path(outputs["log-file"]).read_text()
    kept_going, outputs = _run_step(tmp_path, meetings, "--format markdown --refresh=false",
                                    ZOOMSTATE_FAIL_ON_ERROR="false")
    assert kept_going.returncode == 0 and outputs["exit-code"] == "1"


def test_apply_job_end_to_end_apply_then_commit_back_with_a_racing_push(tmp_path, git_env):
    """The apply workflow's steps in order: the action's run step applies (sandbox Zoom), commit-back records."""
    from tests.conftest import sandbox_env
    from zoomstate.sandbox import Sandbox

    remote, runner, teammate = _repository(tmp_path)
    meetings = write_meetings(runner / "meetings.yaml", [meeting(f"team-{i}") for i in range(3)])
    _git(runner, "rm", "-q", "state/zoomstate.json")  # a new repository: no state yet
    _git(runner, "commit", "-qam", "three meetings")
    _git(runner, "push", "-q", "origin", "HEAD:main")
    _git(teammate, "pull", "-q", "origin", "main")
    with Sandbox(users=["alice@example.com"]) as sb:
        zoom = sandbox_env(sb)
        applied, outputs = _run_step(tmp_path, meetings, "--auto-approve --parallelism 2", ZOOMSTATE_COMMAND="apply",
                                     **zoom)
        assert applied.returncode == 0, applied.stderr
        assert outputs["exit-code"] == "0" and "Apply: 3 done" in applied.stdout
        replanned, outputs = _run_step(tmp_path, meetings, "--format markdown --detailed-exitcode", **zoom)
        assert outputs["exit-code"] == "0" and "No changes" in Path(outputs["output-file"]).read_text()
        assert len(sb.meetings()) == 3
    # A teammate's merge lands first; the commit-back rebases onto it and pushes.
    (teammate / "README.md").write_text("meetings\n")
    _git(teammate, "add", "README.md")
    _git(teammate, "commit", "-qm", "teammate")
    _git(teammate, "push", "-q", "origin", "HEAD:main")
    result = _commit_back(runner, git_env)
    assert result.returncode == 0, result.stderr
    state = json.loads(_git(remote, "show", "main:state/zoomstate.json"))
    assert state["format"] == "zoomstate-state" and set(state["meetings"]) == {"team-0", "team-1", "team-2"}
    csv_rows = _git(remote, "show", "main:zoom_meetings.csv").splitlines()
    assert len(csv_rows) == 4 and all(f"team-{i}" in _git(remote, "show", "main:zoom_meetings.csv")
                                      for i in range(3))
    assert _git(remote, "log", "--format=%s", "-3", "main").splitlines() == [
        "zoomstate: record applied meetings [skip ci]", "teammate", "three meetings"]
