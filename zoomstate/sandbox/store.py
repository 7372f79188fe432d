"""The sandbox's Zoom account: users and meetings, Zoom's validation and defaults, and persistence.

Everything here follows Zoom's API reference and what developers report of Zoom's behaviour. The store knows
nothing about HTTP: problems are raised as :class:`ApiError` carrying Zoom's status, code and message.
Each public method takes the store's lock, so request threads can share one store.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import re
import secrets
import string
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zoomstate.sandbox import recurrence as rec
from zoomstate.sandbox.limits import DailyLimit

STORE_FORMAT = "zoomstate-sandbox-store"
STORE_VERSION = 1
PAGE_TOKEN_TTL = timedelta(minutes=15)  # Zoom's API reference
LIST_AGENDA_CHARS = 250  # Zoom's API reference
ALNUM = string.ascii_letters + string.digits


class ApiError(Exception):
    """A Zoom API error: HTTP status plus Zoom's ``{"code", "message"[, "errors"]}`` body."""

    def __init__(self, status: int, code: int, message: str, errors: list[dict] | None = None,
                 headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})

    def body(self) -> dict:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def validation_failed(errors: list[dict]) -> ApiError:
    return ApiError(400, 300, "Validation Failed.", errors)


def user_not_found(user_id: str) -> ApiError:
    return ApiError(404, 1001, f"User does not exist: {user_id}.")


def meeting_not_found(meeting_id: Any) -> ApiError:
    return ApiError(404, 3001, f"Meeting {meeting_id} is not found or has expired.")


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------- validation

_START_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_PASSWORD = re.compile(r"^[A-Za-z0-9@\-_*]*$")
_WEEKLY_DAYS = re.compile(r"^[1-7](,[1-7])*$")
REPEAT_INTERVAL_MAX = {rec.DAILY: 90, rec.WEEKLY: 12, rec.MONTHLY: 3}  # Zoom's API reference
END_TIMES_MAX = 50  # Zoom's API reference: the documented 1..50

# Zoom's API reference: settings by kind. Unknown settings are ignored, as Zoom ignores unknown fields.
BOOL_SETTINGS = frozenset({
    "host_video", "participant_video", "cn_meeting", "in_meeting", "join_before_host", "mute_upon_entry",
    "watermark", "use_pmi", "close_registration", "registrants_confirmation_email",
    "registrants_email_notification", "waiting_room", "meeting_authentication",
    "alternative_hosts_email_notification", "alternative_host_update_polls", "show_share_button",
    "allow_multiple_devices", "email_notification", "focus_mode", "private_meeting", "host_save_video_order",
    "internal_meeting", "participant_focused_meeting", "push_change_to_calendar", "enforce_login",
    "auto_start_meeting_summary", "auto_start_ai_companion_questions", "device_testing",
    "request_permission_to_unmute_participants",
})
ENUM_SETTINGS: dict[str, tuple] = {
    "jbh_time": (0, 5, 10),
    "approval_type": (0, 1, 2),
    "registration_type": (1, 2, 3),
    "audio": ("both", "telephony", "voip", "thirdParty"),
    "auto_recording": ("local", "cloud", "none"),
    "encryption_type": ("enhanced_encryption", "e2ee"),
    "calendar_type": (1, 2),
}
STRING_SETTINGS: dict[str, int | None] = {
    "alternative_hosts": None, "authentication_option": None, "authentication_domains": None,
    "contact_name": None, "contact_email": None, "audio_conference_info": 2048,
    "enforce_login_domains": None, "authentication_name": None,
}
LIST_SETTINGS = frozenset({
    "global_dial_in_countries", "meeting_invitees", "authentication_exception",
    "additional_data_center_regions", "resources", "custom_keys", "global_dial_in_numbers",
})
OBJECT_SETTINGS = frozenset({
    "breakout_room", "language_interpretation", "sign_language_interpretation",
    "approved_or_denied_countries_or_regions", "continuous_meeting_chat",
})

# What Zoom fills in for settings that were not sent (Zoom's API reference defaults; account-level ones as on a
# fresh Pro account).
DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False, "participant_video": False, "cn_meeting": False, "in_meeting": False,
    "join_before_host": False, "jbh_time": 0, "mute_upon_entry": False, "watermark": False, "use_pmi": False,
    "approval_type": 2, "registration_type": 1, "audio": "both", "auto_recording": "none",
    "enforce_login": False, "enforce_login_domains": "", "alternative_hosts": "",
    "alternative_hosts_email_notification": True, "close_registration": False, "show_share_button": False,
    "allow_multiple_devices": False, "registrants_confirmation_email": True, "waiting_room": False,
    "request_permission_to_unmute_participants": False, "registrants_email_notification": True,
    "meeting_authentication": False, "encryption_type": "enhanced_encryption",
    "approved_or_denied_countries_or_regions": {"enable": False}, "breakout_room": {"enable": False},
    "internal_meeting": False,
    "continuous_meeting_chat": {"enable": False, "auto_add_invited_external_users": False},
    "participant_focused_meeting": False, "push_change_to_calendar": False, "resources": [],
    "email_notification": True, "host_save_video_order": False, "alternative_host_update_polls": False,
    "device_testing": False, "focus_mode": False, "private_meeting": False,
    "sign_language_interpretation": {"enable": False}, "global_dial_in_countries": ["US"],
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@lru_cache(maxsize=512)
def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


