"""Read what Zoom holds now: GET every managed meeting, and list each host's meetings once (one Medium call
per 300 meetings of a host, run beside the GETs) for adoption, recovery and duplicates. The shallow form
(`plan --refresh=shallow`) lists the hosts of the managed meetings too, and GETs none of them.

The one place besides apply that talks to Zoom. Produces a LiveSnapshot for the planner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from zoomstate.model import DesiredConfig, Diagnostic, InputError, LiveSnapshot
from zoomstate.state import State
from zoomstate.zoom import MeetingNotFound, ScopeError, UserNotFound, ZoomClient
from zoomstate.zoombody import LiveMeeting, candidate_ids, live_meeting


def refresh(
    client: ZoomClient,
    desired: DesiredConfig,
    state: State,
    *,
    parallelism: int = 8,
    targets: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> LiveSnapshot:
    """Fetch the live side of the plan. Unmanaged meetings are listed, never read in detail unless they
    share host and topic with a desired meeting (not managed yet: to adopt it; managed: to find duplicates)."""
    live = LiveSnapshot(refreshed=True)
    scope = _Scope(desired, state, targets)
    managed_ids = [m.meeting_id for m in scope.managed.values()]
    unmanaged, abandoned, kept, hosts = scope.unmanaged, scope.abandoned, scope.kept, scope.hosts

    total = len(managed_ids) + len(hosts)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    def get_managed(meeting_id: int) -> tuple[int, LiveMeeting | None]:
        try:
            return meeting_id, live_meeting(client.get_meeting(meeting_id))
        except MeetingNotFound:
            return meeting_id, None

    def list_host(host: str) -> tuple[str, list[dict] | None]:
        try:
            return host, client.list_meetings(host)
        except UserNotFound:
            return host, None

    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        listed: dict[str, list[dict] | None] = {}
        lists = [pool.submit(list_host, host) for host in hosts]  # beside the GETs, not before them
        for meeting_id, body in pool.map(get_managed, managed_ids):
            if body is None:
                live.missing.add(meeting_id)
            else:
                live.meetings[meeting_id] = body
            tick()
        for future in lists:
            host, items = future.result()
            listed[host] = items
            tick()

        _read_candidates(pool, get_managed, desired, state, live, listed, unmanaged, abandoned, kept)
    return live


class _Scope:
    """What a refresh reads, limited to the --target keys: the managed meetings, the desired keys not managed
    yet, the interrupted creates of keys since removed, and the hosts whose meetings are listed."""

    def __init__(self, desired: DesiredConfig, state: State, targets: Iterable[str]):
        selected = set(targets) or None

        def chosen(key: str) -> bool:
            return selected is None or key in selected

        self.managed = {k: m for k, m in state.meetings.items() if chosen(k)}
        # Desired keys that need a look at their host's meetings: not managed yet, or a create was interrupted.
        self.unmanaged = {k: s for k, s in desired.meetings.items() if k not in state.meetings and chosen(k)}
        # Creates interrupted for keys since removed from the file: the meeting they may have made is looked
        # for, so that it is deleted instead of being left in Zoom, unmanaged.
        self.abandoned = {k: p for k, p in state.pending.items()
                          if k not in desired.meetings and k not in state.meetings and chosen(k)}
        # Managed meetings still in the file: their hosts are listed too, for duplicates (a second seed run).
        self.kept = {k: m for k, m in self.managed.items() if k in desired.meetings}
        self.hosts = sorted({s.host_email for s in self.unmanaged.values()}
                            | {p.host_email for p in self.abandoned.values()}
                            | {desired.meetings[k].host_email for k in self.kept})


# What a list item does not carry (FACTS: the list has no recurrence, occurrences, settings or passcode).
SHALLOW_UNSEEN = ("settings", "the recurrence rule and its end", "the passcode", "registration",
                  "single occurrences (cancelled, moved or changed one at a time)")


def shallow_warning() -> str:
    """What a shallow plan says it cannot see."""
    return ("shallow refresh: compared only what Zoom's meeting lists carry (topic, duration, timezone, next "
            "start, type, the first 250 characters of the agenda) and found deleted or expired meetings; not "
            "checked: " + ", ".join(SHALLOW_UNSEEN) + ". Run `zoomstate plan` for a full check; apply always "
            "does one")


def refresh_shallow(
    client: ZoomClient,
    desired: DesiredConfig,
    state: State,
    *,
    parallelism: int = 8,
    targets: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> LiveSnapshot:
    """The cheap steady-state check: one list per host (one Medium call per 300 meetings) instead of a GET per
    managed meeting. A managed meeting not listed is gone (deleted, or expired: Zoom lists neither); a listed
    one is read from its list item, which the planner compares field by field as far as the item goes.
    Unmanaged keys are looked for as in :func:`refresh`."""
    live = LiveSnapshot(refreshed=True, shallow=True)
    live.warnings.append(shallow_warning())
    scope = _Scope(desired, state, targets)
    hosts = list({h.lower(): h for h in [*scope.hosts, *(m.host_email for m in scope.managed.values())]}.values())

    def list_host(host: str) -> tuple[str, list[dict] | None]:
        try:
            return host, client.list_meetings(host)
        except UserNotFound:
            return host, None  # the host is gone, and its meetings with it

    def get_managed(meeting_id: int) -> tuple[int, LiveMeeting | None]:
        try:
            return meeting_id, live_meeting(client.get_meeting(meeting_id))
        except MeetingNotFound:
            return meeting_id, None

    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        by_host: dict[str, list[dict] | None] = {}  # lowercased host -> its list (None: no such user)
        items: dict[tuple[str, int], dict] = {}  # (lowercased host, meeting id) -> list item
        for done, (host, found) in enumerate(pool.map(list_host, hosts), 1):
            by_host[host.lower()] = found
            for item in found or ():
                items[(host.lower(), item["id"])] = item
            if progress:
                progress(done, len(hosts))
        listed = {host: by_host.get(host.lower()) for host in scope.hosts}
        for managed in scope.managed.values():
            item = items.get((managed.host_email.lower(), managed.meeting_id))
            if item is None:
                live.missing.add(managed.meeting_id)
                continue
            live.meetings[managed.meeting_id] = live_meeting(item)
            if "agenda" not in item:
                live.listed_without_agenda.add(managed.meeting_id)
        _read_candidates(pool, get_managed, desired, state, live, listed, scope.unmanaged, scope.abandoned,
                         scope.kept)
    return live


def _read_candidates(pool: ThreadPoolExecutor, get_managed: Callable[[int], tuple[int, LiveMeeting | None]],
                     desired: DesiredConfig, state: State, live: LiveSnapshot,
                     listed: dict[str, list[dict] | None], unmanaged: dict, abandoned: dict, kept: dict) -> None:
    """From the hosts' lists, read in detail the unmanaged meetings that may be a desired one (adopt, recover
    an interrupted create) or a managed one's duplicate, into ``live.candidates``."""
    missing_hosts = [h for h, items in listed.items() if items is None]
    errors = [_missing_host(desired, key, spec.host_email)
              for key, spec in unmanaged.items() if spec.host_email in missing_hosts]
    if errors:
        raise InputError(errors)

    claimed = set(state.by_meeting_id())
    wanted: dict[str, list[int]] = {}
    for key, spec in unmanaged.items():
        topic = state.pending[key].topic if key in state.pending else spec.topic
        wanted[key] = candidate_ids(listed.get(spec.host_email) or [], (topic, spec.topic), claimed)
    for key, pending in abandoned.items():
        wanted[key] = candidate_ids(listed.get(pending.host_email) or [], (pending.topic,), claimed)
    for key, managed in kept.items():
        spec = desired.meetings[key]
        ids = candidate_ids(listed.get(spec.host_email) or [], (spec.topic, managed.topic), claimed)
        if ids:
            wanted[key] = ids
    to_read = sorted({i for ids in wanted.values() for i in ids})
    details = {mid: body for mid, body in pool.map(get_managed, to_read) if body is not None}
    for key, ids in wanted.items():
        live.candidates[key] = [details[i] for i in ids if i in details]


def _missing_host(desired: DesiredConfig, key: str, host: str) -> Diagnostic:
    spec = desired.meetings[key]
    pos = spec.where("host_email")
    return Diagnostic(
        "error", pos.file if pos else desired.path, pos.line if pos else None, pos.col if pos else None,
        f"{key}.host_email",
        f"Zoom has no user {host} in this account (code 1001)",
        "check the address, or add the user to the Zoom account first",
    )


def verify_hosts(client: ZoomClient, desired: DesiredConfig) -> list[str]:
    """GET /users/{email} for each host (verbose mode). Returns warnings; a missing user is bad input."""
    warnings: list[str] = []
    errors: list[Diagnostic] = []
    first_key = {}
    for key, spec in desired.meetings.items():
        first_key.setdefault(spec.host_email, key)
    for host, key in first_key.items():
        try:
            client.get_user(host)
        except ScopeError:
            warnings.append("Skipping user verification: token missing user read scope(s) "
                            "(add user:read:user:admin to the Zoom app to verify hosts)")
            break
        except UserNotFound:
            errors.append(_missing_host(desired, key, host))
    if errors:
        raise InputError(errors)
    return warnings
