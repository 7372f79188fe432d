"""The state file: what zoomstate manages (key -> Zoom meeting id and its outputs).

Written atomically (temp file, fsync, rename) after every change, the previous copy kept as ``.backup``,
guarded by an advisory lock file that names its holder. Never holds a secret: no client secret, no token,
no ``start_url``.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from zoomstate.model import Diagnostic, InputError

T = TypeVar("T")

STATE_FORMAT = "zoomstate-state"
STATE_VERSION = 1
# Keys that must never be written to the state file, whatever Zoom returned.
SECRET_KEYS = frozenset({"start_url", "access_token", "client_secret", "token"})
# How long after its start a pending create recorded without a deadline may have reached Zoom: the longest
# create the client's default attempts and waits allow.
PENDING_WINDOW = timedelta(minutes=30)


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
    def from_json(cls, key: str, data: dict[str, Any]) -> ManagedMeeting:
        return cls(
            key=key,
            meeting_id=int(data["meeting_id"]),
            host_email=str(data["host_email"]),
            topic=str(data.get("topic", "")),
            created_at=str(data.get("created_at", "")),
            managed=dict(data.get("managed") or {}),
            outputs=dict(data.get("outputs") or {}),
            adopted=bool(data.get("adopted", False)),
            updated_at=str(data.get("updated_at", "")),
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
    def from_json(cls, key: str, data: dict[str, Any]) -> PendingCreate:
        return cls(
            key=key,
            host_email=str(data["host_email"]),
            topic=str(data.get("topic", "")),
            fingerprint=dict(data.get("fingerprint") or {}),
            started_at=str(data.get("started_at", "")),
            deadline=str(data.get("deadline") or ""),
        )


@dataclass
class State:
    lineage: str
    serial: int = 0
    account_id: str | None = None
    meetings: dict[str, ManagedMeeting] = field(default_factory=dict)
    pending: dict[str, PendingCreate] = field(default_factory=dict)

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
        }

    def by_meeting_id(self) -> dict[int, str]:
        return {m.meeting_id: k for k, m in self.meetings.items()}

    def copy(self) -> State:
        return copy.deepcopy(self)


def strip_secrets(value: Any) -> Any:
    """Drop secret-bearing keys at any depth (Zoom answers carry start_url)."""
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def _state_error(path: Path, message: str, hint: str) -> InputError:
    return InputError([Diagnostic("error", str(path), None, None, "", message, hint)])


def parse_state(path: Path, raw: bytes) -> State:
    """Parse and check a state file's bytes. Raises InputError with what to do."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        return_msg = f"the state file is not valid JSON ({exc.__class__.__name__}"
        return_msg += f" at line {line})" if line else ")"
        raise InputError([Diagnostic(
            "error", str(path), line, None, "", return_msg,
            f"it was left untouched; restore {path.name}.backup or fix the file by hand",
        )]) from None
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise _state_error(path, "this is not a zoomstate state file (no \"format\": \"zoomstate-state\")",
                           "check the --state path")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise _state_error(path, f"unknown state format version {version!r}", "restore the .backup copy")
    if version > STATE_VERSION:
        raise _state_error(
            path,
            f"the state file has format version {version}, newer than this zoomstate understands "
            f"({STATE_VERSION})",
            "upgrade zoomstate; the file was left untouched",
        )
    data = _upgrade(data)
    try:
        meetings = {str(k): ManagedMeeting.from_json(str(k), v) for k, v in (data.get("meetings") or {}).items()}
        pending = {str(k): PendingCreate.from_json(str(k), v) for k, v in (data.get("pending") or {}).items()}
        return State(
            lineage=str(data["lineage"]),
            serial=int(data.get("serial", 0)),
            account_id=data.get("account_id"),
            meetings=meetings,
            pending=pending,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _state_error(path, f"the state file is damaged ({exc.__class__.__name__}: {exc})",
                           f"restore {path.name}.backup; the file was left untouched") from None


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older state format up to STATE_VERSION (one step per version as formats change)."""
    return data


class StateStore:
    """Loads and saves one state file. Thread-safe: saves are serialised."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._save_lock = threading.Lock()
        self._loaded_serial: int | None = None
        self._encoded: dict[str, tuple[Any, str]] = {}  # key -> (record object, its encoded line)

    @property
    def backup_path(self) -> Path:
        return self.path.with_name(self.path.name + ".backup")

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> State:
        if not self.path.exists():
            state = State.new()
        else:
            state = parse_state(self.path, self.path.read_bytes())
        self._loaded_serial = state.serial
        return state

    def save(self, state: State) -> None:
        """Bump the serial and write atomically; keep the previous file as .backup."""
        self.write(self.snapshot(state))

    def snapshot(self, state: State) -> bytes:
        """Bump the serial and encode the state (callers hold whatever lock guards ``state``)."""
        if not state.lineage:
            state.lineage = str(uuid.uuid4())
        state.serial += 1
        return self.render(state).encode("utf-8")

    def write(self, data: bytes) -> None:
        """Replace the file with ``data``, keeping the previous file as .backup. Writes are serialised."""
        with self._save_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                # A hard link keeps the old copy whole even if we die mid-rename.
                if self.backup_path.exists():
                    self.backup_path.unlink()
                os.link(self.path, self.backup_path)
            atomic_write(self.path, data)

    def render(self, state: State) -> str:
        """The file's text: indented JSON with one line per meeting, so diffs show one line per change.

        Saving after every change of a large apply must stay cheap: each record is encoded once (C encoder)
        and reused until the record is replaced.
        """
        head = {k: v for k, v in state.to_json().items() if k not in ("meetings", "pending")}
        lines = ["{"]
        lines += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
        lines.append(f'  "meetings": {{{self._records(state.meetings)}}},')
        lines.append(f'  "pending": {{{self._records(state.pending, cache=False)}}}')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _records(self, records: dict[str, Any], *, cache: bool = True) -> str:
        if not records:
            return ""
        encoded = []
        for key in sorted(records):
            record = records[key]
            hit = self._encoded.get(key) if cache else None
            if hit is None or hit[0] is not record:
                text = f"{json.dumps(key, ensure_ascii=False)}: {json.dumps(record.to_json(), ensure_ascii=False)}"
                if cache:
                    self._encoded[key] = (record, text)
            else:
                text = hit[1]
            encoded.append("    " + text)
        return "\n" + ",\n".join(encoded) + "\n  "

    @contextmanager
    def lock(self, operation: str) -> Iterator[None]:
        """Hold the state lock for the block. flock is released by the kernel if we die."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                raise LockHeldError(
                    f"the state file {self.path} is locked by {holder}; wait for that run to finish, or, "
                    f"if it is gone, run `zoomstate force-unlock --state {self.path}`"
                ) from None
            holder = {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "operation": operation,
                "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def lock_holder(self) -> str | None:
        """Who holds the lock now, or None when it is free."""
        if not self.lock_path.exists():
            return None
        fd = os.open(self.lock_path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def force_unlock(self) -> bool:
        """Remove the lock file so a new run can lock a fresh one. True if there was one."""
        if self.lock_path.exists():
            self.lock_path.unlink()
            return True
        return False


class StateWriter:
    """One State shared by concurrent workers, saved with group commit.

    ``commit(change)`` applies the change under the lock and returns only once a save that includes it is on
    disk; changes made while a save is being written share the next save, so a large parallel apply writes
    far fewer files than it makes changes, and every change is still durable before the caller goes on.
    """

    def __init__(self, store: StateStore, state: State):
        self.store = store
        self.state = state
        self._cond = threading.Condition()
        self._changes = 0  # changes applied to self.state
        self._saved = 0  # changes known to be on disk
        self._saving = False

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
                data = self.store.snapshot(self.state)  # under the lock: a consistent snapshot
                self._cond.release()  # others may change the state while this is written: they share the next save
                try:
                    self.store.write(data)
                finally:
                    self._cond.acquire()
                    self._saving = False
                    self._cond.notify_all()
                self._saved = max(self._saved, target)


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, OSError):
        info = {}
    if not info:
        return "another process"
    return (f"pid {info.get('pid')} on {info.get('host')} ({info.get('operation')}, "
            f"since {info.get('since')})")


def atomic_write(path: Path, data: bytes, before_replace: Callable[[], None] | None = None) -> None:
    """Write a file so that readers see the old or the new content, never a part.

    ``before_replace`` runs once the temp file is complete, just before the rename (a crash-test hook).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    if before_replace is not None:
        before_replace()
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
