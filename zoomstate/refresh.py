"""Read what Zoom holds now: GET every managed meeting, and list each host's meetings once (one Medium call
per 300 meetings of a host, run beside the GETs) for adoption, recovery and duplicates.

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
    selected = set(targets) or None
    live = LiveSnapshot(refreshed=True)

    managed_ids = [m.meeting_id for k, m in state.meetings.items() if selected is None or k in selected]
    # Desired keys that need a look at their host's meetings: not managed yet, or a create was interrupted.
    unmanaged = {k: s for k, s in desired.meetings.items()
                 if k not in state.meetings and (selected is None or k in selected)}
    # Creates interrupted for keys since removed from the file: the meeting they may have made is looked for,
    # so that it is deleted instead of being left in Zoom, unmanaged.
    abandoned = {k: p for k, p in state.pending.items()
                 if k not in desired.meetings and k not in state.meetings and (selected is None or k in selected)}
    # Managed meetings still in the file: their hosts are listed too, for duplicates (a second seed run).
    kept = {k: m for k, m in state.meetings.items() if k in desired.meetings and (selected is None or k in selected)}
    hosts = sorted({s.host_email for s in unmanaged.values()} | {p.host_email for p in abandoned.values()}
                   | {desired.meetings[k].host_email for k in kept})

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
    return live


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
