"""The plan: what apply would change, computed by a pure diff of Desired x State x Live.

The planner never calls Zoom. A Plan serialises to a plan file and back, knows its own summary and
checks its own safety threshold (deletes and replaces), octoDNS style.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from zoomstate import calendar
from zoomstate.model import DesiredConfig, LiveSnapshot, MeetingSpec
from zoomstate.state import State
from zoomstate.zoombody import (
    DesiredMeeting,
    LiveMeeting,
    identity,
    live_identity,
    parse_time,
    same_zone,
)

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
# Machine-readable reasons of a change (Change.reason_code), beside the sentence in Change.reason.
REASON_CODES: dict[str, str] = {
    "new": "in the meetings file, not in Zoom or the state",
    "in_sync": "Zoom matches the meetings file",
    "kept_by_zoom": "Zoom keeps other values for some fields; not proposed again until the file changes them",
    "deleted_in_zoom": "managed, but the meeting no longer exists in Zoom",
    "changed_in_file": "the meetings file changed since the last apply",
    "drift": "Zoom changed since the last apply; the meetings file wins",
    "changed_in_file_and_zoom": "both the meetings file and Zoom changed",
    "host_changed": "the host changed, which Zoom can only do by a new meeting",
    "state_only": "Zoom already matches; only the state is behind",
    "prevent_delete_changed": "only prevent_delete changed (state only)",
    "adopt_match": "an unmanaged Zoom meeting of the host matches",
    "recover_pending": "an interrupted create reached Zoom: its meeting is taken over",
    "retry_pending": "an interrupted create never reached Zoom: create again",
    "removed_from_file": "managed, but no longer in the meetings file",
    "removed_from_file_gone": "no longer in the meetings file, and already gone in Zoom",
    "pending_removed_found": "removed from the file while its create was interrupted; its meeting is in Zoom",
    "pending_removed_forgotten": "removed from the file while its create was interrupted; it never reached Zoom",
}


class PlanError(Exception):
    """The plan cannot be made or used (unknown target, stale plan file, blocked delete)."""


# A passcode is never shown: its diff says only that it changed.
HIDDEN = "********"
PASSCODE_CHANGED = "passcode changed"
# State-record keys that are zoomstate's own, not part of the managed view compared with Zoom.
OWN_KEYS = frozenset({"prevent_delete", "kept"})
SCHEDULE_KEYS = ("local_time", "recurrence", "end")


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
    # Why, for machines (Terraform's action reason): see REASON_CODES.
    reason_code: str = ""
    # Fields Zoom keeps at another value than the one sent (before = what Zoom keeps, after = what was sent):
    # not proposed again until the meetings file changes them.
    kept: list[FieldDiff] = field(default_factory=list)

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
        data["kept"] = [d.to_json() for d in self.kept]
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
            reason_code=str(data.get("reason_code") or ""),
            kept=[FieldDiff(d["path"], d.get("before"), d.get("after")) for d in data.get("kept") or []],
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
    """Field-level differences between two managed views (before = Zoom or state, after = YAML).

    A passcode difference is reported without either value."""
    if before == after:  # DeepDiff is slow even on equal inputs
        return []
    from deepdiff import DeepDiff  # slow to import too: only a plan with changes to existing meetings needs it

    tree = DeepDiff(before, after, view="tree", verbose_level=2)
    diffs = []
    for items in tree.values():
        for item in items:
            path = ".".join(str(p) for p in item.path(output_format="list"))
            if path == "password":
                diffs.append(passcode_diff())
            else:
                diffs.append(FieldDiff(path, _present(item.t1), _present(item.t2)))
    return sorted(diffs, key=lambda d: d.path)


def passcode_diff() -> FieldDiff:
    return FieldDiff("password", HIDDEN, PASSCODE_CHANGED)


def _present(value: Any) -> Any:
    return None if type(value).__name__ == "NotPresent" else value


def comparable(view: dict[str, Any], ignored: Iterable[str] = ()) -> dict[str, Any]:
    """A managed view (or state record) without zoomstate's own keys and without ignored paths."""
    if not ignored and OWN_KEYS.isdisjoint(view):
        return view  # the usual desired view: nothing to take out
    out = {k: v for k, v in view.items() if k not in OWN_KEYS}
    for path in ignored:
        if path == "schedule":
            for name in SCHEDULE_KEYS:
                out.pop(name, None)
        elif path.startswith("settings."):
            if isinstance(out.get("settings"), dict):
                out["settings"] = {k: v for k, v in out["settings"].items() if k != path[len("settings."):]}
        else:
            out.pop(path, None)
    return out


def _group(path: str) -> str:
    """The field a diff path belongs to, as live diffs name it (the schedule is one field)."""
    head = path.split(".", 1)[0]
    return "schedule" if head in SCHEDULE_KEYS else path


def _ignored(path: str, ignored: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in ignored)


