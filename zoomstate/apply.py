"""Carry out a Plan against Zoom, recording every result in the state file as it happens.

Creates are never retried blindly: a pending record is saved before the POST; after an ambiguous failure the
host's meetings are listed and the one that matches is adopted instead of creating a second one.
A host that hits Zoom's daily create/update limit has its remaining changes deferred to the next run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from zoomstate.clock import Clock, SystemClock
from zoomstate.crashpoints import CrashPoints
from zoomstate.model import DesiredConfig
from zoomstate.plan import Change, FieldDiff, Plan, find_match, live_value
from zoomstate.state import ManagedMeeting, PendingCreate, State, StateStore, StateWriter, seal_view_passcode
from zoomstate.zoom import AmbiguousCreateError, DailyLimitError, ZoomClient, ZoomError
from zoomstate.zoombody import (
    DesiredMeeting,
    LiveMeeting,
    OccurrenceChange,
    candidate_ids,
    create_answer_complete,
    live_meeting,
    occurrence_changes,
    outputs_of,
    same_zone,
)

CREATE_ATTEMPTS = 3


@dataclass
class Outcome:
    change: Change
    status: str  # "done" | "failed" | "deferred"
    detail: str = ""
    meeting_id: int | None = None
    join_url: str = ""
    registration_url: str = ""
    # Managed fields Zoom did not keep as sent: before = what Zoom kept, after = what was sent.
    kept: list[FieldDiff] = field(default_factory=list)


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)

    def by_status(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        return all(o.status == "done" for o in self.outcomes)

    def counts(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)


class Applier:
    def __init__(
        self,
        client: ZoomClient,
        store: StateStore,
        state: State,
        desired: DesiredConfig | None,
        *,
        clock: Clock | None = None,
        parallelism: int = 8,
        on_outcome: Callable[[Outcome], None] | None = None,
    ):
        self.client = client
        self.store = store
        self.state = state
        self.desired = desired
        self.clock = clock or SystemClock()
        self.parallelism = max(1, parallelism)
        self.on_outcome = on_outcome
        self.writer = StateWriter(store, state)  # every change to the state goes through it
        self._exhausted_hosts: dict[str, str] = {}
        self.crash = CrashPoints.from_env()

    # ------------------------------------------------------------------------------------------ driver

    def apply(self, plan: Plan) -> ApplyResult:
        result = ApplyResult()
        todo = plan.pending_changes
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            for outcome in pool.map(self._run_one, todo):
                result.outcomes.append(outcome)
        self.writer.compact()  # the run's journal becomes the usual state file
        return result

    def _run_one(self, change: Change) -> Outcome:
        host = change.host_email.lower()
        if host in self._exhausted_hosts and change.action != "delete":
            outcome = Outcome(change, "deferred", self._exhausted_hosts[host])
        else:
            try:
                outcome = self._execute(change)
            except DailyLimitError as exc:
                when = exc.retry_after.strftime("%Y-%m-%d %H:%M UTC") if exc.retry_after else "00:00 UTC"
                reason = (f"Zoom's daily create/update limit for {change.host_email} is used up; "
                          f"run apply again after {when}")
                self._exhausted_hosts[host] = reason
                outcome = Outcome(change, "deferred", reason)
            except ZoomError as exc:
                outcome = Outcome(change, "failed", str(exc))
        if self.on_outcome:
            self.on_outcome(outcome)
        return outcome

    def _execute(self, change: Change) -> Outcome:
        action = change.action
        want = self._desired(change)  # once per change: every step below works from the same body and view
        if action == "create":
            meeting, sent = self._create(change, want)
            return self._done(change, want, self._occurrences(change, want, meeting, series_written=True), sent=sent)
        if action == "adopt":
            return self._adopt(change, want)
        if action == "update":
            return self._update(change, want)
        if action == "replace":
            return self._replace(change, want)
        if action == "delete":
            return self._delete(change)
        raise ValueError(f"unknown action {action}")

    # ------------------------------------------------------------------------------------------ actions

    def _desired(self, change: Change) -> DesiredMeeting | None:
        """The meeting as the file says it, as of now (so the start sent is still in the future)."""
        if self.desired is not None and change.key in self.desired.meetings:
            return DesiredMeeting(self.desired.meetings[change.key], self.clock.now())
        return None

    @staticmethod
    def _payload(change: Change, want: DesiredMeeting | None) -> dict[str, Any] | None:
        """The body to send now: from the meetings file as of now, so the start is still in the future."""
        return want.body if want is not None else change.payload

    @staticmethod
    def _view(want: DesiredMeeting | None) -> dict[str, Any]:
        if want is None:
            return {}
        return {**want.view, "prevent_delete": want.spec.prevent_delete}

    def _create(self, change: Change, want: DesiredMeeting | None) -> tuple[LiveMeeting, dict[str, Any] | None]:
        """Create (or find the meeting an interrupted create made); returns it as Zoom now holds it and the
        body sent (None when found). The create answer is the meeting as Zoom stored it; it is read back with
        a GET only when the answer lacks a field that was sent (see create_answer_complete)."""
        body = self._payload(change, want)
        assert body is not None
        view = self._view(want)
        earlier = self._interrupted_create(change, want)
        if earlier is not None:
            return earlier, None
        pending = PendingCreate(change.key, change.host_email, change.topic,
                                {k: view.get(k) for k in ("topic", "timezone", "local_time", "recurrence")},
                                self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"), self._create_deadline())
        self.crash.reach("before-pending")
        self.writer.commit(lambda state: state.pending.__setitem__(change.key, pending))
        self.crash.reach("before-create")
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            if attempt > 1:  # another POST: the window in which Zoom may make the meeting reaches further
                pending = replace(pending, deadline=self._create_deadline())
                self.writer.commit(lambda state, pending=pending: state.pending.__setitem__(change.key, pending))
            try:
                created = self.client.create_meeting(change.host_email, body)
                self.crash.reach("after-create")
                if not create_answer_complete(created, body):
                    created = self.client.get_meeting(int(created["id"]))
                return live_meeting(created), body
            except AmbiguousCreateError:
                found = self._recover(change, pending, want)
                if found is not None:
                    return found, None
                if attempt == CREATE_ATTEMPTS:
                    raise
            except ZoomError:
                self.writer.commit(lambda state: state.pending.pop(change.key, None))
                raise
        raise AssertionError("unreachable")

    def _create_deadline(self) -> str:
        """The latest moment a create call starting now can reach Zoom (UTC, ...Z)."""
        return (self.clock.now() + self.client.longest_call).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _interrupted_create(self, change: Change, want: DesiredMeeting | None) -> LiveMeeting | None:
        """The meeting an earlier run's create may have made, when its pending record is still here.

        The planner looks for these only for keys it does not manage yet; a replace, or a create again after a
        meeting was deleted in Zoom, keeps the key managed, so the look happens here before a second POST.
        """
        earlier = self.writer.read(lambda state: state.pending.get(change.key))
        if earlier is None or earlier.host_email.lower() != change.host_email.lower():
            return None
        return self._recover(change, earlier, want)

    def _recover(self, change: Change, pending: PendingCreate, want: DesiredMeeting | None) -> LiveMeeting | None:
        """After an ambiguous create: find the meeting Zoom may have made, so we never make a second one."""
        claimed = self.writer.read(lambda state: set(state.by_meeting_id()))
        ids = candidate_ids(self.client.list_meetings(change.host_email), (change.topic,), claimed)
        candidates = [live_meeting(self.client.get_meeting(i)) for i in ids]
        return find_match(want or pending.fingerprint, candidates, claimed, created_after=pending.started_at,
                          created_before=pending.latest_create)

    def _adopt(self, change: Change, want: DesiredMeeting | None) -> Outcome:
        assert change.meeting_id is not None
        body = self._payload(change, want) if change.diffs else None
        if body is not None:
            self.client.update_meeting(change.meeting_id, body)
        meeting = live_meeting(self.client.get_meeting(change.meeting_id))
        meeting = self._occurrences(change, want, meeting, series_written=body is not None)
        return self._done(change, want, meeting, adopted=True, sent=body)

    def _update(self, change: Change, want: DesiredMeeting | None) -> Outcome:
        assert change.meeting_id is not None
        body = self._payload(change, want) if change.payload is not None else None
        if body is None and change.moved_from:
            return self._move(change, want)
        if body is None and change.occurrences:  # only single occurrences to cancel or move
            self._occurrence_calls(change.meeting_id, change.occurrences)
            outcome = self._done(change, want, live_meeting(self.client.get_meeting(change.meeting_id)))
            outcome.detail = "; ".join(o.text() for o in change.occurrences)
            return outcome
        if body is None:  # Zoom already matches (or only prevent_delete changed): record what Zoom holds
            outcome = self._done(change, want, live_meeting(self.client.get_meeting(change.meeting_id)))
            outcome.detail = "state updated"
            return outcome
        self.crash.reach("before-update")
        self.client.update_meeting(change.meeting_id, body)
        self.crash.reach("after-update")
        meeting = live_meeting(self.client.get_meeting(change.meeting_id))
        return self._done(change, want, self._occurrences(change, want, meeting, series_written=True), sent=body)

    def _move(self, change: Change, want: DesiredMeeting | None) -> Outcome:
        """A rename that Zoom already matches: the state record moves to the new key, no Zoom call."""
        view = self._view(want)
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

        def rename(state: State) -> None:
            record = state.meetings.pop(change.moved_from)
            kept = record.managed.get("kept")
            state.meetings[change.key] = replace(record, key=change.key, topic=change.topic,
                                                 managed={**view, **({"kept": kept} if kept else {})},
                                                 updated_at=now)

        self.writer.commit(rename)
        self.crash.reach("after-save")
        return Outcome(change, "done", f"moved from {change.moved_from}", change.meeting_id)

    def _replace(self, change: Change, want: DesiredMeeting | None) -> Outcome:
        old_id = change.meeting_id
        meeting, sent = self._create(change, want)  # create first: people keep a meeting if the create fails
        if old_id is not None:
            # The state keeps the old meeting (and the pending create) until it is deleted: recording the new
            # one first would forget the old one if we stopped here, leaving it in Zoom for good.
            self.crash.reach("before-delete")
            self.client.delete_meeting(old_id)
            self.crash.reach("after-delete")
        outcome = self._done(change, want, self._occurrences(change, want, meeting, series_written=True), sent=sent)
        outcome.detail = f"replaced meeting {old_id}"
        return outcome

    def _delete(self, change: Change) -> Outcome:
        existed = False
        if change.meeting_id is not None:  # None: only a pending create, which never reached Zoom, is left
            self.crash.reach("before-delete")
            existed = self.client.delete_meeting(change.meeting_id)
            self.crash.reach("after-delete")
        def forget(state: State) -> None:
            state.meetings.pop(change.key, None)
            state.pending.pop(change.key, None)

        self.writer.commit(forget)
        detail = "deleted" if existed else "already gone in Zoom" if change.meeting_id else "pending create forgotten"
        return Outcome(change, "done", detail, change.meeting_id)

    def _occurrences(self, change: Change, want: DesiredMeeting | None, meeting: LiveMeeting, *,
                     series_written: bool) -> LiveMeeting:
        """Cancel and move single occurrences, after the series call; returns the meeting as Zoom then holds it.

        After a series call the calls are worked out again from what Zoom now holds (a create has just made
        the occurrence ids; a PATCH may have reset them); otherwise the plan's calls are made as planned.
        """
        ops = change.occurrences
        if series_written:
            if want is None or (not want.spec.skip_dates and not want.spec.overrides):
                return meeting
            ops, _ = occurrence_changes(want, meeting)
        if not ops:
            return meeting
        self._occurrence_calls(meeting.meeting_id, ops)
        return live_meeting(self.client.get_meeting(meeting.meeting_id))

    def _occurrence_calls(self, meeting_id: int, ops: list[OccurrenceChange]) -> None:
        for op in ops:
            if op.op == "cancel":
                self.client.cancel_occurrence(meeting_id, op.occurrence_id, notify=op.notify)
            else:
                self.client.update_occurrence(meeting_id, op.occurrence_id, op.body())

    # ------------------------------------------------------------------------------------------ state

    def _done(self, change: Change, want: DesiredMeeting | None, meeting: LiveMeeting, *, adopted: bool = False,
              sent: dict[str, Any] | None = None) -> Outcome:
        outputs = outputs_of(meeting)
        meeting_id = meeting.meeting_id
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        view = self._view(want)
        kept = not_kept(sent, meeting) if sent is not None else []

        def record(state: State) -> None:
            previous = state.meetings.get(change.key)
            if change.moved_from:  # a rename: the record moves to the new key, with its history
                previous = state.meetings.pop(change.moved_from, None) or previous
            created_at = meeting.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if meeting.created_at else now
            was_adopted = adopted
            if previous is not None and previous.meeting_id == meeting_id:
                created_at = previous.created_at or created_at
                was_adopted = adopted or previous.adopted
            stored = seal_view_passcode(view, state.ensure_passcode_key()) if "password" in view else dict(view)
            if sent is not None:
                if kept:
                    stored["kept"] = {d.path: {"sent": d.after, "kept": d.before} for d in kept}
            elif previous is not None and previous.managed.get("kept") and stored:
                stored["kept"] = previous.managed["kept"]  # nothing sent: what Zoom kept still stands
            state.meetings[change.key] = ManagedMeeting(
                key=change.key,
                meeting_id=meeting_id,
                host_email=change.host_email,
                topic=change.topic,
                created_at=created_at,
                managed=stored,
                outputs=outputs,
                adopted=was_adopted,
                updated_at=now,
            )
            state.pending.pop(change.key, None)

        self.writer.commit(record)
        self.crash.reach("after-save")
        return Outcome(change, "done", "", meeting_id, outputs.get("join_url", ""),
                       outputs.get("registration_url", ""), kept)


def not_kept(sent: dict[str, Any], live: LiveMeeting) -> list[FieldDiff]:
    """Managed fields whose value in Zoom (read back after a create or PATCH) is not the value sent."""
    found: list[FieldDiff] = []
    for name in ("topic", "agenda", "duration"):
        if name in sent and live_value(live, name) != sent[name]:
            found.append(FieldDiff(name, live_value(live, name), sent[name]))
    if "timezone" in sent and not same_zone(live.timezone, sent["timezone"]):
        found.append(FieldDiff("timezone", live.timezone, sent["timezone"]))
    for name, value in (sent.get("settings") or {}).items():
        if live.settings.get(name) != value:
            found.append(FieldDiff(f"settings.{name}", live.settings.get(name), value))
    return found
