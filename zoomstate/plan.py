"""The plan: what apply would change, computed by a pure diff of Desired x State x Live.

The planner never calls Zoom. A Plan serialises to a plan file and back, knows its own summary and
checks its own safety threshold (deletes and replaces), octoDNS style.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from zoomstate import calendar
from zoomstate.model import DesiredConfig, LiveSnapshot, MeetingSpec
from zoomstate.state import PASSCODE_DIGEST_FIELD, State, seal_view_passcode
from zoomstate.zoombody import (
    MEETING_TYPE_RECURRING_FIXED,
    DesiredMeeting,
    LiveMeeting,
    OccurrenceChange,
    identity,
    live_identity,
    managed_view,
    occurrence_changes,
    parse_time,
    same_zone,
    zone,
)

Action = Literal["create", "adopt", "update", "replace", "delete", "unchanged"]
ACTIONS: tuple[Action, ...] = ("create", "adopt", "update", "replace", "delete", "unchanged")
DESTRUCTIVE: frozenset[str] = frozenset({"delete", "replace"})
PLAN_FORMAT = "zoomstate-plan"
PLAN_VERSION = 1
# How much of the agenda Zoom's meeting list carries.
LIST_AGENDA_CHARS = 250
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
    "moved": "the key was renamed (moved_from): the state record moves to the new key, the meeting stays",
    "removed_from_file": "managed, but no longer in the meetings file",
    "removed_from_file_gone": "no longer in the meetings file, and already gone in Zoom",
    "pending_removed_found": "removed from the file while its create was interrupted; its meeting is in Zoom",
    "pending_removed_forgotten": "removed from the file while its create was interrupted; it never reached Zoom",
    "duplicate": "an unmanaged meeting of the host with the topic and schedule of a managed one (apply "
                 "--delete-duplicates)",
    "occurrences_changed_in_file": "skip_dates or overrides in the meetings file are not yet in Zoom",
    "occurrence_drift": "an occurrence was moved in Zoom; the meetings file wins",
    "rolling_extend": "a rolling series: Zoom holds the next 50 occurrences, and the end moves forward",
}
# Plan keys of duplicate deletes: not meeting keys of the file (a duplicate is no managed meeting).
DUPLICATE_KEY_PREFIX = "duplicate-"


class PlanError(Exception):
    """The plan cannot be made or used (unknown target, stale plan file, blocked delete)."""


class StalePlanError(PlanError):
    """A saved plan no longer equals what planning now gives: carrying it out could do the wrong thing."""


class UnsafePlanError(PlanError):
    """The plan deletes or replaces more than the safety rules allow without --force."""


class PlanFileError(PlanError):
    """A plan file that is not one, or is damaged (wrong shape, unknown action, absurd numbers)."""


# A passcode is never shown: its diff says only that it changed.
HIDDEN = "********"
PASSCODE_CHANGED = "passcode changed"
# State-record keys that are zoomstate's own, not part of the managed view compared with Zoom.
# ("occurrences" records the skips and overrides applied: compared occurrence by occurrence, not as a field.)
OWN_KEYS = frozenset({"prevent_delete", "kept", "occurrences"})
SCHEDULE_KEYS = ("local_time", "recurrence", "end")
ROLLING_EXTEND = "extend rolling series"


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
    # Single-occurrence calls after the series call (if any): cancels and moves.
    occurrences: list[OccurrenceChange] = field(default_factory=list)
    # The key the state records this meeting under now, when the meetings file renamed it (moved_from).
    moved_from: str = ""

    @property
    def destructive(self) -> bool:
        if self.action == "delete" and self.meeting_id is None:
            return False  # forgets a pending create that never reached Zoom: nothing is deleted
        return self.action in DESTRUCTIVE

    @property
    def writes(self) -> int:
        """Create/update calls this change costs against the host's daily limit."""
        # An occurrence PATCH counts; an occurrence DELETE draws from the account's Light quota instead.
        moves = sum(1 for o in self.occurrences if o.op == "move")
        if self.action == "update" and self.payload is None:
            return moves  # nothing but occurrence calls (or the state only) is sent
        if self.action in ("create", "update", "replace"):
            return 1 + moves
        if self.action == "adopt" and self.diffs:
            return 1 + moves
        return moves

    def to_json(self, passcode_key: bytes | None = None) -> dict[str, Any]:
        """The change as plan files and JSON output show it: a passcode only as a keyed digest."""
        data = asdict(self)
        if self.payload is not None and "password" in self.payload:
            data["payload"] = {**self.payload, "password": seal_passcode(self.payload["password"], passcode_key)}
        data["diffs"] = [_sealed_diff(d, passcode_key).to_json() for d in self.diffs]
        data["kept"] = [_sealed_diff(d, passcode_key).to_json() for d in self.kept]
        data["destructive"] = self.destructive
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        """A change from a plan file; raises PlanFileError naming the field when its shape is wrong."""
        return _change_from_json(data, "change")

    def comparable(self, passcode_key: bytes | None) -> dict[str, Any]:
        """What apply would do, in a form that stays equal when nothing but the clock moved."""
        form: dict[str, Any] = {"action": self.action, "meeting_id": self.meeting_id, "host_email": self.host_email}
        if self.moved_from:
            form["moved_from"] = self.moved_from
        if self.payload is not None:
            form["body"] = _clock_free_body(self.payload, passcode_key)
            # The series' first and last start do not move with the clock (the body's next start does).
            form["series"] = {"first": self.preview.get("first"), "last": self.preview.get("last")}
        if self.occurrences:
            form["occurrences"] = [asdict(o) for o in self.occurrences]
        return form


