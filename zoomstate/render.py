"""Plans and results as text for people (colour only on a terminal), JSON and markdown.

Renders what the other stages computed; computes nothing itself. Diagnostics of the meetings file are in
diagnostics.py, which needs no rich.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from zoomstate.diagnostics import dst_summary
from zoomstate.document import printable, printable_json
from zoomstate.model import Diagnostic
from zoomstate.plan import Change, Plan, kept_note

if TYPE_CHECKING:  # types only: importing apply would load the Zoom client for offline commands too
    from zoomstate.apply import ApplyResult, Outcome

SYMBOLS = {"create": "+", "adopt": "=", "update": "~", "replace": "±", "delete": "-", "unchanged": " "}
STYLES = {"create": "green", "adopt": "cyan", "update": "yellow", "replace": "magenta", "delete": "red",
          "unchanged": "dim"}
VERBS = {"create": "to create", "adopt": "to adopt", "update": "to update", "replace": "to replace",
         "delete": "to delete", "unchanged": "unchanged"}
# GitHub refuses a comment body over 65,536 characters (counted in UTF-16 units). Each part stays under
# MARKDOWN_PART_BUDGET, leaving room for the line the workflow adds (the commit SHA).
MARKDOWN_LIMIT = 65_536
MARKDOWN_PART_BUDGET = 64_000
MARKDOWN_MARKER = "<!-- zoomstate-plan -->"
MARKDOWN_MAX_PARTS = 20  # about 1,500 changes in full; a pull request with more is not read change by change
ALERT_LIST_MAX = 25  # items named in one alert (part 1 must stay short); the rest are counted
WARNINGS_MAX = 50
# Plans with more changes than this are grouped by host, one line per change, so that they fit a terminal.
LONG_PLAN = 50


def make_console(stream: Any, *, color: bool | None = None) -> Console:
    """A console that styles only on a terminal, and not at all with NO_COLOR or --no-color (no bold either:
    people set NO_COLOR to get plain text), and never wraps."""
    plain = color is False or bool(os.environ.get("NO_COLOR"))
    return EscapingConsole(file=stream, highlight=False, soft_wrap=True, emoji=False, no_color=plain or None,
                           color_system=None if plain else "auto", force_terminal=color or None)


class EscapingConsole(Console):
    """A console that prints control characters and bidirectional controls escaped (``\\x1b``, ``\\u202e``).

    Topics, hosts, keys, join URLs and Zoom's messages come from the state file and from Zoom, and reach the
    output on many lines; none of them may move the cursor, retitle the terminal or reorder what is shown.
    Line breaks and tabs stay: the lines themselves are made of them.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_escaped_renderable(o) for o in objects), **kwargs)


def _escaped_renderable(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value, keep="\n\t")
    if not isinstance(value, Text) or printable(value.plain, keep="\n\t") == value.plain:
        return value
    # Escaping changes lengths: rebuild the text piece by piece, each piece with the styles it had.
    safe = Text(style=value.style, justify=value.justify, overflow=value.overflow, no_wrap=value.no_wrap,
                end=value.end)
    cuts = sorted({offset for span in value.spans for offset in (span.start, span.end)})
    for part in value.divide(cuts):
        piece = Text(printable(part.plain, keep="\n\t"))
        for span in part.spans:  # cut at every span's ends: a span covers its piece whole
            piece.stylize(span.style)
        safe.append_text(piece)
    return safe


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
    patched = sum(1 for c in plan.changes if c.action == "adopt" and c.payload is not None)
    if patched:  # an adoption with differences is a PATCH of the meeting in Zoom, not only a state record
        parts[1] += f" ({patched} with a PATCH)"
    text = "Plan: " + ", ".join(parts) + f", {counts['unchanged']} unchanged"
    if plan.duplicates and not plan.delete_duplicates:
        text += f", {len(plan.duplicates)} duplicate(s) listed"
    return text + "."


def duplicate_lines(plan: Plan) -> list[str]:
    """One line per duplicate: its id, the meeting it copies, and when it was made."""
    return [f"meeting {d.meeting_id} duplicates {d.key} (meeting {d.of_meeting_id}): \"{d.topic}\", host "
            f"{d.host_email}" + (f", made {d.created_at}" if d.created_at else "") for d in plan.duplicates]


