"""What people and CI read: markdown plans, GitHub annotations, colour manners, help text."""

from __future__ import annotations

import io
import json
import re

import pytest

from tests.conftest import meeting, write_meetings
from zoomstate import render
from zoomstate.cli import EXAMPLES, build_parser
from zoomstate.diagnostics import github_annotations
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
    assert "> [!WARNING]\n> **1 destructive change(s)**" in text
    assert text.index("<b>c</b>") < text.index("<b>a</b>")
    assert "- settings.waiting_room: true\n+ settings.waiting_room: false" in text
    assert "| create | 1 |" in text and "| delete | 1 |" in text


def _hostile_plan() -> Plan:
    """300 changes by one host (past Zoom's daily limit), one destructive, one blocked delete, hostile values."""
    changes = [Change(f"meeting-{i:04d}", "create", "new", "h@x.com", f"Topic {i} | @octocat <b>&amp; #12 🎉",
                      schedule="weekly on Mon at 09:00 UTC, " + "x" * 200,
                      diffs=[FieldDiff("agenda", None, "```\n**not bold** " + "y" * 60)])
               for i in range(299)]
    changes.append(Change("old-standup", "delete", "removed from the meetings file", "h@x.com",
                          "Old | standup @team", 42))
    plan = _plan(changes)
    plan.errors.append("kept: removed from the meetings file but prevent_delete is set: put it back")
    plan.warnings.extend(plan.host_budget_warnings())  # as build_plan does
    return plan


def test_markdown_of_300_changes_is_split_into_numbered_parts_with_alerts_and_escapes():
    plan = _hostile_plan()
    parts = render.plan_markdown_parts(plan)
    assert len(parts) > 1
    for number, part in enumerate(parts, start=1):
        assert len(part.encode("utf-16-le")) // 2 < render.MARKDOWN_LIMIT
        assert f"_Part {number} of {len(parts)}:" in part
        assert part.count("<details>") == part.count("</details>")
        marker = part.splitlines()[0]
        assert marker == ("<!-- zoomstate-plan -->" if number == 1 else f"<!-- zoomstate-plan part {number} -->")
        assert part.rstrip().endswith("0 unchanged.")
    first = parts[0]
    # Part 1: what apply will refuse and hold back, the destructive change, the summary.
    assert "> [!CAUTION]\n> **apply will refuse this plan**: it has 1 error(s)" in first
    assert "prevent\\_delete is set" in first
    assert "> [!WARNING]\n> **1 destructive change(s)**" in first
    assert "> [!WARNING]\n> **Zoom's daily limit**: host h@x.com would need 299" in first
    assert ":warning: host h@x.com" not in first  # said once, as the alert
    assert "| create | 299 |" in first and "| delete | 1 |" in first
    assert first.index("<b>old-standup</b>") < first.index("<b>meeting-0000</b>")
    # Every change is somewhere, once, in order; nothing is cut.
    everything = "".join(parts)
    assert everything.count("<details>") == 300
    assert all(f"<b>meeting-{i:04d}</b>" in everything for i in range(299))
    # Escapes: no table cell or HTML breaks out, nobody is mentioned, no issue is linked, no fence is closed.
    assert "Topic 0 &#124; @&#8203;octocat &lt;b&gt;&amp;amp; #&#8203;12 🎉" in first
    assert "Old \\| standup @&#8203;team" in first
    assert "@octocat" not in everything and "<b>&" not in everything
    assert "````diff\n- agenda: (absent)\n+ agenda: \"```\\n**not bold** " in first
    assert render.plan_markdown(plan) == "\n".join(parts)


