"""The Zoom client over real HTTP on 127.0.0.1: a scripted stub server for fault paths, and the sandbox."""

from __future__ import annotations

import copy
import importlib
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from zoomstate.clock import FakeClock
from zoomstate.zoom import (
    DEFAULT_API_URL,
    DEFAULT_OAUTH_URL,
    AmbiguousCreateError,
    AuthError,
    DailyLimitError,
    MeetingNotFound,
    NotFoundError,
    RateLimitError,
    ScopeError,
    TransportError,
    UserNotFound,
    ValidationFailed,
    ZoomClient,
    ZoomCredentials,
    ZoomError,
    credentials_from_env,
    parse_retry_after,
)
from zoomstate.zoom.http import MAX_TOKEN_REFRESHES
from zoomstate.zoom.pacing import Pacer, TokenBucket, plan_rates

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
SECRET = "cl13nt-s3cret-VALUE-9f8e7d"
HOST = "alice@example.com"
MEETING_ID = 85746065432
START_URL = "https://us06web.zoom.us/s/85746065432?zak=eyJ6bV9za20iOiJ6bV9vMm0ifQ.SECRETZAK"

CREATE_BODY: dict[str, Any] = {
    "topic": "Team Sync",
    "type": 8,
    "start_time": "2027-03-01T09:00:00",
    "timezone": "America/New_York",
    "duration": 45,
    "agenda": "",
    "recurrence": {
        "type": 2,
        "repeat_interval": 1,
        "weekly_days": "2",
        "end_date_time": "2027-12-28T04:59:59Z",
    },
    "settings": {
        "host_video": True,
        "participant_video": True,
        "join_before_host": False,
        "mute_upon_entry": True,
        "waiting_room": True,
        "watermark": False,
        "approval_type": 0,
        "registration_type": 1,
        "audio": "both",
        "auto_recording": "none",
        "meeting_authentication": False,
    },
}

UPDATE_BODY: dict[str, Any] = {
    "topic": "Team Sync (moved)",
    "start_time": "2027-03-02T10:00:00",
    "timezone": "America/New_York",
    "duration": 30,
    "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "3", "end_times": 12},
    "settings": {"waiting_room": False, "join_before_host": True},
}

MEETING: dict[str, Any] = {
    "id": MEETING_ID,
    "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
    "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
    "host_email": HOST,
    "topic": "Team Sync",
    "type": 8,
    "status": "waiting",
    "start_time": "2027-03-01T14:00:00Z",
    "duration": 45,
    "timezone": "America/New_York",
    "agenda": "",
    "created_at": "2027-01-04T12:00:00Z",
    "start_url": START_URL,
    "join_url": "https://us06web.zoom.us/j/85746065432?pwd=ZmxTZ0lCZz09",
    "registration_url": "https://us06web.zoom.us/meeting/register/tZ0kf-yrqj8sH9",
    "password": "a1b2c3",
    "h323_password": "123456",
    "pre_schedule": False,
    "recurrence": CREATE_BODY["recurrence"],
    "occurrences": [
        {
            "occurrence_id": "1803996000000",
            "start_time": "2027-03-01T14:00:00Z",
            "duration": 45,
            "status": "available",
        },
    ],
    "settings": dict(CREATE_BODY["settings"]),
}

USER = {"id": "KDcuGIm1QgePTO8WbOqwIQ", "email": HOST, "type": 2, "status": "active", "timezone": "UTC"}


# -- scripted stub server ------------------------------------------------------------------------------


@dataclass
class Canned:
    """One scripted answer. ``drop`` closes the connection without answering (after reading the body)."""

    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes -> sent as is, None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @property
    def is_token(self) -> bool:
        return self.path.startswith("/oauth")