PASSCODE_DIGEST = "hmac-sha256"


def seal_passcode(value: Any, key: bytes | None) -> Any:
    """A passcode as a plan file may hold it: a keyed digest, never the passcode.

    Without a key (no Zoom credentials when the plan was made) the digest is null, and a saved plan with a
    passcode then cannot be checked: apply refuses it as stale.
    """
    if isinstance(value, dict) or value is None:
        return value  # already sealed (read from a plan file), or absent
    if key is None:
        return {PASSCODE_DIGEST: None}
    return {PASSCODE_DIGEST: hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()}


def passcode_key_from_secret(secret: str) -> bytes:
    """The key for passcode digests in plan files, derived from the Zoom client secret (never stored)."""
    return hmac.new(secret.encode("utf-8"), b"zoomstate plan file passcode digest", hashlib.sha256).digest()


def _sealed_diff(diff: FieldDiff, key: bytes | None) -> FieldDiff:
    if diff.path.split(".")[0] != "password" or diff.after == PASSCODE_CHANGED:
        return diff  # not a passcode, or one the diff already hides
    return FieldDiff(diff.path, seal_passcode(diff.before, key), seal_passcode(diff.after, key))


def _clock_free_body(body: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    form = dict(body)
    if isinstance(form.get("start_time"), str):
        # The next future occurrence: keep the time of day, the date moves as occurrences pass.
        form["start_time"] = form["start_time"].partition("T")[2]
    recurrence = form.get("recurrence")
    if isinstance(recurrence, dict) and "end_times" in recurrence:
        # Counts upcoming occurrences; the series' last start (compared beside the body) pins the end.
        form["recurrence"] = {k: v for k, v in recurrence.items() if k != "end_times"}
    if "password" in form:
        sealed = seal_passcode(form["password"], key)
        form["password"] = sealed.get(PASSCODE_DIGEST) if isinstance(sealed, dict) else sealed
    return form


def _differing_paths(before: Any, after: Any, prefix: str = "", depth: int = 2) -> list[str]:
    """Dotted paths (two levels deep at most) where two JSON values differ."""
    if before == after:
        return []
    if depth == 0 or not isinstance(before, dict) or not isinstance(after, dict):
        return [prefix or "(whole value)"]
    paths: list[str] = []
    for name in sorted(set(before) | set(after), key=str):
        paths += _differing_paths(before.get(name), after.get(name), f"{prefix}{name}" if not prefix else
                                  f"{prefix}.{name}", depth - 1)
    return paths


@dataclass(frozen=True)
class Duplicate:
    """An unmanaged Zoom meeting of a host with the topic and series of one of zoomstate's meetings (a second
    run of the seed script, or a copy made by hand). Listed by every plan; deleted only on request."""

    key: str  # the meeting it duplicates
    meeting_id: int
    host_email: str
    topic: str
    of_meeting_id: int | None  # the meeting kept as ``key``
    created_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def change_key(self) -> str:
        return f"{DUPLICATE_KEY_PREFIX}{self.meeting_id}"


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
    shallow: bool = False  # refreshed from Zoom's meeting lists only (plan --refresh=shallow); never saved
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # information only (e.g. DST changes)
    errors: list[str] = field(default_factory=list)
    managed_count: int = 0  # meetings in state when planned, for the safety threshold
    targets: list[str] = field(default_factory=list)  # the --target keys it was limited to (empty: all)
    duplicates: list[Duplicate] = field(default_factory=list)
    delete_duplicates: bool = False  # planned with --delete-duplicates: the duplicates are delete changes
    # Keys the digests of passcodes in the plan file (see seal_passcode); never written anywhere.
    passcode_key: bytes | None = field(default=None, repr=False, compare=False)

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
        if destructive == 0:
            return None
        of_managed = sum(1 for c in self.destructive_changes if c.reason_code != "duplicate")
        if self.managed_count >= 2 and of_managed >= self.managed_count:
            # Whatever the count: two meetings files pointed at one state would delete each other's meetings.
            return (f"every managed meeting ({self.managed_count}) would be deleted or replaced: is this the "
                    "right meetings file and --state? Check the plan, then run apply with --force if this is "
                    "intended")
        if self.managed_count < SAFETY_MIN_MANAGED:
            return None
        share = destructive / self.managed_count
        if share > SAFETY_MAX_SHARE:
            return (f"{destructive} of {self.managed_count} managed meetings would be deleted or replaced "
                    f"({share:.0%}, more than the {SAFETY_MAX_SHARE:.0%} safety threshold); "
                    "check the plan, then run apply with --force if this is intended")
        return None

    def raise_if_unsafe(self, *, force: bool = False) -> None:
        """Refuse a plan with errors (PlanError), or past the safety rules without ``force`` (UnsafePlanError)."""
        if self.errors:
            raise PlanError("the plan has errors, so nothing was changed: " + "; ".join(self.errors))
        problem = self.safety_problem()
        if problem and not force:
            raise UnsafePlanError(f"refusing to apply: {problem}. Nothing was changed")

    def raise_if_stale(self, current: Plan) -> None:
        """Refuse this (saved) plan unless ``current``, planned now from the same inputs, makes the same changes.

        Terraform's stale-plan rule, plus the changes themselves: a plan file is hand-editable, so nothing in
        it is carried out unless planning again gives exactly it.
        """
        problems = []
        if self.desired_sha256 != current.desired_sha256:
            problems.append("the meetings file changed since the plan was made")
        if self.lineage != current.lineage:
            problems.append("the state file was created since the plan was made" if not self.lineage else
                            "the state file is a different one (lineage differs)")
        elif self.serial != current.serial:
            problems.append(f"the state changed since the plan was made (serial {self.serial} -> {current.serial})")
        if self.account_id and current.account_id and self.account_id != current.account_id:
            problems.append("the plan was made for another Zoom account")
        if sorted(self.targets) != sorted(current.targets):
            problems.append("the plan was made for other --target keys")
        if self.delete_duplicates != current.delete_duplicates:
            problems.append("the plan was made " + ("with" if self.delete_duplicates else "without")
                            + " --delete-duplicates")
        problems += self._change_differences(current)
        if problems:
            shown = problems[:MAX_STALE_PROBLEMS]
            more = len(problems) - len(shown)
            raise StalePlanError("the saved plan is stale: " + "; ".join(shown) + (f"; and {more} more" if more else "")
                                 + ". Nothing was changed: plan again (`zoomstate plan --out FILE`) and apply the "
                                 "new plan")

    def _change_differences(self, current: Plan) -> list[str]:
        saved = {c.key: c.comparable(None) for c in self.pending_changes}
        now = {c.key: c.comparable(current.passcode_key) for c in current.pending_changes}
        problems = []
        for key in sorted(set(saved) | set(now)):
            if key not in now:
                problems.append(f"{key}: the plan says {saved[key]['action']}, but planning now gives no change")
            elif key not in saved:
                problems.append(f"{key}: planning now gives {now[key]['action']}, which the plan does not have")
            elif saved[key] != now[key]:
                was, is_ = saved[key], now[key]
                for part in ("action", "meeting_id", "host_email", "moved_from"):
                    if was.get(part) != is_.get(part):
                        problems.append(f"{key}: {part.replace('_', ' ')} is {was.get(part)!r} in the plan, "
                                        f"{is_.get(part)!r} now")
                if was["action"] == is_["action"]:
                    paths = _differing_paths({"body": was.get("body"), "series": was.get("series")},
                                             {"body": is_.get("body"), "series": is_.get("series")}, depth=3)
                    if paths:
                        problems.append(f"{key}: the meeting differs from the plan at " + ", ".join(paths)
                                        + (" (a passcode made without Zoom credentials cannot be checked)" if any(
                                            p.startswith("body.password") for p in paths) and _unkeyed(was)
                                           else ""))
        return problems

    def outline(self) -> tuple[Any, ...]:
        """What decides whether and how apply may run, cheap to take: a copy to tell whether a plan was edited."""
        return (tuple(self.errors), self.managed_count, tuple(self.targets), self.lineage, self.serial,
                self.desired_sha256, tuple((c.key, c.action, c.meeting_id, c.host_email, c.payload is None)
                                           for c in self.changes))

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
            "targets": self.targets,
            "summary": self.summary,
            "warnings": self.warnings,
            "notes": self.notes,
            "errors": self.errors,
            "changes": [c.to_json(self.passcode_key) for c in self.changes],
            "duplicates": [d.to_json() for d in self.duplicates],
            "delete_duplicates": self.delete_duplicates,
        } | ({"refresh": "shallow"} if self.shallow else {})

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> Plan:
        """A plan read from a plan file. Its shape and every value's type are checked (PlanFileError);
        its changes are trusted for nothing: apply carries it out only after raise_if_stale."""
        if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
            raise PlanFileError("this is not a zoomstate plan file: make one with `zoomstate plan --out FILE`")
        if data.get("version") != PLAN_VERSION or isinstance(data.get("version"), bool):
            raise PlanFileError(f"plan file version {_shown(data.get('version'))} is not supported: plan again")
        desired = _field(data, "desired", dict, "plan")
        state = _field(data, "state", dict, "plan")
        changes = _field(data, "changes", list, "plan")
        parsed = [_change_from_json(c, f"changes[{i}]") for i, c in enumerate(changes)]
        seen: set[str] = set()
        for i, change in enumerate(parsed):
            if change.key in seen:
                raise _damaged(f"changes[{i}].key", f"{change.key!r} appears twice")
            seen.add(change.key)
        return cls(
            changes=parsed,
            desired_path=_field(desired, "path", str, "desired"),
            desired_sha256=_field(desired, "sha256", str, "desired"),
            lineage=_field(state, "lineage", str, "state"),
            serial=_count(state, "serial", "state"),
            managed_count=_count(state, "managed", "state", default=0),
            account_id=_field(data, "account_id", str, "plan", default=None),
            created_at=_field(data, "created_at", str, "plan", default=""),
            refreshed=_field(data, "refreshed", bool, "plan", default=True),
            warnings=_strings(data, "warnings", "plan"),
            notes=_strings(data, "notes", "plan"),
            errors=_strings(data, "errors", "plan"),
            targets=_strings(data, "targets", "plan"),
            duplicates=[_duplicate_from_json(d, f"duplicates[{i}]")
                        for i, d in enumerate(_field(data, "duplicates", list, "plan", default=[]))],
            delete_duplicates=_field(data, "delete_duplicates", bool, "plan", default=False),
        )


