"""The plan: what apply would change, computed by a pure diff of Desired x State x Live.

The planner never calls Zoom. A Plan serialises to a plan file and back, knows its own summary and
checks its own safety threshold (deletes and replaces), octoDNS style.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from zoomstate import calendar
from zoomstate.model import DesiredConfig, LiveSnapshot, MeetingSpec
from zoomstate.payload import create_body, identity, live_view, managed_view
from zoomstate.state import State

Action = Literal["create", "adopt", "update", "replace", "delete", "unchanged"]
ACTIONS: tuple[Action, ...] = ("create", "adopt", "update", "replace", "delete", "unchanged")
DESTRUCTIVE: frozenset[str] = frozenset({"delete", "replace"})
PLAN_FORMAT = "zoomstate-plan"
PLAN_VERSION = 1
# Creates + updates Zoom allows per host per UTC day.
HOST_DAILY_WRITES = 100
# Safety threshold (octoDNS style): refuse when destructive changes exceed this share of managed meetings.
SAFETY_MIN_MANAGED = 8
SAFETY_MAX_SHARE = 0.25
# Zoom's clock and ours may differ when matching a recovered create to its pending record.
CLOCK_SLACK = timedelta(minutes=5)


class PlanError(Exception):
    """The plan cannot be made or used (unknown target, stale plan file, blocked delete)."""


@dataclass(frozen=True)
class FieldDiff:
    path: str  # "settings.waiting_room"
    before: Any  # live (or last known) value; None when absent
    after: Any  # desired value; None when absent

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass
class Change:
    key: str
    action: Action
    reason: str
    host_email: str
    topic: str
    meeting_id: int | None = None  # the managed meeting; for adopt, the live meeting to adopt
    payload: dict[str, Any] | None = None  # Zoom body sent by create / update / replace
    diffs: list[FieldDiff] = field(default_factory=list)
    schedule: str = ""  # "weekly on Mon at 09:00 America/New_York, 44 occurrences, 2027-03-01 → 2027-12-27"
    preview: dict[str, Any] = field(default_factory=dict)  # count, past, next, last

    @property
    def destructive(self) -> bool:
        if self.action == "delete" and self.meeting_id is None:
            return False  # forgets a pending create that never reached Zoom: nothing is deleted
        return self.action in DESTRUCTIVE

    @property
    def writes(self) -> int:
        """Create/update calls this change costs against the host's daily limit."""
        if self.action == "update" and self.payload is None:
            return 0  # state only: nothing is sent to Zoom
        if self.action in ("create", "update", "replace"):
            return 1
        if self.action == "adopt" and self.diffs:
            return 1
        return 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["diffs"] = [d.to_json() for d in self.diffs]
        data["destructive"] = self.destructive
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        return cls(
            key=data["key"],
            action=data["action"],
            reason=data.get("reason", ""),
            host_email=data.get("host_email", ""),
            topic=data.get("topic", ""),
            meeting_id=data.get("meeting_id"),
            payload=data.get("payload"),
            diffs=[FieldDiff(d["path"], d.get("before"), d.get("after")) for d in data.get("diffs", [])],
            schedule=data.get("schedule", ""),
            preview=dict(data.get("preview") or {}),
        )


