"""Typed calls for the Zoom endpoints zoomstate uses: users, meetings, pagination."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from zoomstate.clock import Clock, SystemClock
from zoomstate.zoom.auth import TokenProvider, ZoomCredentials
from zoomstate.zoom.errors import MeetingNotFound, ValidationFailed, ZoomError
from zoomstate.zoom.http import (
    DEFAULT_API_URL,
    DEFAULT_OAUTH_URL,
    MAX_TOKEN_REFRESHES,
    NEAR_RETRY_SECONDS,
    REQUEST_DEADLINE,
    Answer,
    Backoff,
    Call,
    RequestLoop,
    Stats,
    Transport,
    check_url,
    is_loopback,
)
from zoomstate.zoom.pacing import Pacer

PAGE_SIZE = 300  # Zoom's maximum for the list endpoint
# A host's list never needs more pages than this (300 per page); past it the server is looping.
MAX_LIST_PAGES = 1000
# Zoom's answer for the number of a meeting that ended or never existed, on per-meeting endpoints
# (HTTP 400, code 300): the meeting is gone, as with 404 code 3001.
INVALID_MEETING_ID = "invalid meeting id"


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
        deadline: float = REQUEST_DEADLINE,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        # Before anything connects: credentials and tokens never travel over plain http to another machine.
        check_url(api_url, "ZOOM_API_URL")
        check_url(oauth_url, "ZOOM_OAUTH_URL")
        self.clock = clock or SystemClock()
        self.pacer = Pacer(plan, self.clock, enabled=pace)
        self._stats = Stats()
        # Proxies from the environment never apply to a local Zoom (sandbox, tests).
        trust_env = not (is_loopback(api_url) and is_loopback(oauth_url))
        self._transport = Transport(timeout, self._stats, trust_env=trust_env, deadline=deadline,
                                    monotonic=monotonic)
        backoff = Backoff(rng or random.Random(), cap=max_backoff)
        self._auth = TokenProvider(creds, oauth_url, self._transport, self.clock, backoff, max_attempts,
                                   api_url=api_url)
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
        return _object(answer, "GET", f"/users/{user_id_or_email}", f"look up user {user_id_or_email}")

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
        return _meeting(answer, "POST", f"/users/{host_email}/meetings", operation)

    def get_meeting(self, meeting_id: int) -> dict:
        """GET /meetings/{id}. Raises MeetingNotFound (404 3001, or 400 300 "Invalid meeting id.")."""
        operation = f"get meeting {meeting_id}"
        answer = self._meeting_call("get", "GET", meeting_id, operation)
        return _meeting(answer, "GET", f"/meetings/{meeting_id}", operation)

    def list_meetings(self, host_email: str, type: str = "scheduled") -> list[dict]:
        """Every page of GET /users/{host}/meetings, deduplicated by id, in Zoom's order.

        A repeated or endless next_page_token is an error: a partial list would hide meetings."""
        operation = f"list meetings of {host_email}"
        path = f"/users/{_segment(host_email)}/meetings"
        shown = f"GET /users/{host_email}/meetings"
        meetings: list[dict] = []
        seen_ids: set[int] = set()
        seen_tokens: set[str] = set()
        token = ""
        pages = 0
        while True:
            params = {"type": type, "page_size": PAGE_SIZE}
            if token:
                params["next_page_token"] = token
            answer = self._call("list", "GET", path, operation=operation, params=params)
            pages += 1
            page = _object(answer, "GET", shown, operation)
            for meeting in _list_items(page, answer, shown, operation):
                if meeting["id"] not in seen_ids:
                    seen_ids.add(meeting["id"])
                    meetings.append(meeting)
            token = page.get("next_page_token") or ""
            if not token:
                return meetings
            if not isinstance(token, str):
                raise _shape_error(answer, shown, operation, "a next_page_token that is not a string")
            if token in seen_tokens:
                raise _shape_error(answer, shown, operation,
                                   f"the same next_page_token twice (page {pages}): the list would never end")
            total = page.get("total_records")
            bound = MAX_LIST_PAGES
            if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
                # Every page but the last carries a meeting; slack for meetings added while listing.
                bound = min(bound, total + 2)
            if pages >= bound:
                raise _shape_error(answer, shown, operation,
                                   f"a next_page_token after {pages} pages: the list would never end")
            seen_tokens.add(token)

    def list_users(self) -> list[str]:
        """The emails of every active user (GET /users, all pages), for `zoomstate dump --all-hosts`."""
        operation = "list users"
        emails: list[str] = []
        token = ""
        for _ in range(MAX_LIST_PAGES):
            params: dict[str, Any] = {"status": "active", "page_size": PAGE_SIZE}
            if token:
                params["next_page_token"] = token
            answer = self._call("list", "GET", "/users", operation=operation, params=params)
            page = _object(answer, "GET", "/users", operation)
            users = page.get("users") if isinstance(page.get("users"), list) else []
            emails += [str(u["email"]) for u in users if isinstance(u, dict) and u.get("email")]
            token = page.get("next_page_token") or ""
            if not token or not isinstance(token, str):
                return list(dict.fromkeys(emails))
        raise _shape_error(answer, "GET /users", operation, "a next_page_token on every page")

    def update_meeting(self, meeting_id: int, body: dict) -> None:
        """PATCH /meetings/{id} (204). Send ``recurrence`` whole: Zoom replaces it."""
        self._meeting_call("update", "PATCH", meeting_id, f"update meeting {meeting_id}", body=body)

    def update_occurrence(self, meeting_id: int, occurrence_id: str, body: dict) -> None:
        """PATCH /meetings/{id}?occurrence_id= (204): one occurrence's start_time, duration or agenda."""
        self._meeting_call("update", "PATCH", meeting_id, f"update occurrence {occurrence_id} of meeting {meeting_id}",
                           body=body, params={"occurrence_id": occurrence_id})

    def cancel_occurrence(self, meeting_id: int, occurrence_id: str, *, notify: bool = False) -> None:
        """DELETE /meetings/{id}?occurrence_id= (204): Zoom keeps the occurrence with status "deleted".
        ``notify`` emails the registrants (cancel_meeting_reminder)."""
        self._meeting_call("delete", "DELETE", meeting_id, f"cancel occurrence {occurrence_id} of meeting "
                           f"{meeting_id}", params={"occurrence_id": occurrence_id,
                                                   "cancel_meeting_reminder": "true" if notify else "false"})

    def delete_meeting(self, meeting_id: int) -> bool:
        """DELETE /meetings/{id}: True when deleted, False when already gone (404 3001 or 400 300)."""
        try:
            self._meeting_call("delete", "DELETE", meeting_id, f"delete meeting {meeting_id}")
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
        # A wait on a rate limit, then the request, which the transport cuts at its wall-clock deadline.
        per_attempt = max(self._transport.deadline, self._transport.timeout) + NEAR_RETRY_SECONDS
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

    def _meeting_call(self, kind: str, method: str, meeting_id: int, operation: str, body: Any = None,
                      params: dict | None = None) -> Answer:
        try:
            return self._call(kind, method, f"/meetings/{_segment(meeting_id)}", operation=operation, body=body,
                              params=params)
        except ValidationFailed as exc:
            if exc.code == 300 and not exc.errors and exc.message.strip().rstrip(".").lower() == INVALID_MEETING_ID:
                raise MeetingNotFound(exc.message, status=exc.status, code=exc.code, operation=operation) from None
            raise


