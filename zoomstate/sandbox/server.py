"""The sandbox's HTTP layer: a local Zoom API on 127.0.0.1 (S2S OAuth token endpoint and the /v2 routes).

One :class:`Sandbox` owns a threaded HTTP server, the account's store, the rate limiters and the fault
switches. Every request is read completely before anything is answered (an early 429 would otherwise
leave the body in the socket and corrupt the next keep-alive request), and Nagle is off (without it a
keep-alive exchange stalls about 40 ms per request).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import logging
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from zoomstate.clock import Clock, SystemClock
from zoomstate.sandbox.faults import Faults
from zoomstate.sandbox.limits import (
    LIGHT,
    MEDIUM,
    PLAN_QPS,
    QPS_MESSAGE,
    QpsLimiter,
    Verdict,
    daily_user_message,
    next_utc_midnight,
)
from zoomstate.sandbox.store import ApiError, Store, ZoomLike, scope_error, user_not_found

log = logging.getLogger("zoomstate.sandbox")

# The granular scopes of an S2S app allowed everything this tool calls (Zoom's API reference).
SCOPES = " ".join((
    "meeting:write:meeting:admin", "meeting:read:meeting:admin", "meeting:read:list_meetings:admin",
    "meeting:update:meeting:admin", "meeting:delete:meeting:admin", "user:read:user:admin",
))
TOKEN_ROUTE = "POST /oauth/token"
LIST_TYPES = ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings")
MAX_PAGE_SIZE = 300


@dataclass(frozen=True)
class RequestRecord:
    """One request as the sandbox saw it. ``body`` is the parsed JSON sent (None for none or the token
    endpoint's form); ``dropped`` means the connection was closed instead of answering ``status``."""

    method: str
    route: str
    path: str
    status: int
    body: Any
    time: datetime
    dropped: bool = False


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without writing anything


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    label: str
    handler: str


def _route(method: str, pattern: str, name: str, label: str, handler: str) -> _Route:
    return _Route(method, re.compile(pattern), name, label, handler)


# Rate-limit labels from Zoom's API reference: create and list are Medium, the rest Light.
ROUTES = (
    _route("POST", r"^/users/(?P<userId>[^/]+)/meetings$", "POST /users/{userId}/meetings", MEDIUM, "_create"),
    _route("GET", r"^/users/(?P<userId>[^/]+)/meetings$", "GET /users/{userId}/meetings", MEDIUM, "_list"),
    _route("GET", r"^/users/(?P<userId>[^/]+)$", "GET /users/{userId}", LIGHT, "_get_user"),
    _route("GET", r"^/users$", "GET /users", MEDIUM, "_list_users"),
    _route("GET", r"^/meetings/(?P<meetingId>[^/]+)/registrants$", "GET /meetings/{meetingId}/registrants",
           MEDIUM, "_registrants"),
    _route("POST", r"^/meetings/(?P<meetingId>[^/]+)/registrants$", "POST /meetings/{meetingId}/registrants",
           LIGHT, "_add_registrant"),
    _route("GET", r"^/meetings/(?P<meetingId>[^/]+)$", "GET /meetings/{meetingId}", LIGHT, "_get_meeting"),
    _route("PATCH", r"^/meetings/(?P<meetingId>[^/]+)$", "PATCH /meetings/{meetingId}", LIGHT, "_update"),
    _route("DELETE", r"^/meetings/(?P<meetingId>[^/]+)$", "DELETE /meetings/{meetingId}", LIGHT, "_delete"),
)


def _json_object(raw: bytes) -> dict:
    """The request body as a JSON object, or Zoom's code-300 answer."""
    try:
        value = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise ApiError(400, 300, "Request Body should be a valid JSON object.")
    return value


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _oauth_error(reason: str, error: str, status: int = 400) -> Reply:
    return Reply(status, {"reason": reason, "error": error})


class Sandbox:
    """A local Zoom account and its API on 127.0.0.1.

    ``users`` are the host emails that exist (others answer 404 code 1001 unless ``auto_create_users``).
    ``plan`` picks the per-second limits (free, pro, business); ``daily_limit`` is the creates+updates
    per host and UTC day. ``clock`` drives token expiry, the daily limit, "now" for past start times and
    upcoming occurrences, and (through ``monotonic()``) the per-second windows. With ``store_path``
    the account is loaded at construction and saved after every write. ``seed`` fixes meeting ids and
    the fault RNG; tokens are always unguessable.
    """

    def __init__(
        self,
        users: Iterable[str] = (),
        account_id: str = "sandbox-account",
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        plan: str = "pro",
        rate_limits: bool = True,
        daily_limit: int = 100,
        token_ttl: int = 3600,
        latency: float = 0.0,
        clock: Clock | None = None,
        store_path: str | Path | None = None,
        seed: int = 0,
        auto_create_users: bool = False,
        revoke_previous_tokens: bool = False,
    ):
        if plan not in PLAN_QPS:
            raise ValueError(f"unknown plan {plan!r}: choose one of {', '.join(PLAN_QPS)}")
        self.account_id, self.client_id, self.client_secret = account_id, client_id, client_secret
        self.plan = plan
        self.daily_limit = daily_limit
        self.token_ttl = token_ttl
        self.latency = latency
        self.clock: Clock = clock or SystemClock()
        self.seed = seed
        self.auto_create_users = auto_create_users
        # Zoom keeps earlier tokens valid (Zoom's API reference); older notes say a new token revokes the old ones.
        self.revoke_previous_tokens = revoke_previous_tokens
        self.qps = QpsLimiter(plan, self.clock, enabled=rate_limits)
        self.faults = Faults()
        self.faults.seed(seed)
        self.store = Store(account_id, seed=seed, path=Path(store_path) if store_path else None)
        self.store.load()
        self.store.ensure_users(users, self.clock.now())
        self.requests: list[RequestRecord] = []
        self.issued_tokens: list[str] = []
        self._tokens: dict[str, datetime] = {}  # token -> expiry on the sandbox clock
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._port: int | None = None  # kept after stop(), so URLs can still be shown
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, port: int = 0) -> Sandbox:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", port), _Handler)
        server.sandbox = self
        self._server = server
        self._port = int(server.server_address[1])
        # A short poll makes stop() quick; an idle wake-up every 10 ms costs nothing measurable.
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="zoom-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox was never started: call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v2"

    @property
    def oauth_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    # -- inspection and out-of-band changes ---------------------------------------------------------

    def add_user(self, email: str, timezone: str = "UTC") -> dict:
        return dict(self.store.add_user(email, self.clock.now(), timezone))

    def meetings(self) -> list[dict]:
        """Every stored meeting, as GET /meetings/{id} would return it now."""
        return self.store.all_meetings(self.clock.now())

    def meeting(self, meeting_id: int) -> dict | None:
        try:
            return self.store.render(meeting_id, self.clock.now())
        except ApiError:
            return None

    def delete_out_of_band(self, meeting_id: int) -> None:
        """As if deleted in Zoom's web UI (KeyError when there is no such meeting)."""
        try:
            self.store.delete(meeting_id)
        except ApiError as exc:
            raise KeyError(meeting_id) from exc

    def update_out_of_band(self, meeting_id: int, changes: dict) -> dict:
        """Deep-merge ``changes`` into the stored meeting, as an edit in Zoom's web UI would."""
        try:
            self.store.merge_out_of_band(meeting_id, changes)
        except ApiError as exc:
            raise KeyError(meeting_id) from exc
        return self.store.render(meeting_id, self.clock.now())

    def create_out_of_band(self, host_email: str, body: dict) -> dict:
        """As if created elsewhere (the seed script, the web UI): Zoom's validation, but no limits."""
        now = self.clock.now()
        user = self.store.add_user(host_email, now)
        try:
            meeting = self.store.create(user, body, now)
        except ApiError as exc:
            raise ValueError(f"{exc.message} {exc.errors or ''}".strip()) from exc
        return self.store.render(meeting["id"], now)

    def zoom_like(self, host: str | None = None, **switches: Any) -> ZoomLike:
        """Make the account (or one host) behave like real Zoom where it departs from the documentation;
        see :class:`ZoomLike` for the switches."""
        return self.store.set_behaviour(host, **switches)

    def set_faults(self, **changes: float | int | bool) -> None:
        self.faults.update(**changes)

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def counts(self) -> Counter:
        """Requests per route, plus "429": the number of 429 answers."""
        with self._lock:
            records = list(self.requests)
        counter = Counter(r.route for r in records)
        counter["429"] = sum(1 for r in records if r.status == 429)
        return counter

    # -- dispatch -----------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, raw_body: bytes) -> Reply:
        """Answer one request (called by the HTTP handler thread)."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        recorded_body: Any = None
        if parts.path == "/oauth/token":
            route = TOKEN_ROUTE if method == "POST" else f"{method} /oauth/token"
            reply = self._token(method, query, headers, raw_body)
        elif parts.path == "/v2" or parts.path.startswith("/v2/"):
            recorded_body = _parsed_or_none(raw_body)
            route, reply = self._api(method, parts.path[3:], query, headers, raw_body)
        else:
            route, reply = f"{method} {parts.path}", Reply(404, {"code": 404, "message": "Not Found."})
        record = RequestRecord(method, route, raw_path, reply.status, recorded_body, self.clock.now(), reply.drop)
        with self._lock:
            self.requests.append(record)
        return reply

    def _find_route(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        for route in ROUTES:
            match = route.pattern.match(path)
            if match and route.method == method:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
        return None

    def _api(self, method: str, path: str, query: dict, headers: Any, raw_body: bytes) -> tuple[str, Reply]:
        found = self._find_route(method, path)
        if found is None:
            return f"{method} {path}", Reply(404, {"code": 404, "message": "Not Found."})
        route, params = found
        faults = self.faults
        if faults.chance(faults.reset_before):
            return route.name, Reply(0, drop=True)
        if faults.chance(faults.slow_rate):
            time.sleep(max(faults.slow_seconds, 0.0))
        reply = self._api_reply(route, params, query, headers, raw_body)
        if not reply.drop:
            delay = self.latency + faults.latency
            if delay > 0:
                time.sleep(delay)
        return route.name, reply

    def _api_reply(self, route: _Route, params: dict, query: dict, headers: Any, raw_body: bytes) -> Reply:
        faults = self.faults
        try:
            token = self._authorize(headers.get("Authorization"))
        except ApiError as exc:
            return Reply(exc.status, exc.body(), self.qps.peek(route.label).headers())
        if faults.token_expires_now():
            with self._lock:
                self._tokens[token] = self.clock.now() - timedelta(seconds=1)
            return Reply(401, {"code": 124, "message": "Access token is expired."},
                         self.qps.peek(route.label).headers())
        if faults.chance(faults.rate_429):
            extra = {"Retry-After": "1"} if faults.chance(0.5) else {}
            return Reply(429, {"code": 429, "message": QPS_MESSAGE},
                         {**Verdict(False, route.label, self.qps.limits[route.label], 0).headers(), **extra})
        if faults.chance(faults.rate_5xx) or (route.method == "GET" and faults.chance(faults.rate_5xx_reads)):
            status = faults.pick((500, 502, 503, 504))
            return Reply(status, {"code": status, "message": "The server had an error. Try again later."},
                         self.qps.peek(route.label).headers())
        verdict = self.qps.take(route.label)
        if not verdict.allowed:
            return Reply(429, {"code": 429, "message": QPS_MESSAGE}, {**verdict.headers(), "Retry-After": "1"})
        handler: Callable[[dict, dict, bytes], Reply] = getattr(self, route.handler)
        try:
            reply = handler(params, query, raw_body)
        except ApiError as exc:
            reply = Reply(exc.status, exc.body(), exc.headers)
        except Exception:  # a sandbox bug must show up, not hang the client
            log.exception("sandbox failed on %s", route.name)
            reply = Reply(500, {"code": 500, "message": "Internal server error."})
        if (faults.unknown_meeting_code_300 and "meetingId" in params and reply.status == 404
                and isinstance(reply.body, dict) and reply.body.get("code") == 3001):
            reply = Reply(400, {"code": 300, "message": "Invalid meeting id."}, reply.headers)
        reply.headers = {**verdict.headers(), **reply.headers}
        if route.handler == "_create" and reply.status == 201 and faults.chance(faults.drop_after_create):
            reply.drop = True  # stored, but the client never hears about it
        return reply

    # -- OAuth --------------------------------------------------------------------------------------

    def _token(self, method: str, query: dict, headers: Any, raw_body: bytes) -> Reply:
        if method != "POST":
            return _oauth_error("Method not allowed", "invalid_request", 405)
        if self.faults.chance(self.faults.token_5xx):
            return Reply(503, {"reason": "Service temporarily unavailable", "error": "server_error"})
        params = dict(query)
        try:
            for name, values in parse_qs(raw_body.decode("utf-8"), keep_blank_values=True).items():
                params.setdefault(name, values)
        except UnicodeDecodeError:
            pass
        if not self._client_ok(headers.get("Authorization")):
            return _oauth_error("Invalid client_id or client_secret", "invalid_client")
        if _first(params, "grant_type") != "account_credentials":
            return _oauth_error("unsupported grant type", "unsupported_grant_type")
        if _first(params, "account_id") != self.account_id:
            # No public source shows Zoom's body for this case (Zoom's API reference): unverified.
            return _oauth_error("Invalid account_id", "invalid_request")
        token = secrets.token_urlsafe(48)  # unguessable: not from the seeded RNG
        with self._lock:
            if self.revoke_previous_tokens:
                self._tokens.clear()
            self._tokens[token] = self.clock.now() + timedelta(seconds=self.token_ttl)
            self.issued_tokens.append(token)
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl,
                           "scope": SCOPES, "api_url": self.base_url})

    def _client_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, client_secret = decoded.partition(":")
        return hmac.compare_digest(client_id, self.client_id) and hmac.compare_digest(client_secret,
                                                                                      self.client_secret)

    def _authorize(self, header: str | None) -> str:
        token = header[7:].strip() if header and header.startswith("Bearer ") else ""
        with self._lock:
            expires = self._tokens.get(token) if token else None
        if expires is None:
            raise ApiError(401, 124, "Invalid access token.")
        if self.clock.now() >= expires:
            raise ApiError(401, 124, "Access token is expired.")
        return token

    # -- API routes ---------------------------------------------------------------------------------

    def _user(self, user_id: str) -> dict:
        # ``me`` names the token's user; for an account-level app Zoom answers with the account owner.
        user = self.store.owner() if user_id == "me" else self.store.find_user(user_id)
        if user is None and self.auto_create_users and "@" in user_id:
            user = self.store.add_user(user_id, self.clock.now())
        if user is None:
            raise user_not_found(user_id)
        return user

    def _daily_exceeded(self, verdict: Verdict, now: datetime) -> ApiError:
        headers = {**verdict.headers(), "Retry-After": next_utc_midnight(now)}
        return ApiError(429, 429, daily_user_message(self.daily_limit), headers=headers)

    def _create(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        user = self._user(params["userId"])
        body = _json_object(raw_body)
        now = self.clock.now()
        store = self.store
        with store.lock:  # check, count and store as one step, so concurrent creates cannot overshoot
            host = store.prepare_create(user, body)
            daily = store.daily_limit(self.daily_limit)
            if not daily.check(host["id"], now, MEDIUM).allowed:
                raise self._daily_exceeded(daily.check(host["id"], now, MEDIUM), now)
            verdict = daily.record(host["id"], now, MEDIUM)
            meeting = store.create(user, body, now)
            shown = store.render(meeting["id"], now)
        if store.behaviour(host).create_without_schedule:
            shown.pop("start_time", None)
            shown.pop("duration", None)
        headers = {**verdict.headers(), "Content-Location": f"/v2/meetings/{meeting['id']}"}
        return Reply(201, shown, headers)

    def _list(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        user = self._user(params["userId"])
        list_type = _first(query, "type") or "scheduled"
        if list_type not in LIST_TYPES:
            raise ApiError(400, 300, "Validation Failed.",
                           [{"field": "type", "message": f"Invalid field: one of {', '.join(LIST_TYPES)}."}])
        page_size = _int_param(query, "page_size", 30)
        page_number = _int_param(query, "page_number", 1)
        page = self.store.list_page(user, self.clock.now(), list_type, min(page_size, MAX_PAGE_SIZE),
                                    _first(query, "next_page_token") or None, page_number)
        return Reply(200, page)

    def _get_user(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        user = self._user(params["userId"])
        if not self.store.behaviour(user).user_read_scope:
            raise scope_error("user:read:user:admin", "user:read:user")
        return Reply(200, dict(user))

    def _list_users(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        if not self.store.behaviour().user_read_scope:
            raise scope_error("user:read:list_users:admin", "user:read:list_users")
        return Reply(200, self.store.users_page(min(_int_param(query, "page_size", 30), MAX_PAGE_SIZE)))

    def _get_meeting(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        show_previous = (_first(query, "show_previous_occurrences") or "").lower() == "true"
        meeting = self.store.render(params["meetingId"], self.clock.now(), show_previous,
                                    _first(query, "occurrence_id"))
        if meeting.get("type") == 8 and self.store.behaviour(meeting.get("host_email")).get_without_start_time:
            meeting.pop("start_time", None)
        return Reply(200, meeting)

    def _registrants(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        page_size = min(_int_param(query, "page_size", 30), MAX_PAGE_SIZE)
        return Reply(200, self.store.registrants(params["meetingId"], page_size))

    def _add_registrant(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        answer = self.store.add_registrant(params["meetingId"], _json_object(raw_body), self.clock.now())
        return Reply(201, answer)

    def _update(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        store = self.store
        record = store.record(params["meetingId"])
        body = _json_object(raw_body)
        now = self.clock.now()
        occurrence_id = _first(query, "occurrence_id")
        with store.lock:
            if occurrence_id:
                store.prepare_occurrence_update(params["meetingId"], occurrence_id, body)
            else:
                store.prepare_update(params["meetingId"], body)
            host_id = record.meeting["host_id"]
            daily = store.daily_limit(self.daily_limit)
            if not daily.check(host_id, now, LIGHT).allowed:
                raise self._daily_exceeded(daily.check(host_id, now, LIGHT), now)
            verdict = daily.record(host_id, now, LIGHT)  # an occurrence PATCH is an update too
            if occurrence_id:
                store.update_occurrence(params["meetingId"], occurrence_id, body, now)
            else:
                store.update(params["meetingId"], body, now)
        return Reply(204, None, verdict.headers())

    def _delete(self, params: dict, query: dict, raw_body: bytes) -> Reply:
        # Not counted in the host's daily creates+updates: DELETE draws from the Light quota only.
        # cancel_meeting_reminder / schedule_for_reminder would email people: nothing to do here.
        self.store.delete(params["meetingId"], _first(query, "occurrence_id"))
        return Reply(204)


def _parsed_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        return None


def _int_param(query: dict, name: str, default: int) -> int:
    text = _first(query, name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ApiError(400, 300, "Validation Failed.",
                       [{"field": name, "message": "Invalid field: a positive integer."}])
    return value


# ------------------------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: Sandbox

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections, so no handler thread serves after stop()."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "ZoomSandbox/1"
    sys_version = ""
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: tests and the CLI own the terminal

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET  # noqa: N815

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        body = self._read_body()  # always first: see the module docstring
        reply = self.server.sandbox.handle(self.command, self.path, self.headers, body)
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status != 204:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. its timeout fired first)


# -------------------------------------------------------------------------------------------- CLI


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``zoomstate sandbox serve``."""
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--store", metavar="FILE", help="keep the sandbox's users and meetings in this JSON file")
    parser.add_argument("--plan", choices=sorted(PLAN_QPS), default="pro", help="per-second limits of this plan")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API response")
    parser.add_argument("--user", metavar="EMAIL", action="append", default=[], help="a host that exists "
                        "(repeatable)")
    parser.add_argument("--auto-create-users", action="store_true",
                        help="create any user on first use of its email")
    parser.add_argument("--seed", type=int, default=0, help="seed for meeting ids and faults")
    parser.add_argument("--fault-429", type=float, default=0.0, metavar="P", help="share of API requests "
                        "answered 429")
    parser.add_argument("--fault-5xx", type=float, default=0.0, metavar="P", help="share answered 5xx")
    parser.add_argument("--fault-drop", type=float, default=0.0, metavar="P",
                        help="share of creates stored but answered by a dropped connection")
    parser.add_argument("--expire-token-every", type=int, default=0, metavar="N",
                        help="every Nth API request finds its token expired")
    parser.add_argument("--daily-limit", type=int, default=100, metavar="N",
                        help="creates+updates per host per UTC day")