def live_diffs(want: DesiredMeeting, live: LiveMeeting) -> tuple[list[FieldDiff], str]:
    """Differences between a desired meeting and its live view, and a sentence naming the occurrences that
    differ ("" when the schedules agree). Schedules are compared by their upcoming occurrences, not by how
    the rule is spelled; timezone names by the zone they name."""
    view, ignored = want.view, want.ignored
    diffs: list[FieldDiff] = []
    for name in ("topic", "agenda", "duration"):
        if live_value(live, name) != view.get(name):
            diffs.append(FieldDiff(name, live_value(live, name), view.get(name)))
    if not same_zone(live.timezone, want.spec.timezone):
        diffs.append(FieldDiff("timezone", live.timezone, want.spec.timezone))
    for name, value in view["settings"].items():
        if live.settings.get(name) != value:
            diffs.append(FieldDiff(f"settings.{name}", live.settings.get(name), value))
    if want.spec.password is not None and live.password != want.spec.password:
        diffs.append(passcode_diff())
    detail = ""
    if not _ignored("schedule", ignored):
        schedule, detail = _schedule_diff(want, live)
        if schedule is not None:
            diffs.append(schedule)
    return sorted((d for d in diffs if not _ignored(d.path, ignored)), key=lambda d: d.path), detail


def live_value(live: LiveMeeting, path: str) -> Any:
    """A managed field's value in a live view, by diff path."""
    if path.startswith("settings."):
        return live.settings.get(path[len("settings."):])
    return getattr(live, path, None)


def _schedule_diff(want: DesiredMeeting, live: LiveMeeting) -> tuple[FieldDiff | None, str]:
    wanted, have = want.upcoming, live.upcoming(want.now)
    if want.same_schedule(have):
        return None, ""
    tz = wanted[0].tzinfo if wanted else None

    def stamp(moment: datetime) -> str:
        return (moment.astimezone(tz) if tz else moment).strftime("%Y-%m-%d %H:%M")

    missing = sorted(set(wanted) - set(have))
    extra = sorted(set(have) - set(wanted))
    parts = []
    if missing:
        parts.append("missing " + _dates(list(map(stamp, missing))))
    if extra:
        parts.append("extra " + _dates(list(map(stamp, extra))))
    return (FieldDiff("schedule", _span(list(map(stamp, sorted(have)))), _span(list(map(stamp, wanted)))),
            "Zoom's occurrences differ: " + "; ".join(parts))


def _span(stamps: list[str]) -> str:
    if not stamps:
        return "no upcoming occurrences"
    return f"{len(stamps)} occurrences, {stamps[0]} → {stamps[-1]}" if len(stamps) > 1 else f"1 occurrence, {stamps[0]}"


def _dates(stamps: list[str], limit: int = 6) -> str:
    shown = ", ".join(stamps[:limit])
    return shown + (f" and {len(stamps) - limit} more" if len(stamps) > limit else "")


def kept_by_zoom(diffs: list[FieldDiff], kept: dict[str, Any]) -> tuple[list[FieldDiff], list[FieldDiff]]:
    """Split live diffs into (still to send, kept by Zoom): a diff is kept when Zoom was last sent this very
    value and answered with this very value (recorded in state by apply)."""
    left, held = [], []
    for diff in diffs:
        record = kept.get(diff.path) if isinstance(kept, dict) else None
        if isinstance(record, dict) and record.get("sent") == diff.after and record.get("kept") == diff.before:
            held.append(diff)
        else:
            left.append(diff)
    return left, held


def kept_note(key: str, diff: FieldDiff) -> str:
    return (f"{key}: Zoom keeps {diff.path} = {_shown(diff.before)} (sent {_shown(diff.after)}); "
            "not proposed again until the meetings file changes it")


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f'"{value}"'


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
        change = _plan_desired(key, DesiredMeeting(spec, now), state, live, claimed)
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
        changes.append(Change(key, "delete", reason, managed.host_email, managed.topic, managed.meeting_id,
                              reason_code="removed_from_file_gone" if gone else "removed_from_file"))

    for key, pending in state.pending.items():
        if key in desired.meetings or key in state.meetings or not live.refreshed or (
                selected is not None and key not in selected):
            continue
        # A create was interrupted, then the meeting was removed from the file: delete what the create made.
        match = find_match(pending.fingerprint, live.candidates.get(key, []), claimed,
                           created_after=pending.started_at)
        if match is not None:
            claimed.add(match.meeting_id)
            changes.append(Change(key, "delete", "removed from the meetings file while its create was "
                                  "interrupted: found it in Zoom", pending.host_email, pending.topic,
                                  match.meeting_id, reason_code="pending_removed_found"))
        else:
            changes.append(Change(key, "delete", "removed from the meetings file; its interrupted create never "
                                  "reached Zoom (state only)", pending.host_email, pending.topic,
                                  reason_code="pending_removed_forgotten"))

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