MAX_STALE_PROBLEMS = 10
# Larger than any Zoom meeting id or state serial, and exact in a JSON double.
MAX_PLAN_NUMBER = 2**53
_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*")
_MISSING = object()


def _unkeyed(comparable: dict[str, Any]) -> bool:
    body = comparable.get("body") or {}
    return "password" in body and body["password"] is None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _damaged(where: str, problem: str) -> PlanFileError:
    return PlanFileError(f"the plan file is damaged: {where} {problem}: make a new one with "
                         "`zoomstate plan --out FILE`")


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str,
           default: Any = _MISSING) -> Any:
    value = data.get(name, _MISSING)
    if value is _MISSING or (value is None and default is None):
        if default is _MISSING:
            raise _damaged(f"{where}.{name}", "is missing")
        return default
    # bool is an int in Python: a boolean is never a number here, nor a number a boolean.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise _damaged(f"{where}.{name}", f"must be {_JSON_NAMES.get(names, names)}, not {_shown(value)}")
    return value


_JSON_NAMES = {"str": "text", "int": "an integer", "bool": "true or false", "dict": "an object", "list": "a list"}


def _count(data: dict[str, Any], name: str, where: str, default: Any = _MISSING, minimum: int = 0) -> int:
    value = _field(data, name, int, where, default)
    if not minimum <= value <= MAX_PLAN_NUMBER:
        raise _damaged(f"{where}.{name}", f"must be between {minimum} and {MAX_PLAN_NUMBER}, not {_shown(value)}")
    return value


