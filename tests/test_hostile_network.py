"""The Zoom client against a hostile or broken network: redirects, dribbling and huge answers, endless
pages, a token endpoint that never answers, plain http, leaked credentials, and bodies of the wrong shape.

Real HTTP servers on 127.0.0.1 ephemeral ports; deadlines and clocks are injected so each test takes a
fraction of a second.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import meeting, write_meetings
from zoomstate import cli
from zoomstate.clock import FakeClock
from zoomstate.zoom import (
    AmbiguousCreateError,
    AuthError,
    MeetingNotFound,
    TransportError,
    ValidationFailed,
    ZoomClient,
    ZoomCredentials,
    ZoomError,
    scrub,
)
from zoomstate.zoom import api as zoom_api
from zoomstate.zoom.auth import FAILURE_HOLD, TOKEN_BUDGET
from zoomstate.zoom.http import MAX_BODY_BYTES, is_loopback

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
CLIENT_ID, SECRET = "client-abc", "cl13nt-s3cret-VALUE-9f8e7d"
BASIC = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
HOST = "alice@example.com"
MEETING = {"id": 85746065432, "topic": "Team Sync", "type": 8, "timezone": "UTC", "settings": {}}

Responder = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, dict(self.headers.items())))
        is_token = self.path.startswith("/oauth")
        queue = self.server.token if is_token else self.server.api
        responder = queue.pop(0) if queue else (self.server.token_default if is_token else self.server.api_default)
        try:
            responder(self)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Responder:
    return lambda h: h.send(status, json.dumps(body).encode(), headers)


def token_answer(**extra: Any) -> Responder:
    body = {"access_token": "tok-1-eyJhbGciOiJIUzUxMiJ9", "token_type": "bearer", "expires_in": 3600, **extra}
    return json_answer(200, body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.api: list[Responder] = []
        self.token: list[Responder] = []
        self.api_default: Responder = json_answer(200, MEETING)
        self.token_default: Responder = token_answer()
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client hung up on an answer it refuses (too large, too slow): what the test wants
        super().handle_error(request, client_address)

    def api_seen(self) -> list[tuple[str, str, dict[str, str]]]:
        return [s for s in self.seen if not s[1].startswith("/oauth")]

    def token_seen(self) -> list[tuple[str, str, dict[str, str]]]:
        return [s for s in self.seen if s[1].startswith("/oauth")]


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def client_for(server: Server, clock: FakeClock, **options: Any) -> ZoomClient:
    settings: dict[str, Any] = {"clock": clock, "rng": random.Random(5), "timeout": 2.0, "max_attempts": 3}
    settings.update(options)
    creds = ZoomCredentials("acct-123", CLIENT_ID, SECRET)
    return ZoomClient(creds, api_url=server.base + "/v2", oauth_url=server.base + "/oauth/token", **settings)


# -- redirects -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_an_error_naming_the_call_and_is_never_followed(server: Server, clock, status):
    server.api = [json_answer(status, {}, {"Location": f"{server.base}/elsewhere/v2/meetings/1"})]
    zoom = client_for(server, clock)
    with pytest.raises(TransportError) as info:
        zoom.get_meeting(1)
    text = str(info.value)
    assert "GET /meetings/1" in text and "redirect" in text and "never follows" in text
    assert [path for _, path, _ in server.api_seen()] == ["/v2/meetings/1"]  # not retried, not followed


def test_a_delete_answered_302_is_not_deleted(server: Server, clock):
    server.api = [json_answer(302, {}, {"Location": "https://zoom.example/login"})]
    zoom = client_for(server, clock)
    with pytest.raises(TransportError, match="DELETE /meetings/7 with a redirect to https://zoom.example"):
        zoom.delete_meeting(7)
    assert len(server.api_seen()) == 1


def test_a_redirecting_token_endpoint_never_gets_the_credential_twice(server: Server, clock):
    server.token = [json_answer(302, {}, {"Location": f"{server.base}/oauth/token2"})]
    zoom = client_for(server, clock)
    with pytest.raises(TransportError, match="POST /oauth/token with a redirect"):
        zoom.get_meeting(1)
    assert [path for _, path, _ in server.seen] == [server.token_seen()[0][1]]


# -- a server that dribbles, a body that never ends ------------------------------------------------------


def dribble(status: int = 200, size: int = 400, every: float = 0.01) -> Responder:
    def respond(h: Handler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(size))
        h.end_headers()
        for _ in range(size):
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(every)

    return respond


def test_a_dribbling_server_ends_at_the_request_deadline(server: Server, clock):
    # Each byte comes well within the read timeout: only a whole-request deadline ends this.
    server.api = [dribble(), dribble()]
    zoom = client_for(server, clock, deadline=0.15, max_attempts=2)
    with pytest.raises(TransportError) as info:
        zoom.get_meeting(1)
    assert "no complete answer within 0.15 s" in str(info.value)
    assert len(server.api_seen()) == 2  # a read is retried, each attempt bounded


def test_a_server_dribbling_its_headers_ends_at_the_request_deadline(server: Server, clock):
    def headers_forever(h: Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        for _ in range(300):  # one byte at a time, each well within the read timeout
            h.wfile.write(b"a")
            h.wfile.flush()
            time.sleep(0.01)

    server.api = [headers_forever]
    zoom = client_for(server, clock, deadline=0.2, max_attempts=1)
    with pytest.raises(TransportError, match="no complete answer within 0.2 s"):
        zoom.get_meeting(1)
    assert zoom.get_meeting(1)["id"] == MEETING["id"]  # the next request is not held by the cut one


def test_a_dribbled_create_is_ambiguous_not_replayed(server: Server, clock):
    server.api = [dribble(201)]
    zoom = client_for(server, clock, deadline=0.15)
    with pytest.raises(AmbiguousCreateError):
        zoom.create_meeting(HOST, {"topic": "x"})
    assert len(server.api_seen()) == 1


def test_the_deadline_clock_is_injectable(server: Server, clock):
    ticks = iter(range(0, 10_000, 40))  # every look at the clock is 40 s later
    server.api = [dribble(size=50, every=0.0)]
    zoom = client_for(server, clock, deadline=60.0, max_attempts=1, monotonic=lambda: float(next(ticks)))
    with pytest.raises(TransportError, match="no complete answer within 60 s"):
        zoom.get_meeting(1)


def test_an_announced_huge_body_is_refused_unread(server: Server, clock):
    def announce(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(MAX_BODY_BYTES + 1))
        h.end_headers()
        h.wfile.write(b"[" * 1024)

    server.api = [announce]
    zoom = client_for(server, clock)
    with pytest.raises(TransportError, match="over the 16777216-byte cap"):
        zoom.get_meeting(1)
    assert len(server.api_seen()) == 1  # the same huge answer is not asked for again


def test_a_streamed_huge_body_is_refused(server: Server, clock):
    def stream(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b" " * 1024 * 1024
        for _ in range(18):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        h.wfile.write(b"0\r\n\r\n")

    server.api = [stream]
    zoom = client_for(server, clock)
    with pytest.raises(TransportError, match="over the 16777216-byte cap"):
        zoom.list_meetings(HOST)
    assert len(server.api_seen()) == 1


# -- pagination that never ends --------------------------------------------------------------------------


def page(ids: list[int], token: str, total: int | None = None) -> Responder:
    body: dict[str, Any] = {"page_size": 300, "next_page_token": token,
                            "meetings": [{"id": i, "topic": f"M{i}", "type": 8} for i in ids]}
    if total is not None:
        body["total_records"] = total
    return json_answer(200, body)


def test_a_repeated_next_page_token_is_an_error_not_a_partial_list(server: Server, clock):
    server.api = [page([1, 2], "tokA", 5), page([3], "tokB", 5), page([4], "tokA", 5)]
    zoom = client_for(server, clock)
    with pytest.raises(ZoomError) as info:
        zoom.list_meetings(HOST)
    assert "same next_page_token twice" in str(info.value)
    assert f"GET /users/{HOST}/meetings" in str(info.value)


def test_endless_fresh_tokens_stop_past_total_records(server: Server, clock):
    counter = iter(range(1, 100))
    server.api_default = lambda h: page([], f"tok{next(counter)}", 1)(h)
    zoom = client_for(server, clock)
    with pytest.raises(ZoomError, match="the list would never end"):
        zoom.list_meetings(HOST)
    assert len(server.api_seen()) == 3  # total_records 1: at most 1 + 2 pages


def test_endless_tokens_without_a_total_stop_at_the_page_cap(server: Server, clock, monkeypatch):
    monkeypatch.setattr(zoom_api, "MAX_LIST_PAGES", 5)
    counter = iter(range(1, 100))
    server.api_default = lambda h: page([next(counter) + 1000], f"tok{next(counter)}")(h)
    zoom = client_for(server, clock)
    with pytest.raises(ZoomError, match="after 5 pages"):
        zoom.list_meetings(HOST)
    assert len(server.api_seen()) == 5


# -- the token endpoint does not answer --------------------------------------------------------------------


def test_an_unresponsive_token_endpoint_fails_within_two_minutes_for_all_threads(server: Server, clock, caplog):
    caplog.set_level(logging.WARNING, logger="zoomstate.zoom")

    def hang(h: Handler) -> None:
        clock.advance(40)  # each attempt costs 40 s of the (injected) wall clock
        time.sleep(0.3)  # past the client's read timeout: no answer at all

    server.token_default = hang
    zoom = client_for(server, clock, timeout=0.05, max_attempts=6, monotonic=clock.monotonic)
    start = clock.monotonic()
    errors: list[BaseException] = []
    attempts_seen: list[tuple[float, float]] = []  # (started at, deadline) of each token attempt
    send = zoom._transport.send

    def recording_send(kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "token":
            attempts_seen.append((clock.monotonic(), kwargs["deadline"]))
        return send(kind, *args, **kwargs)

    zoom._transport.send = recording_send  # type: ignore[method-assign]

    def call() -> None:
        try:
            zoom.get_meeting(1)
        except ZoomError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(errors) == 8 and all(isinstance(e, TransportError) for e in errors)
    # Each attempt must end by its deadline, and every deadline ends inside the budget: under 2 minutes.
    assert TOKEN_BUDGET < 120
    assert all(at + deadline <= start + TOKEN_BUDGET + 1e-6 for at, deadline in attempts_seen)
    # One thread fetched; the seven others waited on it and got its error, without fetching again.
    attempts = len(server.token_seen())
    assert attempts == 3
    assert all(f"gave up after {attempts} attempts" in str(e) for e in errors)
    retries = [r for r in caplog.records if r.levelno == logging.WARNING and "trying again" in r.getMessage()]
    assert len(retries) == attempts - 1  # one progress line per retry
    assert all(r.name == "zoomstate.zoom" for r in retries)
    # A caller arriving soon after gets the same answer at once; later ones try again.
    with pytest.raises(TransportError):
        zoom.get_meeting(1)
    assert len(server.token_seen()) == attempts
    clock.advance(FAILURE_HOLD)
    server.token_default = token_answer()
    assert zoom.get_meeting(1)["id"] == MEETING["id"]


def test_a_token_endpoint_answering_5xx_logs_each_retry(server: Server, clock, caplog):
    caplog.set_level(logging.WARNING, logger="zoomstate.zoom")
    server.token = [json_answer(503, {"reason": "busy", "error": "server_error"})] * 2
    zoom = client_for(server, clock)
    assert zoom.get_meeting(1)["id"] == MEETING["id"]
    lines = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert len(lines) == 2 and "get an access token" in lines[0] and "attempt 1 failed" in lines[0]


# -- secrets ------------------------------------------------------------------------------------------------


def test_the_basic_credential_and_tokens_never_reach_a_message(server: Server, clock, caplog):
    caplog.set_level(logging.DEBUG)
    echo = f"refused Authorization: Basic {BASIC} for {CLIENT_ID}:{SECRET}"
    server.token = [json_answer(503, {"reason": echo, "error": "server_error"})] * 3
    zoom = client_for(server, clock)
    with pytest.raises(AuthError) as token_info:
        zoom.get_meeting(1)
    clock.advance(FAILURE_HOLD)
    server.api = [json_answer(400, {"code": 1, "message": 'echo {"access_token": "tok-1-eyJhbGciOiJIUzUxMiJ9"} '
                                    "Bearer tok-1-eyJhbGciOiJIUzUxMiJ9"})]
    with pytest.raises(ZoomError) as api_info:
        zoom.get_meeting(1)
    texts = [str(token_info.value), repr(token_info.value), str(api_info.value), caplog.text]
    for text in texts:
        for value in (BASIC, SECRET, f"{CLIENT_ID}:{SECRET}", "tok-1-eyJhbGciOiJIUzUxMiJ9"):
            assert value not in text


def test_scrub_hides_basic_headers_and_token_fields_without_being_told():
    text = scrub('Authorization: Basic Y2xpZW50OnNlY3JldHNlY3JldA== {"access_token":"abc.def.ghi"} '
                 "access_token=xyz123&x=1")
    assert "Y2xpZW50OnNlY3JldHNlY3JldA" not in text and "abc.def.ghi" not in text and "xyz123" not in text
    assert scrub("Basic plan users cannot use this") == "Basic plan users cannot use this"


@pytest.mark.parametrize("url", ["http://api.zoom.us/v2", "http://10.0.0.5/v2", "http://localhost.evil.example/v2",
                                 "ftp://api.zoom.us/v2", "api.zoom.us/v2"])
def test_plain_http_to_another_machine_is_refused_before_connecting(url: str, monkeypatch):
    def no_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(TransportError) as info:
        ZoomClient(ZoomCredentials("a", "b", SECRET), api_url=url)
    assert "https" in str(info.value) and "ZOOM_API_URL" in str(info.value)
    with pytest.raises(TransportError, match="ZOOM_OAUTH_URL"):
        ZoomClient(ZoomCredentials("a", "b", SECRET), oauth_url=url.replace("/v2", "/oauth/token"))


def test_plan_with_a_plain_http_api_url_exits_1_without_any_request(run, tmp_path: Path, sandbox, zoom_env):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("standup")])
    result = run("plan", "-f", path, env={**zoom_env, "ZOOM_API_URL": "http://api.zoom.us/v2"})
    assert result.code == 1
    assert "use an https:// URL" in result.err.lower() or "Use an https:// URL" in result.err
    assert "Traceback" not in result.err
    assert sandbox.requests == []


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://127.0.0.1:8080/v2", True), ("http://127.1.2.3/v2", True), ("http://[::1]:9000/v2", True),
    ("http://localhost/v2", True), ("http://LOCALHOST./v2", True), ("http://128.0.0.1/v2", False),
    ("http://localhost.example.com/v2", False), ("http://[::2]/v2", False), ("http://10.0.0.1/v2", False),
])
def test_is_loopback(url: str, loopback: bool):
    assert is_loopback(url) is loopback


def test_a_loopback_http_url_is_accepted(server: Server, clock):
    zoom = client_for(server, clock)
    assert zoom.get_meeting(1)["id"] == MEETING["id"]


# -- the token answer's api_url ----------------------------------------------------------------------------


def test_the_token_answers_api_url_is_used_with_v2(clock):
    other = Server()
    thread = threading.Thread(target=other.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    main = Server()
    main_thread = threading.Thread(target=main.serve_forever, args=(0.01,), daemon=True)
    main_thread.start()
    try:
        main.token_default = token_answer(api_url=other.base)  # loopback, as the configured URL is
        zoom = client_for(main, clock)
        assert zoom.get_meeting(5)["id"] == MEETING["id"]
        assert [path for _, path, _ in other.api_seen()] == ["/v2/meetings/5"]
        assert main.api_seen() == []
    finally:
        for srv in (other, main):
            srv.shutdown()
            srv.server_close()


@pytest.mark.parametrize("api_url", ["http://api.zoom.example", "ftp://127.0.0.1", "not a url", 42])
def test_an_unsafe_api_url_in_the_token_answer_is_ignored(server: Server, clock, api_url):
    server.token_default = token_answer(api_url=api_url)
    zoom = client_for(server, clock)
    assert zoom.get_meeting(5)["id"] == MEETING["id"]
    assert [path for _, path, _ in server.api_seen()] == ["/v2/meetings/5"]


def test_an_https_api_url_becomes_the_base_with_v2(server: Server, clock):
    auth = client_for(server, clock)._auth
    assert auth._usable_api_base("https://api.zoom.us") is None  # configured loopback: only a loopback base
    default = ZoomClient(ZoomCredentials("a", "b", SECRET), clock=clock)._auth  # Zoom's default API URL
    assert default._usable_api_base("https://api.zoom.us") == "https://api.zoom.us/v2"
    assert default._usable_api_base("https://api-eu.zoom.us/v2/") == "https://api-eu.zoom.us/v2"
    assert default._usable_api_base("https://user:pw@api.zoom.us") == "https://api.zoom.us/v2"
    assert default._usable_api_base("http://api.zoom.us") is None
    assert default._usable_api_base(server.base) is None
    proxied = ZoomClient(ZoomCredentials("a", "b", SECRET), api_url="https://zoom-proxy.example/v2")._auth
    assert proxied._usable_api_base("https://api.zoom.us") is None  # an API URL the user chose wins


# -- code 300 "Invalid meeting id." --------------------------------------------------------------------------


INVALID_ID = {"code": 300, "message": "Invalid meeting id."}  # Zoom's body, HTTP 400


def test_code_300_invalid_meeting_id_means_the_meeting_is_gone(server: Server, clock):
    zoom = client_for(server, clock)
    server.api = [json_answer(400, INVALID_ID)] * 3
    with pytest.raises(MeetingNotFound):
        zoom.get_meeting(68663362787)
    with pytest.raises(MeetingNotFound):
        zoom.update_meeting(68663362787, {"topic": "x"})
    assert zoom.delete_meeting(68663362787) is False


def test_other_code_300_answers_stay_validation_errors(server: Server, clock):
    zoom = client_for(server, clock)
    server.api = [
        json_answer(400, {"code": 300, "message": "Validation Failed.",
                          "errors": [{"field": "duration", "message": "Invalid field."}]}),
        json_answer(400, {"code": 300, "message": "Invalid meeting id."}),
    ]
    with pytest.raises(ValidationFailed):
        zoom.update_meeting(1, {"duration": -1})
    with pytest.raises(ValidationFailed):  # not a per-meeting call: a host's list
        zoom.list_meetings(HOST)


@pytest.mark.parametrize("code_300", [False, True])
def test_the_sandbox_answers_an_unknown_meeting_either_way(code_300: bool, clock):
    from zoomstate.sandbox import Sandbox

    with Sandbox(users=[HOST], clock=clock) as sb:
        sb.set_faults(unknown_meeting_code_300=code_300)
        zoom = ZoomClient(ZoomCredentials(sb.account_id, sb.client_id, sb.client_secret), api_url=sb.api_url,
                          oauth_url=sb.oauth_url, clock=clock)
        with pytest.raises(MeetingNotFound) as info:
            zoom.get_meeting(12345678901)
        assert (info.value.status, info.value.code) == ((400, 300) if code_300 else (404, 3001))
        assert zoom.delete_meeting(12345678901) is False
        statuses = [r.status for r in sb.requests if r.route.startswith(("GET /meetings", "DELETE /meetings"))]
        assert statuses == ([400, 400] if code_300 else [404, 404])


def test_plan_sees_a_meeting_gone_with_code_300_as_deleted(run, tmp_path: Path, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("standup")])
    assert run("apply", "-f", path, "--auto-approve", "-q").code == 0
    (only,) = sandbox.meetings()
    sandbox.delete_out_of_band(only["id"])
    sandbox.set_faults(unknown_meeting_code_300=True)
    result = run("plan", "-f", path)
    assert result.code == 0, result.err  # plan without --detailed-exitcode
    assert f"{only['id']} no longer exists" in result.out and "1 to create" in result.out


# -- bodies of the wrong shape ----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "said"), [
    ({**MEETING, "settings": None}, "settings that is a null, not an object"),
    ({**MEETING, "settings": []}, "settings that is a array, not an object"),
    ({**MEETING, "id": "85746065432"}, "an id that is a string"),
    ({**MEETING, "id": True}, "an id that is a boolean"),
    ({k: v for k, v in MEETING.items() if k != "id"}, "a meeting with no id"),
    ({**MEETING, "occurrences": [1, 2]}, "occurrences that are not all objects"),
    ({**MEETING, "recurrence": "weekly"}, "recurrence that is a string"),
    ([MEETING], "a JSON array, not an object"),
])
def test_a_meeting_of_the_wrong_shape_is_one_clear_error(server: Server, clock, body, said):
    server.api = [json_answer(200, body)]
    zoom = client_for(server, clock)
    with pytest.raises(ZoomError) as info:
        zoom.get_meeting(1)
    assert type(info.value) is ZoomError
    assert said in str(info.value) and "GET /meetings/1" in str(info.value)


def test_a_201_without_an_id_is_one_clear_error(server: Server, clock):
    server.api = [json_answer(201, {"topic": "Team Sync"})]
    zoom = client_for(server, clock)
    with pytest.raises(ZoomError, match=f"POST /users/{HOST}/meetings with a meeting with no id"):
        zoom.create_meeting(HOST, {"topic": "Team Sync"})


@pytest.mark.parametrize(("body", "said"), [
    ({"meetings": {"id": 1}}, "meetings that is a object, not an array"),
    ({"meetings": None}, "meetings that is a null, not an array"),
    ({"meetings": [1]}, "meetings[0] that is a number, not an object"),
    ({"meetings": [{"id": "1"}]}, "meetings[0] without a positive integer id"),
])
def test_a_list_page_of_the_wrong_shape_is_one_clear_error(server: Server, clock, body, said):
    server.api = [json_answer(200, body)]
    zoom = client_for(server, clock)
    with pytest.raises(ZoomError, match=said.replace("[", r"\[").replace("]", r"\]")):
        zoom.list_meetings(HOST)


def test_html_with_status_200_is_said_as_what_it_is(server: Server, clock):
    server.api = [lambda h: h.send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>",
                                   {"Content-Type": "text/html; charset=utf-8"})]
    zoom = client_for(server, clock)
    with pytest.raises(ZoomError) as info:
        zoom.get_meeting(1)
    assert "Zoom answered GET /meetings/1 with HTML, not JSON" in str(info.value)
    assert "check ZOOM_API_URL" in str(info.value).replace("Check", "check")


def test_plan_against_html_is_one_error_line_and_exit_1(server: Server, clock, tmp_path: Path, capsys):
    from zoomstate.state import ManagedMeeting, StateStore

    path = write_meetings(tmp_path / "meetings.yaml", [meeting("standup")])
    store = StateStore(tmp_path / "state" / "zoomstate.json")
    state = store.load()
    state.meetings["standup"] = ManagedMeeting("standup", 1, HOST, "Standup", "2027-01-01T00:00:00Z", {}, {})
    store.save(state)
    server.api_default = lambda h: h.send(200, b"<html>proxy login</html>", {"Content-Type": "text/html"})
    env = {"ZOOM_API_URL": server.base + "/v2", "ZOOM_OAUTH_URL": server.base + "/oauth/token",
           "ZOOM_ACCOUNT_ID": "acct-123", "ZOOM_CLIENT_ID": CLIENT_ID, "ZOOM_CLIENT_SECRET": SECRET}
    code = cli.main(["plan", "-f", str(path)], clock=clock, environ=env)
    err = capsys.readouterr().err
    assert code == 1
    assert "with HTML, not JSON" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


# -- sandbox serve ------------------------------------------------------------------------------------------


def test_sandbox_serve_on_a_busy_port_is_one_error_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code = cli.main(["sandbox", "serve", "--port", str(busy.getsockname()[1])])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: cannot serve on 127.0.0.1:") and "--port" in err


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"format": "zoomstate-sandbox", "users": 5}', "\xff"])
def test_sandbox_serve_with_a_corrupt_store_is_one_error_line(tmp_path: Path, capsys, content: str):
    from zoomstate.sandbox.store import STORE_FORMAT

    store = tmp_path / "zoom.json"
    store.write_text(content.replace("zoomstate-sandbox", STORE_FORMAT), encoding="latin-1")
    code = cli.main(["sandbox", "serve", "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(f"error: cannot load the sandbox store {store}")
    assert "Traceback" not in err


# -- what each request carries, and answers in another encoding ------------------------------------------


def test_a_gzip_answer_is_read_though_identity_was_asked_for(server: Server, clock):
    import gzip

    packed = gzip.compress(json.dumps({**MEETING, "topic": "Packed"}).encode())
    server.api = [lambda h: h.send(200, packed, {"Content-Encoding": "gzip"})]
    zoom = client_for(server, clock)
    assert zoom.get_meeting(MEETING["id"])["topic"] == "Packed"
    assert server.api_seen()[0][2]["Accept-Encoding"] == "identity"


def test_a_cookie_is_never_sent_back_and_only_the_bearer_token_authorizes(server: Server, clock):
    server.api = [json_answer(200, MEETING, {"Set-Cookie": "zm_session=abc; Path=/"})]
    zoom = client_for(server, clock)
    zoom.get_meeting(1)
    zoom.get_meeting(1)
    first, second = (headers for _, _, headers in server.api_seen())
    assert "Cookie" not in second
    assert second["Authorization"] == first["Authorization"] == "Bearer tok-1-eyJhbGciOiJIUzUxMiJ9"
    (_, _, token_headers), = server.token_seen()
    assert token_headers["Authorization"] == f"Basic {BASIC}"


@pytest.mark.parametrize(("environ", "host", "proxy"), [
    ({"HTTPS_PROXY": "http://proxy.corp:3128"}, "api.zoom.us", "http://proxy.corp:3128"),
    ({"https_proxy": "http://p:1", "NO_PROXY": "zoom.us"}, "api.zoom.us", None),
    ({"https_proxy": "http://p:1", "no_proxy": ".zoom.us,other"}, "zoom.us", None),
    ({"https_proxy": "http://p:1", "no_proxy": "notzoom.us"}, "api.zoom.us", "http://p:1"),
    ({"ALL_PROXY": "http://all:8"}, "zoom.us", "http://all:8"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "api.zoom.us", None),
    ({"HTTPS_PROXY": "http://p:1"}, "127.0.0.1", None),
    ({}, "api.zoom.us", None),
])
def test_proxies_come_from_the_environment_as_curl_reads_them(environ, host, proxy):
    from zoomstate.zoom.http import environment_proxy

    assert environment_proxy("https", host, environ) == proxy
    assert environment_proxy("http", host, environ) is None  # plain http goes only to loopback, never proxied


TLS_DIR = Path(__file__).parent / "tls"


class ConnectProxy(threading.Thread):
    """An HTTP CONNECT proxy on loopback that sends every tunnel to ``target_port`` on 127.0.0.1 (so that
    api.zoom.test needs no DNS) and records each CONNECT line and its Proxy-Authorization."""

    def __init__(self, target_port: int):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        self.connects: list[tuple[str, str | None]] = []

    def run(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
        auth = next((line.split(":", 1)[1].strip() for line in lines[1:]
                     if line.lower().startswith("proxy-authorization:")), None)
        self.connects.append((lines[0], auth))
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (source, sink):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def tls_server():
    """The test server behind TLS with a certificate for api.zoom.test (tests/tls)."""
    import ssl

    srv = Server()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS_DIR / "api.zoom.test.pem", TLS_DIR / "api.zoom.test.key")
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_https_goes_through_the_environments_proxy_verified_with_its_ca_bundle(tls_server: Server, clock,
                                                                                monkeypatch):
    proxy = ConnectProxy(tls_server.server_address[1])
    proxy.start()
    try:
        base = f"https://api.zoom.test:{tls_server.server_address[1]}"
        monkeypatch.setenv("HTTPS_PROXY", f"http://me:p%40ss@127.0.0.1:{proxy.port}")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS_DIR / "api.zoom.test.pem"))
        zoom = ZoomClient(ZoomCredentials("acct-123", CLIENT_ID, SECRET), api_url=base + "/v2",
                          oauth_url=base + "/oauth/token", clock=clock, rng=random.Random(5), timeout=2.0)
        assert zoom.get_meeting(MEETING["id"])["id"] == MEETING["id"]
        assert zoom.get_meeting(MEETING["id"])["id"] == MEETING["id"]
        zoom.close()
        # One tunnel, authenticated to the proxy, kept alive for the token and both API calls.
        assert proxy.connects == [(f"CONNECT api.zoom.test:{tls_server.server_address[1]} HTTP/1.0",
                                   "Basic " + base64.b64encode(b"me:p@ss").decode())]
        assert len(tls_server.token_seen()) == 1
        assert [path for _, path, _ in tls_server.api_seen()] == [f"/v2/meetings/{MEETING['id']}"] * 2

        # Without the bundle the certificate is refused: one error naming the token call, nothing sent.
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        untrusting = ZoomClient(ZoomCredentials("acct-123", CLIENT_ID, SECRET), api_url=base + "/v2",
                                oauth_url=base + "/oauth/token", clock=clock, rng=random.Random(5), timeout=2.0,
                                max_attempts=1)
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusting.get_meeting(1)
        assert len(tls_server.token_seen()) == 1  # the refused handshake sent nothing
    finally:
        proxy.close()


def test_a_proxy_that_is_not_http_is_one_clear_error(server: Server, clock, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "socks5://me:s3cret-proxy-pw@127.0.0.1:1080")
    zoom = ZoomClient(ZoomCredentials("acct-123", CLIENT_ID, SECRET), api_url="https://api.zoom.test/v2",
                      oauth_url="https://api.zoom.test/oauth/token", clock=clock)
    with pytest.raises(TransportError, match="not an http:// URL") as info:
        zoom.get_meeting(1)
    assert "HTTPS_PROXY" in str(info.value)
    assert "s3cret-proxy-pw" not in str(info.value)  # the proxy's password is never shown