# -- the shape of Zoom's answers ----------------------------------------------------------------------
# Checked here, once, so that a body of the wrong shape is one clear error naming the call, never a
# traceback in a later stage.


def _shape_error(answer: Answer, call: str, operation: str, what: str) -> ZoomError:
    return ZoomError(f"Zoom answered {call} with {what}", status=answer.status, operation=operation,
                     hint="Check ZOOM_API_URL: it must point at Zoom's API")


def _object(answer: Answer, method: str, path: str, operation: str) -> dict:
    """The answer's JSON object, or an error that says what came instead."""
    call = f"{method} {path}"
    if isinstance(answer.body, dict):
        return answer.body
    if answer.body is None and answer.raw_text:
        looks_html = "html" in answer.content_type.lower() or answer.raw_text.lstrip().startswith("<")
        kind = "HTML" if looks_html else f"a non-JSON body ({answer.content_type.split(';')[0] or 'no type'})"
        raise _shape_error(answer, call, operation, f"{kind}, not JSON")
    if answer.body is None:
        raise _shape_error(answer, call, operation, "an empty body, not a JSON object")
    raise _shape_error(answer, call, operation, f"a JSON {_json_type(answer.body)}, not an object")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _is_meeting_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _meeting_problem(meeting: dict) -> str | None:
    """What is wrong with a meeting object's shape, as far as zoomstate reads it (None: nothing)."""
    if "id" not in meeting:
        return "no id"
    if not _is_meeting_id(meeting["id"]):
        return f"an id that is a {_json_type(meeting['id'])} ({str(meeting['id'])[:40]!r}), not a positive integer"
    for name, expected, allow_null in (("settings", dict, False), ("recurrence", dict, True),
                                       ("occurrences", list, True), ("topic", str, False),
                                       ("timezone", str, True), ("start_time", str, True)):
        if name in meeting and not isinstance(meeting[name], expected) and not (allow_null and meeting[name] is None):
            wanted = "an object" if expected is dict else "an array" if expected is list else "a string"
            return f"{name} that is a {_json_type(meeting[name])}, not {wanted}"
    if any(not isinstance(o, dict) for o in meeting.get("occurrences") or []):
        return "occurrences that are not all objects"
    return None


def _meeting(answer: Answer, method: str, path: str, operation: str) -> dict:
    meeting = _object(answer, method, path, operation)
    problem = _meeting_problem(meeting)
    if problem:
        raise _shape_error(answer, f"{method} {path}", operation, f"a meeting with {problem}")
    return meeting


def _list_items(page: dict, answer: Answer, call: str, operation: str) -> list[dict]:
    items = page.get("meetings", [])
    if not isinstance(items, list):
        raise _shape_error(answer, call, operation, f"meetings that is a {_json_type(items)}, not an array")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise _shape_error(answer, call, operation, f"meetings[{n}] that is a {_json_type(item)}, not an object")
        if not _is_meeting_id(item.get("id")):
            raise _shape_error(answer, call, operation, f"meetings[{n}] without a positive integer id")
        if "topic" in item and not isinstance(item["topic"], str):
            raise _shape_error(answer, call, operation, f"meetings[{n}] whose topic is not a string")
    return items
