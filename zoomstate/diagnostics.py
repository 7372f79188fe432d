"""Diagnostics (findings about the meetings file) as text: lines for people, and GitHub workflow commands.

Apart from render so that it needs no rich: validate prints these and nothing else, and rich takes longer to
import than a small file takes to validate. The console given decides whether the lines are styled.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zoomstate.model import Diagnostic

SEVERITY_STYLES = {"error": "red bold", "warning": "yellow bold", "note": "cyan"}


def diagnostics_text(diagnostics: Iterable[Diagnostic], console: Any, *, list_notes: bool = True) -> None:
    """Each diagnostic on its line, styled by severity where the console shows styles; with ``list_notes=False``
    the notes become one summary line. ``console`` is a rich Console or the CLI's lazy one: plain strings, so
    that a console writing to a pipe or a file can print them without rich."""
    notes = 0
    for d in diagnostics:
        if d.severity == "note" and not list_notes:
            notes += 1
            continue
        console.print(d.format(), style=SEVERITY_STYLES[d.severity], markup=False)
    if notes:
        console.print(f"note: {dst_summary(notes)}", style=SEVERITY_STYLES["note"], markup=False)


def dst_summary(count: int) -> str:
    """The line that stands for ``count`` notes of meetings crossing a DST change."""
    return (f"{count} meeting{'s' if count != 1 else ''} cross{'' if count != 1 else 'es'} a DST change "
            "(the local time is kept); -v lists them")


def github_annotations(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands, so a mistake shows on the diff line. Notes are left out."""
    lines = []
    for d in diagnostics:
        if d.severity == "note":
            continue  # information only (DST changes): a notice on every meeting would drown the real ones
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
