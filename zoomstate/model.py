"""Domain types shared by every stage of the flow (load -> validate -> plan -> apply -> state -> CSV).

Plain data only: no I/O and no Zoom calls here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the live view is read by zoombody, which owns Zoom's format
    from zoomstate.zoombody import LiveMeeting

Severity = Literal["error", "warning", "note"]  # a note is information, nothing to fix
RecurrenceType = Literal["daily", "weekly", "monthly"]


@dataclass(frozen=True)
class Position:
    """Where a value was written: 1-based line and column."""

    file: str
    line: int
    col: int


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the user's input, with where it is and what to do."""

    severity: Severity
    file: str
    line: int | None
    col: int | None
    field: str  # e.g. "meetings[2].weekly_days" or "defaults.timezone"
    message: str
    hint: str = ""

    def format(self, *, severity: bool = True) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        label = f"{self.severity}: " if severity else ""
        text = f"{where}: {label}{self.field}: {self.message}" if self.field else f"{where}: {label}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


# A hostile file can hold hundreds of thousands of mistakes: the first ones are shown, the rest counted.
MAX_SHOWN_ERRORS = 100


class InputError(Exception):
    """Bad user input (meetings file, state file, plan file, flags). Carries every finding at once.

    ``diagnostics`` holds the first MAX_SHOWN_ERRORS of them (give them in the order to show), ``omitted``
    how many more there were: those left out here, plus ``uncounted`` ones the caller only counted.
    """

    def __init__(self, diagnostics: list[Diagnostic], *, uncounted: int = 0):
        found = [d for d in diagnostics if d.severity == "error"] or list(diagnostics)
        self.diagnostics = found[:MAX_SHOWN_ERRORS]
        self.omitted = len(found) - len(self.diagnostics) + uncounted
        lines = [d.format() for d in self.diagnostics]
        if self.omitted:
            lines.append(more_errors_line(self.omitted))
        super().__init__("\n".join(lines))


def more_errors_line(omitted: int) -> str:
    """What stands for the errors not shown."""
    return f"... and {omitted:,} more error{'s' if omitted != 1 else ''} (fix the ones above first)"


@dataclass(frozen=True)
class Override:
    """A one-off change to the occurrence on ``date`` (the meeting's local date); None keeps the series' value."""

    date: date
    start_time: time | None = None
    duration: int | None = None
    agenda: str | None = None


@dataclass(frozen=True)
class MeetingSpec:
    """One desired recurring meeting, validated, with defaults applied and calendar defaults resolved.

    ``weekly_days`` uses Zoom's digits (1 = Sunday ... 7 = Saturday), sorted, no duplicates.
    Exactly one of ``end_date`` / ``occurrences`` is set (a rolling meeting may set neither:
    endless). Exactly one monthly form is set for monthly.
    """

    key: str
    host_email: str
    topic: str
    start_date: date
    start_time: time
    recurrence_type: RecurrenceType
    timezone: str = "UTC"
    duration: int = 60
    agenda: str = ""
    repeat_interval: int = 1
    weekly_days: tuple[int, ...] | None = None
    monthly_day: int | None = None
    monthly_week: int | None = None  # -1 (last), 1..4
    monthly_week_day: int | None = None  # 1..7, Sunday = 1
    end_date: date | None = None
    occurrences: int | None = None
    enable_registration: bool = True
    approval_type: int = 0
    registration_type: int = 1
    host_video: bool = True
    participant_video: bool = True
    join_before_host: bool = False
    mute_upon_entry: bool = True
    waiting_room: bool = True
    watermark: bool = False
    password: str | None = None
    auto_recording: str = "none"
    audio: str = "both"
    meeting_authentication: bool = False
    prevent_delete: bool = False
    # The key this meeting had before a rename: the state record moves to the new key, the Zoom meeting stays.
    moved_from: str | None = None
    # Field paths sent at create and never compared after (Terraform's lifecycle ignore_changes).
    ignore_changes: tuple[str, ...] = ()
    # Occurrences cancelled (local dates, calendars resolved) and changed one at a time.
    skip_dates: tuple[date, ...] = ()
    overrides: tuple[Override, ...] = ()
    notify_on_cancel: bool = False
    # Zoom holds the next 50 occurrences; each apply extends the end (end_date beyond the cap, or none).
    rolling: bool = False
    # Where the meeting and each of its fields were written (field name -> position).
    position: Position | None = field(default=None, compare=False)
    field_positions: Mapping[str, Position] = field(default_factory=dict, compare=False, repr=False)

    def where(self, field_name: str) -> Position | None:
        """Position of a field, falling back to the meeting itself."""
        return self.field_positions.get(field_name, self.position)


@dataclass(frozen=True)
class DesiredConfig:
    """The whole validated meetings file."""

    path: str
    sha256: str  # of the file's bytes, for plan staleness checks
    output_file: str  # CSV path, relative paths resolved against the meetings file's folder
    meetings: dict[str, MeetingSpec]  # key -> spec, in file order
    warnings: list[Diagnostic] = field(default_factory=list)
    max_concurrent_meetings_per_host: int = 1
    # Seed-style credentials found in the file (zoom_api block); never printed or stored.
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass
class LiveSnapshot:
    """What Zoom holds now, as far as the plan needs it (read by refresh, never written by the planner).

    ``refreshed`` is False for ``plan --refresh=false``: the planner then trusts the state file alone.
    ``shallow`` (``plan --refresh=shallow``): the managed meetings' views are Zoom's list items, which carry
    no settings, recurrence, occurrences or passcode.
    """

    refreshed: bool
    meetings: dict[int, LiveMeeting] = field(default_factory=dict)  # managed meeting id -> its live view
    missing: set[int] = field(default_factory=set)  # managed ids Zoom reports gone (404 3001)
    # desired key -> live views of unmanaged meetings of the same host and topic (adopt, recover; for a managed
    # key: its possible duplicates)
    candidates: dict[str, list[LiveMeeting]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    shallow: bool = False
    listed_without_agenda: set[int] = field(default_factory=set)  # shallow: list items that carried no agenda