def run_serve(args: argparse.Namespace, out: Callable[[str], None] | None = None,
              stop: threading.Event | None = None, err: Callable[[str], None] | None = None) -> int:
    """Serve until Ctrl-C, SIGTERM or ``stop`` is set; prints where and how to connect. Returns 0, or 1
    with one error line when the port is taken or the store file cannot be loaded."""
    say = out or (lambda line: print(line, flush=True))
    complain = err or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        sandbox = Sandbox(users=args.user, plan=args.plan, latency=args.latency, store_path=args.store,
                          seed=args.seed, auto_create_users=args.auto_create_users, daily_limit=args.daily_limit)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        # A store file that is not JSON (ValueError) or not the sandbox's layout (the others).
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        complain(f"error: cannot load the sandbox store {args.store}: {detail}. Fix or remove the file "
                 "(the sandbox starts empty without it)")
        return 1
    sandbox.set_faults(rate_429=args.fault_429, rate_5xx=args.fault_5xx, drop_after_create=args.fault_drop,
                       expire_token_every=args.expire_token_every)
    try:
        sandbox.start(port=args.port)
    except OSError as exc:
        complain(f"error: cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}. Choose another --port "
                 "(or 0 for a free one)")
        return 1
    stop = stop or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        say(f"Zoom sandbox API:   {sandbox.api_url}")
        say(f"Zoom sandbox OAuth: {sandbox.oauth_url}")
        # Sandbox-only credentials: they open nothing but this local server.
        say(f"Credentials: account_id={sandbox.account_id} client_id={sandbox.client_id} "
            f"client_secret={sandbox.client_secret}")
        say(f"Use them with:\n  ZOOM_API_URL={sandbox.api_url} ZOOM_OAUTH_URL={sandbox.oauth_url} "
            f"ZOOM_ACCOUNT_ID={sandbox.account_id} ZOOM_CLIENT_ID={sandbox.client_id} "
            f"ZOOM_CLIENT_SECRET={sandbox.client_secret} zoomstate plan")
        say("Serving until Ctrl-C.")
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    say("Sandbox stopped.")
    return 0