def duplicates_title(plan: Plan) -> str:
    if plan.delete_duplicates:
        return f"{len(plan.duplicates)} duplicate(s), deleted by this plan (--delete-duplicates):"
    return (f"{len(plan.duplicates)} duplicate(s): unmanaged meetings with a managed meeting's host, topic and "
            "schedule (left alone; `zoomstate apply --delete-duplicates` deletes exactly these):")


def _plan_head(plan: Plan, console: Console, *, every_note: bool) -> None:
    """The plan's first lines, in its long and short forms alike: where it comes from, warnings, notes, errors."""
    source = ("from Zoom's meeting lists only (--refresh=shallow)" if plan.shallow else "refreshed from Zoom"
              if plan.refreshed else "from the state file only (--refresh=false)")
    console.print(Text(f"zoomstate plan for {plan.desired_path} ({source})", style="bold"))
    for warning in plan.warnings:
        console.print(Text("warning: ", style="yellow bold") + Text(warning))
    _notes_text(plan.notes, console, every=every_note)
    for error in plan.errors:
        console.print(Text("error: ", style="red bold") + Text(error))


def plan_text(plan: Plan, console: Console, *, show_unchanged: bool = False) -> None:
    _plan_head(plan, console, every_note=show_unchanged)
    refusals_text(plan, console)
    destructive = plan.destructive_changes
    if destructive:
        console.print(Text(f"! {len(destructive)} destructive change(s): "
                           + ", ".join(f"{c.action} {c.key}" for c in destructive), style="red bold"))
    console.print()
    if len(plan.pending_changes) > LONG_PLAN:
        _grouped_text(plan, console, show_unchanged=show_unchanged)
    else:
        for change in plan.changes:
            if change.action == "unchanged" and not show_unchanged:
                continue
            change_text(change, console)
    for change in plan.changes:
        for diff in change.kept:  # shown whatever the verbosity: the plan leaves these alone on purpose
            console.print(Text("note: ", style="cyan") + Text(kept_note(change.key, diff)))
    if plan.duplicates:
        console.print(Text(duplicates_title(plan), style="yellow bold"))
        for line in duplicate_lines(plan):
            console.print(Text("  " + line))
        console.print()
    if not plan.has_changes:
        console.print(Text("No changes. Zoom matches meetings.yaml.", style="green"))
        console.print()
    console.print(Text(summary_line(plan), style="bold"))


def refusals_text(plan: Plan, console: Console) -> None:
    """What apply will refuse, said before the changes (the daily-limit deferrals are among the warnings)."""
    for refusal in refusals(plan):
        if refusal.kind == "safety_threshold":
            console.print(Text("apply will refuse without --force: ", style="red bold") + Text(refusal.message))
    if plan.errors:
        console.print(Text("apply will refuse this plan: ", style="red bold")
                      + Text(f"it has {len(plan.errors)} error(s) (above)"))


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
    rolling = rolling_text(change)
    if rolling and change.action != "delete":
        console.print(Text(pad + rolling))
    if change.reason:
        console.print(Text(pad + f"reason: {change.reason}", style="dim"))
    for diff in change.diffs:
        line = Text(pad + f"{diff.path}: ")
        line.append(value_text(diff.before), style="red")
        line.append(" -> ")
        line.append(value_text(diff.after), style="green")
        console.print(line)
    for occurrence in change.occurrences:
        console.print(Text(pad + occurrence.text(), style="red" if occurrence.op == "cancel" else "yellow"))
    console.print()


def rolling_text(change: Change) -> str:
    """For a rolling series: how far Zoom holds it and when an apply next extends it ("" otherwise)."""
    held_until = change.preview.get("held_until")
    if not held_until:
        return ""
    text = f"rolling: Zoom holds {change.preview.get('held')} occurrences through {held_until}"
    after = change.preview.get("next_extension")
    if after:
        return text + f"; the next apply after {str(after)[:16].replace('T', ' ')} extends it"
    return text + "; that is the end of the series"


