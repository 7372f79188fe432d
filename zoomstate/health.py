"""The health check: a refreshed plan and what Zoom holds -> findings for scheduled CI. Pure: no I/O.

Each finding has a kind (one of KINDS), the meeting key and a sentence: duplicates come from the plan's
duplicate list, double bookings from the calendar's warnings. Hosts' unmanaged meetings are counted, never
named, and need no attention.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from zoomstate.calendar import DOUBLE_BOOKED, ZOOM_OCCURRENCE_CAP
from zoomstate.model import LiveSnapshot
from zoomstate.plan import DUPLICATE_KEY_PREFIX, Plan
from zoomstate.state import State

# kind -> heading, in report order
KINDS: dict[str, str] = {
    "deleted": "Managed meetings deleted in Zoom",
    "drift": "Changed in Zoom (drift)",
    "ending": "Series ending soon",
    "at_cap": "Series at Zoom's 50-occurrence cap",
    "duplicate": "Duplicates",
    "double_booking": "Double bookings",
    "pending": "Changes not applied yet",
    "error": "Plan errors",
}
DRIFT_CODES = frozenset({"drift", "changed_in_file_and_zoom", "occurrence_drift"})


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    message: str


@dataclass
class HealthReport:
    findings: list[Finding] = field(default_factory=list)
    unmanaged: dict[str, int] = field(default_factory=dict)  # host -> meetings zoomstate does not manage
    days: int = 30
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        return 0 if self.healthy else 2

    def by_kind(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = {kind: [] for kind in KINDS}
        for finding in self.findings:
            grouped.setdefault(finding.kind, []).append(finding)
        return grouped


def health(plan: Plan, live: LiveSnapshot, state: State, now: datetime, *, days: int = 30,
           unmanaged: dict[str, int] | None = None) -> HealthReport:
    """Findings from a refreshed plan and the live meetings it was made from."""
    report = HealthReport(unmanaged=dict(sorted((unmanaged or {}).items())), days=days,
                          warnings=list(plan.warnings))
    add = report.findings.append
    for error in plan.errors:
        add(Finding("error", error.split(":", 1)[0], error))
    for duplicate in plan.duplicates:
        add(Finding("duplicate", duplicate.key, f"meeting {duplicate.meeting_id} (\"{duplicate.topic}\", host "
                    f"{duplicate.host_email}) duplicates it: `zoomstate apply --delete-duplicates` deletes it"))
    for warning in plan.warnings:
        if DOUBLE_BOOKED in warning:
            add(Finding("double_booking", warning.split(": ", 1)[-1].split(".", 1)[0], warning))
    for change in plan.pending_changes:
        if change.key.startswith(DUPLICATE_KEY_PREFIX):
            continue  # a duplicate's delete (apply --delete-duplicates): listed above
        if change.reason_code == "deleted_in_zoom":
            add(Finding("deleted", change.key, f"{change.reason}; apply creates it again (new join link)"))
        elif change.reason_code in DRIFT_CODES:
            fields = ", ".join(d.path for d in change.diffs) or "fields"
            add(Finding("drift", change.key, f"{fields} changed in Zoom; apply sets them back"))
        else:
            add(Finding("pending", change.key, f"{change.action}: {change.reason}"))
    horizon = now + timedelta(days=days)
    for key, managed in sorted(state.meetings.items()):
        meeting = live.meetings.get(managed.meeting_id)
        if meeting is None:
            continue
        upcoming = meeting.upcoming(now)
        if not upcoming:
            add(Finding("ending", key, "no upcoming occurrences in Zoom: the series has ended"))
            continue
        last = max(upcoming)
        if last <= horizon:
            add(Finding("ending", key, f"the last occurrence is {last.strftime('%Y-%m-%d %H:%M UTC')}, within "
                        f"{days} days: extend end_date or occurrences"))
        if (meeting.end_times or 0) >= ZOOM_OCCURRENCE_CAP or len(meeting.occurrences or ()) >= ZOOM_OCCURRENCE_CAP:
            add(Finding("at_cap", key, f"Zoom holds {ZOOM_OCCURRENCE_CAP} occurrences, its maximum: plan a "
                        "follow-on series before the last one"))
    return report


def report_json(report: HealthReport) -> str:
    data: dict[str, Any] = {"healthy": report.healthy, "days": report.days,
                            "findings": [asdict(f) for f in report.findings],
                            "counts": {kind: len(items) for kind, items in report.by_kind().items()},
                            "unmanaged_meetings_by_host": report.unmanaged, "warnings": report.warnings}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def report_text(report: HealthReport) -> str:
    lines = []
    if report.healthy:
        lines.append("Healthy: Zoom matches meetings.yaml, nothing deleted, no series ending within "
                     f"{report.days} days.")
    for kind, items in report.by_kind().items():
        if items:
            lines.append(f"{KINDS.get(kind, kind)} ({len(items)}):")
            lines += [f"  {f.key}: {f.message}" for f in items]
    if report.unmanaged:
        lines.append("Meetings zoomstate does not manage, by host: "
                     + ", ".join(f"{host} {count}" for host, count in report.unmanaged.items()))
    lines += [f"warning: {w}" for w in report.warnings]
    if not report.healthy:
        lines.append(f"{len(report.findings)} finding(s) need attention.")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def report_markdown(report: HealthReport) -> str:
    lines = ["## zoomstate health check", ""]
    if report.healthy:
        lines += ["> [!NOTE]", f"> Healthy: Zoom matches meetings.yaml, nothing deleted, no series ending within "
                  f"{report.days} days.", ""]
    else:
        lines += ["> [!WARNING]", f"> {len(report.findings)} finding(s) need attention.", ""]
    for kind, items in report.by_kind().items():
        if not items:
            continue
        lines += [f"### {KINDS.get(kind, kind)} ({len(items)})", "", "| Meeting | Finding |", "|---|---|"]
        lines += [f"| `{_cell(f.key)}` | {_cell(f.message)} |" for f in items]
        lines.append("")
    if report.unmanaged:
        lines += ["### Meetings zoomstate does not manage", "", "| Host | Meetings |", "|---|---|"]
        lines += [f"| {_cell(host)} | {count} |" for host, count in report.unmanaged.items()]
        lines.append("")
    return "\n".join(lines)