class _Errors:
    """Collects Zoom's ``errors[]`` entries: every problem at once, like Zoom."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, name: str, message: str) -> None:
        self.items.append({"field": name, "message": message})

    def string(self, name: str, value: Any, max_length: int | None = None) -> bool:
        if not isinstance(value, str):
            self.add(name, "Invalid field: must be a string.")
            return False
        if max_length is not None and len(value) > max_length:
            self.add(name, f"Invalid field: at most {max_length} characters.")
            return False
        return True

    def integer(self, name: str, value: Any, low: int | None = None, high: int | None = None) -> bool:
        if not _is_int(value):
            self.add(name, "Invalid field: must be an integer.")
            return False
        if (low is not None and value < low) or (high is not None and value > high):
            self.add(name, f"Invalid field: must be between {low} and {high}.")
            return False
        return True

    def enum(self, name: str, value: Any, allowed: tuple) -> bool:
        ok = any(value == a and type(value) is type(a) for a in allowed)
        if not ok:
            self.add(name, f"Invalid field: must be one of {', '.join(map(str, allowed))}.")
        return ok

    def boolean(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            self.add(name, "Invalid field: must be true or false.")
            return False
        return True


def _validate_recurrence(rule: Any, errors: _Errors) -> None:
    if not isinstance(rule, dict):
        errors.add("recurrence", "Invalid field: must be an object.")
        return
    kind = rule.get("type")
    known_kind = False
    if kind is None:
        errors.add("recurrence.type", "Invalid field: required.")
    else:
        known_kind = errors.enum("recurrence.type", kind, (rec.DAILY, rec.WEEKLY, rec.MONTHLY))
    if "repeat_interval" in rule:
        cap = REPEAT_INTERVAL_MAX[kind] if known_kind else None
        errors.integer("recurrence.repeat_interval", rule["repeat_interval"], 1, cap)
    if "weekly_days" in rule and errors.string("recurrence.weekly_days", rule["weekly_days"]):
        if not _WEEKLY_DAYS.match(rule["weekly_days"]):
            errors.add("recurrence.weekly_days", "Invalid field: comma-separated digits 1..7 (1 = Sunday).")
    if "monthly_day" in rule:
        errors.integer("recurrence.monthly_day", rule["monthly_day"], 1, 31)
    if "monthly_week" in rule:
        errors.enum("recurrence.monthly_week", rule["monthly_week"], (-1, 1, 2, 3, 4))
    if "monthly_week_day" in rule:
        errors.enum("recurrence.monthly_week_day", rule["monthly_week_day"], (1, 2, 3, 4, 5, 6, 7))
    if kind == rec.MONTHLY:
        if ("monthly_week" in rule) != ("monthly_week_day" in rule):
            errors.add("recurrence.monthly_week", "Invalid field: needs monthly_week and monthly_week_day.")
        if "monthly_day" in rule and "monthly_week" in rule:
            errors.add("recurrence.monthly_day", "Invalid field: use monthly_day or monthly_week, not both.")
    if "end_times" in rule:
        errors.integer("recurrence.end_times", rule["end_times"], 1, END_TIMES_MAX)
    if "end_date_time" in rule and errors.string("recurrence.end_date_time", rule["end_date_time"]):
        if not _UTC_TIME.match(rule["end_date_time"]):
            errors.add("recurrence.end_date_time", "Invalid field: UTC date-time like 2027-03-31T23:59:00Z.")
    if "end_times" in rule and "end_date_time" in rule:
        errors.add("recurrence.end_date_time", "Invalid field: use end_times or end_date_time, not both.")


def _validate_settings(settings: Any, errors: _Errors) -> None:
    if not isinstance(settings, dict):
        errors.add("settings", "Invalid field: must be an object.")
        return
    for name, value in settings.items():
        where = f"settings.{name}"
        if name in BOOL_SETTINGS:
            errors.boolean(where, value)
        elif name in ENUM_SETTINGS:
            errors.enum(where, value, ENUM_SETTINGS[name])
        elif name in STRING_SETTINGS:
            errors.string(where, value, STRING_SETTINGS[name])
        elif name in LIST_SETTINGS and not isinstance(value, list):
            errors.add(where, "Invalid field: must be an array.")
        elif name in OBJECT_SETTINGS and not isinstance(value, dict):
            errors.add(where, "Invalid field: must be an object.")


def validate_body(body: Mapping[str, Any], *, update: bool = False) -> list[dict]:
    """Zoom's checks on a create (or PATCH) body: types, enums, lengths, recurrence rules. [] when valid."""
    errors = _Errors()
    if "topic" in body:
        errors.string("topic", body["topic"], 200)
    if "type" in body:
        errors.enum("type", body["type"], (1, 2, 3, 8))
    if "start_time" in body and errors.string("start_time", body["start_time"]):
        if not _START_TIME.match(body["start_time"]) or _parse_start(body["start_time"], "UTC") is None:
            errors.add("start_time", "Invalid field: yyyy-MM-ddTHH:mm:ssZ or local yyyy-MM-ddTHH:mm:ss.")
    if "duration" in body:
        errors.integer("duration", body["duration"], 0)
    if "timezone" in body and errors.string("timezone", body["timezone"]):
        if not valid_timezone(body["timezone"]):
            errors.add("timezone", "Invalid field: not a known timezone ID.")
    if "password" in body and errors.string("password", body["password"], 10):
        if not _PASSWORD.match(body["password"]):
            errors.add("password", "Invalid field: only letters, digits and @ - _ * are allowed.")
    for flag in ("pre_schedule",) if update else ("pre_schedule", "default_password"):
        if flag in body:
            errors.boolean(flag, body[flag])
    if "agenda" in body:
        errors.string("agenda", body["agenda"], 2000)
    for name in ("schedule_for", "template_id"):
        if name in body:
            errors.string(name, body[name])
    if "tracking_fields" in body:
        fields = body["tracking_fields"]
        if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("field"), str)
                                                   for f in fields):
            errors.add("tracking_fields", "Invalid field: an array of {field, value}.")
    if "recurrence" in body:
        _validate_recurrence(body["recurrence"], errors)
    if "settings" in body:
        _validate_settings(body["settings"], errors)
    return errors.items


