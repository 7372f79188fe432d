"""Long runs read well in a terminal: a progress bar, one line per finished change, long plans grouped by
host, DST notes in one line; pipes and TERM=dumb get plain lines."""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import sys
import termios
import threading

import pytest
import yaml

from tests.conftest import meeting, sandbox_env, write_meetings
from zoomstate import cli, render
from zoomstate.apply import Outcome
from zoomstate.diagnostics import github_annotations
from zoomstate.model import Diagnostic
from zoomstate.plan import Change, FieldDiff, Plan
from zoomstate.sandbox import Sandbox

ESCAPE = b"\x1b"
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HOSTS = [f"host{i}@example.com" for i in range(6)]


def run_in_terminal(monkeypatch, argv: list[str], *, clock, environ, term: str = "xterm-256color"):
    """Run the CLI in-process with stdout and stderr on a pseudo-terminal; returns (code, transcript bytes)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    stream = open(slave, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal's other side closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", term)
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        code = cli.main(argv, clock=clock, environ=environ)
        stream.flush()
    finally:
        monkeypatch.undo()
        stream.close()
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    return code, b"".join(chunks)


@pytest.fixture
def many_hosts(clock):
    with Sandbox(users=HOSTS, clock=clock) as sb:
        yield sb


def _meetings(tmp_path, n: int):
    return write_meetings(tmp_path / "meetings.yaml",
                          [meeting(f"meeting-{i:03d}", HOSTS[i % len(HOSTS)]) for i in range(n)])


@pytest.mark.slow
def test_300_creates_in_a_terminal_show_a_bar_and_fit_in_320_lines(tmp_path, monkeypatch, clock, many_hosts):
    path = _meetings(tmp_path, 300)
    code, transcript = run_in_terminal(monkeypatch, ["apply", "-f", str(path), "--auto-approve"], clock=clock,
                                       environ=sandbox_env(many_hosts))
    text = transcript.decode("utf-8", "replace")
    assert code == 0, text[-2000:]
    assert len(many_hosts.meetings()) == 300
    assert text.count("\n") < 320
    # The bar: label, bar, count, rate and time left, drawn with terminal escapes.
    assert ESCAPE in transcript and "applying" in text and "━" in text
    assert re.search(r"\d+/300", text) and re.search(r"(\d+\.\d|-)/s", text) and "left" in text
    # One line per finished change, and the DST notes of 300 meetings in one line.
    text = CONTROL.sub("", text)
    assert len(re.findall(r"\[\d+/300\] \+ create meeting-\d{3}: done", text)) == 300
    assert "Meeting ID:" not in text
    assert text.count("cross a DST change") == 1
    assert "Apply: 300 done, 0 failed, 0 deferred." in text


def test_term_dumb_gets_plain_lines_without_escapes(tmp_path, monkeypatch, clock, many_hosts):
    path = _meetings(tmp_path, 60)
    code, transcript = run_in_terminal(monkeypatch, ["apply", "-f", str(path), "--auto-approve"], clock=clock,
                                       environ=sandbox_env(many_hosts), term="dumb")
    text = transcript.decode("utf-8")
    assert code == 0, text[-2000:]
    assert ESCAPE not in transcript and "━" not in text and "\r\n" in text
    assert len(re.findall(r"^\[\d+/60\] \+ create meeting-\d{3}: done$", text.replace("\r", ""), re.M)) == 60


def test_a_pipe_gets_one_plain_line_per_change(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync"), meeting("review", "bob@example.com")])
    result = run("apply", "-f", path, "--auto-approve")
    assert result.code == 0, result.err
    assert "\x1b" not in result.out + result.err and "━" not in result.err
    done = [line for line in result.out.splitlines() if line.startswith("[")]
    assert sorted(done) == ["[1/2] + create review: done", "[2/2] + create team-sync: done"] or sorted(
        done) == ["[1/2] + create team-sync: done", "[2/2] + create review: done"]
    verbose = run("apply", "-f", path, "--auto-approve", "-v")  # nothing to do: no links to print
    assert "Nothing to do" in verbose.out


def test_plan_in_a_terminal_shows_a_refresh_bar(tmp_path, monkeypatch, clock, many_hosts):
    path = _meetings(tmp_path, 12)
    env = sandbox_env(many_hosts)
    assert cli.main(["apply", "-f", str(path), "--auto-approve", "-q"], clock=clock, environ=env) == 0
    code, transcript = run_in_terminal(monkeypatch, ["plan", "-f", str(path)], clock=clock, environ=env)
    text = transcript.decode("utf-8", "replace")
    assert code == 0
    assert "No changes." in text
    bar = CONTROL.sub("", text)
    # 12 GETs and one list per host of those meetings (for duplicates).
    steps = 12 + len({m["host_email"] for m in yaml.safe_load(path.read_text())["meetings"]})
    assert re.search(rf"refreshing from Zoom ━+ +\d+/{steps} (\d+\.\d|-)/s left", bar), bar[:500]


# --------------------------------------------------------------------------------------------- rendering


def _plan(changes: list[Change], notes: list[str] = ()) -> Plan:
    return Plan(changes=changes, desired_path="meetings.yaml", desired_sha256="x", lineage="l", serial=1,
                account_id=None, created_at="2027-01-04T12:00:00Z", managed_count=100, notes=list(notes))


def _text(fn, *args, **kwargs) -> str:
    stream = io.StringIO()
    fn(*args, render.make_console(stream), **kwargs)
    return stream.getvalue()


def test_a_long_plan_is_grouped_by_host_one_line_per_change():
    changes = [Change(f"m-{i:03d}", "create", "new", f"h{i % 3}@x.com", f"Topic {i}",
                      schedule="weekly on Mon at 09:00 UTC, 10 occurrences") for i in range(59)]
    changes.append(Change("upd", "update", "changed in the meetings file", "h0@x.com", "Up", 7,
                          diffs=[FieldDiff("duration", 30, 45), FieldDiff("settings.waiting_room", True, False)]))
    changes.append(Change("same", "unchanged", "", "h1@x.com", "Same", 8))
    text = _text(render.plan_text, _plan(changes))
    lines = text.splitlines()
    assert "h0@x.com: 20 to create, 1 to update" in lines
    assert "h1@x.com: 20 to create" in lines and "h2@x.com: 19 to create" in lines
    assert '  ~ update    upd  "Up"  duration, settings.waiting_room  meeting 7' in lines
    assert sum(1 for line in lines if line.startswith("  + create")) == 59
    assert "same" not in text  # unchanged only with -v
    assert len(lines) < 61 + 3 + 6


def test_a_short_plan_keeps_the_detailed_form():
    changes = [Change("a", "create", "new", "h@x.com", "A", schedule="weekly on Mon at 09:00 UTC")]
    text = _text(render.plan_text, _plan(changes))
    assert "              weekly on Mon at 09:00 UTC" in text and "h@x.com:" not in text


def test_dst_notes_are_one_line_unless_verbose():
    notes = [f"meetings.yaml:{i}:1: m{i}.timezone: local time 09:00 is kept" for i in range(5)]
    plan = _plan([Change("a", "create", "new", "h@x.com", "A")], notes)
    short = _text(render.plan_text, plan)
    assert "note: 5 meetings cross a DST change (the local time is kept); -v lists them" in short
    assert "local time 09:00 is kept" not in short
    full = _text(render.plan_text, plan, show_unchanged=True)
    assert full.count("local time 09:00 is kept") == 5


def test_validate_summarises_dst_notes_and_github_never_gets_notices(tmp_path, run):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("a"), meeting("b")])  # New York, across March
    result = run("validate", "-f", path)
    assert result.code == 0
    assert "2 meetings cross a DST change" in result.err and "in UTC it moves" not in result.err
    assert run("validate", "-f", path, "-v").err.count("in UTC it moves") == 2
    github = run("validate", "-f", path, "--format", "github")
    assert github.code == 0 and "::notice" not in github.out


def test_github_annotations_leave_out_notes():
    text = github_annotations([
        Diagnostic("note", "m.yaml", 3, 5, "a.timezone", "local time kept"),
        Diagnostic("warning", "m.yaml", 4, 5, "a.start_date", "in the past"),
    ])
    assert text == "::warning file=m.yaml,line=4,col=5::a.start_date: in the past"


def test_an_outcome_is_one_line_and_links_come_with_verbose():
    outcome = Outcome(Change("team-sync", "create", "new", "h@x.com", "T"), "done", meeting_id=123,
                      join_url="https://zoom.example/j/123", registration_url="https://zoom.example/r/123")
    short = _text(render.outcome_text, outcome, index=3, total=300)
    assert short == "[3/300] + create team-sync: done\n"
    full = _text(render.outcome_text, outcome, index=3, total=300, links=True)
    assert full.splitlines()[1:] == ["    - Meeting ID: 123", "    - Join URL: https://zoom.example/j/123",
                                     "    - Registration URL: https://zoom.example/r/123"]


def test_the_bar_stays_off_a_pipe_and_a_dumb_terminal(monkeypatch):
    assert not render.RunProgress(render.make_console(io.StringIO()), "x").enabled
    monkeypatch.setenv("TERM", "dumb")
    assert not render.RunProgress(render.make_console(io.StringIO(), color=True), "x").enabled
    monkeypatch.setenv("TERM", "xterm")
    assert render.RunProgress(render.make_console(io.StringIO(), color=True), "x").enabled
