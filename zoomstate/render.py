"""Plans, results and diagnostics as text for people (colour only on a terminal), JSON and markdown.

Renders what the other stages computed; computes nothing itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from zoomstate.model import Diagnostic
from zoomstate.plan import Change, Plan, kept_note

if TYPE_CHECKING:  # types only: importing apply would load the Zoom client for offline commands too
    from zoomstate.apply import ApplyResult, Outcome

SYMBOLS = {"create": "+", "adopt": "=", "update": "~", "replace": "±", "delete": "-", "unchanged": " "}
STYLES = {"create": "green", "adopt": "cyan", "update": "yellow", "replace": "magenta", "delete": "red",
          "unchanged": "dim"}
VERBS = {"create": "to create", "adopt": "to adopt", "update": "to update", "replace": "to replace",
         "delete": "to delete", "unchanged": "unchanged"}
MARKDOWN_LIMIT = 65_000


def make_console(stream: Any, *, color: bool | None = None) -> Console:
    """A console that styles only on a terminal, and not at all with NO_COLOR or --no-color (no bold either:
    people set NO_COLOR to get plain text), and never wraps."""
    plain = color is False or bool(os.environ.get("NO_COLOR"))
    return Console(file=stream, highlight=False, soft_wrap=True, emoji=False, no_color=plain or None,
                   color_system=None if plain else "auto", force_terminal=color or None)


def value_text(value: Any) -> str:
    """A field value as YAML would spell it."""
    if value is None:
        return "(absent)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def summary_line(plan: Plan) -> str:
    counts = plan.summary
    parts = [f"{counts[a]} {VERBS[a]}" for a in ("create", "adopt", "update", "replace", "delete")]
    return "Plan: " + ", ".join(parts) + f", {counts['unchanged']} unchanged."


def plan_text(plan: Plan, console: Console, *, show_unchanged: bool = False) -> None:
    source = "refreshed from Zoom" if plan.refreshed else "from the state file only (--refresh=false)"
    console.print(Text(f"zoomstate plan for {plan.desired_path} ({source})", style="bold"))
    for warning in plan.warnings:
        console.print(Text("warning: ", style="yellow bold") + Text(warning))
    if show_unchanged:
        for note in plan.notes:
            console.print(Text("note: ", style="cyan") + Text(note))
    for error in plan.errors:
        console.print(Text("error: ", style="red bold") + Text(error))
    destructive = plan.destructive_changes
    if destructive:
        console.print(Text(f"! {len(destructive)} destructive change(s): "
                           + ", ".join(f"{c.action} {c.key}" for c in destructive), style="red bold"))
    console.print()
    shown = 0
    for change in plan.changes:
        if change.action == "unchanged" and not show_unchanged:
            continue
        change_text(change, console)
        shown += 1
    for change in plan.changes:
        for diff in change.kept:  # shown whatever the verbosity: the plan leaves these alone on purpose
            console.print(Text("note: ", style="cyan") + Text(kept_note(change.key, diff)))
    if not plan.has_changes:
        console.print(Text("No changes. Zoom matches meetings.yaml.", style="green"))
        console.print()
    console.print(Text(summary_line(plan), style="bold"))


def change_text(change: Change, console: Console) -> None:
    style = STYLES[change.action]
    head = Text(f"  {SYMBOLS[change.action]} {change.action:<9} ", style=style + " bold")
    head.append(change.key, style="bold")
    head.append(f'  "{change.topic}"  host {change.host_email}')
    if change.meeting_id:
        head.append(f"  (meeting {change.meeting_id})", style="dim")
    console.print(head)
    pad = " " * 14
    if change.schedule and change.action != "delete":
        console.print(Text(pad + change.schedule))
    registration = change.preview.get("registration")
    if registration and change.action != "delete":
        console.print(Text(pad + f"registration: {registration}"))
    if change.reason:
        console.print(Text(pad + f"reason: {change.reason}", style="dim"))
    for diff in change.diffs:
        line = Text(pad + f"{diff.path}: ")
        line.append(value_text(diff.before), style="red")
        line.append(" -> ")
        line.append(value_text(diff.after), style="green")
        console.print(line)
    console.print()


class ProgressLine:
    """A one-line counter on a terminal's stderr ("refreshing from Zoom: 120/1000"); silent elsewhere."""

    def __init__(self, console: Console, label: str):
        self.console = console
        self.label = label
        self.enabled = console.is_terminal
        self._shown = False

    def update(self, done: int, total: int) -> None:
        if self.enabled and total:
            self.console.file.write(f"\r{self.label}: {done}/{total}")
            self.console.file.flush()
            self._shown = True

    def close(self) -> None:
        if self._shown:
            self.console.file.write("\r\033[K")
            self.console.file.flush()
            self._shown = False


def plan_json(plan: Plan) -> str:
    return plan.dumps()