def _notes_text(notes: list[str], console: Console, *, every: bool) -> None:
    """Notes are information (today: meetings crossing a DST change): one line unless asked for each."""
    if every:
        for note in notes:
            console.print(Text("note: ", style="cyan") + Text(note))
    elif notes:
        console.print(Text("note: ", style="cyan") + Text(dst_summary(len(notes))))


def change_line(change: Change) -> Text:
    """One change on one line: symbol, action, key, topic, and what it does."""
    line = Text(f"  {SYMBOLS[change.action]} {change.action:<9} ", style=STYLES[change.action] + " bold")
    line.append(change.key, style="bold")
    line.append(f'  "{change.topic}"')
    if change.action == "update" and (change.diffs or change.occurrences):
        line.append("  " + ", ".join([d.path for d in change.diffs] + [o.text() for o in change.occurrences]))
    elif change.action in ("create", "adopt") and change.schedule:
        line.append("  " + change.schedule, style="dim")
    elif change.reason and change.action != "unchanged":
        line.append(f"  ({change.reason})", style="dim")
    if change.meeting_id and change.action != "create":
        line.append(f"  meeting {change.meeting_id}", style="dim")
    return line


def _by_host(changes: Iterable[Change]) -> dict[str, list[Change]]:
    hosts: dict[str, list[Change]] = {}
    for change in changes:
        hosts.setdefault(change.host_email.lower(), []).append(change)
    return dict(sorted(hosts.items()))


def _host_counts(changes: list[Change]) -> str:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    return ", ".join(f"{counts[a]} {VERBS[a]}" for a in ("create", "adopt", "update", "replace", "delete",
                                                         "unchanged") if a in counts)


def _grouped_text(plan: Plan, console: Console, *, show_unchanged: bool) -> None:
    shown = [c for c in plan.changes if show_unchanged or c.action != "unchanged"]
    for host, changes in _by_host(shown).items():
        console.print(Text(f"{host}: {_host_counts(changes)}", style="bold"))
        for change in changes:
            console.print(change_line(change))
    console.print()


def plan_overview(plan: Plan, console: Console) -> None:
    """A long plan in a few lines: header, warnings and errors, destructive changes, per-host counts."""
    _plan_head(plan, console, every_note=False)
    destructive = plan.destructive_changes
    if destructive:
        console.print(Text(f"! {len(destructive)} destructive change(s):", style="red bold"))
        for change in destructive:
            console.print(change_line(change))
    for host, changes in _by_host(plan.pending_changes).items():
        console.print(Text(f"  {host}: {_host_counts(changes)}"))
    console.print(Text(summary_line(plan), style="bold")
                  + Text("  (-v or `zoomstate plan` lists every change)", style="dim"))


def _rate_column() -> Any:
    """Finished items per second (rich's own rate column counts bytes)."""
    from rich.progress import ProgressColumn

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f}/s" if speed else "-/s", style="cyan")

    return RateColumn()


class RunProgress:
    """A progress bar with count, rate and time left on a terminal's stderr; nothing on a pipe, a file or
    TERM=dumb, where each finished change is a plain line instead. Safe to call from worker threads."""

    def __init__(self, console: Console, label: str):
        self.console = console
        self.label = label
        self.enabled = console.is_terminal and not console.is_dumb_terminal
        self._progress: Any = None
        self._task: Any = None

    def update(self, done: int, total: int) -> None:
        if not self.enabled or not total:
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _rate_column(),
                TextColumn("left"), TimeRemainingColumn(), console=self.console, transient=True,
                redirect_stdout=False, redirect_stderr=False)
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=total)
        # Redraw now: lines printed above the bar show it as it was last drawn.
        self._progress.update(self._task, completed=done, total=total, refresh=True)

    def above(self, console: Console) -> Console:
        """Where a line goes while the bar runs: above the bar when both share the terminal."""
        if self._progress is not None and console.is_terminal:
            return self._progress.console
        return console

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def plan_json(plan: Plan) -> str:
    """The plan file's JSON, with what apply will refuse or hold back (derived, so not read back)."""
    data = plan.to_json()
    data["refusals"] = [r.to_json() for r in refusals(plan)]
    return printable_json(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


@dataclass(frozen=True)
class Refusal:
    """Something apply will refuse or hold back, as the plan already knows it."""

    kind: str  # "plan_error" (e.g. a blocked prevent_delete), "safety_threshold", "daily_limit"
    effect: str  # "refuse": apply changes nothing; "defer": apply does part now, the rest on a later run
    message: str
    override: str | None = None  # the flag that lets apply go on anyway

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "effect": self.effect, "override": self.override, "message": self.message}