def _strings(data: dict[str, Any], name: str, where: str) -> list[str]:
    values = _field(data, name, list, where, default=[])
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise _damaged(f"{where}.{name}[{i}]", f"must be text, not {_shown(value)}")
    return list(values)


def _key_field(data: dict[str, Any], name: str, where: str, default: Any = _MISSING) -> str:
    """A field that holds a meeting key (or, when absent and allowed, ``default``)."""
    key = _field(data, name, str, where, default)
    if key != default and not _KEY.fullmatch(key):
        raise _damaged(f"{where}.{name}", f"is not a meeting key: {_shown(key)}")
    return key


def _change_from_json(data: Any, where: str) -> Change:
    if not isinstance(data, dict):
        raise _damaged(where, f"must be an object, not {_shown(data)}")
    key = _key_field(data, "key", where)
    action = _field(data, "action", str, where)
    if action not in ACTIONS:
        raise _damaged(f"{where}.action", f"is not one of {', '.join(ACTIONS)}: {_shown(action)}")
    meeting_id = None
    if data.get("meeting_id") is not None:
        meeting_id = _count(data, "meeting_id", where, minimum=1)
    diffs = _diffs(data, "diffs", where)
    return Change(
        key=key,
        action=action,
        reason=_field(data, "reason", str, where, default=""),
        host_email=_field(data, "host_email", str, where, default=""),
        topic=_field(data, "topic", str, where, default=""),
        meeting_id=meeting_id,
        payload=_field(data, "payload", dict, where, default=None),
        diffs=diffs,
        schedule=_field(data, "schedule", str, where, default=""),
        preview=dict(_field(data, "preview", dict, where, default=None) or {}),
        reason_code=_field(data, "reason_code", str, where, default=""),
        kept=_diffs(data, "kept", where),
        occurrences=_occurrences(data, where),
        moved_from=_key_field(data, "moved_from", where, default=""),
    )


def _duplicate_from_json(data: Any, where: str) -> Duplicate:
    if not isinstance(data, dict):
        raise _damaged(where, f"must be an object, not {_shown(data)}")
    key = _key_field(data, "key", where)
    of = _count(data, "of_meeting_id", where, minimum=1) if data.get("of_meeting_id") is not None else None
    return Duplicate(key, _count(data, "meeting_id", where, minimum=1), _field(data, "host_email", str, where),
                     _field(data, "topic", str, where, default=""), of,
                     _field(data, "created_at", str, where, default=""))


_OCCURRENCE_FIELDS = {"op": str, "date": str, "occurrence_id": str, "why": str, "start_time": (str, type(None)),
                      "duration": (int, type(None)), "agenda": (str, type(None)), "notify": bool, "local_time": str}


def _occurrences(data: dict[str, Any], where: str) -> list[OccurrenceChange]:
    found = []
    for i, item in enumerate(_field(data, "occurrences", list, where, default=[])):
        here = f"{where}.occurrences[{i}]"
        if not isinstance(item, dict):
            raise _damaged(here, f"must be an object, not {_shown(item)}")
        values = {}
        for name, kind in _OCCURRENCE_FIELDS.items():
            value = item.get(name)
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise _damaged(f"{here}.{name}", f"has the wrong type: {_shown(value)}")
            values[name] = value
        if values["op"] not in ("cancel", "move") or not values["occurrence_id"].isdigit():
            raise _damaged(here, f"is not an occurrence call: {_shown(item)}")
        found.append(OccurrenceChange(**values))
    return found