def outcome_text(outcome: Outcome, console: Console, index: int, total: int) -> None:
    change = outcome.change
    prefix = f"[{index}/{total}] {change.action} {change.key}"
    if outcome.status == "done":
        console.print(Text(f"{prefix}: ", style="bold") + Text("done", style="green")
                      + Text(f" {outcome.detail}" if outcome.detail else ""))
        if outcome.meeting_id:
            console.print(Text(f"    - Meeting ID: {outcome.meeting_id}"))
        if outcome.join_url:
            console.print(Text(f"    - Join URL: {outcome.join_url}"))
        if outcome.registration_url:
            console.print(Text(f"    - Registration URL: {outcome.registration_url}"))
        for diff in outcome.kept:
            console.print(Text("    - Zoom kept ", style="yellow") + Text(
                f"{diff.path} = {value_text(diff.before)} (sent {value_text(diff.after)}); "
                "recorded: not sent again until the meetings file changes it"))
    elif outcome.status == "deferred":
        console.print(Text(f"{prefix}: ", style="bold") + Text("deferred", style="yellow")
                      + Text(f" ({outcome.detail})"))
    else:
        console.print(Text(f"{prefix}: ", style="bold") + Text("failed", style="red bold")
                      + Text(f" {outcome.detail}"))


def result_text(result: ApplyResult, console: Console) -> None:
    counts = result.counts()
    style = "green" if result.ok else "red"
    console.print(Text(
        f"Apply: {counts.get('done', 0)} done, {counts.get('failed', 0)} failed, "
        f"{counts.get('deferred', 0)} deferred.", style=style + " bold"))


def diagnostics_text(diagnostics: Iterable[Diagnostic], console: Console) -> None:
    for d in diagnostics:
        style = {"error": "red bold", "warning": "yellow bold"}.get(d.severity, "cyan")
        console.print(Text(d.format(), style=style if console.is_terminal else ""))


def github_annotations(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands, so a mistake shows on the diff line."""
    lines = []
    for d in diagnostics:
        level = {"error": "error", "warning": "warning"}.get(d.severity, "notice")
        props = [f"file={d.file}"]
        if d.line is not None:
            props.append(f"line={d.line}")
        if d.col is not None:
            props.append(f"col={d.col}")
        message = f"{d.field}: {d.message}" if d.field else d.message
        if d.hint:
            message += f" ({d.hint})"
        message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        lines.append(f"::{level} {','.join(props)}::{message}")
    return "\n".join(lines)


def plan_markdown(plan: Plan) -> str:
    """A pull-request comment: summary table, destructive changes first, one collapsible block per change."""
    counts = plan.summary
    head = ["### zoomstate plan", ""]
    destructive = plan.destructive_changes
    if destructive:
        head += [f"> **Warning: {len(destructive)} destructive change(s)**: "
                 + ", ".join(f"`{c.action}` `{c.key}`" for c in destructive), ""]
    for error in plan.errors:
        head += [f"> **Error:** {error}", ""]
    head += ["| action | count |", "|---|---|"]
    head += [f"| {a} | {counts[a]} |" for a in ("create", "adopt", "update", "replace", "delete", "unchanged")]
    head.append("")
    for warning in plan.warnings:
        head.append(f"- :warning: {warning}")
    kept_notes = [kept_note(c.key, d) for c in plan.changes for d in c.kept]
    head += [f"- :information_source: {_md(note)}" for note in kept_notes]
    if plan.warnings or kept_notes:
        head.append("")
    if not plan.has_changes:
        head.append("No changes. Zoom matches meetings.yaml.")
    body: list[str] = []
    ordered = sorted(plan.pending_changes, key=lambda c: (not c.destructive,))
    for change in ordered:
        block = [
            "<details>",
            f"<summary><code>{SYMBOLS[change.action]} {change.action}</code> <b>{_md(change.key)}</b> — "
            f"{_md(change.topic)} ({_md(change.host_email)})</summary>",
            "",
        ]
        if change.schedule and change.action != "delete":
            block.append(f"- schedule: {_md(change.schedule)}")
        if change.preview.get("registration") and change.action != "delete":
            block.append(f"- registration: {change.preview['registration']}")
        if change.reason:
            block.append(f"- reason: {_md(change.reason)}")
        if change.diffs:
            block += ["", "```diff"]
            for d in change.diffs:
                block.append(f"- {d.path}: {value_text(d.before)}")
                block.append(f"+ {d.path}: {value_text(d.after)}")
            block.append("```")
        block += ["", "</details>", ""]
        body.append("\n".join(block))
    footer = summary_line(plan)
    text = "\n".join(head) + "\n"
    kept = 0
    for block in body:
        if len(text) + len(block) + len(footer) + 200 > MARKDOWN_LIMIT:
            break
        text += block
        kept += 1
    if kept < len(body):
        text += (f"\n_…{len(body) - kept} more change(s) not shown: the comment would pass {MARKDOWN_LIMIT:,} "
                 "characters. Run `zoomstate plan` locally for the full plan._\n")
    return text + "\n" + footer + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