class Stub:
    """ThreadingHTTPServer on an ephemeral loopback port that replays canned answers and records requests.

    API requests take answers from ``api`` in order, then from ``fallback``; token requests from
    ``token``, then a fresh token each time.
    """

    def __init__(self) -> None:
        self.api: list[Canned] = []
        self.token: list[Canned] = []
        self.fallback: Callable[[Seen], Canned] = lambda seen: Canned(200, {})
        self.seen: list[Seen] = []
        self.expires_in = 3600
        self.token_delay = 0.0
        self._issued = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base + "/v2"

    @property
    def oauth_url(self) -> str:
        return self.base + "/oauth/token"

    @property
    def api_requests(self) -> list[Seen]:
        return [s for s in self.seen if not s.is_token]

    @property
    def token_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.is_token]

    def issued_tokens(self) -> list[str]:
        return [f"tok-{n}-eyJhbGciOiJIUzUxMiJ9" for n in range(1, self._issued + 1)]

    def answer(self, seen: Seen) -> Canned:
        with self._lock:
            self.seen.append(seen)
            if seen.is_token:
                if self.token:
                    return self.token.pop(0)
                self._issued += 1
                body = {
                    "access_token": f"tok-{self._issued}-eyJhbGciOiJIUzUxMiJ9",
                    "token_type": "bearer",
                    "expires_in": self.expires_in,
                    "scope": "meeting:write:meeting:admin",
                }
                return Canned(200, body, delay=self.token_delay)
            if self.api:
                return self.api.pop(0)
        return self.fallback(seen)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""  # always read the body first
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    dict(self.headers.items()),
                    json.loads(raw) if raw else None,
                )
                canned = stub.answer(seen)
                if canned.delay:
                    time.sleep(canned.delay)
                if canned.drop:
                    self.close_connection = True
                    return
                payload = (
                    canned.body
                    if isinstance(canned.body, bytes)
                    else (b"" if canned.body is None else json.dumps(canned.body).encode())
                )
                try:
                    self.send_response(canned.status)
                    headers = {"Content-Type": "application/json;charset=UTF-8", **canned.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up waiting (timeout tests)
                    self.close_connection = True

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Stub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_client(stub: Stub, clock: FakeClock, **kwargs: Any) -> ZoomClient:
    options: dict[str, Any] = {"clock": clock, "rng": random.Random(7), "timeout": 5.0}
    options.update(kwargs)
    creds = ZoomCredentials("acct-123", "client-abc", SECRET)
    return ZoomClient(creds, api_url=stub.api_url, oauth_url=stub.oauth_url, **options)


def zoom_error(status: int, code: int, message: str, **extra: Any) -> Canned:
    return Canned(status, {"code": code, "message": message, **extra})


QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def stub():
    with Stub() as server:
        yield server


@pytest.fixture
def client(stub: Stub, clock: FakeClock):
    zoom = make_client(stub, clock)
    yield zoom
    zoom.close()


def elapsed(clock: FakeClock, since: float) -> float:
    return clock.monotonic() - since


# -- credentials ---------------------------------------------------------------------------------------


def test_credentials_never_show_the_secret():
    creds = ZoomCredentials("acct", "client", SECRET)
    assert SECRET not in repr(creds)
    assert SECRET not in str(creds)
    assert "acct" in repr(creds) and "client" in repr(creds)


def test_credentials_from_env_prefers_environment_then_fallback():
    env = {"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "c", "ZOOM_CLIENT_SECRET": "s"}
    block = {"account_id": "fa", "client_id": "fc", "client_secret": "fs"}
    assert credentials_from_env(env, block) == ZoomCredentials("a", "c", "s")
    assert credentials_from_env({"ZOOM_ACCOUNT_ID": "a"}, block) == ZoomCredentials("fa", "fc", "fs")
    assert credentials_from_env({}, {"account_id": "fa", "client_id": "fc"}) is None
    assert credentials_from_env({"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "c", "ZOOM_CLIENT_SECRET": ""}) is None


def test_default_urls():
    assert DEFAULT_API_URL == "https://api.zoom.us/v2"
    assert DEFAULT_OAUTH_URL == "https://zoom.us/oauth/token"


# -- auth ----------------------------------------------------------------------------------------------


def test_token_request_shape_and_bearer_use(stub: Stub, client: ZoomClient):
    stub.api = [Canned(200, USER)]
    assert client.get_user(HOST)["email"] == HOST
    token_request, api_request = stub.seen
    assert token_request.method == "POST"
    assert token_request.query == {"grant_type": "account_credentials", "account_id": "acct-123"}
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert api_request.path == f"/v2/users/{HOST}"
    assert api_request.headers["Authorization"] == f"Bearer {stub.issued_tokens()[0]}"


def test_token_is_cached_until_five_minutes_before_expiry(stub: Stub, client: ZoomClient, clock: FakeClock):
    stub.fallback = lambda seen: Canned(200, MEETING)
    for _ in range(3):
        client.get_meeting(MEETING_ID)
    assert len(stub.token_requests) == 1
    clock.advance(3600 - 300 - 1 - elapsed(clock, 1000.0))
    client.get_meeting(MEETING_ID)
    assert len(stub.token_requests) == 1
    clock.advance(2)
    client.get_meeting(MEETING_ID)
    assert len(stub.token_requests) == 2
    assert stub.api_requests[-1].headers["Authorization"] == f"Bearer {stub.issued_tokens()[1]}"
    assert client.stats()["token"] == 2


def test_short_token_is_refreshed_at_half_life(stub: Stub, client: ZoomClient, clock: FakeClock):
    stub.expires_in = 60
    stub.fallback = lambda seen: Canned(200, MEETING)
    client.get_meeting(MEETING_ID)
    clock.advance(29)
    client.get_meeting(MEETING_ID)
    assert len(stub.token_requests) == 1
    clock.advance(2)
    client.get_meeting(MEETING_ID)
    assert len(stub.token_requests) == 2


def test_threads_share_one_token_refresh(stub: Stub, clock: FakeClock):
    stub.token_delay = 0.05  # other threads arrive while the first fetch is in flight
    stub.fallback = lambda seen: Canned(200, MEETING)
    zoom = make_client(stub, clock)
    barrier = threading.Barrier(6)
    results: list[int] = []

    def work() -> None:
        barrier.wait()
        results.append(zoom.get_meeting(MEETING_ID)["id"])

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    zoom.close()
    assert results == [MEETING_ID] * 6
    assert len(stub.token_requests) == 1
    assert zoom.stats()["get"] == 6


def test_expired_token_401_refreshes_once_and_replays(stub: Stub, client: ZoomClient):
    stub.api = [zoom_error(401, 124, "Access token is expired."), Canned(200, MEETING)]
    assert client.get_meeting(MEETING_ID)["id"] == MEETING_ID
    first, second = stub.api_requests
    tokens = stub.issued_tokens()
    assert len(tokens) == 2
    assert first.headers["Authorization"] == f"Bearer {tokens[0]}"
    assert second.headers["Authorization"] == f"Bearer {tokens[1]}"


def test_expired_token_replays_a_create_too(stub: Stub, client: ZoomClient):
    # A 401 is answered before Zoom does anything, so replaying the POST cannot duplicate it.
    stub.api = [zoom_error(401, 124, "Invalid access token."), Canned(201, MEETING)]
    assert client.create_meeting(HOST, CREATE_BODY)["id"] == MEETING_ID
    assert [r.method for r in stub.api_requests] == ["POST", "POST"]


def test_token_refused_again_and_again_is_an_auth_error(stub: Stub, client: ZoomClient):
    # Each fresh token gets a replay (another thread's token may expire between refresh and replay),
    # but a call whose fresh tokens keep being refused fails after MAX_TOKEN_REFRESHES of them.
    refusals = MAX_TOKEN_REFRESHES + 1
    stub.api = [zoom_error(401, 124, "Invalid access token.") for _ in range(refusals)]
    with pytest.raises(AuthError) as info:
        client.get_meeting(MEETING_ID)
    assert len(stub.api_requests) == refusals
    assert len(stub.token_requests) == refusals
    assert info.value.status == 401 and info.value.code == 124
    assert f"get meeting {MEETING_ID}" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error", "reason", "hint"),
    [
        (400, "invalid_client", "Invalid client_id or client_secret", "ZOOM_CLIENT_SECRET"),
        (400, "unsupported_grant_type", "unsupported grant type", "must be a Server-to-Server OAuth app"),
        (400, "invalid_request", "Invalid request : Bad Request", "ZOOM_ACCOUNT_ID"),
    ],
)
def test_token_endpoint_errors_say_what_to_fix(stub: Stub, client: ZoomClient, status, error, reason, hint):
    stub.token = [Canned(status, {"reason": reason, "error": error})]
    with pytest.raises(AuthError) as info:
        client.get_user(HOST)
    assert info.value.error == error
    assert info.value.status == status
    text = str(info.value)
    assert hint in text and reason in text and "acct-123" in text
    assert SECRET not in text
    assert len(stub.token_requests) == 1  # a refused credential is not retried
    assert stub.api_requests == []


def test_token_endpoint_5xx_is_retried(stub: Stub, client: ZoomClient):
    stub.token = [Canned(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})]
    stub.api = [Canned(200, USER)]
    assert client.get_user(HOST)["id"] == USER["id"]
    assert len(stub.token_requests) == 2
    assert client.stats()["retries"] == 1


# -- rate limits ---------------------------------------------------------------------------------------


def test_qps_429_waits_retry_after_seconds(stub: Stub, client: ZoomClient, clock: FakeClock):
    stub.api = [
        Canned(429, {"code": 429, "message": QPS_MESSAGE}, {"Retry-After": "2", "X-RateLimit-Type": "QPS"}),
        Canned(200, MEETING),
    ]
    start = clock.monotonic()
    assert client.get_meeting(MEETING_ID)["id"] == MEETING_ID
    assert 2.0 <= elapsed(clock, start) < 2.5
    stats = client.stats()
    assert stats["429"] == 1 and stats["retries"] == 1 and stats["get"] == 2


def test_qps_429_waits_until_a_near_iso_date(stub: Stub, client: ZoomClient, clock: FakeClock):
    retry_at = (clock.now() + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stub.api = [
        Canned(429, {"code": 429, "message": QPS_MESSAGE}, {"Retry-After": retry_at}),
        Canned(201, MEETING),
    ]
    start = clock.monotonic()
    assert client.create_meeting(HOST, CREATE_BODY)["id"] == MEETING_ID
    assert 3.0 <= elapsed(clock, start) < 3.5
    assert [r.method for r in stub.api_requests] == ["POST", "POST"]  # a 429 is safe to replay


def test_qps_429_without_retry_after_backs_off_then_gives_up(stub: Stub, clock: FakeClock):
    zoom = make_client(stub, clock, max_attempts=3)
    stub.fallback = lambda seen: Canned(429, {"code": 429, "message": QPS_MESSAGE}, {"X-RateLimit-Type": "QPS"})
    with pytest.raises(RateLimitError) as info:
        zoom.get_meeting(MEETING_ID)
    assert not isinstance(info.value, DailyLimitError)
    assert len(stub.api_requests) == 3
    assert zoom.stats()["429"] == 3


@pytest.mark.parametrize(
    ("headers", "message", "expected_retry"),
    [
        (
            {"X-RateLimit-Type": "Daily-limit", "Retry-After": "2027-01-05T00:00:00Z"},
            "You have reached the maximum daily rate limit for this API.",
            datetime(2027, 1, 5, tzinfo=UTC),
        ),
        (
            {"X-RateLimit-Category": "Light", "X-RateLimit-Limit": "6000", "X-RateLimit-Remaining": "5893"},
            "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests "
            "permitted for this particular user. You may resume these requests at GMT 00:00:00.",
            datetime(2027, 1, 5, tzinfo=UTC),
        ),
        (
            {"Retry-After": "2027-01-04T14:00:00Z"},
            "Too many requests.",
            datetime(2027, 1, 4, 14, tzinfo=UTC),
        ),
    ],
    ids=["header", "per-user-message", "far-retry-after"],
)
def test_daily_limit_is_never_retried(
    stub: Stub, client: ZoomClient, clock: FakeClock, headers, message, expected_retry
):
    stub.api = [Canned(429, {"code": 429, "message": message}, headers)]
    start = clock.monotonic()
    with pytest.raises(DailyLimitError) as info:
        client.create_meeting(HOST, CREATE_BODY)
    error = info.value
    assert isinstance(error, RateLimitError)
    assert error.host == HOST
    assert error.retry_after == expected_retry
    assert len(stub.api_requests) == 1
    assert elapsed(clock, start) < 1.0  # no waiting for hours
    assert HOST in str(error) and "retry after" in str(error)


QUOTA_USED = {"X-RateLimit-Type": "QPS", "X-RateLimit-Remaining": "0"}


def test_quota_exhausted_header_pauses_unpaced_label_until_the_sent_second_ends(stub: Stub, clock: FakeClock):
    zoom = make_client(stub, clock, pace=False)
    stub.fallback = lambda seen: Canned(200, MEETING)
    zoom.get_meeting(MEETING_ID)  # warm the token cache
    stub.api = [Canned(200, MEETING, QUOTA_USED)]
    clock.advance(0.25)
    zoom.get_meeting(MEETING_ID)
    start = clock.monotonic()
    zoom.get_meeting(MEETING_ID)
    assert elapsed(clock, start) == pytest.approx(0.75)


def test_quota_exhausted_answer_arriving_in_a_later_second_holds_nothing(stub: Stub, clock: FakeClock):
    # The answer says the second the request was sent in is full; that second is over when it arrives.
    zoom = make_client(stub, clock, pace=False)
    stub.fallback = lambda seen: Canned(200, MEETING)
    zoom.get_meeting(MEETING_ID)

    def slow_full(seen: Seen) -> Canned:
        clock.advance(1.0)  # the answer comes back in the next wall-clock second
        return Canned(200, MEETING, QUOTA_USED)

    stub.fallback = slow_full
    clock.advance(0.25)
    zoom.get_meeting(MEETING_ID)
    stub.fallback = lambda seen: Canned(200, MEETING)
    start = clock.monotonic()
    zoom.get_meeting(MEETING_ID)
    assert elapsed(clock, start) == 0


def test_quota_exhausted_header_does_not_stall_paced_calls(stub: Stub, client: ZoomClient, clock: FakeClock):
    # Pacing already keeps the label under its limit: a full window must not stop it for the rest of the
    # second (that stall made refresh 1.14-1.36x its bound, depending on the clock offset).
    stub.fallback = lambda seen: Canned(200, MEETING, QUOTA_USED)
    client.get_meeting(MEETING_ID)
    for offset in (0.0, 0.3, 0.9):
        clock.advance(offset)
        start = clock.monotonic()
        for _ in range(30):
            client.get_meeting(MEETING_ID)
        spent = elapsed(clock, start)
        assert spent <= 30 / (30 * 0.98) + 1e-6  # the pacer's own spacing, no pause on top of it


def test_a_429_still_pauses_paced_calls(stub: Stub, client: ZoomClient, clock: FakeClock):
    stub.api = [
        Canned(429, {"code": 429, "message": QPS_MESSAGE}, {"Retry-After": "1", "X-RateLimit-Type": "QPS"}),
        Canned(200, MEETING),
    ]
    start = clock.monotonic()
    client.get_meeting(MEETING_ID)
    assert elapsed(clock, start) >= 1.0


# -- server errors and dropped connections ---------------------------------------------------------------


def test_5xx_on_get_is_retried_then_succeeds(stub: Stub, client: ZoomClient):
    stub.api = [
        zoom_error(503, 503, "Service unavailable"),
        Canned(502, b"Bad Gateway", {"Content-Type": "text/plain"}),
        Canned(200, MEETING),
    ]
    assert client.get_meeting(MEETING_ID)["id"] == MEETING_ID
    assert len(stub.api_requests) == 3
    stats = client.stats()
    assert stats["5xx"] == 2 and stats["retries"] == 2


def test_5xx_on_get_exhausted_raises(stub: Stub, clock: FakeClock):
    zoom = make_client(stub, clock, max_attempts=3)
    stub.fallback = lambda seen: Canned(500, b"<html><body>Internal error</body></html>", {"Content-Type": "text/html"})
    with pytest.raises(ZoomError) as info:
        zoom.get_meeting(MEETING_ID)
    assert type(info.value) is ZoomError
    assert info.value.status == 500
    assert len(stub.api_requests) == 3
    assert "non-JSON" in str(info.value) and "Internal error" in str(info.value)


def test_5xx_on_create_is_ambiguous_after_one_request(stub: Stub, client: ZoomClient):
    stub.api = [zoom_error(500, 500, "Internal Error")]
    with pytest.raises(AmbiguousCreateError) as info:
        client.create_meeting(HOST, CREATE_BODY)
    assert len(stub.api_requests) == 1
    assert info.value.host == HOST and info.value.status == 500
    assert "may exist" in str(info.value)


def test_dropped_connection_on_create_is_ambiguous(stub: Stub, client: ZoomClient):
    stub.api = [Canned(drop=True)]
    with pytest.raises(AmbiguousCreateError) as info:
        client.create_meeting(HOST, CREATE_BODY)
    assert len(stub.api_requests) == 1
    assert stub.api_requests[0].body == CREATE_BODY  # the body reached the server
    assert info.value.status is None


def test_timeout_on_create_is_ambiguous(stub: Stub, clock: FakeClock):
    zoom = make_client(stub, clock, timeout=0.1)
    stub.api = [Canned(201, MEETING, delay=0.4)]
    with pytest.raises(AmbiguousCreateError):
        zoom.create_meeting(HOST, CREATE_BODY)
    assert len(stub.api_requests) == 1


def test_dropped_connection_on_get_is_retried(stub: Stub, client: ZoomClient):
    stub.api = [Canned(drop=True), Canned(200, MEETING)]
    assert client.get_meeting(MEETING_ID)["id"] == MEETING_ID
    assert len(stub.api_requests) == 2


def test_refused_connection_on_create_is_retried_not_ambiguous(stub: Stub, clock: FakeClock):
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    creds = ZoomCredentials("acct-123", "client-abc", SECRET)
    zoom = ZoomClient(
        creds,
        api_url=f"http://127.0.0.1:{closed_port}/v2",
        oauth_url=stub.oauth_url,
        clock=clock,
        rng=random.Random(1),
        max_attempts=3,
    )
    with pytest.raises(TransportError) as info:
        zoom.create_meeting(HOST, CREATE_BODY)
    assert not isinstance(info.value, AmbiguousCreateError)
    assert zoom.stats()["create"] == 3
    assert "network" in str(info.value)


# -- error mapping -------------------------------------------------------------------------------------


def test_unknown_user_is_user_not_found(stub: Stub, client: ZoomClient):
    stub.api = [zoom_error(404, 1001, f"User does not exist: {HOST}.")]
    with pytest.raises(UserNotFound) as info:
        client.get_user(HOST)
    assert isinstance(info.value, NotFoundError)
    assert info.value.code == 1001 and HOST in str(info.value) and "1001" in str(info.value)


def test_missing_scope_is_scope_error(stub: Stub, client: ZoomClient):
    stub.api = [zoom_error(400, 4711, "Invalid access token, does not contain scopes:[user:read:user:admin].")]
    with pytest.raises(ScopeError) as info:
        client.get_user(HOST)
    assert "user:read:user:admin" in str(info.value) and "Marketplace" in str(info.value)


def test_validation_failure_carries_zoom_errors(stub: Stub, client: ZoomClient):
    stub.api = [
        zoom_error(
            400,
            300,
            "Validation Failed.",
            errors=[{"field": "recurrence.weekly_days", "message": "Invalid field."}],
        )
    ]
    with pytest.raises(ValidationFailed) as info:
        client.create_meeting(HOST, CREATE_BODY)
    assert info.value.errors == [{"field": "recurrence.weekly_days", "message": "Invalid field."}]
    assert "recurrence.weekly_days" in str(info.value)
    assert len(stub.api_requests) == 1


def test_non_json_client_error_still_reads_clearly(stub: Stub, client: ZoomClient):
    stub.api = [Canned(403, b"Forbidden by proxy policy", {"Content-Type": "text/plain"})]
    with pytest.raises(ZoomError) as info:
        client.get_meeting(MEETING_ID)
    text = str(info.value)
    assert "HTTP 403" in text and "non-JSON" in text and "Forbidden by proxy policy" in text


def test_get_meeting_not_found(stub: Stub, client: ZoomClient):
    stub.api = [zoom_error(404, 3001, f"Meeting {MEETING_ID} is not found or has expired.")]
    with pytest.raises(MeetingNotFound):
        client.get_meeting(MEETING_ID)


# -- typed calls ---------------------------------------------------------------------------------------


def test_create_posts_to_host_and_returns_meeting(stub: Stub, client: ZoomClient):
    stub.api = [Canned(201, MEETING)]
    created = client.create_meeting(HOST, CREATE_BODY)
    assert created == MEETING
    request = stub.api_requests[0]
    assert (request.method, request.path, request.body) == ("POST", f"/v2/users/{HOST}/meetings", CREATE_BODY)


def test_update_patches_and_returns_none(stub: Stub, client: ZoomClient):
    stub.api = [Canned(204)]
    assert client.update_meeting(MEETING_ID, UPDATE_BODY) is None
    request = stub.api_requests[0]
    assert (request.method, request.path, request.body) == (
        "PATCH",
        f"/v2/meetings/{MEETING_ID}",
        UPDATE_BODY,
    )


def test_delete_reports_already_gone(stub: Stub, client: ZoomClient):
    stub.api = [Canned(204), zoom_error(404, 3001, f"Meeting {MEETING_ID} is not found or has expired.")]
    assert client.delete_meeting(MEETING_ID) is True
    assert client.delete_meeting(MEETING_ID) is False
    assert [r.method for r in stub.api_requests] == ["DELETE", "DELETE"]
    assert client.stats()["delete"] == 2


def list_item(meeting_id: int, topic: str) -> dict:
    return {
        "id": meeting_id,
        "uuid": f"u{meeting_id}==",
        "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
        "topic": topic,
        "type": 8,
        "start_time": "2027-03-01T14:00:00Z",
        "duration": 45,
        "timezone": "America/New_York",
        "created_at": "2027-01-04T12:00:00Z",
        "join_url": f"https://zoom.us/j/{meeting_id}",
    }


def test_list_follows_pages_and_dedupes(stub: Stub, client: ZoomClient):
    pages = {
        None: ([1, 2, 3], "tokA"),
        "tokA": ([3, 4], "tokB"),  # id 3 again: a recurring parent listed on two pages
        "tokB": ([5], ""),
    }

    def page(seen: Seen) -> Canned:
        ids, token = pages[seen.query.get("next_page_token")]
        return Canned(
            200,
            {
                "page_size": 300,
                "total_records": 6,
                "next_page_token": token,
                "meetings": [list_item(i, f"Meeting {i}") for i in ids],
            },
        )

    stub.fallback = page
    meetings = client.list_meetings(HOST)
    assert [m["id"] for m in meetings] == [1, 2, 3, 4, 5]
    requests_seen = stub.api_requests
    assert [r.query.get("next_page_token") for r in requests_seen] == [None, "tokA", "tokB"]
    assert all(r.query["page_size"] == "300" and r.query["type"] == "scheduled" for r in requests_seen)
    assert all(r.path == f"/v2/users/{HOST}/meetings" for r in requests_seen)
    assert client.stats()["list"] == 3


def test_list_stops_when_next_page_token_is_absent(stub: Stub, client: ZoomClient):
    stub.api = [Canned(200, {"page_size": 300, "total_records": 1, "meetings": [list_item(7, "Only")]})]
    assert [m["id"] for m in client.list_meetings(HOST, type="upcoming")] == [7]
    assert stub.api_requests[0].query["type"] == "upcoming"


# -- pacing --------------------------------------------------------------------------------------------


def test_medium_calls_are_paced_at_the_pro_limit(stub: Stub, client: ZoomClient, clock: FakeClock):
    stub.fallback = lambda seen: Canned(200, {"page_size": 300, "total_records": 0, "meetings": []})
    count = 60
    start = clock.monotonic()
    for _ in range(count):
        client.list_meetings(HOST)
    spent = elapsed(clock, start)
    assert spent >= (count - 20) / 20
    assert spent <= count / 20 * 1.05  # aims at the limit, not far below it
    assert client.stats()["429"] == 0


def test_light_and_medium_labels_have_separate_buckets(clock: FakeClock):
    pacer = Pacer("pro", clock)
    for _ in range(10):
        pacer.acquire("create")
    start = clock.monotonic()
    pacer.acquire("get")  # LIGHT is not slowed by the MEDIUM traffic
    assert elapsed(clock, start) == 0


def test_disabled_pacing_still_honours_pauses(clock: FakeClock):
    pacer = Pacer("pro", clock, enabled=False)
    start = clock.monotonic()
    for _ in range(100):
        pacer.acquire("create")
    assert elapsed(clock, start) == 0
    pacer.pause("create", 1.5)
    pacer.acquire("list")
    assert elapsed(clock, start) == pytest.approx(1.5)


def test_token_bucket_burst_then_rate(clock: FakeClock):
    bucket = TokenBucket(10, clock, burst=5)
    start = clock.monotonic()
    for _ in range(25):
        bucket.acquire()
    assert elapsed(clock, start) == pytest.approx(2.0)


def test_plan_rates():
    assert plan_rates("free") == {"light": 4, "medium": 2, "heavy": 1}
    assert plan_rates("Pro")["medium"] == 20
    assert plan_rates("enterprise")["light"] == 80
    with pytest.raises(ValueError, match="unknown Zoom plan"):
        plan_rates("platinum")


def test_retry_after_forms():
    now = NOW
    assert parse_retry_after("2", now) == now + timedelta(seconds=2)
    assert parse_retry_after("2027-01-04T12:00:05Z", now) == now + timedelta(seconds=5)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=9), usegmt=True), now) == now + timedelta(
        seconds=9
    )
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("inf", now) is None
    assert parse_retry_after(None, now) is None