def _diffs(data: dict[str, Any], name: str, where: str) -> list[FieldDiff]:
    diffs = []
    for i, diff in enumerate(_field(data, name, list, where, default=[])):
        if not isinstance(diff, dict):
            raise _damaged(f"{where}.{name}[{i}]", f"must be an object, not {_shown(diff)}")
        diffs.append(FieldDiff(_field(diff, "path", str, f"{where}.{name}[{i}]"), diff.get("before"),
                               diff.get("after")))
    return diffs


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
            if path in ("password", PASSCODE_DIGEST_FIELD):
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
            if path == "password":
                out.pop(PASSCODE_DIGEST_FIELD, None)
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


def shallow_diffs(want: DesiredMeeting, item: LiveMeeting, *, agenda_listed: bool = True) -> list[FieldDiff]:
    """Differences a list item can show (``plan --refresh=shallow``): topic, duration, timezone (by the zone
    it names), type, the agenda's first 250 characters, and the next occurrence's start. Settings, the rule
    and its end, the passcode and single occurrences are not in the item (the plan says so)."""
    view = want.view
    diffs: list[FieldDiff] = []
    for name in ("topic", "duration"):
        if getattr(item, name) != view.get(name):
            diffs.append(FieldDiff(name, getattr(item, name), view.get(name)))
    if not same_zone(item.timezone, want.spec.timezone):
        diffs.append(FieldDiff("timezone", item.timezone, want.spec.timezone))
    if agenda_listed and item.agenda != want.spec.agenda[:LIST_AGENDA_CHARS]:
        diffs.append(FieldDiff("agenda", item.agenda, want.spec.agenda))
    if item.type != MEETING_TYPE_RECURRING_FIXED:
        diffs.append(FieldDiff("type", item.type, MEETING_TYPE_RECURRING_FIXED))
    wanted = _next_start(want)
    if wanted is not None and item.start is not None and item.start != wanted and not (
            item.start in want.upcoming or item.start in want.upcoming_as_zoom_anchors):
        # A start that is one of the series' own is the next one cancelled in Zoom: a single occurrence,
        # which the list does not show.
        tz = zone(want.spec.timezone)
        diffs.append(FieldDiff("schedule", "next " + item.start.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                               "next " + wanted.astimezone(tz).strftime("%Y-%m-%d %H:%M")))
    return sorted((d for d in diffs if not _ignored(d.path, want.ignored)), key=lambda d: d.path)


def _with_unseen_file_changes(diffs: list[FieldDiff], in_file: list[FieldDiff], want: DesiredMeeting,
                              agenda_unlisted: bool) -> list[FieldDiff]:
    """A shallow plan's diffs plus the file's own changes to what a list item does not show in full (settings,
    rule, end, passcode...): those are still sent, since the list cannot say Zoom already has them."""
    shown = {"topic", "duration", "timezone"}
    if not agenda_unlisted and len(want.spec.agenda) <= LIST_AGENDA_CHARS:
        shown.add("agenda")
    have = {d.path for d in diffs}
    return sorted(diffs + [d for d in in_file if d.path not in shown and d.path not in have], key=lambda d: d.path)


def _next_start(want: DesiredMeeting) -> datetime | None:
    """The desired series' next held occurrence (skips left out, an override's start applied)."""
    spec = want.spec
    starts = sorted(want.unskipped(want.upcoming))
    if not starts:
        return None
    first = starts[0]
    override = next((o for o in spec.overrides if o.date == first.date() and o.start_time is not None), None)
    if override is not None and override.start_time is not None:
        first = first.replace(hour=override.start_time.hour, minute=override.start_time.minute, second=0)
    return first


def live_value(live: LiveMeeting, path: str) -> Any:
    """A managed field's value in a live view, by diff path."""
    if path.startswith("settings."):
        return live.settings.get(path[len("settings."):])
    return getattr(live, path, None)


def _schedule_diff(want: DesiredMeeting, live: LiveMeeting) -> tuple[FieldDiff | None, str]:
    have = live.series_upcoming(want.now)
    if want.same_schedule(have):
        return None, ""
    wanted, have = sorted(want.unskipped(want.upcoming)), sorted(want.unskipped(have))  # UTC instants
    tz = zone(want.spec.timezone)

    def stamp(moment: datetime) -> str:
        return (moment.astimezone(tz) if tz else moment).strftime("%Y-%m-%d %H:%M")

    missing = sorted(set(wanted) - set(have))
    extra = sorted(set(have) - set(wanted))
    if want.spec.rolling and not extra and have and missing and missing[0] > have[-1]:
        # Zoom's window ends early: only the end moves (one PATCH; the meeting id and links stay).
        return (FieldDiff("schedule", _span(list(map(stamp, have))), _span(list(map(stamp, wanted)))),
                f"{ROLLING_EXTEND} to {wanted[-1].astimezone(tz).date().isoformat()}")
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
    return (f"{key}: Zoom keeps {diff.path} = {_json_text(diff.before)} (sent {_json_text(diff.after)}); "
            "not proposed again until the meetings file changes it")


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _preview(spec: MeetingSpec, now: datetime) -> dict[str, Any]:
    p = calendar.preview(spec, now)
    return {
        "registration": registration_text(spec),
        "count": p.upcoming,
        "past": p.past,
        "first": calendar.local_stamp(p.first, offset=True) if p.first else None,
        "next": calendar.local_stamp(p.next, offset=True) if p.next else None,
        "last": calendar.local_stamp(p.last, offset=True) if p.last else None,
        **_rolling_preview(spec, now, p.upcoming),
    }


