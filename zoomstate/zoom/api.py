"""Typed calls for the Zoom endpoints zoomstate uses: users, meetings, pagination."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from zoomstate.clock import Clock, SystemClock
from zoomstate.zoom.auth import TokenProvider, ZoomCredentials
from zoomstate.zoom.errors import MeetingNotFound, ZoomError
from zoomstate.zoom.http import (
    DEFAULT_API_URL,
    DEFAULT_OAUTH_URL,
    MAX_TOKEN_REFRESHES,
    NEAR_RETRY_SECONDS,
    Answer,
    Backoff,
    Call,
    RequestLoop,
    Stats,
    Transport,
    is_loopback,
    log,
)
from zoomstate.zoom.pacing import Pacer

PAGE_SIZE = 300  # Zoom's maximum for the list endpoint


def _segment(value: str | int) -> str:
    """A path segment: emails keep their @, everything else unsafe is escaped."""
    return quote(str(value), safe="@")


class ZoomClient:
    """Client for the Zoom API, safe to share between threads (one HTTP session per thread)."""

    def __init__(
        self,
        creds: ZoomCredentials,
        api_url: str = DEFAULT_API_URL,
        oauth_url: str = DEFAULT_OAUTH_URL,
        plan: str = "pro",
        clock: Clock | None = None,
        rng: random.Random | None = None,
        max_attempts: int = 6,
        timeout: float = 30.0,
        max_backoff: float = 8.0,
        pace: bool = True,
    ):
        self.clock = clock or SystemClock()
        self.pacer = Pacer(plan, self.clock, enabled=pace)
        self._stats = Stats()
        # Proxies from the environment never apply to a local Zoom (sandbox, tests).
        trust_env = not (is_loopback(api_url) and is_loopback(oauth_url))
        self._transport = Transport(timeout, self._stats, trust_env=trust_env)
        backoff = Backoff(rng or random.Random(), cap=max_backoff)
        self._auth = TokenProvider(creds, oauth_url, self._transport, self.clock, backoff, max_attempts)
        self._loop = RequestLoop(
            api_url, self._transport, self._auth, self.pacer, self.clock, backoff, max_attempts
        )

    # -- users -------------------------------------------------------------------------------------

    def get_user(self, user_id_or_email: str) -> dict:
        """GET /users/{id or email}. Raises UserNotFound (404 1001), ScopeError (400 4711/4700)."""
        answer = self._call(
            "get_user",
            "GET",
            f"/users/{_segment(user_id_or_email)}",
            operation=f"look up user {user_id_or_email}",
        )
        return self._object(answer, f"look up user {user_id_or_email}")

    # -- meetings ----------------------------------------------------------------------------------

    def create_meeting(self, host_email: str, body: dict) -> dict:
        """POST /users/{host}/meetings; returns the 201 meeting object.

        Never replayed once it may have reached Zoom: raises AmbiguousCreateError instead.
        """
        operation = f"create meeting for {host_email}"
        answer = self._call(
            "create",
            "POST",
            f"/users/{_segment(host_email)}/meetings",
            operation=operation,
            body=body,
            host=host_email,
        )
        return self._object(answer, operation)

    def get_meeting(self, meeting_id: int) -> dict:
        """GET /meetings/{id}. Raises MeetingNotFound (404 3001)."""
        operation = f"get meeting {meeting_id}"
        answer = self._call("get", "GET", f"/meetings/{_segment(meeting_id)}", operation=operation)
        return self._object(answer, operation)

    def list_meetings(self, host_email: str, type: str = "scheduled") -> list[dict]:
        """Every page of GET /users/{host}/meetings, deduplicated by id, in Zoom's order."""
        operation = f"list meetings of {host_email}"
        path = f"/users/{_segment(host_email)}/meetings"
        meetings: list[dict] = []
        seen_ids: set[Any] = set()
        seen_tokens: set[str] = set()
        token = ""
        while True:
            params = {"type": type, "page_size": PAGE_SIZE}
            if token:
                params["next_page_token"] = token
            answer = self._call("list", "GET", path, operation=operation, params=params)
            page = self._object(answer, operation)
            for meeting in page.get("meetings") or []:
                key = meeting.get("id") if isinstance(meeting, dict) else None
                if key is None or key in seen_ids:
                    continue
                seen_ids.add(key)
                meetings.append(meeting)
            token = page.get("next_page_token") or ""
            if not token:
                return meetings
            if token in seen_tokens:
                # A repeated token would loop forever; what was read so far is complete up to it.
                log.debug("list %s: repeated next_page_token, stopping", path)
                return meetings
            seen_tokens.add(token)

    def update_meeting(self, meeting_id: int, body: dict) -> None:
        """PATCH /meetings/{id} (204). Send ``recurrence`` whole: Zoom replaces it."""
        self._call(
            "update",
            "PATCH",
            f"/meetings/{_segment(meeting_id)}",
            operation=f"update meeting {meeting_id}",
            body=body,
        )

    def delete_meeting(self, meeting_id: int) -> bool:
        """DELETE /meetings/{id}: True when deleted, False when already gone (404 3001)."""
        try:
            self._call(
                "delete",
                "DELETE",
                f"/meetings/{_segment(meeting_id)}",
                operation=f"delete meeting {meeting_id}",
            )
        except MeetingNotFound:
            return False
        return True

    # -- housekeeping ------------------------------------------------------------------------------

    def stats(self) -> dict:
        """Counts: requests by kind (create, get, list, update, delete, get_user, token), "429",
        "retries" and "5xx"."""
        return self._stats.snapshot()

    @property
    def longest_call(self) -> timedelta:
        """The longest one call can take, every attempt and wait included: a create it sends reaches Zoom
        before then (the applier bounds its recovery of a create by it)."""
        per_attempt = self._transport.timeout + NEAR_RETRY_SECONDS  # a wait on a rate limit, then the request
        return timedelta(seconds=(self._loop.max_attempts + MAX_TOKEN_REFRESHES) * per_attempt)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> ZoomClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ZoomClient(api_url={self._loop.api_url!r})"

    # -- internals ---------------------------------------------------------------------------------

    def _call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        operation: str,
        params: dict | None = None,
        body: Any = None,
        host: str | None = None,
    ) -> Answer:
        return self._loop.call(Call(kind, method, path, operation, params=params, body=body, host=host))

    @staticmethod
    def _object(answer: Answer, operation: str) -> dict:
        if not isinstance(answer.body, dict):
            raise ZoomError(
                f"expected a JSON object, got HTTP {answer.status} with "
                f"{'no body' if answer.body is None else type(answer.body).__name__}",
                status=answer.status,
                operation=operation,
            )
        return answer.body
