"""Start-up loads only what the command runs: `--version` no pipeline, `validate` no planner, state, CSV writer,
Zoom client, applier or sandbox, and no rich for plain output. Checked in a fresh interpreter from sys.modules
(no timings: those are the benchmark's)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import meeting, write_meetings
from zoomstate import cli, render

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys
from datetime import UTC, datetime

from zoomstate import cli

argv = json.loads(sys.argv[1])
clock = None
if argv[0] == "validate":  # the tests' date, so that no start date is in the past
    from zoomstate.clock import FakeClock

    clock = FakeClock(datetime(2027, 1, 4, 12, tzinfo=UTC))
code = cli.main(argv, clock=clock, environ={})
sys.stderr.write("\\nRESULT=" + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""

# Not for validate: plan, state and CSV are later stages; Zoom, the applier, the sandbox and the HTTP stack
# are online ones; jsonschema only words the errors of an invalid file.
NOT_FOR_VALIDATE = ("zoomstate.plan", "zoomstate.state", "zoomstate.export", "zoomstate.apply", "zoomstate.zoom",
                    "zoomstate.sandbox", "zoomstate.render", "requests", "urllib3", "http.server")


def run_child(*argv: str) -> tuple[int, str, str, set[str]]:
    """cli.main(ARGV) in a new interpreter on pipes: (exit code, stdout, stderr, the modules loaded)."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(list(argv))], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    err, _, result = proc.stderr.rpartition("\nRESULT=")
    assert result, proc.stderr[-2000:]
    found = json.loads(result)
    return found["code"], proc.stdout, err, set(found["modules"])


def loaded(modules: set[str], *names: str) -> list[str]:
    """Those of ``modules`` that are one of ``names`` or inside one of them."""
    return sorted(m for m in modules if m in names or m.startswith(tuple(n + "." for n in names)))


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_no_pipeline(flag):
    code, out, _, modules = run_child(flag)
    assert code == 0 and out.startswith("zoomstate 0" if flag == "--version" else "usage: zoomstate")
    assert loaded(modules, "zoomstate.manager", "zoomstate.desired", "zoomstate.model", "zoomstate.sandbox",
                  "yaml", "rich", "jsonschema", "requests") == []


def test_validate_prints_its_warnings_and_notes_without_rich_or_later_stages(tmp_path):
    # A warning (2027-02-01 is a Monday, not a Wednesday) and notes (New York across the March DST change).
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("standup", weekly_days="4"), meeting("review")])
    for argv in (["validate", "-f", str(path)], ["validate", "-f", str(path), "-v"]):
        code, out, err, modules = run_child(*argv)
        assert code == 0, err
        assert "valid, 2 meeting(s), 1 warning(s), 2 note(s)" in out
        assert "warning: standup.start_date" in err
        assert ("cross a DST change" in err) != ("-v" in argv)
        assert "zoomstate.desired" in modules and "zoomstate.diagnostics" in modules  # it did validate
        assert loaded(modules, *NOT_FOR_VALIDATE, "jsonschema", "rich") == [], argv


def test_an_invalid_file_loads_jsonschema_to_word_its_errors_and_still_no_later_stage(tmp_path):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("standup", weekly_dayz="2")])
    code, _, err, modules = run_child("validate", "-f", str(path))
    assert code == 1
    assert "unknown field `weekly_dayz`" in err and "did you mean weekly_days?" in err
    assert "jsonschema" in modules
    assert loaded(modules, *NOT_FOR_VALIDATE, "rich") == []


@pytest.mark.parametrize("text", [
    "plain", "colour \x1b[31mred\x1b[0m and a title \x1b]0;owned\x07", "bidi \u202egnp.exe and \u2066isolate",
    "carriage\rreturn, DEL\x7f, C1 \x9b", "lines\nstay", "[bold]not markup[/bold] 😀 trailing  ",
])
def test_plain_lines_are_what_rich_prints_escaped_alike(monkeypatch, text):
    """A string printed without rich (no terminal) comes out as the rich console prints it, escapes included."""
    expected = io.StringIO()
    render.make_console(expected).print(text, markup=False, style="red bold")
    got = io.StringIO()
    monkeypatch.setattr(sys, "stderr", got)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    console = cli._LazyConsole("stderr", None)
    console.print(text, markup=False, style="red bold")
    assert console._console is None  # rich was not needed
    assert got.getvalue() == expected.getvalue()
    assert not any(ch in got.getvalue() for ch in "\x1b\x07\r\x7f\x9b\u202e\u2066")


def test_forced_colour_and_styled_text_still_go_through_rich(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setenv("FORCE_COLOR", "1")
    forced = cli._LazyConsole("stderr", None)
    forced.print("x", markup=False, style="red")
    assert forced._console is not None
    monkeypatch.delenv("FORCE_COLOR")
    marked_up = cli._LazyConsole("stderr", None)
    marked_up.print("[bold]x[/bold]")  # markup is rich's to read
    assert marked_up._console is not None and sys.stderr.getvalue().endswith("x\n")