def test_a_change_too_big_for_one_comment_is_shortened_not_split_or_lost():
    huge = Change("big", "update", "changed in the meetings file", "h@x.com", "Big", 1,
                  diffs=[FieldDiff(f"settings.field_{i}", "a" * 500, "b" * 500) for i in range(400)])
    parts = render.plan_markdown_parts(_plan([huge, Change("small", "create", "new", "h@x.com", "S")]))
    assert all(len(p.encode("utf-16-le")) // 2 < render.MARKDOWN_LIMIT for p in parts)
    everything = "".join(parts)
    assert "more line(s) not shown: run `zoomstate plan`" in everything and "<b>small</b>" in everything
    assert everything.count("```diff") == everything.count("\n```\n")


def test_a_plan_of_thousands_of_changes_stops_at_the_last_part_and_says_what_it_left_out():
    changes = [Change(f"meeting-{i:05d}", "create", "new", "h@x.com", "T" * 100, schedule="s" * 300)
               for i in range(5000)]
    parts = render.plan_markdown_parts(_plan(changes), max_parts=4)
    assert len(parts) == 4 and "_Part 4 of 4:" in parts[-1]
    shown = sum(p.count("<details>") for p in parts)
    assert f"_{5000 - shown} more change(s) not shown: 4 comments are enough" in parts[-1]
    assert all(len(p) < render.MARKDOWN_LIMIT for p in parts)


def test_markdown_says_apply_will_refuse_past_the_safety_threshold():
    changes = [Change(f"m{i}", "delete", "removed from the meetings file", "h@x.com", f"M{i}", i + 1)
               for i in range(3)]
    plan = _plan(changes)
    plan.managed_count = 8
    text = render.plan_markdown(plan)
    assert text.startswith("<!-- zoomstate-plan -->\n### zoomstate plan")
    assert "> [!CAUTION]\n> **apply will refuse this plan without `--force`**: 3 of 8 managed meetings" in text
    assert "Part 1 of" not in text  # one part needs no numbering


def test_plan_json_and_text_say_what_apply_will_refuse():
    plan = _hostile_plan()
    plan.changes += [Change(f"gone-{i}", "delete", "removed", "h@x.com", "G", 100 + i) for i in range(80)]
    plan.managed_count = 100
    data = json.loads(render.plan_json(plan))
    kinds = {r["kind"]: r for r in data["refusals"]}
    assert set(kinds) == {"plan_error", "safety_threshold", "daily_limit"}
    assert kinds["safety_threshold"] == {"kind": "safety_threshold", "effect": "refuse", "override": "--force",
                                         "message": plan.safety_problem()}
    assert kinds["daily_limit"]["effect"] == "defer" and "299" in kinds["daily_limit"]["message"]
    assert Plan.from_json(data).changes[0].key == plan.changes[0].key  # still a plan file
    stream = io.StringIO()
    render.plan_text(plan, render.make_console(stream, color=False))
    text = stream.getvalue()
    assert f"apply will refuse without --force: {plan.safety_problem()}" in text
    assert "apply will refuse this plan: it has 1 error(s)" in text
    assert "defers the rest to the next day's run" in text


def test_github_annotations_point_at_the_line():
    text = github_annotations([
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
    # Annotations go to the log (stderr): stdout may be redirected to the comment file.
    assert f"::error file={path},line=" in captured.err and "duration" in captured.err
    assert "::error" not in captured.out


# -- control and bidirectional characters from the state or Zoom never reach the terminal -----------------

HOSTILE_TEXT = "Sync\x1b]0;pwned\x07 \u202egnp.exe\u202c \x9b31m\u2066x\u2069 \u200f"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def test_every_console_line_escapes_control_and_bidi_characters():
    change = Change("team-sync", "update", f"changed in Zoom: {HOSTILE_TEXT}", f"h{HOSTILE_TEXT}@x.com",
                    HOSTILE_TEXT, 85000000001, diffs=[FieldDiff("topic", HOSTILE_TEXT, "Sync")])
    for color in (False, True):
        buffer = io.StringIO()
        console = render.make_console(buffer, color=color)
        render.plan_text(_plan([change]), console)
        console.print(f"join: https://zoom.us/j/1?x={HOSTILE_TEXT}", markup=False)
        text = buffer.getvalue()
        if color:
            text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # the console's own styling, nothing else
        assert not UNSAFE.search(text), repr(text)
        assert "\\x1b]0;pwned\\x07" in text and "\\u202egnp.exe\\u202c" in text and "\\x9b31m" in text
        assert "\\u2066x\\u2069 \\u200f" in text and "line" not in text.split("\n")[0]


def test_a_styled_text_keeps_its_styles_once_escaped():
    buffer = io.StringIO()
    console = render.make_console(buffer, color=True)
    line = render.Text("a\x1bb ", style="bold") + render.Text("c\u202ed", style="red")
    console.print(line)
    out = buffer.getvalue()
    assert "a\\x1bb" in out and "c\\u202ed" in out and "\x1b[1m" in out and "31m" in out
    assert "\x1bb" not in out and "\u202e" not in out


def test_json_and_markdown_outputs_escape_them_too():
    change = Change("team-sync", "update", "changed in Zoom", "h@x.com", HOSTILE_TEXT, 85000000001,
                    diffs=[FieldDiff("topic", HOSTILE_TEXT, "Sync \ud83d")])
    text = render.plan_json(_plan([change]))
    assert not UNSAFE.search(text) and "\ud83d" not in text
    assert json.loads(text)["changes"][0]["topic"] == HOSTILE_TEXT
    markdown = render.plan_markdown(_plan([change]))
    assert not UNSAFE.search(markdown), repr(markdown)


def test_show_escapes_values_from_the_state(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    state_path = tmp_path / "state" / "zoomstate.json"
    data = json.loads(state_path.read_text(encoding="utf-8"))
    record = data["meetings"]["team-sync"]
    record["topic"] = HOSTILE_TEXT
    record["host_email"] = f"alice{HOSTILE_TEXT}@example.com"
    record["outputs"]["join_url"] = f"https://zoom.us/j/1\x1b[2J{HOSTILE_TEXT}"
    state_path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    for command in (("show",), ("show", "--format", "json")):
        result = run(*command, "-f", path)
        assert result.code == 0, result.err
        assert not UNSAFE.search(result.out + result.err), repr(result.out)
    assert "\\x1b[2J" in run("show", "-f", path).out
