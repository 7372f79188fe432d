"""Ties the stages together for the commands: load -> validate -> refresh -> plan -> apply -> state -> CSV.

Owns the side-effect edges' lifetimes (the Zoom client, the in-process sandbox, the state lock) so that
the stages themselves stay single-purpose.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoomstate.clock import Clock, SystemClock
from zoomstate.desired import load_desired
from zoomstate.model import DesiredConfig, LiveSnapshot

# The planner, the state store and the CSV writer are imported by the methods that use them: validate needs
# none of them, and importing them took about a fifth of its run.
if TYPE_CHECKING:
    from zoomstate.apply import ApplyResult
    from zoomstate.plan import Plan
    from zoomstate.state import State, StateStore
    from zoomstate.zoom import ZoomClient

SANDBOX_DIR = Path("state") / "sandbox"

# Loaded on first use, as module attributes (tests replace ZoomClient): the Zoom client, requests under it
# and the applier cost more to import than an offline command (validate, plan --refresh=false, show) runs.
_LAZY = {
    "ZoomClient": "zoomstate.zoom", "ZoomCredentials": "zoomstate.zoom", "credentials_from_env": "zoomstate.zoom",
    "DEFAULT_API_URL": "zoomstate.zoom", "DEFAULT_OAUTH_URL": "zoomstate.zoom",
    "Applier": "zoomstate.apply", "Outcome": "zoomstate.apply", "UserNotFound": "zoomstate.zoom",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def _lazy(name: str) -> Any:
    """A name from _LAZY: what a test put in its place, else the real one."""
    return globals()[name] if name in globals() else __getattr__(name)


class SetupError(Exception):
    """Missing credentials or a bad combination of options: the user must change something."""


@dataclass
class Options:
    meetings_path: Path
    state_path: Path | None = None  # default: state/zoomstate.json beside the meetings file
    sandbox: bool = False
    zoom_plan: str = "pro"
    parallelism: int = 8
    verbose: bool = False
    targets: list[str] = field(default_factory=list)
    lock_timeout: float = 0.0  # seconds to wait for another run's state lock (0: fail at once)
    delete_duplicates: bool = False  # plan the duplicates of managed meetings as deletes


@dataclass
class Session:
    """Everything one command works with, resolved."""

    desired: DesiredConfig
    store: StateStore
    state: State
    csv_path: Path
    client: ZoomClient | None
    account_id: str | None
    passcode_key: bytes | None = field(default=None, repr=False)  # for passcode digests in plan files


class Manager:
    def __init__(self, options: Options, *, environ: Mapping[str, str] | None = None,
                 clock: Clock | None = None):
        self.options = options
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock or SystemClock()
        # Plans make_plan made, each with its session and its outline then (a plan edited since is not trusted).
        self._planned: list[tuple[Session, Plan, tuple[Any, ...]]] = []
        self.last_live = LiveSnapshot(refreshed=False)  # the live side of the latest make_plan

    # ------------------------------------------------------------------------------------------ paths

    @property
    def base_dir(self) -> Path:
        return self.options.meetings_path.resolve().parent

    @property
    def state_path(self) -> Path:
        if self.options.state_path is not None:
            return self.options.state_path
        folder = self.base_dir / (SANDBOX_DIR if self.options.sandbox else Path("state"))
        return folder / "zoomstate.json"

    def csv_path(self, desired: DesiredConfig) -> Path:
        path = Path(desired.output_file)
        if self.options.sandbox:
            # A demo never writes over the real CSV.
            return self.state_path.parent / path.name
        return path

    # ------------------------------------------------------------------------------------------ stages

    def validate(self) -> DesiredConfig:
        with _gc_paused():
            return load_desired(self.options.meetings_path, environ=self.environ, now=self.clock.now(),
                                state_path=self.state_path)

    @contextmanager
    def session(self, *, online: bool, operation: str, lock: bool) -> Iterator[Session]:
        from zoomstate.export import check_csv_path
        from zoomstate.plan import passcode_key_from_secret
        from zoomstate.state import StateError, StateStore

        desired = self.validate()
        store = StateStore(self.state_path)
        with ExitStack() as stack:
            if lock:
                stack.enter_context(store.lock(operation, timeout=self.options.lock_timeout, clock=self.clock))
                check_csv_path(self.csv_path(desired))
            state = store.load()
            client, account_id, secret = (stack.enter_context(self._client(desired)) if online else
                                          (None, None, self._offline_secret(desired)))
            if account_id and state.account_id and state.account_id != account_id:
                raise StateError(
                    f"the state file {self.state_path} belongs to Zoom account {state.account_id}, but the "
                    f"credentials are for account {account_id}: use the right --state or credentials")
            yield Session(desired, store, state, self.csv_path(desired), client, account_id,
                          passcode_key_from_secret(secret) if secret else None)

    def _offline_secret(self, desired: DesiredConfig) -> str | None:
        """The client secret, for passcode digests in a plan made offline; the client is imported only then."""
        if self.options.sandbox or not any(spec.password for spec in desired.meetings.values()):
            return None
        creds = _lazy("credentials_from_env")(self.environ, desired.credentials or None)
        return creds.client_secret if creds is not None else None

    @contextmanager
    def _client(self, desired: DesiredConfig) -> Iterator[tuple[ZoomClient, str, str]]:
        if self.options.sandbox:
            from zoomstate.sandbox import Sandbox  # only demos and tests need the server code

            hosts = sorted({s.host_email for s in desired.meetings.values()})
            sandbox_dir = self.state_path.parent
            sandbox_dir.mkdir(parents=True, exist_ok=True)
            with Sandbox(users=hosts, store_path=sandbox_dir / "zoom.json", plan=self.options.zoom_plan,
                         auto_create_users=True, clock=self.clock) as sandbox:
                creds = _lazy("ZoomCredentials")(sandbox.account_id, sandbox.client_id, sandbox.client_secret)
                client = _lazy("ZoomClient")(creds, api_url=sandbox.api_url, oauth_url=sandbox.oauth_url,
                                    plan=self.options.zoom_plan, clock=self.clock)
                try:
                    yield client, creds.account_id, creds.client_secret
                finally:
                    client.close()
            return
        creds = _lazy("credentials_from_env")(self.environ, desired.credentials or None)
        if creds is None:
            raise SetupError(
                "no Zoom credentials: set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET (from your "
                "Server-to-Server OAuth app), or try the built-in sandbox with --sandbox")
        client = _lazy("ZoomClient")(
            creds,
            api_url=self.environ.get("ZOOM_API_URL") or _lazy("DEFAULT_API_URL"),
            oauth_url=self.environ.get("ZOOM_OAUTH_URL") or _lazy("DEFAULT_OAUTH_URL"),
            plan=self.options.zoom_plan,
            clock=self.clock,
        )
        try:
            yield client, creds.account_id, creds.client_secret
        finally:
            client.close()

    def make_plan(self, session: Session, *, refresh_live: bool = True,
                  progress: Callable[[int, int], None] | None = None, targets: list[str] | None = None,
                  delete_duplicates: bool | None = None, shallow: bool = False) -> Plan:
        """Refresh (``shallow``: from each host's meeting list only) and plan. ``targets`` (default: the options'
        --target keys) limits both; ``delete_duplicates`` (default: the option) plans the duplicates as deletes."""
        from zoomstate.plan import build_plan

        targets = list(self.options.targets if targets is None else targets)
        if delete_duplicates is None:
            delete_duplicates = self.options.delete_duplicates
        warnings: list[str] = []
        if refresh_live and session.client is not None:
            from zoomstate.refresh import refresh, refresh_shallow, verify_hosts

            if self.options.verbose:
                warnings = verify_hosts(session.client, session.desired)
            read = refresh_shallow if shallow else refresh  # shallow: each host's list, no GET per meeting
            with _gc_frozen():
                live = read(session.client, session.desired, session.state,
                            parallelism=self.options.parallelism, targets=targets, progress=progress)
        else:
            live = LiveSnapshot(refreshed=False)
        live.warnings.extend(warnings)
        self.last_live = live  # what the health check reads beside the plan
        with _gc_paused():
            plan = build_plan(session.desired, session.state, live, self.clock.now(), targets=targets,
                              delete_duplicates=delete_duplicates)
        if session.account_id and plan.account_id is None:
            plan.account_id = session.account_id
        plan.targets = targets
        plan.passcode_key = session.passcode_key
        self._planned.append((session, plan, plan.outline()))
        return plan

    def recheck(self, session: Session, saved: Plan, *,
                progress: Callable[[int, int], None] | None = None) -> Plan:
        """The plan to carry out for a saved plan file: planned again now from the meetings file, the state and
        Zoom, and returned only when it makes the same changes (else StalePlanError). Nothing of the file is
        carried out: the fresh plan is."""
        current = self.make_plan(session, targets=saved.targets, progress=progress,
                                 delete_duplicates=saved.delete_duplicates or self.options.delete_duplicates)
        saved.raise_if_stale(current)
        return current

    def checked(self, session: Session, plan: Plan, *, force: bool = False) -> Plan:
        """The plan apply may carry out, or a PlanError saying why not (stale, errors, past the safety rules).

        A plan this manager made for this session, with the state as it was then, is used as it is; any other
        (read from a file, built by hand, or older than the state) is planned again and must be equal.
        """
        made_here = any(s is session and p is plan and outline == plan.outline() for s, p, outline in self._planned)
        if not made_here or (plan.lineage, plan.serial) != (session.state.lineage, session.state.serial):
            plan = self.recheck(session, plan)
        plan.raise_if_unsafe(force=force)
        return plan

    def apply(self, session: Session, plan: Plan, *, force: bool = False, on_outcome=None) -> ApplyResult:
        """Carry out ``plan`` after the checks of ``checked``: every caller gets them, not only the CLI."""
        from zoomstate.export import write_csv
        from zoomstate.state import StateError

        assert session.client is not None
        plan = self.checked(session, plan, force=force)
        if session.account_id and session.state.account_id is None:
            session.state.account_id = session.account_id
        applier = _lazy("Applier")(session.client, session.store, session.state, session.desired,
                                   clock=self.clock, parallelism=self.options.parallelism, on_outcome=on_outcome)
        try:
            with _gc_frozen():
                result = applier.apply(plan)
        except StateError:
            raise  # the disk failed: the CSV stays as it was (a second failure would hide the first)
        except BaseException:
            write_csv(session.state, session.csv_path)
            raise
        if plan.has_changes or not session.csv_path.exists():
            write_csv(session.state, session.csv_path)
        return result

    def export(self, session: Session) -> Path:
        from zoomstate.export import write_csv

        return write_csv(session.state, session.csv_path)

    def check(self, session: Session, *, days: int = 30) -> Any:
        """The health check: refresh and plan, count each managed host's unmanaged meetings, then findings."""
        assert session.client is not None
        from zoomstate.health import health

        plan = self.make_plan(session)
        managed_ids = set(session.state.by_meeting_id())
        unmanaged: dict[str, int] = {}
        for host in sorted({m.host_email for m in session.state.meetings.values()}):
            try:
                items = session.client.list_meetings(host)
            except _lazy("UserNotFound"):
                continue
            unmanaged[host] = sum(1 for item in items if item.get("id") not in managed_ids)
        return health(plan, self.last_live, session.state, self.clock.now(), days=days, unmanaged=unmanaged)

    def dump(self, hosts: list[str], *, all_hosts: bool = False) -> list[Any]:
        """The live views of every recurring (type 8) meeting of ``hosts`` (or of every user)."""
        from zoomstate.zoombody import MEETING_TYPE_RECURRING_FIXED, live_meeting

        empty = DesiredConfig(str(self.options.meetings_path), "", "", {})
        with self._client(empty) as (client, _account, _secret):
            if all_hosts:
                hosts = client.list_users()
            found = []
            for host in dict.fromkeys(hosts):
                for item in client.list_meetings(host):
                    if item.get("type") == MEETING_TYPE_RECURRING_FIXED:
                        found.append(live_meeting(client.get_meeting(int(item["id"]))))
        return found

    def refresh_outputs(self, session: Session) -> int:
        """Record in state what Zoom now holds of each managed meeting (its outputs: links, occurrences);
        the managed view is left alone, so the next plan still sees drift. Returns how many records changed."""
        assert session.client is not None
        from zoomstate.export import write_csv
        from zoomstate.refresh import refresh
        from zoomstate.zoombody import outputs_of

        live = refresh(session.client, session.desired, session.state, parallelism=self.options.parallelism,
                       targets=list(session.state.meetings))
        changed = 0
        for key, record in list(session.state.meetings.items()):
            found = live.meetings.get(record.meeting_id)
            if found is None:
                continue
            outputs = outputs_of(found)
            if outputs != record.outputs:
                session.state.meetings[key] = replace(record, outputs=outputs)
                changed += 1
        if changed:
            session.store.save(session.state)
            write_csv(session.state, session.csv_path)
        return changed


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large file is loaded or planned.

    Both build hundreds of thousands of small objects that form no cycles, and each collection walks every
    young object: on a 10,000-meeting plan, collections that found nothing took about a tenth of the CPU time.
    Reference counting still frees everything as usual. Afterwards, what survives (the loaded file, the plan)
    is moved straight to the oldest generation, where a full collection would leave it, instead of being
    walked by two more collections on its way there; the collector then runs as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:  # leave alone objects that someone else froze on purpose
                gc.freeze()
                gc.unfreeze()  # unfreezing puts them in the oldest generation
            gc.enable()


@contextmanager
def _gc_frozen() -> Iterator[None]:
    """Keep what exists now (the loaded file, the plan, the state) out of the collector's way while Zoom is
    called: the young objects of each request are still collected, but no full collection walks the whole
    loaded file, holding every thread meanwhile (collections took 0.69 s of a 5,000-meeting apply, two of
    them full ones)."""
    if gc.get_freeze_count():  # someone else froze objects on purpose: leave the collector as it is
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def load_plan_file(path: Path) -> Plan:
    """A plan file, its shape checked; one PlanFileError naming the file for anything wrong with it."""
    from zoomstate.plan import Plan, PlanFileError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanFileError(f"{path}: no such plan file") from None
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file ({exc.strerror or exc}): check the path") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSON, or a 5,000-digit number
        raise PlanFileError(f"{path}: not a plan file ({exc}): make one with `zoomstate plan --out FILE`") from None
    try:
        return Plan.from_json(data)
    except PlanFileError as exc:
        raise PlanFileError(f"{path}: {exc}") from None


__all__ = ["Manager", "Options", "Session", "SetupError", "load_plan_file"]