def _parse_start(text: str, timezone: str) -> tuple[datetime, bool] | None:
    """(instant, local?) of a start_time: with Z or an offset it is an instant, without it is read in
    ``timezone`` (Zoom's API reference)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC), True
    return value.astimezone(UTC), False


def normalise_recurrence(rule: Mapping[str, Any]) -> dict:
    """The recurrence as Zoom echoes it: the sent keys, weekly_days as given, defaults filled in."""
    out = {k: rule[k] for k in ("type", "repeat_interval", "weekly_days", "monthly_day", "monthly_week",
                                "monthly_week_day", "end_times", "end_date_time") if k in rule}
    out.setdefault("repeat_interval", 1)
    if out["type"] == rec.WEEKLY:
        out.setdefault("weekly_days", "1")
    if out["type"] == rec.MONTHLY and "monthly_week" not in out:
        out.setdefault("monthly_day", 1)
    if "end_date_time" in out:
        out["end_date_time"] = utc_text(rec.parse_utc(out["end_date_time"]))
    else:
        out.setdefault("end_times", 1)
    return out


# What PATCH ?occurrence_id= may change (Zoom's API reference).
OCCURRENCE_FIELDS = frozenset({"agenda", "start_time", "duration", "settings"})
_RECURRENCE_REQUIRED = {"field": "recurrence", "message": "Invalid field: required for type 8."}


def _tracking_fields(items: list[dict]) -> list[dict]:
    return [{"field": f["field"], "value": f.get("value", ""), "visible": True} for f in items]


def deep_merge(base: dict, changes: Mapping[str, Any]) -> dict:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


# ------------------------------------------------------------------------------- Zoom-like behaviour


@dataclass
class ZoomLike:
    """Where real Zoom departs from its documentation, switchable for the account and for each host.

    - ``locked_settings``: settings an admin locked (cloud recording off, waiting room on, ...): whatever a
      create or PATCH sends, the meeting keeps these values.
    - ``inherited_settings``: settings Zoom fills from the host's defaults whatever the request says (since
      March 2026 for several settings); to a client the effect is the same as a lock.
    - ``jbh_off_with_waiting_room``: the documented rule (join_before_host forced off beside a waiting
      room); off by default, as recorded bodies show Zoom keeping both.
    - ``get_without_start_time``: type-8 GET bodies have no top-level ``start_time``.
    - ``create_without_schedule``: the create answer has no ``start_time`` and no ``duration``.
    - ``list_without_agenda`` / ``pages_without_page_count``: list items and pages as recorded in 2026.
    - ``user_read_scope``: False makes user reads answer 400 code 4711 (the app lacks the user scope).
    """

    locked_settings: dict[str, Any] = field(default_factory=dict)
    inherited_settings: dict[str, Any] = field(default_factory=dict)
    jbh_off_with_waiting_room: bool = False
    get_without_start_time: bool = False
    create_without_schedule: bool = False
    list_without_agenda: bool = False
    pages_without_page_count: bool = False
    user_read_scope: bool = True

    def imposed(self) -> dict[str, Any]:
        """The settings a meeting keeps whatever is sent."""
        return {**self.inherited_settings, **self.locked_settings}


ZOOM_LIKE_FIELDS = tuple(ZoomLike.__dataclass_fields__)


def scope_error(*scopes: str) -> ApiError:
    return ApiError(400, 4711, f"Invalid access token, does not contain scopes:[{', '.join(scopes)}].")


# ---------------------------------------------------------------------------------------- records


@dataclass
class MeetingRecord:
    """A stored meeting: the meeting object as Zoom holds it, plus what only the server knows.

    ``meeting["start_time"]`` is the series start (UTC); responses show the next occurrence instead.
    ``anchor_tz`` is the zone whose wall clock the series keeps: the meeting's timezone when the start
    was sent as local time, UTC when it was sent with ``Z`` (Zoom then ignores the timezone).
    """

    meeting: dict
    anchor_tz: str
    seq: int
    registration_token: str
    registrants: list[dict] = field(default_factory=list)
    # occurrence_id -> what an occurrence PATCH changed (start_time, duration, agenda): kept across re-derives
    moved: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"meeting": self.meeting, "anchor_tz": self.anchor_tz, "seq": self.seq,
                "registration_token": self.registration_token, "registrants": self.registrants,
                "moved": self.moved}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MeetingRecord:
        return cls(dict(data["meeting"]), str(data["anchor_tz"]), int(data["seq"]),
                   str(data["registration_token"]), list(data.get("registrants") or []),
                   dict(data.get("moved") or {}))


def _random_text(rng: random.Random, length: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _secrets_of(rng: random.Random, password: str | None) -> dict[str, str]:
    """Passcode and its derived forms (numeric for phones and room systems, encrypted for the join URL)."""
    if not password:
        password = _random_text(rng, rng.randint(6, 10))
    digits = password if password.isdigit() else _random_text(rng, max(6, len(password)), string.digits)
    return {
        "password": password,
        "h323_password": digits,
        "pstn_password": digits,
        "encrypted_password": _random_text(rng, 32, ALNUM + "._"),
    }


def current_start(meeting: Mapping[str, Any], now: datetime) -> str | None:
    """What ``start_time`` shows: for type 8 the next upcoming occurrence, or the last when all passed."""
    if meeting.get("type") != 8:
        return meeting.get("start_time")
    live = [o for o in meeting.get("occurrences", []) if o.get("status") != "deleted"]
    upcoming = [o for o in live if rec.parse_utc(o["start_time"]) >= now]
    if upcoming:
        return upcoming[0]["start_time"]
    if live:
        return live[-1]["start_time"]
    return meeting.get("start_time")


# ------------------------------------------------------------------------------------------ store


@dataclass
class _PageCursor:
    user_id: str
    list_type: str
    after_seq: int
    page_number: int
    expires_at: datetime


@dataclass
class Store:
    """Users, meetings, the id counter and the daily counters of one sandbox account."""

    account_id: str
    seed: int = 0
    path: Path | None = None
    users: dict[str, dict] = field(default_factory=dict)  # user id -> user object
    records: dict[int, MeetingRecord] = field(default_factory=dict)  # meeting id -> record
    counter: int = 0  # meetings ever created: drives ids, so the same seed and requests give the same ids
    daily: dict[str, int] = field(default_factory=dict)
    # How Zoom-like the account is ("" key) and each host (lowercase email), see ZoomLike.
    zoom_like: dict[str, ZoomLike] = field(default_factory=dict)
    _cursors: dict[str, _PageCursor] = field(default_factory=dict, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- persistence --------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the store file when it exists (another process may have written it)."""
        if self.path is None or not self.path.exists():
            return
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if data.get("format") != STORE_FORMAT:
            raise ValueError(f"{self.path} is not a sandbox store file")
        with self.lock:
            self.users = {u["id"]: u for u in data.get("users", [])}
            loaded = [MeetingRecord.from_json(r) for r in data.get("meetings", [])]
            self.records = {int(r.meeting["id"]): r for r in loaded}
            self.counter = int(data.get("counter", 0))
            self.daily = {str(k): int(v) for k, v in data.get("daily", {}).items()}

    def save(self) -> None:
        """Write everything atomically (temp file + os.replace): readers never see half a file.

        Never written: the client secret and tokens; the store only knows Zoom's side of the account.
        """
        if self.path is None:
            return
        with self.lock:
            data = {
                "format": STORE_FORMAT, "version": STORE_VERSION, "account_id": self.account_id,
                "counter": self.counter, "daily": self.daily, "users": list(self.users.values()),
                "meetings": [r.to_json() for r in sorted(self.records.values(), key=lambda r: r.seq)],
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, separators=(",", ":"))
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    # -- Zoom-like behaviour -------------------------------------------------------------------------

    def behaviour(self, host: Mapping[str, Any] | str | None = None) -> ZoomLike:
        """The host's own switches when set, else the account's."""
        email = host.get("email", "") if isinstance(host, Mapping) else host or ""
        with self.lock:
            found = self.zoom_like.get(email.lower()) if email else None
            return found or self.zoom_like.get("") or ZoomLike()

    def set_behaviour(self, host: str | None = None, **changes: Any) -> ZoomLike:
        unknown = sorted(set(changes) - set(ZOOM_LIKE_FIELDS))
        if unknown:
            raise TypeError(f"unknown Zoom-like switch(es): {', '.join(unknown)}; known: "
                            f"{', '.join(ZOOM_LIKE_FIELDS)}")
        with self.lock:
            key = (host or "").lower()
            current = self.zoom_like.get(key) or copy.deepcopy(self.zoom_like.get("") or ZoomLike())
            for name, value in changes.items():
                setattr(current, name, value)
            self.zoom_like[key] = current
            return current

    def _impose(self, meeting: dict) -> None:
        """What the account or host keeps whatever was sent."""
        behaviour = self.behaviour(meeting.get("host_email"))
        settings = meeting.setdefault("settings", {})
        settings.update(copy.deepcopy(behaviour.imposed()))
        if behaviour.jbh_off_with_waiting_room and settings.get("waiting_room"):
            settings["join_before_host"] = False

    # -- users --------------------------------------------------------------------------------------

    def owner(self) -> dict | None:
        """The account's first user: who ``me`` is for an account-level app."""
        with self.lock:
            return next(iter(self.users.values()), None)

    def find_user(self, user_id: str) -> dict | None:
        """By id or (case-insensitive) email, as Zoom's userId path parameter accepts both."""
        with self.lock:
            if user_id in self.users:
                return self.users[user_id]
            wanted = user_id.lower()
            return next((u for u in self.users.values() if u["email"].lower() == wanted), None)

    def add_user(self, email: str, now: datetime, timezone: str = "UTC") -> dict:
        """The user with this email, created when new (Zoom's API reference fields)."""
        with self.lock:
            existing = self.find_user(email)
            if existing is not None:
                return existing
            rng = random.Random(f"{self.seed}:user:{email.lower()}")
            user_id = _random_text(rng, 22, ALNUM + "-_")
            pmi = rng.randint(2_000_000_000, 9_999_999_999)
            local = email.split("@", 1)[0]
            names = [p.capitalize() for p in re.split(r"[._+-]+", local) if p] or [local]
            first, last = names[0], " ".join(names[1:])
            stamp = utc_text(now)
            user = {
                "id": user_id, "first_name": first, "last_name": last,
                "display_name": f"{first} {last}".strip(),
                "email": email, "type": 2, "role_name": "Member", "pmi": pmi, "use_pmi": False,
                "personal_meeting_url": f"https://zoom.us/j/{pmi}", "timezone": timezone, "verified": 1,
                "dept": "", "created_at": stamp, "user_created_at": stamp, "last_login_time": stamp,
                "last_client_version": "6.0.0.0000(mac)", "language": "en-US", "phone_number": "",
                "status": "active", "role_id": "2", "account_id": self.account_id,
                "account_number": random.Random(f"{self.seed}:{self.account_id}").randint(10**9, 10**10 - 1),
                "cluster": "us06", "group_ids": [], "im_group_ids": [], "login_types": [100],
                "jid": f"{user_id.lower()}@xmpp.zoom.us",
            }
            self.users[user_id] = user
            self.save()
            return user

    # -- meetings: create ---------------------------------------------------------------------------

    def _new_identity(self) -> tuple[int, random.Random]:
        while True:
            self.counter += 1
            rng = random.Random(f"{self.seed}:meeting:{self.counter}")
            meeting_id = rng.randint(10**10, 10**11 - 1)  # 11 digits, int64 (Zoom's API reference)
            if meeting_id not in self.records:
                return meeting_id, rng

    def _resolve_host(self, requester: dict, body: Mapping[str, Any]) -> dict:
        target = body.get("schedule_for")
        if not target:
            return requester
        host = self.find_user(target)
        if host is None:
            raise ApiError(400, 300, f"Invalid schedule_for: {target}.")
        return host

    def prepare_create(self, requester: dict, body: Mapping[str, Any]) -> dict:
        """Validate a create body and return the meeting's host (``schedule_for`` makes another user host)."""
        errors = validate_body(body)
        if errors:
            raise validation_failed(errors)
        kind = body.get("type", 2)
        if kind == 8 and not body.get("recurrence"):
            raise validation_failed([_RECURRENCE_REQUIRED])
        return self._resolve_host(requester, body)

    def create(self, requester: dict, body: Mapping[str, Any], now: datetime) -> dict:
        """Create a meeting for ``requester`` (or its ``schedule_for`` host); returns the stored meeting."""
        with self.lock:
            host = self.prepare_create(requester, body)
            meeting_id, rng = self._new_identity()
            timezone = body.get("timezone") or host.get("timezone") or "UTC"
            kind = body.get("type", 2)
            start, local = now, True
            if "start_time" in body and kind in (2, 8):
                start, local = _parse_start(body["start_time"], timezone)  # type: ignore[misc]
            elif kind == 2:
                kind = 1  # no start time: Zoom makes an instant meeting starting now (Zoom's API reference)
            if start < now:
                start = now  # Zoom rewrites a past start to "now" (Zoom's API reference)
            start = start.replace(microsecond=0)
            meeting: dict[str, Any] = {
                "uuid": base64.b64encode(rng.randbytes(16)).decode(),
                "id": meeting_id,
                "host_id": host["id"],
                "host_email": host["email"],
                "topic": body.get("topic", f"{host['display_name']}'s Zoom Meeting"),
                "type": kind,
                "status": "waiting",
                "duration": body.get("duration", 60),
                "timezone": timezone,
                "agenda": body.get("agenda", ""),
                "created_at": utc_text(now),
            }
            if kind != 3:
                meeting["start_time"] = utc_text(start)
            if host is not requester:
                meeting["assistant_id"] = requester["id"]
            zak = "eyJ" + _random_text(rng, 150, ALNUM + "-_")
            meeting["start_url"] = f"https://zoom.us/s/{meeting_id}?zak={zak}"
            meeting.update(_secrets_of(rng, body.get("password")))
            meeting["join_url"] = f"https://zoom.us/j/{meeting_id}?pwd={meeting['encrypted_password']}"
            meeting["pre_schedule"] = bool(body.get("pre_schedule", False))
            settings = copy.deepcopy(DEFAULT_SETTINGS)
            deep_merge(settings, body.get("settings") or {})
            meeting["settings"] = settings
            if body.get("tracking_fields"):
                meeting["tracking_fields"] = _tracking_fields(body["tracking_fields"])
            if kind == 8:
                meeting["recurrence"] = normalise_recurrence(body["recurrence"])
            record = MeetingRecord(meeting, timezone if local else "UTC", self.counter,
                                   _random_text(rng, 32, ALNUM + "-_"))
            self._impose(meeting)
            self._derive(record)
            self.records[meeting_id] = record
            self.save()
            return record.meeting

    def _derive(self, record: MeetingRecord) -> None:
        """Recompute what follows from the other fields: occurrences, registration URL, JBH rule."""
        meeting = record.meeting
        settings = meeting.setdefault("settings", copy.deepcopy(DEFAULT_SETTINGS))
        if settings.get("approval_type") in (0, 1):
            meeting["registration_url"] = f"https://zoom.us/meeting/register/{record.registration_token}"
        else:
            meeting.pop("registration_url", None)
        if meeting.get("type") == 8 and meeting.get("recurrence"):
            old = meeting.get("occurrences", [])
            deleted = {o["occurrence_id"] for o in old if o.get("status") == "deleted"}
            start = rec.parse_utc(meeting["start_time"])
            duration = int(meeting.get("duration", 60))
            items = rec.occurrences(start, record.anchor_tz, meeting["recurrence"], duration)
            for item in items:
                if item["occurrence_id"] in deleted:
                    item["status"] = "deleted"
                moved = record.moved.get(item["occurrence_id"])
                if moved:
                    item.update({k: v for k, v in moved.items() if k in ("start_time", "duration")})
            meeting["occurrences"] = items
        else:
            meeting.pop("occurrences", None)
            meeting.pop("recurrence", None)

    # -- meetings: read -----------------------------------------------------------------------------

    def record(self, meeting_id: Any) -> MeetingRecord:
        try:
            key = int(str(meeting_id))
        except ValueError:
            raise meeting_not_found(meeting_id) from None
        with self.lock:
            found = self.records.get(key)
        if found is None:
            raise meeting_not_found(meeting_id)
        return found

    def render(self, meeting_id: Any, now: datetime, show_previous: bool = False,
               occurrence_id: str | None = None) -> dict:
        """The GET /meetings/{id} body: upcoming occurrences only unless ``show_previous``."""
        with self.lock:
            meeting = copy.deepcopy(self.record(meeting_id).meeting)
        shown = current_start(meeting, now)
        if shown is not None:
            meeting["start_time"] = shown
        if occurrence_id is not None:
            match = next((o for o in meeting.get("occurrences", []) if o["occurrence_id"] == occurrence_id),
                         None)
            if match is None:
                raise ApiError(400, 3000, "Invalid occurrence_id.")
            meeting["start_time"], meeting["duration"] = match["start_time"], match["duration"]
        if "occurrences" in meeting and not show_previous:
            meeting["occurrences"] = [o for o in meeting["occurrences"]
                                      if rec.parse_utc(o["start_time"]) >= now]
        return meeting

    def all_meetings(self, now: datetime) -> list[dict]:
        with self.lock:
            ids = [r.meeting["id"] for r in sorted(self.records.values(), key=lambda r: r.seq)]
            return [self.render(i, now) for i in ids]

    def _list_item(self, record: MeetingRecord, now: datetime) -> dict:
        """Only the list fields of Zoom's API reference; the agenda cut to 250 characters."""
        m = record.meeting
        item = {"uuid": m["uuid"], "id": m["id"], "host_id": m["host_id"], "topic": m["topic"],
                "type": m["type"]}
        start = current_start(m, now)
        if start is not None:
            item["start_time"] = start
        item.update({"duration": m["duration"], "timezone": m["timezone"],
                     "agenda": m.get("agenda", "")[:LIST_AGENDA_CHARS], "created_at": m["created_at"],
                     "join_url": m["join_url"]})
        if self.behaviour(m.get("host_email")).list_without_agenda:
            del item["agenda"]
        return item

    @staticmethod
    def _listed(record: MeetingRecord, list_type: str, now: datetime) -> bool:
        m = record.meeting
        if m["type"] == 1:
            return False  # instant meetings are never listed (Zoom's API reference)
        if list_type == "scheduled":
            return True
        if list_type == "live":
            return False  # nothing is ever started in the sandbox
        times = [rec.parse_utc(o["start_time"]) for o in m.get("occurrences", [])
                 if o.get("status") != "deleted"]
        if m["type"] == 2:
            times = [rec.parse_utc(m["start_time"])]
        has_future = m["type"] == 3 or any(t >= now for t in times)
        return has_future if list_type in ("upcoming", "upcoming_meetings") else not has_future

    def list_page(self, user: dict, now: datetime, list_type: str = "scheduled", page_size: int = 30,
                  page_token: str | None = None, page_number: int | None = None) -> dict:
        """One page of GET /users/{userId}/meetings, ordered by creation; pages via an opaque cursor."""
        with self.lock:
            if page_token:
                cursor = self._cursors.get(page_token)
                if cursor is None or cursor.expires_at < now or cursor.user_id != user["id"]:
                    raise ApiError(400, 300, "The next page token is invalid or expired.")
                list_type, after, number = cursor.list_type, cursor.after_seq, cursor.page_number
            else:
                number = page_number or 1
                after = -1
            mine = [r for r in sorted(self.records.values(), key=lambda r: r.seq)
                    if r.meeting["host_id"] == user["id"] and self._listed(r, list_type, now)]
            remaining = [r for r in mine if r.seq > after]
            if not page_token and number > 1:
                remaining = remaining[(number - 1) * page_size:]
            page, rest = remaining[:page_size], remaining[page_size:]
            token = ""
            if rest:
                token = secrets.token_urlsafe(24)
                self._cursors = {k: c for k, c in self._cursors.items() if c.expires_at >= now}
                self._cursors[token] = _PageCursor(user["id"], list_type, page[-1].seq, number + 1,
                                                   now + PAGE_TOKEN_TTL)
            answer = {
                "page_size": page_size,
                "total_records": len(mine),
                "next_page_token": token,
                "page_count": -(-len(mine) // page_size),
                "page_number": number,
                "meetings": [self._list_item(r, now) for r in page],
            }
            if self.behaviour(user).pages_without_page_count:
                del answer["page_count"], answer["page_number"]
            return answer

    def users_page(self, page_size: int = 30) -> dict:
        """GET /users: the account's active users (one page: the sandbox never has more than a page)."""
        with self.lock:
            users = list(self.users.values())[:page_size]
            fields = ("id", "first_name", "last_name", "display_name", "email", "type", "pmi", "timezone",
                      "verified", "dept", "created_at", "user_created_at", "last_login_time",
                      "last_client_version", "language", "phone_number", "status", "role_id")
            return {"page_count": 1, "page_number": 1, "page_size": page_size, "total_records": len(users),
                    "next_page_token": "", "users": [{k: u[k] for k in fields if k in u} for u in users]}

    # -- registrants --------------------------------------------------------------------------------

    def registrants(self, meeting_id: Any, page_size: int = 30) -> dict:
        record = self.record(meeting_id)
        with self.lock:
            items = [dict(r) for r in record.registrants][:page_size]
        return {"page_size": page_size, "total_records": len(record.registrants), "next_page_token": "",
                "registrants": items}

    def add_registrant(self, meeting_id: Any, body: Mapping[str, Any], now: datetime) -> dict:
        """POST /meetings/{id}/registrants: needs registration on and an email and first name."""
        with self.lock:
            record = self.record(meeting_id)
            meeting = record.meeting
            if meeting.get("settings", {}).get("approval_type") not in (0, 1):
                raise ApiError(400, 3000, f"Registration has not been enabled for this meeting: {meeting['id']}.")
            errors = _Errors()
            errors.string("email", body.get("email"))
            errors.string("first_name", body.get("first_name"), 64)
            if errors.items:
                raise validation_failed(errors.items)
            rng = random.Random(f"{self.seed}:{meeting['id']}:registrant:{len(record.registrants)}")
            registrant_id = _random_text(rng, 22, ALNUM + "-_")
            status = "approved" if meeting["settings"]["approval_type"] == 0 else "pending"
            record.registrants.append({
                "id": registrant_id, "email": body["email"], "first_name": body["first_name"],
                "last_name": str(body.get("last_name") or ""), "status": status, "create_time": utc_text(now),
                "join_url": f"https://zoom.us/w/{meeting['id']}?tk={_random_text(rng, 40, ALNUM + '-_.')}",
            })
            self.save()
            return {"id": meeting["id"], "registrant_id": registrant_id, "topic": meeting["topic"],
                    "start_time": current_start(meeting, now) or meeting.get("start_time", ""),
                    "join_url": record.registrants[-1]["join_url"], "occurrences": []}

    # -- meetings: update and delete ----------------------------------------------------------------

    def prepare_update(self, meeting_id: Any, body: Mapping[str, Any]) -> MeetingRecord:
        """Validate a PATCH body against the stored meeting; returns the record it applies to."""
        record = self.record(meeting_id)
        errors = validate_body(body, update=True)
        if errors:
            raise validation_failed(errors)
        kind = body.get("type", record.meeting["type"])
        if kind == 8 and not (body.get("recurrence") or record.meeting.get("recurrence")):
            raise validation_failed([_RECURRENCE_REQUIRED])
        if body.get("schedule_for"):
            self._resolve_host(self.users[record.meeting["host_id"]], body)
        return record

    def update(self, meeting_id: Any, body: Mapping[str, Any], now: datetime) -> dict:
        """PATCH: fields replaced, settings merged, recurrence replaced whole, a past start ignored."""
        with self.lock:
            record = self.prepare_update(meeting_id, body)
            meeting = record.meeting
            old_tz = meeting["timezone"]
            for name in ("topic", "agenda", "duration", "type", "timezone", "pre_schedule"):
                if name in body:
                    meeting[name] = body[name]
            if "timezone" in body and record.anchor_tz == old_tz:
                record.anchor_tz = body["timezone"]  # same instant, now kept on the new zone's wall clock
            if "start_time" in body:
                start, local = _parse_start(body["start_time"], meeting["timezone"])  # type: ignore[misc]
                if start >= now:  # Zoom's API reference: a past start_time is ignored
                    meeting["start_time"] = utc_text(start)
                    record.anchor_tz = meeting["timezone"] if local else "UTC"
            if meeting["type"] == 3:
                meeting.pop("start_time", None)
            elif "start_time" not in meeting:
                meeting["start_time"] = utc_text(now.replace(microsecond=0))
            if "recurrence" in body:
                meeting["recurrence"] = normalise_recurrence(body["recurrence"])
            if body.get("password"):
                meeting.update(_secrets_of(random.Random(f"{self.seed}:{meeting['id']}:{body['password']}"),
                                           body["password"]))
                meeting["join_url"] = f"https://zoom.us/j/{meeting['id']}?pwd={meeting['encrypted_password']}"
            if "settings" in body:
                deep_merge(meeting.setdefault("settings", {}), body["settings"])
            if "tracking_fields" in body:
                meeting["tracking_fields"] = _tracking_fields(body["tracking_fields"])
            if body.get("schedule_for"):
                host = self._resolve_host(self.users[meeting["host_id"]], body)
                meeting["host_id"], meeting["host_email"] = host["id"], host["email"]
            self._impose(meeting)
            self._derive(record)
            self.save()
            return meeting

    def prepare_occurrence_update(self, meeting_id: Any, occurrence_id: str, body: Mapping[str, Any]) -> dict:
        """Check an occurrence PATCH: only agenda, start_time, duration and some settings change this way, and
        the occurrence must exist and not be cancelled (Zoom's API reference)."""
        record = self.record(meeting_id)
        errors = _Errors()
        for name in body:
            if name not in OCCURRENCE_FIELDS:
                errors.add(name, f"Invalid field: {name} cannot be changed for one occurrence.")
        if "agenda" in body:
            errors.string("agenda", body["agenda"], 2000)
        if "duration" in body:
            errors.integer("duration", body["duration"], 1, 1440)
        if "start_time" in body and (not isinstance(body["start_time"], str)
                                     or _parse_start(body["start_time"], record.meeting["timezone"]) is None):
            errors.add("start_time", "Invalid field.")
        if errors.items:
            raise validation_failed(errors.items)
        match = next((o for o in record.meeting.get("occurrences", [])
                      if o["occurrence_id"] == occurrence_id and o.get("status") != "deleted"), None)
        if match is None:
            raise ApiError(400, 3000, "Invalid occurrence_id.")
        return match

    def update_occurrence(self, meeting_id: Any, occurrence_id: str, body: Mapping[str, Any],
                          now: datetime) -> None:
        """PATCH ?occurrence_id=: that occurrence alone gets its own start, duration or agenda (a past start
        is ignored, as for the series)."""
        with self.lock:
            self.prepare_occurrence_update(meeting_id, occurrence_id, body)
            record = self.record(meeting_id)
            change = dict(record.moved.get(occurrence_id) or {})
            if "start_time" in body:
                start, _ = _parse_start(body["start_time"], record.meeting["timezone"])  # type: ignore[misc]
                if start >= now:
                    change["start_time"] = utc_text(start)
            for name in ("duration", "agenda"):
                if name in body:
                    change[name] = body[name]
            record.moved[occurrence_id] = change
            self._derive(record)
            self.save()

    def delete(self, meeting_id: Any, occurrence_id: str | None = None) -> None:
        with self.lock:
            record = self.record(meeting_id)
            if occurrence_id is None:
                del self.records[record.meeting["id"]]
            else:
                match = next((o for o in record.meeting.get("occurrences", [])
                              if o["occurrence_id"] == occurrence_id and o.get("status") != "deleted"), None)
                if match is None:
                    raise ApiError(400, 3000, "Invalid occurrence_id.")
                match["status"] = "deleted"
            self.save()

    # -- out of band (as if done in Zoom's web UI or by another tool) --------------------------------

    def merge_out_of_band(self, meeting_id: int, changes: Mapping[str, Any]) -> dict:
        with self.lock:
            record = self.record(meeting_id)
            deep_merge(record.meeting, changes)
            self._derive(record)
            self.save()
            return record.meeting

    def daily_limit(self, limit: int) -> DailyLimit:
        return DailyLimit(limit, self.daily)

    def host_of(self, meeting_id: Any) -> str:
        return self.record(meeting_id).meeting["host_id"]

    def ensure_users(self, emails: Iterable[str], now: datetime) -> None:
        for email in emails:
            self.add_user(email, now)