def refusals(plan: Plan) -> list[Refusal]:
    """What apply would refuse (plan errors, the safety threshold) and defer (Zoom's daily limit)."""
    found = [Refusal("plan_error", "refuse", error) for error in plan.errors]
    problem = plan.safety_problem()
    if problem:
        found.append(Refusal("safety_threshold", "refuse", problem, "--force"))
    found += [Refusal("daily_limit", "defer", warning) for warning in plan.host_budget_warnings()]
    return found


def outcome_text(outcome: Outcome, console: Console, index: int, total: int, *, links: bool = False) -> None:
    """One line per finished change; ``links`` adds the meeting id, join URL and registration URL."""
    change = outcome.change
    line = Text(f"[{index}/{total}] {SYMBOLS[change.action]} {change.action} {change.key}: ", style="bold")
    if outcome.status == "done":
        line += Text("done", style="green") + Text(f" {outcome.detail}" if outcome.detail else "")
    elif outcome.status == "deferred":
        line += Text("deferred", style="yellow") + Text(f" ({outcome.detail})")
    else:
        line += Text("failed", style="red bold") + Text(f" {outcome.detail}")
    console.print(line)
    if links and outcome.status == "done":
        if outcome.meeting_id:
            console.print(Text(f"    - Meeting ID: {outcome.meeting_id}"))
        if outcome.join_url:
            console.print(Text(f"    - Join URL: {outcome.join_url}"))
        if outcome.registration_url:
            console.print(Text(f"    - Registration URL: {outcome.registration_url}"))
    if outcome.status == "done":
        for diff in outcome.kept:  # always shown: the value sent and the value Zoom kept
            console.print(Text("    - Zoom kept ", style="yellow") + Text(
                f"{diff.path} = {value_text(diff.before)} (sent {value_text(diff.after)}); "
                "recorded: not sent again until the meetings file changes it"))


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    change = outcome.change
    return {"key": change.key, "action": change.action, "status": outcome.status,
            "meeting_id": outcome.meeting_id, "join_url": outcome.join_url or None,
            "registration_url": outcome.registration_url or None, "detail": outcome.detail,
            "kept": [{"path": d.path, "kept": d.before, "sent": d.after} for d in outcome.kept]}


def apply_json(outcomes: Iterable[Outcome], state_path: Any, csv_path: Any) -> str:
    """apply --format json: every change's outcome and the totals, one document."""
    changes = [outcome_json(o) for o in outcomes]
    totals = {"changes": len(changes)} | {s: sum(1 for c in changes if c["status"] == s)
                                          for s in ("done", "failed", "deferred")}
    return printable_json(json.dumps({"changes": changes, "totals": totals, "state": str(state_path),
                                      "csv": str(csv_path), "errors": []}, indent=2, ensure_ascii=False)) + "\n"


def errors_json(errors: Iterable[Diagnostic | str]) -> str:
    """A command with --format json that failed: {"errors": [...]}, each with a message (and where, for input)."""
    items = [{"message": e} if isinstance(e, str) else
             {"message": e.format(), "severity": e.severity, "file": e.file, "line": e.line, "col": e.col,
              "field": e.field, "detail": e.message, "hint": e.hint} for e in errors]
    return printable_json(json.dumps({"errors": items}, indent=2, ensure_ascii=False)) + "\n"


def result_text(result: ApplyResult, console: Console) -> None:
    counts = result.counts()
    style = "green" if result.ok else "red"
    console.print(Text(
        f"Apply: {counts.get('done', 0)} done, {counts.get('failed', 0)} failed, "
        f"{counts.get('deferred', 0)} deferred.", style=style + " bold"))


def plan_markdown(plan: Plan) -> str:
    """The whole pull-request comment: its parts one after the other (each starts with its marker line)."""
    return "\n".join(plan_markdown_parts(plan))


