"""The state file: what zoomstate manages (key -> Zoom meeting id and its outputs).

Written atomically (temp file, fsync, rename), the previous copy kept as ``.backup``; during a run each change
is appended to a journal beside it and folded in at the end. Guarded by an advisory lock file that names its
holder. Never holds a secret: no client secret, no token,
no ``start_url``.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import glob
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from zoomstate.clock import Clock, SystemClock
from zoomstate.crashpoints import CrashPoints
from zoomstate.document import printable
from zoomstate.model import Diagnostic, InputError

T = TypeVar("T")

STATE_FORMAT = "zoomstate-state"
STATE_VERSION = 1
# Keys that must never be written to the state file, whatever Zoom returned.
SECRET_KEYS = frozenset({"start_url", "access_token", "client_secret", "token"})
# How long after its start a pending create recorded without a deadline may have reached Zoom: the longest
# create the client's default attempts and waits allow.
PENDING_WINDOW = timedelta(minutes=30)
# A managed record keeps a meeting's passcode only as this keyed digest (HMAC-SHA256, the state's own key).
PASSCODE_DIGEST_FIELD = "password_hmac"


class StateError(Exception):
    """The state file cannot be used as it is (corrupt, newer format, other account, locked)."""


class LockHeldError(StateError):
    pass


@dataclass(frozen=True)
class ManagedMeeting:
    """One meeting under management, with the outputs Zoom gave it.

    Frozen: a change makes a new record, which lets the store re-encode only records that changed.
    """

    key: str
    meeting_id: int
    host_email: str
    topic: str
    created_at: str = ""  # when Zoom created it (or when it was adopted)
    managed: dict[str, Any] = field(default_factory=dict)  # managed view last applied or seen
    outputs: dict[str, Any] = field(default_factory=dict)  # join_url, registration_url, start_time, ...
    adopted: bool = False
    updated_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "meeting_id": self.meeting_id,
            "host_email": self.host_email,
            "topic": self.topic,
            "created_at": self.created_at,
            "adopted": self.adopted,
            "updated_at": self.updated_at,
            "managed": self.managed,
            "outputs": strip_secrets(self.outputs),
        }

    @classmethod
    def from_json(cls, key: str, data: Any) -> ManagedMeeting:
        """The record as written by to_json(); raises DamagedRecord for anything else (nothing is coerced)."""
        record = _Fields(data)
        return cls(
            key=key,
            meeting_id=record.meeting_id("meeting_id"),
            host_email=record.text("host_email", required=True),
            topic=record.text("topic"),
            created_at=record.text("created_at"),
            managed=record.mapping("managed"),
            outputs=record.mapping("outputs"),
            adopted=record.flag("adopted"),
            updated_at=record.text("updated_at"),
        )


@dataclass
class PendingCreate:
    """Written before a create is sent: if we crash, the next run looks for this meeting before creating."""

    key: str
    host_email: str
    topic: str
    fingerprint: dict[str, Any]
    started_at: str
    # The latest moment this create could have reached Zoom (its last POST's start plus the longest a client
    # call can take). Only a meeting created between started_at and this is the one it made. Empty in state
    # files written before it was recorded: PENDING_WINDOW after started_at then.
    deadline: str = ""

    @property
    def latest_create(self) -> str:
        """When Zoom may have made this create's meeting at the latest (UTC, ...Z)."""
        if self.deadline:
            return self.deadline
        try:
            started = datetime.fromisoformat(self.started_at.replace("Z", "+00:00"))
        except ValueError:
            return ""
        return (started + PENDING_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")

    def to_json(self) -> dict[str, Any]:
        data = {
            "host_email": self.host_email,
            "topic": self.topic,
            "fingerprint": self.fingerprint,
            "started_at": self.started_at,
        }
        if self.deadline:
            data["deadline"] = self.deadline
        return data

    @classmethod
    def from_json(cls, key: str, data: Any) -> PendingCreate:
        """The record as written by to_json(); raises DamagedRecord for anything else (nothing is coerced)."""
        record = _Fields(data)
        return cls(
            key=key,
            host_email=record.text("host_email", required=True),
            topic=record.text("topic"),
            fingerprint=record.mapping("fingerprint"),
            started_at=record.text("started_at"),
            deadline=record.text("deadline", null=True) or "",
        )


@dataclass
class State:
    lineage: str
    serial: int = 0
    account_id: str | None = None
    meetings: dict[str, ManagedMeeting] = field(default_factory=dict)
    pending: dict[str, PendingCreate] = field(default_factory=dict)
    passcode_key: str = field(default="", repr=False)  # hex; random per state, made when first needed

    def ensure_passcode_key(self) -> str:
        if not self.passcode_key:
            self.passcode_key = secrets.token_hex(32)
        return self.passcode_key

    @classmethod
    def new(cls) -> State:
        """An empty state. Its lineage is given at the first save, so a plan made before any state file
        existed still matches while there is none."""
        return cls(lineage="")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "account_id": self.account_id,
            "meetings": {k: m.to_json() for k, m in sorted(self.meetings.items())},
            "pending": {k: p.to_json() for k, p in sorted(self.pending.items())},
            **({"passcode_key": self.passcode_key} if self.passcode_key else {}),
        }

    def by_meeting_id(self) -> dict[int, str]:
        return {m.meeting_id: k for k, m in self.meetings.items()}

    def copy(self) -> State:
        return copy.deepcopy(self)


KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class RenameError(ValueError):
    """A state key cannot be renamed as asked."""


def rename_key(state: State, old: str, new: str) -> int:
    """Rename a managed meeting's key in ``state`` (no Zoom call); returns its meeting id."""
    if old not in state.meetings:
        raise RenameError(f"{old} is not in the state file (see `zoomstate state list`)")
    if not KEY_PATTERN.fullmatch(new):
        raise RenameError(f"{new!r} is not a meeting key: lowercase letters, digits, '.', '_' and '-', "
                          "starting with a letter or digit")
    if new in state.meetings or new in state.pending:
        raise RenameError(f"{new} is already in the state file: pick another key, or `zoomstate state rm {new}` "
                          "first")
    record = state.meetings.pop(old)
    state.meetings[new] = replace(record, key=new)
    return record.meeting_id


def strip_secrets(value: Any) -> Any:
    """Drop secret-bearing keys at any depth (Zoom answers carry start_url)."""
    if isinstance(value, dict):
        return {k: strip_secrets(v) if isinstance(v, (dict, list)) else v for k, v in value.items()
                if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [strip_secrets(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def passcode_digest(key: str, passcode: str) -> str:
    return hmac.new(bytes.fromhex(key), passcode.encode("utf-8"), hashlib.sha256).hexdigest()


def seal_view_passcode(view: dict[str, Any], key: str) -> dict[str, Any]:
    """A managed view as the state keeps it: a plaintext passcode replaced by its keyed digest, which is
    enough to see that the meetings file changed it."""
    if "password" not in view:
        return view
    sealed = {k: v for k, v in view.items() if k != "password"}
    sealed[PASSCODE_DIGEST_FIELD] = passcode_digest(key, str(view["password"]))
    return sealed


def _seal_old_passcodes(state: State) -> None:
    """State files written before passcodes were sealed hold them in plaintext: seal them as they load, so
    the next save drops the plaintext."""
    for key, record in state.meetings.items():
        if "password" in record.managed:
            sealed = seal_view_passcode(record.managed, state.ensure_passcode_key())
            state.meetings[key] = dataclasses.replace(record, managed=sealed)


class DamagedRecord(ValueError):
    """A value of the state file that is not what zoomstate writes there."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(f"{field_name} {problem}")
        self.field_name = field_name
        self.problem = problem


# Zoom meeting ids are 64-bit integers; keys follow the meetings file's key rule.
MAX_MEETING_ID = 2**63 - 1
KEY_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def _kind_of(value: Any) -> str:
    """What a JSON value is, for a message (strings shortened and escaped: the file may be hostile)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = printable(value[:40]) + ("..." if len(value) > 40 else "")
        return f'the text "{shown}"'
    if isinstance(value, int | float):
        return f"the number {value}"
    return "a list" if isinstance(value, list) else "a mapping"


class _Fields:
    """Typed reads of one JSON object of the state file: absent fields get the default, wrong types raise."""

    def __init__(self, data: Any):
        if not isinstance(data, dict):
            raise DamagedRecord("the record", f"must be a mapping, not {_kind_of(data)}")
        self.data = data

    def _get(self, name: str, required: bool, default: Any) -> Any:
        if name in self.data:
            return self.data[name]
        if required:
            raise DamagedRecord(name, "is missing")
        return default

    def text(self, name: str, *, required: bool = False, null: bool = False) -> Any:
        value = self._get(name, required, None if null else "")
        if not isinstance(value, str) and not (null and value is None):
            raise DamagedRecord(name, f"must be text{' or null' if null else ''}, not {_kind_of(value)}")
        return value

    def mapping(self, name: str, *, required: bool = False) -> dict[str, Any]:
        value = self._get(name, required, {})
        if not isinstance(value, dict):
            raise DamagedRecord(name, f"must be a mapping, not {_kind_of(value)}")
        return value

    def flag(self, name: str) -> bool:
        value = self._get(name, False, False)
        if not isinstance(value, bool):
            raise DamagedRecord(name, f"must be true or false, not {_kind_of(value)}")
        return value

    def whole_number(self, name: str, *, low: int, high: int, what: str) -> int:
        value = self._get(name, True, None)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise DamagedRecord(name, f"must be {what}, not {_kind_of(value)}")
        return value

    def meeting_id(self, name: str) -> int:
        return self.whole_number(name, low=1, high=MAX_MEETING_ID, what="a Zoom meeting id (a positive whole number)")


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads would keep the last of two equal keys: two records for one key is damage, not a choice.
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def _line_of(text: str, name: str, after: str | None = None, occurrence: int = 1) -> int | None:
    """The line where ``"name":`` is written (below ``"after":`` when given), when it can be found."""
    start = 0
    if after is not None:
        found = re.search(re.escape(json.dumps(after)) + r"\s*:", text)
        if found is None:
            return None
        start = found.end()
    matches = list(re.finditer(re.escape(json.dumps(name, ensure_ascii=False)) + r"\s*:", text[start:]))
    if len(matches) < occurrence:
        return None
    return text.count("\n", 0, start + matches[occurrence - 1].start()) + 1


def _damaged(path: Path, message: str, *, line: int | None = None) -> InputError:
    backup = path.with_name(path.name + ".backup")
    restore = (f"check {backup} and restore it with `cp {backup} {path}`" if backup.exists()
               else f"there is no {backup.name} to restore: fix the file by hand or take it from version control")
    return InputError([Diagnostic(
        "error", str(path), line, None, "", f"the state file is damaged: {message}",
        f"it was left untouched; {restore}",
    )])


def _state_error(path: Path, message: str, hint: str) -> InputError:
    return InputError([Diagnostic("error", str(path), None, None, "", message, hint)])


def parse_state(path: Path, raw: bytes) -> State:
    """Parse and check a state file's bytes: every value must have the type zoomstate writes, or the whole
    file is refused (raises InputError saying where and how to restore the backup). Nothing is coerced."""
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        twice = text.count(json.dumps(exc.key, ensure_ascii=False)) == 2  # else which object is unclear
        line = _line_of(text, exc.key, occurrence=2) if twice else None
        raise _damaged(path, f'the key "{printable(exc.key)}" is written twice '
                       "in one object (JSON readers would silently keep only one)", line=line) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else (
            "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "it is nested too deeply")
        raise _damaged(path, f"it is not valid JSON ({reason})", line=line) from None
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise _state_error(path, "this is not a zoomstate state file (no \"format\": \"zoomstate-state\")",
                           "check the --state path")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _damaged(path, f"unknown state format version {_kind_of(version)}", line=_line_of(text, "version"))
    if version > STATE_VERSION:
        raise _state_error(
            path,
            f"the state file has format version {version}, newer than this zoomstate understands "
            f"({STATE_VERSION})",
            "upgrade zoomstate; the file was left untouched",
        )
    data = _upgrade(data)
    try:
        head = _Fields(data)
        lineage = head.text("lineage", required=True)
        serial = head.whole_number("serial", low=0, high=2**63 - 1, what="a whole number, 0 or more")
        account_id = head.text("account_id", null=True)
        sections = {name: head.mapping(name, required=True) for name in ("meetings", "pending")}
        passcode_key = head.text("passcode_key")
        if passcode_key and not re.fullmatch(r"(?:[0-9a-f]{2})+", passcode_key):
            raise DamagedRecord("passcode_key", "must be hexadecimal text")
    except DamagedRecord as exc:
        raise _damaged(path, str(exc), line=_line_of(text, exc.field_name)) from None
    meetings = _records(path, text, "meetings", sections["meetings"], ManagedMeeting.from_json)
    pending = _records(path, text, "pending", sections["pending"], PendingCreate.from_json)
    keys_of: dict[int, str] = {}
    for key, managed in meetings.items():
        other = keys_of.setdefault(managed.meeting_id, key)
        if other != key:
            raise _damaged(path, f"meeting {managed.meeting_id} is recorded under two keys, "
                           f"{printable(other)} and {printable(key)}: a meeting has one key",
                           line=_line_of(text, key, after="meetings"))
    state = State(lineage=lineage, serial=serial, account_id=account_id, meetings=meetings, pending=pending,
                  passcode_key=passcode_key)
    _seal_old_passcodes(state)
    return state


def _records(path: Path, text: str, section: str, records: dict[str, Any],
             make: Callable[[str, Any], T]) -> dict[str, T]:
    out: dict[str, T] = {}
    for key, record in records.items():
        where = f"{section}.{printable(key)}"
        if not KEY_RE.fullmatch(key):
            raise _damaged(path, f'{where}: the key "{printable(key)}" is not a '
                           "meeting key (lowercase letters, digits, '.', '_' and '-', starting with a letter or "
                           "digit, at most 64)", line=_line_of(text, key, after=section))
        try:
            out[key] = make(key, record)
        except DamagedRecord as exc:
            field_name = where if exc.field_name == "the record" else f"{where}.{exc.field_name}"
            raise _damaged(path, f"{field_name} {exc.problem}", line=_line_of(text, key, after=section)) from None
    return out


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older state format up to STATE_VERSION (one step per version as formats change)."""
    return data


class StateStore:
    """Loads and saves one state file. Thread-safe: writes are serialised.

    A run appends each change to a journal beside the file (one line, fsync'd: the same cost at any size) and
    folds it into the file at the end (``compact``); a journal left by a crash is folded in by the next run
    that takes the lock, and read by every load meanwhile. The state file itself keeps its one-line-per-meeting
    form, so diffs stay readable. Neither the state file nor its companions may be symbolic links.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._save_lock = threading.Lock()
        self._loaded_serial: int | None = None
        self._encoded: dict[str, tuple[Any, str]] = {}  # key -> (record object, its encoded "key": {...} text)
        self._lock_fd: int | None = None  # the lock file while this store holds the lock
        self._journal_fd: int | None = None
        self._journal_broken: StateError | None = None
        self._first_file: bytes | None = None  # the state before a first run, written beside its journal
        self._crash = CrashPoints.from_env()

    @property
    def backup_path(self) -> Path:
        return self.path.with_name(self.path.name + ".backup")

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".journal")

    def exists(self) -> bool:
        return self.path.exists() or self.journal_path.exists()

    # ------------------------------------------------------------------------------------------ load

    def load(self) -> State:
        """The state: the file, plus what a journal left by an interrupted run adds to it.

        Under the lock the journal is then folded into the file; without it (a read-only command) the file and
        the journal are only read. A compaction between reading the two is noticed and the read repeated.
        """
        refuse_link_or_folder(self.path, "the state file", **_STATE_HINTS)
        refuse_link_or_folder(self.journal_path, "the state journal")
        for _ in range(5):
            identity, raw = _read_file(self.path, "the state file")
            _, journal = _read_file(self.journal_path, "the state journal")
            if _identity(self.path) == identity:
                break
        state = State.new() if raw is None else parse_state(self.path, raw)
        applied = self._replay(state, journal) if journal is not None else 0
        self._loaded_serial = state.serial
        if self._lock_fd is not None:
            remove_stale_temps(self.path)
            if journal is not None:
                self.compact(state, rewrite=applied > 0)
        return state

    def _replay(self, state: State, data: bytes) -> int:
        """Apply the journal's entries newer than the file to ``state``; returns how many were applied.

        Each line was fsync'd before its change was acknowledged, so anything after the last newline, and a
        last line that does not parse, is a write cut short by a crash: never acknowledged, safely ignored.
        """
        lines = data.split(b"\n")[:-1]
        applied = 0
        for number, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line.decode("utf-8"))
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
            except ValueError:
                if number == len(lines):
                    break
                raise self._journal_error(number, "it is not valid JSON") from None
            serial, lineage = entry.get("serial"), entry.get("lineage")
            if not isinstance(serial, int) or isinstance(serial, bool) or not isinstance(lineage, str):
                raise self._journal_error(number, "it has no serial or lineage")
            if state.lineage and lineage != state.lineage:
                raise self._journal_error(number, "it belongs to another state file (lineage differs)")
            if serial <= state.serial:
                continue  # already in the file: the crash came after the file was rewritten
            if serial != state.serial + 1:
                raise self._journal_error(number, f"serial {serial} follows {state.serial}: a change is missing")
            try:
                if entry.get("all"):
                    state.meetings.clear()
                    state.pending.clear()
                for key, data_ in (entry.get("meetings") or {}).items():
                    if data_ is None:
                        state.meetings.pop(key, None)
                    else:
                        state.meetings[key] = ManagedMeeting.from_json(key, data_)
                for key, data_ in (entry.get("pending") or {}).items():
                    if data_ is None:
                        state.pending.pop(key, None)
                    else:
                        state.pending[key] = PendingCreate.from_json(key, data_)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise self._journal_error(number, f"a record is damaged ({exc.__class__.__name__}: {exc})") from None
            except InputError as exc:
                raise self._journal_error(number, f"a record is damaged ({exc})") from None
            state.lineage, state.serial = lineage, serial
            state.account_id = entry.get("account_id", state.account_id)
            state.passcode_key = str(entry.get("passcode_key") or state.passcode_key)
            applied += 1
        return applied

    def _journal_error(self, line: int, problem: str) -> InputError:
        return InputError([Diagnostic(
            "error", str(self.journal_path), line, None, "", f"the state journal is damaged: {problem}",
            f"it and {self.path.name} were left untouched; move the journal aside to go back to the state as it "
            "was before the interrupted run (the next apply then adopts the meetings that run made)",
        )])

    # ------------------------------------------------------------------------------------------ save

    def save(self, state: State) -> None:
        """Bump the serial and write the whole file atomically; keep the previous file as .backup."""
        data = self.snapshot(state)
        with self._save_lock:
            self._write_locked(data)
            self._drop_journal()

    def snapshot(self, state: State) -> bytes:
        """Bump the serial and encode the state (callers hold whatever lock guards ``state``)."""
        if not state.lineage:
            state.lineage = str(uuid.uuid4())
        state.serial += 1
        return self.render(state).encode("utf-8")

    def write(self, data: bytes) -> None:
        """Replace the file with ``data``, keeping the previous file as .backup. Writes are serialised."""
        with self._save_lock:
            self._write_locked(data)

    def _write_locked(self, data: bytes, before_replace: Callable[[], None] | None = None) -> None:
        refuse_link_or_folder(self.path, "the state file", **_STATE_HINTS)
        refuse_link_or_folder(self.backup_path, "the state backup")
        _make_folder(self.path.parent)
        if os.path.lexists(self.path):
            # A hard link keeps the old copy whole even if we die mid-rename.
            try:
                if os.path.lexists(self.backup_path):
                    os.unlink(self.backup_path)
                os.link(self.path, self.backup_path)
            except OSError as exc:
                raise disk_error(self.backup_path, exc, "keep the previous state as") from None
        atomic_write(self.path, data, before_replace=before_replace, what="the state file")

    def journal_entry(self, state: State, meetings: set[str], pending: set[str], *,
                      everything: bool = False) -> bytes:
        """Bump the serial and encode one journal line: the named records as they are now (null: removed).

        ``everything`` writes every record, for a change that replaced the collections themselves.
        Callers hold whatever lock guards ``state``; the encodings are reused when the file is compacted.
        """
        if not state.lineage:
            state.lineage = str(uuid.uuid4())
        state.serial += 1
        if self._journal_fd is None and self._first_file is None and not os.path.lexists(self.path):
            # A first run: the file it starts from is the empty state, kept as .backup when the run ends.
            self._first_file = self.render(State(lineage=state.lineage, serial=state.serial - 1)).encode("utf-8")
        if everything:
            meetings, pending = set(state.meetings), set(state.pending)
        parts = [f'{{"serial": {state.serial}, "lineage": {json.dumps(state.lineage)}, '
                 f'"account_id": {json.dumps(state.account_id, ensure_ascii=False)}']
        if everything:
            parts.append(', "all": true')
        if state.passcode_key:  # the records' passcode digests mean nothing without it
            parts.append(f', "passcode_key": {json.dumps(state.passcode_key)}')
        members = []
        for key in sorted(meetings):
            record = state.meetings.get(key)
            if record is None:
                self._encoded.pop(key, None)
                members.append(f"{json.dumps(key, ensure_ascii=False)}: null")
            else:
                members.append(self._member(key, record, cache=True))
        parts.append(', "meetings": {' + ", ".join(members) + "}")
        members = []
        for key in sorted(pending):
            record = state.pending.get(key)
            members.append(f"{json.dumps(key, ensure_ascii=False)}: null" if record is None
                           else self._member(key, record, cache=False))
        parts.append(', "pending": {' + ", ".join(members) + "}}\n")
        return "".join(parts).encode("utf-8")

    def append(self, line: bytes) -> None:
        """Add one journal line and fsync it: the change is durable when this returns."""
        with self._save_lock:
            if self._journal_broken is not None:
                raise self._journal_broken
            self._crash.reach("before-journal")
            if self._journal_fd is None and self._first_file is not None:
                self._write_locked(self._first_file)
                self._first_file = None
            fd = self._open_journal()
            offset = os.lseek(fd, 0, os.SEEK_END)
            try:
                self._crash.reach("mid-journal", before_kill=lambda: os.write(fd, line[: len(line) // 2]))
                _write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                error = disk_error(self.journal_path, exc, "record the change in")
                try:  # leave no part of the line behind, so later lines still follow whole ones
                    os.ftruncate(fd, offset)
                    if offset == 0:  # and no empty journal either
                        self._drop_journal()
                except (OSError, StateError):
                    self._journal_broken = error
                raise error from None
            self._crash.reach("after-journal")

    def compact(self, state: State, *, rewrite: bool = True) -> None:
        """Fold the journal into the state file (written whole, atomically) and remove the journal.

        Nothing to do when there is no journal. A crash before the rename leaves file and journal as they were;
        after it, the journal's lines are all in the file and are skipped when it is read again.
        """
        with self._save_lock:
            if self._journal_fd is None and not os.path.lexists(self.journal_path):
                return
            if rewrite:
                self._crash.reach("before-compact")
                self._write_locked(self.render(state).encode("utf-8"),
                                   before_replace=lambda: self._crash.reach("during-compact"))
                self._crash.reach("after-compact")
            self._drop_journal()

    def _open_journal(self) -> int:
        if self._journal_fd is None:
            refuse_link_or_folder(self.journal_path, "the state journal")
            _make_folder(self.path.parent)
            try:
                self._journal_fd = os.open(self.journal_path,
                                           os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_BINARY, 0o666)
                _fsync_folder(self.path.parent)  # the journal's name must survive a crash as well as its lines
            except OSError as exc:
                if self._journal_fd is not None:  # opened, but its name may not be durable: start again later
                    empty = os.fstat(self._journal_fd).st_size == 0
                    os.close(self._journal_fd)
                    self._journal_fd = None
                    if empty:
                        with suppress(OSError):
                            os.unlink(self.journal_path)
                raise disk_error(self.journal_path, exc, "create") from None
        return self._journal_fd

    def _drop_journal(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        self._journal_broken = None
        try:
            os.unlink(self.journal_path)
            _fsync_folder(self.path.parent)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise disk_error(self.journal_path, exc, "remove") from None

    def render(self, state: State) -> str:
        """The file's text: indented JSON with one line per meeting, so diffs show one line per change.

        Each record is encoded once (C encoder) and reused until the record is replaced.
        """
        head = {"format": STATE_FORMAT, "version": STATE_VERSION, "lineage": state.lineage,
                "serial": state.serial, "account_id": state.account_id}
        if state.passcode_key:
            head["passcode_key"] = state.passcode_key
        lines = ["{"]
        lines += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
        lines.append(f'  "meetings": {{{self._records(state.meetings)}}},')
        lines.append(f'  "pending": {{{self._records(state.pending, cache=False)}}}')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _records(self, records: dict[str, Any], *, cache: bool = True) -> str:
        if not records:
            return ""
        encoded = ["    " + self._member(key, records[key], cache=cache) for key in sorted(records)]
        return "\n" + ",\n".join(encoded) + "\n  "

    def _member(self, key: str, record: Any, *, cache: bool) -> str:
        hit = self._encoded.get(key) if cache else None
        if hit is not None and hit[0] is record:
            return hit[1]
        text = f"{json.dumps(key, ensure_ascii=False)}: {json.dumps(record.to_json(), ensure_ascii=False)}"
        if cache:
            self._encoded[key] = (record, text)
        return text

    # ------------------------------------------------------------------------------------------ lock

    @contextmanager
    def lock(self, operation: str, timeout: float = 0.0, *, clock: Clock | None = None,
             poll: float = 0.2) -> Iterator[None]:
        """Hold the state lock for the block, waiting up to ``timeout`` seconds for a holder to finish.

        The operating system releases the lock if we die (flock, or msvcrt.locking on Windows), so a lock is
        never left behind; the lock file only names the holder.
        """
        clock = clock or SystemClock()
        fd = self._open_lock_file(create=True)
        try:
            deadline = clock.monotonic() + max(0.0, timeout)
            while not _try_lock(fd, self.lock_path):
                remaining = deadline - clock.monotonic()
                if remaining <= 0:
                    waited = f" (waited {_seconds(timeout)})" if timeout > 0 else ""
                    raise LockHeldError(
                        f"the state file {self.path} is locked by {_describe(_holder_of(fd))}{waited}; wait for "
                        f"that run to finish (or pass --lock-timeout), or, if it is gone, run "
                        f"`zoomstate force-unlock --state {self.path}`")
                clock.sleep(min(poll, remaining))
            holder = {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "operation": operation,
                "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            try:
                _write_holder(fd, json.dumps(holder).encode())
            except OSError as exc:
                _unlock(fd)
                raise disk_error(self.lock_path, exc, "write") from None
            self._lock_fd = fd
            try:
                self._check_writable()
                yield
            finally:
                self._lock_fd = None
                with suppress(OSError):
                    os.ftruncate(fd, 0)
                _unlock(fd)
        finally:
            os.close(fd)

    def _check_writable(self) -> None:
        """Before a run changes anything: the files it will write are plain files, and the folder takes new
        ones (a failure here costs nothing; the same one after a Zoom change would leave it unrecorded)."""
        refuse_link_or_folder(self.path, "the state file", **_STATE_HINTS)
        refuse_link_or_folder(self.backup_path, "the state backup")
        refuse_link_or_folder(self.journal_path, "the state journal")
        probe = _temp_name(self.path)
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o666))
            os.unlink(probe)
        except OSError as exc:
            with suppress(OSError):
                os.unlink(probe)
            raise disk_error(self.path.parent, exc, "write in the state folder") from None

    def _open_lock_file(self, *, create: bool) -> int:
        refuse_link_or_folder(self.lock_path, "the state lock file")
        if create:
            _make_folder(self.path.parent)
        flags = os.O_RDWR | _O_NOFOLLOW | _O_BINARY | (os.O_CREAT if create else 0)
        try:
            return os.open(self.lock_path, flags, 0o666)
        except OSError as exc:
            raise disk_error(self.lock_path, exc, "open") from None

    def lock_holder(self) -> str | None:
        """Who holds the lock now, or None when it is free."""
        if not os.path.lexists(self.lock_path):
            return None
        fd = self._open_lock_file(create=False)
        try:
            if not _try_lock(fd, self.lock_path):
                return _describe(_holder_of(fd))
            _unlock(fd)
            return None
        finally:
            os.close(fd)

    def force_unlock(self) -> str | None:
        """Clear the holder record a run that is gone left behind; returns whom it named, None if none.

        Never breaks a lock that is held: while its holder is alive it refuses with LockHeldError, naming it.
        The lock file stays in place: removing it while another run opens it would give two runs a lock each.
        """
        if not os.path.lexists(self.lock_path):
            return None
        fd = self._open_lock_file(create=False)
        try:
            if not _try_lock(fd, self.lock_path):
                raise LockHeldError(
                    f"the state file {self.path} is locked by {_describe(_holder_of(fd))}, which is still "
                    "running: force-unlock never breaks a held lock; wait for that run to finish, or stop it")
            try:
                stale = _read_holder(fd)
                if stale:
                    os.ftruncate(fd, 0)
            except OSError as exc:
                raise disk_error(self.lock_path, exc, "clear") from None
            finally:
                _unlock(fd)
        finally:
            os.close(fd)
        return _describe(stale) if stale else None


class _TrackedDict(dict):
    """A dict that notes the keys set or removed since they were last taken, so that a journal line carries
    only the records a change touched, however many there are."""

    def __init__(self, data: Any = ()):
        super().__init__(data)
        self.touched: set[Any] = set()

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.touched.add(key)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self.touched.add(key)

    def pop(self, key: Any, *default: Any) -> Any:
        self.touched.add(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[Any, Any]:
        key, value = super().popitem()
        self.touched.add(key)
        return key, value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> _TrackedDict:
        self.update(other)
        return self

    def clear(self) -> None:
        self.touched.update(self)
        super().clear()

    def take(self) -> set[Any]:
        touched, self.touched = self.touched, set()
        return touched


class StateWriter:
    """One State shared by concurrent workers, saved with group commit.

    ``commit(change)`` applies the change under the lock and returns only once a journal line that includes it
    is on disk; changes made while a line is being written share the next one, and every change is still
    durable before the caller goes on. A line holds only the records changes touched, so its cost does not
    grow with the number of meetings. ``compact()`` folds the journal into the state file at the end.
    """

    def __init__(self, store: StateStore, state: State):
        self.store = store
        self.state = state
        self._cond = threading.Condition()
        self._changes = 0  # changes applied to self.state
        self._saved = 0  # changes known to be on disk
        self._saving = False
        # The next line carries every record: a change replaced a collection, or there is no file to add to.
        self._everything = not os.path.lexists(store.path)
        self._track()

    def _track(self) -> None:
        self._meetings = self.state.meetings = _TrackedDict(self.state.meetings)
        self._pending = self.state.pending = _TrackedDict(self.state.pending)

    def read(self, look: Callable[[State], T]) -> T:
        with self._cond:
            return look(self.state)

    def commit(self, change: Callable[[State], None]) -> None:
        with self._cond:
            change(self.state)
            self._changes += 1
            mine = self._changes
            while self._saved < mine:
                if self._saving:
                    self._cond.wait()
                    continue
                self._saving = True
                target = self._changes
                everything = self._everything or (self.state.meetings is not self._meetings
                                                  or self.state.pending is not self._pending)
                if everything:
                    self._track()
                meetings, pending = self._meetings.take(), self._pending.take()
                self._everything = False
                serial = self.state.serial
                written = False
                try:
                    line = self.store.journal_entry(self.state, meetings, pending, everything=everything)
                    self._cond.release()  # others may change the state meanwhile: they share the next line
                    try:
                        self.store.append(line)
                        written = True
                    finally:
                        self._cond.acquire()
                finally:
                    self._saving = False
                    if not written:  # the line is not on disk: the next one must carry its records again
                        self.state.serial = serial
                        self._meetings.touched |= meetings
                        self._pending.touched |= pending
                        self._everything = self._everything or everything
                    self._cond.notify_all()
                self._saved = max(self._saved, target)

    def compact(self) -> None:
        """Fold the journal into the state file: once the run's changes are done."""
        with self._cond:
            while self._saving:
                self._cond.wait()
            self.store.compact(self.state)


# ---------------------------------------------------------------------------------------------- files

# The lock: flock where it exists, msvcrt.locking on Windows; the start path imports neither elsewhere.
try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]
try:
    import msvcrt as _msvcrt  # type: ignore[import-not-found]
except ImportError:
    _msvcrt = None
# msvcrt locks byte ranges, and a locked byte cannot be read by others: lock one far past the holder record.
_WINDOWS_LOCK_OFFSET = 1 << 20
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


def _try_lock(fd: int, path: Path) -> bool:
    """Take the lock without waiting: False when another process holds it."""
    try:
        if _fcntl is not None:
            try:
                _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            _msvcrt.locking(fd, _msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK)):  # held by another process
                return False
            raise
        return True
    except OSError as exc:
        raise disk_error(path, exc, "lock") from None


def _unlock(fd: int) -> None:
    with suppress(OSError):
        if _fcntl is not None:
            _fcntl.flock(fd, _fcntl.LOCK_UN)
        else:
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            _msvcrt.locking(fd, _msvcrt.LK_UNLCK, 1)


def _write_holder(fd: int, data: bytes) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    _write_all(fd, data)


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except (ValueError, OSError):
        return {}
    return info if isinstance(info, dict) else {}


def _holder_of(fd: int, *, settle: float = 0.1) -> dict[str, Any]:
    """The holder record of a lock another process holds. It is written just after the lock is taken, so an
    empty one is read again for up to ``settle`` seconds before the holder goes unnamed."""
    ends = time.monotonic() + settle
    info = _read_holder(fd)
    while not info and time.monotonic() < ends:
        time.sleep(0.005)
        info = _read_holder(fd)
    return info


def _describe(info: dict[str, Any]) -> str:
    if not info:
        return "another process"
    return (f"pid {info.get('pid')} on {info.get('host')} ({info.get('operation')}, "
            f"since {info.get('since')})")


def _seconds(value: float) -> str:
    return f"{value:g}s"


def disk_error(path: Path, exc: OSError, doing: str) -> StateError:
    """One line for a failure of the disk: the path, what failed, and what to do."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        hint = "the disk is full: free some space, then run the command again"
    elif code == errno.EROFS:
        hint = "the disk is read-only: use a writable folder (--state), then run the command again"
    elif code in (errno.EACCES, errno.EPERM):
        hint = f"this user may not write there: fix the permissions of {path.parent} or use another --state"
    elif code == errno.EISDIR:
        hint = "it is a folder: move it away, then run the command again"
    elif code == errno.ELOOP:
        hint = "it is a symbolic link: zoomstate never writes through links; replace it with the real file"
    elif code == errno.ENOTDIR:
        hint = "a part of the path is a file, not a folder: fix the path"
    else:
        hint = "check the disk and the path, then run the command again"
    reason = exc.strerror or exc.__class__.__name__
    return StateError(f"cannot {doing} {path}: {reason}; {hint} (the files already there were left as they were)")


def refuse_link_or_folder(path: Path, what: str, *, folder_hint: str = "move it away",
                          link_hint: str = "remove the link; zoomstate makes its own file there") -> None:
    """Refuse a path that is a symbolic link (its target's content is not ours) or a folder."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise disk_error(path, exc, "look at") from None
    if stat.S_ISLNK(st.st_mode):
        raise StateError(f"{what} {path} is a symbolic link (to {os.readlink(path)}): zoomstate never reads or "
                         f"writes through links; {link_hint}")
    if stat.S_ISDIR(st.st_mode):
        raise StateError(f"{what} {path} is a folder, not a file: {folder_hint}")


_STATE_HINTS = {"folder_hint": "point --state at a file inside it",
                "link_hint": "point --state at the file it links to"}


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns


def _read_file(path: Path, what: str) -> tuple[tuple[int, int, int] | None, bytes | None]:
    """(identity, bytes) of a file, (None, None) when there is none; never through a link."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_BINARY)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise disk_error(path, exc, f"read {what}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise StateError(f"{what} {path} is a folder, not a file: move it away, or point --state at a file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise disk_error(path, exc, f"read {what}") from None
    finally:
        os.close(fd)
    return (st.st_dev, st.st_ino, st.st_mtime_ns), data


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise disk_error(folder, OSError(errno.ENOTDIR, "a file is in the way"), "create the folder") from exc
    except OSError as exc:
        raise disk_error(folder, exc, "create the folder") from None


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder; its renames are durable without it
        return
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def remove_stale_temps(path: Path) -> None:
    """Remove temp files a killed run left beside ``path`` (callers hold the state lock)."""
    with suppress(OSError):
        for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()


def atomic_write(path: Path, data: bytes, before_replace: Callable[[], None] | None = None, *,
                 what: str = "the file") -> None:
    """Write a file so that readers see the old or the new content, never a part.

    Refuses a path that is a symbolic link or a folder; any failure of the disk is a StateError naming the
    path, with the old file in place and no temp file left. ``before_replace`` runs once the temp file is
    complete, just before the rename (a crash-test hook).
    """
    path = Path(path)
    refuse_link_or_folder(path, what)
    _make_folder(path.parent)
    tmp = _temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY, 0o666)
    except OSError as exc:
        raise disk_error(path, exc, f"write {what}") from None
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise disk_error(path, exc, f"write {what}") from None
        raise
    try:
        _fsync_folder(path.parent)
    except OSError as exc:
        raise disk_error(path.parent, exc, "sync the folder of") from None