def _rolling_preview(spec: MeetingSpec, now: datetime, upcoming: int) -> dict[str, Any]:
    """For a rolling series: how far Zoom holds it, and after which meeting an apply next extends it."""
    window = calendar.held(spec, now)
    if not spec.rolling or not window:
        return {}
    more = calendar.preview(spec, now).last
    extends = more is not None and more > window[-1]
    return {"held_until": window[-1].date().isoformat(), "held": len(window),
            "next_extension": calendar.local_stamp(window[0], offset=True) if extends else None}


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
    delete_duplicates: bool = False,
) -> Plan:
    """Diff desired against state and live. Pure: no I/O. Duplicates of managed (and adopted) meetings are
    listed; with ``delete_duplicates`` each is a delete change as well."""
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
    occurrence_warnings: list[str] = []
    claimed: set[int] = set(state.by_meeting_id())  # live meetings already spoken for
    moves, move_errors = planned_moves(desired, state)
    errors += move_errors

    kept_as: dict[str, tuple[DesiredMeeting, int]] = {}  # key -> (desired, the meeting kept), for duplicates
    for key, spec in desired.meetings.items():
        if selected is not None and key not in selected:
            continue
        want = DesiredMeeting(spec, now)
        change = _plan_desired(key, want, state, live, claimed, moves.get(key))
        if change.meeting_id is not None and change.action not in ("create", "replace", "delete"):
            kept_as[key] = (want, change.meeting_id)
        occurrence_warnings.extend(_plan_occurrences(change, want, state, live))
        change.schedule = calendar.summary(spec, now)
        change.preview = _preview(spec, now)
        if change.action == "replace" and key in state.meetings and state.meetings[key].managed.get(
                "prevent_delete"):
            errors.append(f"{key}: the host changed, which needs the meeting deleted and created again, but "
                          "prevent_delete is set: remove prevent_delete first, or change the host back")
        changes.append(change)

    moved_away = set(moves.values())
    for key, managed in state.meetings.items():
        if key in desired.meetings or key in moved_away or (selected is not None and key not in selected):
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
                           created_after=pending.started_at, created_before=pending.latest_create)
        if match is not None:
            claimed.add(match.meeting_id)
            changes.append(Change(key, "delete", "removed from the meetings file while its create was "
                                  "interrupted: found it in Zoom", pending.host_email, pending.topic,
                                  match.meeting_id, reason_code="pending_removed_found"))
        else:
            changes.append(Change(key, "delete", "removed from the meetings file; its interrupted create never "
                                  "reached Zoom (state only)", pending.host_email, pending.topic,
                                  reason_code="pending_removed_forgotten"))

    duplicates = find_duplicates(kept_as, live, claimed) if live.refreshed else []
    if delete_duplicates:
        for dup in duplicates:
            changes.append(Change(dup.change_key, "delete", f"duplicate of {dup.key} (meeting {dup.of_meeting_id}): "
                                  "same host, topic and schedule, not managed; --delete-duplicates",
                                  dup.host_email, dup.topic, dup.meeting_id, reason_code="duplicate"))

    plan = Plan(
        changes=changes,
        duplicates=duplicates,
        delete_duplicates=delete_duplicates,
        desired_path=desired.path,
        desired_sha256=desired.sha256,
        lineage=state.lineage,
        serial=state.serial,
        account_id=state.account_id,
        created_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        refreshed=live.refreshed,
        shallow=live.shallow,
        warnings=[d.format(severity=False) for d in desired.warnings if d.severity == "warning"]
        + list(live.warnings) + occurrence_warnings,
        notes=[d.format(severity=False) for d in desired.warnings if d.severity == "note"],
        errors=errors,
        managed_count=len(state.meetings),
    )
    plan.warnings.extend(plan.host_budget_warnings())
    plan.notes.extend(move_suggestions(plan, desired, state))
    return plan


def find_duplicates(kept_as: dict[str, tuple[DesiredMeeting, int]], live: LiveSnapshot,
                    claimed: set[int]) -> list[Duplicate]:
    """Unmanaged meetings (live candidates no change claimed) of a kept meeting's host with its topic and
    series, oldest first per key; a meeting is listed once."""
    seen = set(claimed)
    found: list[Duplicate] = []
    for key, (want, kept_id) in kept_as.items():
        for other in matching(want, live.candidates.get(key, []), seen):
            seen.add(other.meeting_id)
            created = other.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if other.created_at else ""
            found.append(Duplicate(key, other.meeting_id, want.spec.host_email, other.topic, kept_id, created))
    return found