@dataclass
class Plan:
    changes: list[Change]
    desired_path: str
    desired_sha256: str
    lineage: str
    serial: int
    account_id: str | None
    created_at: str
    refreshed: bool = True
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # information only (e.g. DST changes)
    errors: list[str] = field(default_factory=list)
    managed_count: int = 0  # meetings in state when planned, for the safety threshold

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(c.action for c in self.changes)
        return {action: counts.get(action, 0) for action in ACTIONS}

    @property
    def pending_changes(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]

    @property
    def has_changes(self) -> bool:
        return bool(self.pending_changes)

    @property
    def destructive_changes(self) -> list[Change]:
        return [c for c in self.changes if c.destructive]

    def safety_problem(self) -> str | None:
        """Why apply should refuse without --force, or None."""
        destructive = len(self.destructive_changes)
        if self.managed_count < SAFETY_MIN_MANAGED or destructive == 0:
            return None
        share = destructive / self.managed_count
        if share > SAFETY_MAX_SHARE:
            return (f"{destructive} of {self.managed_count} managed meetings would be deleted or replaced "
                    f"({share:.0%}, more than the {SAFETY_MAX_SHARE:.0%} safety threshold); "
                    "check the plan, then run apply with --force if this is intended")
        return None

    def host_budget_warnings(self) -> list[str]:
        per_host: Counter[str] = Counter()
        for change in self.changes:
            per_host[change.host_email.lower()] += change.writes
        return [
            f"host {host} would need {n} meeting creates/updates; Zoom allows {HOST_DAILY_WRITES} per host per "
            f"UTC day: apply does the first {HOST_DAILY_WRITES} and defers the rest to the next day's run"
            for host, n in sorted(per_host.items()) if n > HOST_DAILY_WRITES
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "created_at": self.created_at,
            "desired": {"path": self.desired_path, "sha256": self.desired_sha256},
            "state": {"lineage": self.lineage, "serial": self.serial, "managed": self.managed_count},
            "account_id": self.account_id,
            "refreshed": self.refreshed,
            "summary": self.summary,
            "warnings": self.warnings,
            "notes": self.notes,
            "errors": self.errors,
            "changes": [c.to_json() for c in self.changes],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
            raise PlanError("this is not a zoomstate plan file: make one with `zoomstate plan --out FILE`")
        if data.get("version") != PLAN_VERSION:
            raise PlanError(f"plan file version {data.get('version')!r} is not supported: plan again")
        try:
            return cls(
                changes=[Change.from_json(c) for c in data["changes"]],
                desired_path=data["desired"]["path"],
                desired_sha256=data["desired"]["sha256"],
                lineage=data["state"]["lineage"],
                serial=int(data["state"]["serial"]),
                managed_count=int(data["state"].get("managed", 0)),
                account_id=data.get("account_id"),
                created_at=data.get("created_at", ""),
                refreshed=bool(data.get("refreshed", True)),
                warnings=list(data.get("warnings", [])),
                notes=list(data.get("notes", [])),
                errors=list(data.get("errors", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"the plan file is damaged ({exc}): plan again") from None


# ---------------------------------------------------------------------------------------------- the diff


def field_diffs(before: dict[str, Any], after: dict[str, Any]) -> list[FieldDiff]:
    """Field-level differences between two managed views (before = Zoom or state, after = YAML)."""
    if before == after:  # DeepDiff is slow even on equal inputs
        return []
    from deepdiff import DeepDiff  # slow to import too: only a plan with changes to existing meetings needs it

    tree = DeepDiff(before, after, view="tree", verbose_level=2)
    diffs = []
    for items in tree.values():
        for item in items:
            path = ".".join(str(p) for p in item.path(output_format="list"))
            diffs.append(FieldDiff(path, _present(item.t1), _present(item.t2)))
    return sorted(diffs, key=lambda d: d.path)


def _present(value: Any) -> Any:
    return None if type(value).__name__ == "NotPresent" else value


def _preview(spec: MeetingSpec, now: datetime) -> dict[str, Any]:
    p = calendar.preview(spec, now)
    return {
        "registration": registration_text(spec),
        "count": p.upcoming,
        "past": p.past,
        "first": calendar.local_stamp(p.first, offset=True) if p.first else None,
        "next": calendar.local_stamp(p.next, offset=True) if p.next else None,
        "last": calendar.local_stamp(p.last, offset=True) if p.last else None,
    }


def registration_text(spec: MeetingSpec) -> str:
    if spec.approval_type == 2:
        return "off"
    approval = "auto-approve" if spec.approval_type == 0 else "manual approval"
    scope = {1: "once for all occurrences", 2: "for each occurrence", 3: "for chosen occurrences"}
    return f"on ({approval}, register {scope.get(spec.registration_type, '')})"


def build_plan(
    desired: DesiredConfig,
    state: State,
    live: LiveSnapshot,
    now: datetime,
    *,
    targets: Iterable[str] = (),
) -> Plan:
    """Diff desired against state and live. Pure: no I/O."""
    targets = list(targets)
    known = set(desired.meetings) | set(state.meetings)
    unknown = [t for t in targets if t not in known]
    if unknown:
        raise PlanError(
            "unknown --target " + ", ".join(unknown) + ": no meeting has that key in the meetings file or the "
            "state (see `zoomstate show` for managed keys)"
        )
    selected = set(targets) if targets else None

    changes: list[Change] = []
    errors: list[str] = []
    claimed: set[int] = set(state.by_meeting_id())  # live meetings already spoken for

    for key, spec in desired.meetings.items():
        if selected is not None and key not in selected:
            continue
        change = _plan_desired(key, spec, state, live, now, claimed)
        change.schedule = calendar.summary(spec, now)
        change.preview = _preview(spec, now)
        if change.action == "replace" and key in state.meetings and state.meetings[key].managed.get(
                "prevent_delete"):
            errors.append(f"{key}: the host changed, which needs the meeting deleted and created again, but "
                          "prevent_delete is set: remove prevent_delete first, or change the host back")
        changes.append(change)

    for key, managed in state.meetings.items():
        if key in desired.meetings or (selected is not None and key not in selected):
            continue
        gone = live.refreshed and managed.meeting_id in live.missing
        reason = "removed from the meetings file" + (" (already gone in Zoom)" if gone else "")
        if managed.managed.get("prevent_delete"):
            errors.append(f"{key}: removed from the meetings file but prevent_delete is set: put it back, or run "
                          f"`zoomstate state rm {key}` to stop managing it without deleting it")
        changes.append(Change(key, "delete", reason, managed.host_email, managed.topic, managed.meeting_id))

    for key, pending in state.pending.items():
        if key in desired.meetings or key in state.meetings or not live.refreshed or (
                selected is not None and key not in selected):
            continue
        # A create was interrupted, then the meeting was removed from the file: delete what the create made.
        match = find_match(pending.fingerprint, live.candidates.get(key, []), claimed,
                           created_after=pending.started_at)
        if match is not None:
            claimed.add(int(match["id"]))
            changes.append(Change(key, "delete", "removed from the meetings file while its create was "
                                  "interrupted: found it in Zoom", pending.host_email, pending.topic, int(match["id"])))
        else:
            changes.append(Change(key, "delete", "removed from the meetings file; its interrupted create never "
                                  "reached Zoom (state only)", pending.host_email, pending.topic))

    plan = Plan(
        changes=changes,
        desired_path=desired.path,
        desired_sha256=desired.sha256,
        lineage=state.lineage,
        serial=state.serial,
        account_id=state.account_id,
        created_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        refreshed=live.refreshed,
        warnings=[d.format(severity=False) for d in desired.warnings if d.severity == "warning"]
        + list(live.warnings),
        notes=[d.format(severity=False) for d in desired.warnings if d.severity == "note"],
        errors=errors,
        managed_count=len(state.meetings),
    )
    plan.warnings.extend(plan.host_budget_warnings())
    return plan


def _plan_desired(key: str, spec: MeetingSpec, state: State, live: LiveSnapshot, now: datetime,
                  claimed: set[int]) -> Change:
    compare_want = managed_view(spec)  # what Zoom should hold; prevent_delete is zoomstate's own, not in it
    managed = state.meetings.get(key)

    def change(action: Action, reason: str, meeting_id: int | None = None,
               diffs: list[FieldDiff] | None = None) -> Change:
        payload = create_body(spec, now) if action in ("create", "update", "replace") or (
            action == "adopt" and diffs) else None
        return Change(key, action, reason, spec.host_email, spec.topic, meeting_id, payload, diffs or [])

    if managed is not None:
        if managed.host_email.lower() != spec.host_email.lower():
            return change("replace", f"host changed from {managed.host_email} to {spec.host_email} "
                                     "(Zoom cannot move a meeting to another host)", managed.meeting_id)
        if live.refreshed and managed.meeting_id in live.missing:
            return change("create", f"deleted in Zoom (meeting {managed.meeting_id} no longer exists)")
        last_known = {k: v for k, v in managed.managed.items() if k != "prevent_delete"}
        if live.refreshed and managed.meeting_id in live.meetings:
            have = live_view(live.meetings[managed.meeting_id], like=compare_want)
        else:
            have = last_known
        diffs = field_diffs(have, compare_want)
        if not diffs:
            if have is not last_known and last_known != compare_want:
                # Zoom already matches: an earlier apply stopped between its Zoom call and its state save.
                return Change(key, "update", "Zoom already matches the meetings file; the state records older "
                              "values (state only)", spec.host_email, spec.topic, managed.meeting_id)
            if managed.managed.get("prevent_delete", False) != spec.prevent_delete:
                # Only zoomstate's own flag changed: nothing to send, but state must learn it.
                return Change(key, "update", "prevent_delete changed (state only)", spec.host_email,
                              spec.topic, managed.meeting_id)
            return Change(key, "unchanged", "", spec.host_email, spec.topic, managed.meeting_id)
        if have is last_known:
            reason = "changed in the meetings file"
        elif field_diffs(last_known, compare_want):
            reason = "changed in the meetings file" + (
                " and in Zoom" if field_diffs(last_known, have) else "")
        else:
            reason = "changed in Zoom (drift): the meetings file wins"
        return change("update", reason, managed.meeting_id, diffs)

    # Not managed yet: recover an interrupted create, adopt a matching meeting, or create.
    pending = state.pending.get(key)
    candidates = live.candidates.get(key, [])
    match = find_match(compare_want, candidates, claimed, created_after=pending.started_at if pending else None) if (
        candidates or pending) else None  # nothing to match: the usual case offline, and for new meetings
    if match is not None:
        claimed.add(int(match["id"]))
        diffs = field_diffs(live_view(match, like=compare_want), compare_want)
        reason = ("recovering an interrupted create: found it in Zoom" if pending else
                  "an existing Zoom meeting of this host matches (same topic, time and recurrence)")
        return change("adopt", reason, int(match["id"]), diffs)
    if pending is not None:
        return change("create", "the previous create did not reach Zoom")
    return change("create", "new")


def find_match(want: dict[str, Any], candidates: list[dict[str, Any]], claimed: set[int],
               created_after: str | None = None) -> dict[str, Any] | None:
    """The oldest unclaimed live meeting whose identity (topic, time, timezone, recurrence) matches.

    ``created_after`` (a pending create's start) excludes older meetings, with slack for clock skew.
    """
    wanted_identity = identity(want)
    earliest = _parse_time(created_after) - CLOCK_SLACK if created_after else None
    matches = []
    for meeting in candidates:
        meeting_id = int(meeting.get("id", 0))
        if meeting_id in claimed:
            continue
        created = _parse_time(str(meeting.get("created_at") or ""))
        if earliest is not None and created is not None and created < earliest:
            continue
        if identity(live_view(meeting, like=want)) == wanted_identity:
            matches.append(meeting)
    matches.sort(key=lambda m: (str(m.get("created_at", "")), int(m.get("id", 0))))
    return matches[0] if matches else None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