# -- secrets -------------------------------------------------------------------------------------------


def test_secrets_never_in_errors_or_logs(stub: Stub, clock: FakeClock, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    zoom = make_client(stub, clock, max_attempts=2)
    errors: list[Exception] = []
    stub.api = [
        zoom_error(401, 124, "Access token is expired."),
        Canned(201, MEETING),
        Canned(200, MEETING),
        # A server that echoes what it got: the token and a start_url must still not leak.
        Canned(500, {"code": 500, "message": f"failed for Bearer tok-2-eyJhbGciOiJIUzUxMiJ9 at {START_URL}"}),
        zoom_error(400, 300, f"Validation Failed for {START_URL}"),
    ]
    zoom.create_meeting(HOST, CREATE_BODY)
    zoom.get_meeting(MEETING_ID)
    for call in (lambda: zoom.create_meeting(HOST, CREATE_BODY), lambda: zoom.update_meeting(1, UPDATE_BODY)):
        with pytest.raises(ZoomError) as info:
            call()
        errors.append(info.value)
    stub.token = [Canned(400, {"reason": f"Invalid client_id or client_secret {SECRET}", "error": "invalid_client"})]
    clock.advance(4000)
    with pytest.raises(AuthError) as auth_info:
        zoom.get_meeting(MEETING_ID)
    errors.append(auth_info.value)

    forbidden = [SECRET, START_URL, "SECRETZAK", *stub.issued_tokens()]
    assert len(stub.issued_tokens()) == 2
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [caplog.text]
    for text in texts:
        for value in forbidden:
            assert value not in text
    assert f"GET /v2/meetings/{MEETING_ID} -> 200 (attempt 1)" in caplog.text
    assert "POST /oauth/token -> 400" in caplog.text
    assert any(r.name == "zoomstate.zoom" for r in caplog.records)


# -- against the sandbox, when it is available ------------------------------------------------------------


def _sandbox_class() -> Any:
    try:
        module = importlib.import_module("zoomstate.sandbox")
    except ImportError:
        return None
    return getattr(module, "Sandbox", None)


Sandbox = _sandbox_class()
needs_sandbox = pytest.mark.skipif(Sandbox is None, reason="zoomstate.sandbox.Sandbox is not available")


def sandbox_client(sb: Any, clock: FakeClock, **kwargs: Any) -> ZoomClient:
    creds = ZoomCredentials(sb.account_id, sb.client_id, sb.client_secret)
    options: dict[str, Any] = {"clock": clock, "rng": random.Random(3), "timeout": 5.0}
    options.update(kwargs)
    return ZoomClient(creds, api_url=sb.api_url, oauth_url=sb.oauth_url, **options)


@needs_sandbox
def test_sandbox_full_lifecycle():
    clock = FakeClock(NOW)
    with Sandbox(users=["a@x.com"], clock=clock) as sb:
        zoom = sandbox_client(sb, clock)
        assert zoom.get_user("a@x.com")["email"] == "a@x.com"
        created = zoom.create_meeting("a@x.com", copy.deepcopy(CREATE_BODY))
        meeting_id = created["id"]
        assert created["type"] == 8 and created["topic"] == "Team Sync"
        assert [m["id"] for m in zoom.list_meetings("a@x.com")] == [meeting_id]
        zoom.update_meeting(meeting_id, copy.deepcopy(UPDATE_BODY))
        assert zoom.get_meeting(meeting_id)["topic"] == "Team Sync (moved)"
        assert zoom.delete_meeting(meeting_id) is True
        assert zoom.delete_meeting(meeting_id) is False
        with pytest.raises(MeetingNotFound):
            zoom.get_meeting(meeting_id)
        with pytest.raises(UserNotFound):
            zoom.get_user("nobody@x.com")
        zoom.close()


@needs_sandbox
def test_sandbox_pagination_over_many_meetings():
    clock = FakeClock(NOW)
    with Sandbox(users=["a@x.com"], clock=clock) as sb:
        zoom = sandbox_client(sb, clock)
        ids = [zoom.create_meeting("a@x.com", {**CREATE_BODY, "topic": f"Sync {n}"})["id"] for n in range(40)]
        listed = zoom.list_meetings("a@x.com")
        assert sorted(m["id"] for m in listed) == sorted(ids)
        assert len({m["id"] for m in listed}) == len(listed)
        zoom.close()


@needs_sandbox
def test_sandbox_faults_never_duplicate_and_reads_survive():
    clock = FakeClock(NOW)
    with Sandbox(users=["a@x.com"], clock=clock) as sb:
        sb.set_faults(rate_429=0.3, rate_5xx_reads=0.1, expire_token_every=5, drop_after_create=0.2)
        zoom = sandbox_client(sb, clock, max_attempts=10)
        created: list[int] = []
        ambiguous = 0
        for n in range(20):
            try:
                created.append(zoom.create_meeting("a@x.com", {**CREATE_BODY, "topic": f"Fault {n}"})["id"])
            except AmbiguousCreateError:
                ambiguous += 1
        for meeting_id in created:
            assert zoom.get_meeting(meeting_id)["id"] == meeting_id
        listed = zoom.list_meetings("a@x.com")
        topics = [m["topic"] for m in listed]
        # Each create either succeeded once, or was ambiguous and made at most one meeting.
        assert len(topics) == len(set(topics))
        assert len(created) <= len(listed) <= len(created) + ambiguous
        posts = [r for r in sb.requests if r.route.startswith("POST") and "oauth" not in r.route]
        assert sum(1 for r in posts if r.status == 201) == len(listed)
        stats = zoom.stats()
        assert stats["create"] >= 20
        assert stats["429"] > 0 and stats["retries"] > 0  # the faults really happened
        assert stats["token"] > 1  # expired tokens were replaced
        zoom.close()


@needs_sandbox
@pytest.mark.parametrize(("kind", "count", "rate"), [("list", 60, 20), ("get", 90, 30)])
def test_sandbox_pacing_stays_under_its_limits(kind: str, count: int, rate: int):
    clock = FakeClock(NOW)
    with Sandbox(users=["a@x.com"], clock=clock) as sb:
        zoom = sandbox_client(sb, clock)
        meeting_id = zoom.create_meeting("a@x.com", copy.deepcopy(CREATE_BODY))["id"]
        start = clock.monotonic()
        for _ in range(count):
            if kind == "list":
                zoom.list_meetings("a@x.com")
            else:
                zoom.get_meeting(meeting_id)
        spent = elapsed(clock, start)
        assert all(r.status != 429 for r in sb.requests)
        assert zoom.stats()["429"] == 0
        assert (count - rate) / rate <= spent <= count / rate * 1.05
        zoom.close()