def _plan_occurrences(change: Change, want: DesiredMeeting, state: State, live: LiveSnapshot) -> list[str]:
    """Add the occurrence calls a change needs (skips, overrides, occurrences moved in Zoom); returns a warning
    per occurrence cancelled in Zoom but not in the file. An unchanged meeting with calls becomes an update."""
    if change.action == "delete":
        return []
    managed = state.meetings.get(change.key)
    found: LiveMeeting | None = None
    applied: dict[str, Any] = {}
    if change.action in ("update", "unchanged") and managed is not None:
        if live.refreshed and not live.shallow:  # a list item holds no occurrences: the state's record is used
            found = live.meetings.get(managed.meeting_id)
        applied = managed.managed.get("occurrences") or {}
        if found is None and live.refreshed and not live.shallow:
            applied = {}
    elif change.action == "adopt":
        found = next((m for m in live.candidates.get(change.key, []) if m.meeting_id == change.meeting_id), None)
    if not want.spec.skip_dates and not want.spec.overrides and found is None:
        return []  # nothing to cancel or move, and nothing in Zoom that could have moved
    ops, drift = occurrence_changes(want, found, applied)
    change.occurrences = ops
    if ops and change.action == "unchanged":
        change.action = "update"
        moved = any(o.why == "moved_in_zoom" for o in ops)
        change.reason_code = "occurrence_drift" if moved else "occurrences_changed_in_file"
        change.reason = ("an occurrence was moved in Zoom: the meetings file wins" if moved else
                         "skip_dates or overrides not yet applied in Zoom")
    return [f"{change.key}: {sentence}" for sentence in drift]


def planned_moves(desired: DesiredConfig, state: State) -> tuple[dict[str, str], list[str]]:
    """Renames the meetings file asks for ({new key: old key}) and the ones it cannot do (errors).

    A move applies while the old key is in state and the new one is not; once applied, moved_from is inert.
    """
    moves: dict[str, str] = {}
    errors: list[str] = []
    for key, spec in desired.meetings.items():
        old = spec.moved_from
        if not old or key in state.meetings:
            continue
        if old == key:
            errors.append(f"{key}: moved_from names the meeting's own key: remove moved_from")
        elif old in desired.meetings:
            errors.append(f"{key}: moved_from: {old}, but {old} is still in the meetings file: rename it, or "
                          "remove moved_from")
        elif old in moves.values():
            errors.append(f"{key}: moved_from: {old}, which another meeting also moves from: keep one")
        elif old in state.meetings:
            if state.meetings[old].host_email.lower() != spec.host_email.lower():
                errors.append(f"{key}: moved_from: {old}, but {old} has another host "
                              f"({state.meetings[old].host_email}): a move keeps the host")
            else:
                moves[key] = old
    return moves, errors


def move_suggestions(plan: Plan, desired: DesiredConfig, state: State) -> list[str]:
    """Notes for a delete and a create that look like one renamed meeting (same host and schedule)."""
    notes = []
    deleted = [c for c in plan.changes if c.action == "delete" and c.key in state.meetings]
    if not deleted:
        return notes
    for change in plan.changes:
        if change.action != "create" or change.key in state.meetings or change.key not in desired.meetings:
            continue
        view = managed_view(desired.meetings[change.key])
        for old in deleted:
            before = state.meetings[old.key]
            if before.host_email.lower() == change.host_email.lower() and all(
                    before.managed.get(name) == view.get(name) for name in (*SCHEDULE_KEYS, "timezone")):
                notes.append(f"{change.key}: deletes {old.key} and creates {change.key} with the same host and "
                             f"schedule: if it is a rename, add `moved_from: {old.key}` to {change.key} to keep "
                             f"meeting {before.meeting_id} (its join link and registrants)")
                break
    return notes


def _plan_desired(key: str, want: DesiredMeeting, state: State, live: LiveSnapshot,
                  claimed: set[int], moved_from: str | None = None) -> Change:
    change = _plan_managed_or_new(key, want, state, live, claimed, moved_from)
    if moved_from:
        change.moved_from = moved_from
        moved = f"moved from {moved_from} (state only: meeting {change.meeting_id} stays)"
        if change.action == "unchanged":
            change.action, change.reason_code, change.reason = "update", "moved", moved
        elif change.action in ("update", "replace"):
            change.reason = f"{moved}; {change.reason}" if change.reason else moved
            if change.action == "update" and change.reason_code in ("state_only", "prevent_delete_changed"):
                change.reason_code = "moved"
    return change