def plan_markdown_parts(plan: Plan, *, budget: int = MARKDOWN_PART_BUDGET,
                        max_parts: int = MARKDOWN_MAX_PARTS) -> list[str]:
    """The plan as pull-request comments, each under ``budget`` characters, split between changes.

    Part 1 carries the summary and the alerts (what apply will refuse, destructive changes); every part
    starts with its own hidden marker so that the workflow finds and edits the same comments on the next push.
    Past ``max_parts`` (a plan of thousands of changes) the last part says how many changes it leaves out.
    """
    head = _markdown_head(plan)
    footer = "\n" + summary_line(plan) + "\n"
    blocks = [_change_block(change, budget // 2) for change in
              sorted(plan.pending_changes, key=lambda c: (not c.destructive,))]
    # Room for the marker, title and "part i of n" lines (they depend on the number of parts) and the last
    # part's note on what it leaves out.
    reserve = 400
    parts: list[list[str]] = [[head]]
    size = _length(head) + _length(footer) + reserve
    for block in blocks:
        if size + _length(block) > budget and parts[-1] != [head]:
            parts.append([])
            size = _length(footer) + reserve
        parts[-1].append(block)
        size += _length(block)
    left_out = sum(len(p) for p in parts[max_parts:])
    parts = parts[:max_parts]
    total = len(parts)
    texts = []
    for number, blocks_of_part in enumerate(parts, start=1):
        marker = MARKDOWN_MARKER if number == 1 else f"<!-- zoomstate-plan part {number} -->"
        lines = [marker, "### zoomstate plan" + (" (continued)" if number > 1 else ""), ""]
        if total > 1:
            lines += [f"_Part {number} of {total}: the plan is too long for one comment._", ""]
        more = ""
        if left_out and number == total:
            more = (f"\n_{left_out} more change(s) not shown: {max_parts} comments are enough to review. "
                    "Run `zoomstate plan` (or `--format json`) for the whole plan._\n")
        texts.append("\n".join(lines) + "\n" + "".join(blocks_of_part) + more + footer)
    return texts


def _markdown_head(plan: Plan) -> str:
    counts = plan.summary
    source = ("from Zoom's meeting lists only (shallow)" if plan.shallow else "refreshed from Zoom"
              if plan.refreshed else "from the state file only, not checked with Zoom")
    lines = [f"For `{_code(plan.desired_path)}`, {source}.", ""]
    found = refusals(plan)
    errors = [r for r in found if r.kind == "plan_error"]
    if errors:
        lines += ["> [!CAUTION]", f"> **apply will refuse this plan**: it has {len(errors)} error(s)", ">"]
        lines += _alert_items([_md(r.message) for r in errors])
    for refusal in found:
        if refusal.effect == "refuse" and refusal.kind != "plan_error":
            lines += ["> [!CAUTION]", f"> **apply will refuse this plan without `{refusal.override}`**: "
                      f"{_md(refusal.message)}", ""]
    destructive = plan.destructive_changes
    if destructive:
        lines += ["> [!WARNING]", f"> **{len(destructive)} destructive change(s)**: deleted or replaced in Zoom, "
                  "with their join links and registrants", ">"]
        lines += _alert_items([f"`{c.action}` **{_md(c.key)}**: {_md(c.topic)} ({_md(c.host_email)})"
                               for c in destructive])
    for refusal in found:
        if refusal.effect == "defer":
            lines += ["> [!WARNING]", f"> **Zoom's daily limit**: {_md(refusal.message)}", ""]
    lines += ["| action | count |", "|---|---|"]
    lines += [f"| {a} | {counts[a]} |" for a in ("create", "adopt", "update", "replace", "delete", "unchanged")]
    lines.append("")
    deferred = set(plan.host_budget_warnings())
    warnings = [w for w in plan.warnings if w not in deferred]
    lines += [f"- :warning: {_md(w)}" for w in warnings[:WARNINGS_MAX]]
    if len(warnings) > WARNINGS_MAX:
        lines.append(f"- and {len(warnings) - WARNINGS_MAX} more warning(s): run `zoomstate plan` to see them all")
    kept_notes = [kept_note(c.key, d) for c in plan.changes for d in c.kept]
    lines += [f"- :information_source: {_md(note)}" for note in kept_notes]
    if warnings or kept_notes:
        lines.append("")
    if plan.duplicates:
        lines += [f"**{_md(duplicates_title(plan))}**", ""]
        lines += [f"- {_md(line)}" for line in duplicate_lines(plan)[:ALERT_LIST_MAX]]
        if len(plan.duplicates) > ALERT_LIST_MAX:
            lines.append(f"- and {len(plan.duplicates) - ALERT_LIST_MAX} more: run `zoomstate plan` to see them all")
        lines.append("")
    if not plan.has_changes:
        lines += ["No changes. Zoom matches meetings.yaml.", ""]
    return "\n".join(lines) + "\n"


def _alert_items(items: list[str]) -> list[str]:
    lines = [f"> - {item}" for item in items[:ALERT_LIST_MAX]]
    if len(items) > ALERT_LIST_MAX:
        lines.append(f"> - and {len(items) - ALERT_LIST_MAX} more")
    return lines + [""]


def _change_block(change: Change, budget: int) -> str:
    head = [
        "<details>",
        f"<summary><code>{SYMBOLS[change.action]} {change.action}</code> <b>{_html(change.key)}</b> — "
        f"{_html(change.topic)} ({_html(change.host_email)})</summary>",
        "",
    ]
    if change.schedule and change.action != "delete":
        head.append(f"- schedule: {_md(change.schedule)}")
    if change.preview.get("registration") and change.action != "delete":
        head.append(f"- registration: {_md(str(change.preview['registration']))}")
    if rolling_text(change) and change.action != "delete":
        head.append(f"- {_md(rolling_text(change))}")
    if change.reason:
        head.append(f"- reason: {_md(change.reason)}")
    diff_lines = []
    for d in change.diffs:
        diff_lines.append(f"- {d.path}: {_one_line(value_text(d.before))}")
        diff_lines.append(f"+ {d.path}: {_one_line(value_text(d.after))}")
    for o in change.occurrences:
        diff_lines.append(f"{'-' if o.op == 'cancel' else '!'} {o.text()}")
    tail = ["", "</details>", ""]
    if diff_lines:
        used = _length("\n".join(head + tail))
        kept: list[str] = []
        for line in diff_lines:
            if used + _length(line) + 200 > budget:
                kept.append(f"… {len(diff_lines) - len(kept)} more line(s) not shown: run `zoomstate plan`")
                break
            kept.append(line)
            used += _length(line) + 1
        fence = _fence(kept)
        head += ["", fence + "diff", *kept, fence]
    return "\n".join(head + tail) + "\n"


def _length(text: str) -> int:
    """Length as GitHub counts it (UTF-16 code units: an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _fence(lines: list[str]) -> str:
    """A backtick fence longer than any backtick run in the lines, so a value cannot close the block."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _one_line(text: str) -> str:
    """One line, with control and bidirectional characters escaped (a reviewer must read what is there)."""
    return printable(text.replace("\r", " ").replace("\n", " "))


# Markdown that GitHub would act on inside a value: emphasis, links, code, tables, headings, HTML.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#!|~])")


def _no_mentions(text: str) -> str:
    """Break @mentions and #123 references with a zero-width space (GitHub would notify or link them)."""
    text = re.sub(r"(?<!\w)@(?=\w)", "@&#8203;", text)  # not inside an e-mail address: GitHub leaves those
    return re.sub(r"(?<![\w&])#(?=\d)", "#&#8203;", text)  # not in an entity such as &#124;


def _html(text: str) -> str:
    """A value inside an HTML element (<summary>): markdown is not read there, entities are."""
    text = _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")
    return _no_mentions(text.replace("`", "&#96;"))


def _md(text: str) -> str:
    """A value in markdown text (list items, alerts, table cells)."""
    text = _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _no_mentions(_MD_SPECIAL.sub(r"\\\1", text))


def _code(text: str) -> str:
    """A value inside `inline code`: only a backtick could end it."""
    return _one_line(text).replace("`", "'")
