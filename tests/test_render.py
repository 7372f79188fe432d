"""What people and CI read: markdown plans, GitHub annotations, colour manners, help text."""

from __future__ import annotations

import io

import pytest

from tests.conftest import meeting, write_meetings
from zoomstate import render
from zoomstate.cli import EXAMPLES, build_parser
from zoomstate.model import Diagnostic
from zoomstate.plan import Change, FieldDiff, Plan


def _plan(changes: list[Change]) -> Plan:
    return Plan(changes=changes, desired_path="meetings.yaml", desired_sha256="x", lineage="l", serial=1,
                account_id=None, created_at="2027-01-04T12:00:00Z", managed_count=10)


def test_markdown_puts_destructive_changes_first_and_shows_diffs():
    plan = _plan([
        Change("a", "create", "new", "h@x.com", "A", schedule="weekly on Mon at 09:00 UTC, 4 occurrences"),
        Change("b", "update", "changed in the meetings file", "h@x.com", "B", 1,
               diffs=[FieldDiff("settings.waiting_room", True, False)]),
        Change("c", "delete", "removed from the meetings file", "h@x.com", "C", 2),
    ])
    text = render.plan_markdown(plan)
    assert "**Warning: 1 destructive change(s)**" in text
    assert text.index("<b>c</b>") < text.index("<b>a</b>")
    assert "- settings.waiting_room: true\n+ settings.waiting_room: false" in text
    assert "| create | 1 |" in text and "| delete | 1 |" in text


def test_markdown_truncates_cleanly_under_the_comment_limit():
    changes = [Change(f"meeting-{i:04d}", "create", "new", "h@x.com", "T" * 150, schedule="s" * 300)
               for i in range(400)]
    text = render.plan_markdown(_plan(changes))
    assert len(text) <= render.MARKDOWN_LIMIT
    assert "more change(s) not shown" in text
    assert text.count("<details>") == text.count("</details>")
    assert text.rstrip().endswith("0 unchanged.")


def test_github_annotations_point_at_the_line():
    text = render.github_annotations([
        Diagnostic("error", "meetings.yaml", 12, 5, "meetings[0].weekly_day", "unknown field",
                   "did you mean weekly_days?"),
        Diagnostic("warning", "meetings.yaml", 3, None, "team.start_date", "100% past\nsecond line"),
    ])
    lines = text.splitlines()
    assert lines[0] == ("::error file=meetings.yaml,line=12,col=5::meetings[0].weekly_day: unknown field "
                        "(did you mean weekly_days?)")
    assert lines[1] == "::warning file=meetings.yaml,line=3::team.start_date: 100%25 past%0Asecond line"


def test_validate_format_github(tmp_path, capsys, clock):
    from zoomstate import cli

    path = write_meetings(tmp_path / "meetings.yaml", [meeting("a", weekly_day="2")])
    assert cli.main(["validate", "-f", str(path), "--format", "github"], clock=clock, environ={}) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"::error file={path},line=")
    assert "did you mean weekly_days" in out


@pytest.mark.parametrize("tty, no_color, coloured", [(True, False, True), (True, True, False), (False, False, False)])
def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch, tty, no_color, coloured):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    stream = Stream()
    console = render.make_console(stream)
    render.plan_text(_plan([Change("a", "create", "new", "h@x.com", "A")]), console)
    assert ("\x1b[" in stream.getvalue()) is coloured
    assert "+ create" in stream.getvalue()


def test_every_command_has_help_with_examples(capsys):
    parser = build_parser()
    for command in ("validate", "plan", "apply", "show", "import", "convert", "init"):
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--help"])
        out = capsys.readouterr().out
        assert "examples:" in out and EXAMPLES[command].splitlines()[1].strip() in out


def test_plan_errors_are_annotations_in_github_actions(tmp_path, capsys, clock):
    from zoomstate import cli

    path = write_meetings(tmp_path / "meetings.yaml", [meeting("a", duration=0)])
    assert cli.main(["plan", "-f", str(path), "--refresh=false"], clock=clock,
                    environ={"GITHUB_ACTIONS": "true"}) == 1
    captured = capsys.readouterr()
    assert f"::error file={path},line=" in captured.out and "duration" in captured.out
    assert "duration" in captured.err