def _plan_managed_or_new(key: str, want: DesiredMeeting, state: State, live: LiveSnapshot,
                         claimed: set[int], moved_from: str | None) -> Change:
    spec = want.spec
    managed = state.meetings.get(key) or (state.meetings.get(moved_from) if moved_from else None)

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
            gone = ("is not in its host's list: deleted or expired" if live.shallow else "no longer exists")
            return change("create", "deleted_in_zoom", f"deleted in Zoom (meeting {managed.meeting_id} {gone})")
        last_known = comparable(managed.managed, want.ignored)
        compare_want = comparable(want.view, want.ignored)
        if "password" in compare_want:  # the state knows the passcode only by its digest
            compare_want = seal_view_passcode(compare_want, state.passcode_key or "00")
        in_file = field_diffs(last_known, compare_want)
        kept: list[FieldDiff] = []
        detail = ""
        if live.refreshed and managed.meeting_id in live.meetings:
            if live.shallow:  # a list item: only what it carries is compared
                diffs = shallow_diffs(want, live.meetings[managed.meeting_id],
                                      agenda_listed=managed.meeting_id not in live.listed_without_agenda)
            else:
                diffs, detail = live_diffs(want, live.meetings[managed.meeting_id])
            diffs, kept = kept_by_zoom(diffs, managed.managed.get("kept") or {})
            spelled = [d for d in in_file if _group(d.path) == "schedule"]
            if spelled and any(d.path == "schedule" for d in diffs):
                # The file changed the schedule: its own fields say how better than a span of dates.
                diffs = sorted([d for d in diffs if d.path != "schedule"] + spelled, key=lambda d: d.path)
            if live.shallow:
                unlisted = managed.meeting_id in live.listed_without_agenda
                diffs = _with_unseen_file_changes(diffs, in_file, want, unlisted)
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
        elif not in_file and [d.path for d in diffs] == ["schedule"] and want.same_series(
                live.meetings[managed.meeting_id].upcoming(want.now)):
            # Same weekdays, time and zone, another end: e.g. made by the seed script, whose end_date went to
            # Zoom as midnight UTC (east of UTC the last meeting is lost).
            code, reason = "drift", "the series ends otherwise in Zoom (drift): the meetings file wins"
        elif not in_file:
            code, reason = "drift", "changed in Zoom (drift): the meetings file wins"
        elif {_group(d.path) for d in diffs} <= {_group(d.path) for d in in_file}:
            code, reason = "changed_in_file", "changed in the meetings file"
        else:
            code, reason = "changed_in_file_and_zoom", "changed in the meetings file and in Zoom"
        if detail.startswith(ROLLING_EXTEND) and code == "drift":
            code, reason = "rolling_extend", detail
        elif detail:
            reason += f"; {detail}"
        result = change("update", code, reason, managed.meeting_id, diffs)
        result.kept = kept
        return result

    # Not managed yet: recover an interrupted create, adopt a matching meeting, or create.
    pending = state.pending.get(key)
    candidates = live.candidates.get(key, [])
    matches = matching(want, candidates, claimed, created_after=pending.started_at if pending else None,
                       created_before=pending.latest_create if pending else None) if (
        candidates or pending) else []  # nothing to match: the usual case offline, and for new meetings
    if matches:
        match = matches[0]
        claimed.add(match.meeting_id)
        diffs, detail = live_diffs(want, match)
        if pending:
            return change("adopt", "recover_pending", "recovering an interrupted create: found it in Zoom",
                          match.meeting_id, diffs)
        reason = ("an existing Zoom meeting of this host matches (same topic, time and recurrence)"
                  + (f"; the oldest of {len(matches)}: also found "
                     + ", ".join(str(m.meeting_id) for m in matches[1:]) + " (listed as duplicates)"
                     if len(matches) > 1 else ""))
        if diffs:
            reason += "; adopted with a PATCH for " + ", ".join(d.path for d in diffs) + (f" ({detail})" if detail
                                                                                         else "")
        return change("adopt", "adopt_match", reason, match.meeting_id, diffs)
    if pending is not None:
        return change("create", "retry_pending", "the previous create did not reach Zoom")
    return change("create", "new", "new")


def find_match(want: DesiredMeeting | dict[str, Any], candidates: list[LiveMeeting], claimed: set[int],
               created_after: str | None = None, created_before: str | None = None) -> LiveMeeting | None:
    """The oldest unclaimed live meeting that is the wanted one (see :func:`matching`)."""
    found = matching(want, candidates, claimed, created_after, created_before)
    return found[0] if found else None


def matching(want: DesiredMeeting | dict[str, Any], candidates: list[LiveMeeting], claimed: set[int],
             created_after: str | None = None, created_before: str | None = None) -> list[LiveMeeting]:
    """The unclaimed live meetings that are the wanted one, oldest first: for a desired meeting, the same
    topic, zone and series (its upcoming occurrences, the end aside: see DesiredMeeting.same_series); for a
    pending create's fingerprint, the same topic, time, zone and rule.

    ``created_after`` and ``created_before`` (a pending create's start and deadline) exclude meetings created
    outside that attempt's window, with slack for clock skew: a look-alike made by hand later is not ours.
    """
    earliest = parse_time(created_after) if created_after else None
    if earliest is not None:
        earliest -= CLOCK_SLACK
    latest = parse_time(created_before) if created_before else None
    if latest is not None:
        latest += CLOCK_SLACK
    if isinstance(want, DesiredMeeting):
        def same(live: LiveMeeting) -> bool:
            return (live.topic == want.spec.topic and same_zone(live.timezone, want.spec.timezone)
                    and want.same_series(live.series_upcoming(want.now)))
    else:
        wanted_identity = identity(want)

        def same(live: LiveMeeting) -> bool:
            return live_identity(live) == wanted_identity
    matches = [
        live for live in candidates
        if live.meeting_id not in claimed
        and not (earliest is not None and live.created_at is not None and live.created_at < earliest)
        # a recovery only takes a meeting it can show was made in time
        and not (latest is not None and (live.created_at is None or live.created_at > latest))
        and same(live)
    ]
    matches.sort(key=lambda m: (m.created_at or datetime.min.replace(tzinfo=UTC), m.meeting_id))
    return matches