def _plan_desired(key: str, want: DesiredMeeting, state: State, live: LiveSnapshot,
                  claimed: set[int]) -> Change:
    spec = want.spec
    managed = state.meetings.get(key)

    def change(action: Action, code: str, reason: str, meeting_id: int | None = None,
               diffs: list[FieldDiff] | None = None) -> Change:
        payload = want.body if action in ("create", "update", "replace") or (action == "adopt" and diffs) else None
        return Change(key, action, reason, spec.host_email, spec.topic, meeting_id, payload, diffs or [],
                      reason_code=code)

    def state_only(code: str, reason: str, kept: list[FieldDiff]) -> Change:
        assert managed is not None
        return Change(key, "update", reason, spec.host_email, spec.topic, managed.meeting_id,
                      reason_code=code, kept=kept)

    if managed is not None:
        if managed.host_email.lower() != spec.host_email.lower():
            return change("replace", "host_changed", f"host changed from {managed.host_email} to "
                          f"{spec.host_email} (Zoom cannot move a meeting to another host)", managed.meeting_id)
        if live.refreshed and managed.meeting_id in live.missing:
            return change("create", "deleted_in_zoom",
                          f"deleted in Zoom (meeting {managed.meeting_id} no longer exists)")
        last_known = comparable(managed.managed, want.ignored)
        compare_want = comparable(want.view, want.ignored)
        in_file = field_diffs(last_known, compare_want)
        kept: list[FieldDiff] = []
        detail = ""
        if live.refreshed and managed.meeting_id in live.meetings:
            diffs, detail = live_diffs(want, live.meetings[managed.meeting_id])
            diffs, kept = kept_by_zoom(diffs, managed.managed.get("kept") or {})
            spelled = [d for d in in_file if _group(d.path) == "schedule"]
            if spelled and any(d.path == "schedule" for d in diffs):
                # The file changed the schedule: its own fields say how better than a span of dates.
                diffs = sorted([d for d in diffs if d.path != "schedule"] + spelled, key=lambda d: d.path)
            from_zoom = True
        else:
            diffs, from_zoom = in_file, False
        if not diffs:
            if from_zoom and in_file:
                # Zoom already matches: an earlier apply stopped between its Zoom call and its state save.
                return state_only("state_only", "Zoom already matches the meetings file; the state records older "
                                  "values (state only)", kept)
            if managed.managed.get("prevent_delete", False) != spec.prevent_delete:
                # Only zoomstate's own flag changed: nothing to send, but state must learn it.
                return state_only("prevent_delete_changed", "prevent_delete changed (state only)", kept)
            unchanged = Change(key, "unchanged", "", spec.host_email, spec.topic, managed.meeting_id,
                               reason_code="kept_by_zoom" if kept else "in_sync", kept=kept)
            if kept:
                unchanged.reason = "Zoom keeps other values for " + ", ".join(d.path for d in kept)
            return unchanged
        if not from_zoom:
            code, reason = "changed_in_file", "changed in the meetings file"
        elif not in_file:
            code, reason = "drift", "changed in Zoom (drift): the meetings file wins"
        elif {_group(d.path) for d in diffs} <= {_group(d.path) for d in in_file}:
            code, reason = "changed_in_file", "changed in the meetings file"
        else:
            code, reason = "changed_in_file_and_zoom", "changed in the meetings file and in Zoom"
        if detail:
            reason += f"; {detail}"
        result = change("update", code, reason, managed.meeting_id, diffs)
        result.kept = kept
        return result

    # Not managed yet: recover an interrupted create, adopt a matching meeting, or create.
    pending = state.pending.get(key)
    candidates = live.candidates.get(key, [])
    match = find_match(want, candidates, claimed, created_after=pending.started_at if pending else None) if (
        candidates or pending) else None  # nothing to match: the usual case offline, and for new meetings
    if match is not None:
        claimed.add(match.meeting_id)
        diffs, _ = live_diffs(want, match)
        if pending:
            return change("adopt", "recover_pending", "recovering an interrupted create: found it in Zoom",
                          match.meeting_id, diffs)
        return change("adopt", "adopt_match", "an existing Zoom meeting of this host matches (same topic, time "
                      "and recurrence)", match.meeting_id, diffs)
    if pending is not None:
        return change("create", "retry_pending", "the previous create did not reach Zoom")
    return change("create", "new", "new")


def find_match(want: DesiredMeeting | dict[str, Any], candidates: list[LiveMeeting], claimed: set[int],
               created_after: str | None = None) -> LiveMeeting | None:
    """The oldest unclaimed live meeting that is the wanted one: for a desired meeting, the same topic, zone
    and upcoming occurrences; for a pending create's fingerprint, the same topic, time, zone and rule.

    ``created_after`` (a pending create's start) excludes older meetings, with slack for clock skew.
    """
    earliest = parse_time(created_after) if created_after else None
    if earliest is not None:
        earliest -= CLOCK_SLACK
    if isinstance(want, DesiredMeeting):
        def same(live: LiveMeeting) -> bool:
            return (live.topic == want.spec.topic and same_zone(live.timezone, want.spec.timezone)
                    and want.same_schedule(live.upcoming(want.now)))
    else:
        wanted_identity = identity(want)

        def same(live: LiveMeeting) -> bool:
            return live_identity(live) == wanted_identity
    matches = [
        live for live in candidates
        if live.meeting_id not in claimed
        and not (earliest is not None and live.created_at is not None and live.created_at < earliest)
        and same(live)
    ]
    matches.sort(key=lambda m: (m.created_at or datetime.min.replace(tzinfo=UTC), m.meeting_id))
    return matches[0] if matches else None
