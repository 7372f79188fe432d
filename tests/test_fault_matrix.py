"""The fault matrix: every kind of Zoom call under every fault Zoom or the network can throw at it, once.

A scripted proxy on 127.0.0.1 sits in front of the sandbox and spoils exactly the first request of one kind
(the sandbox's own fault switches are random and hit every route); everything else passes through to it.
First one ZoomClient call per cell (fake clock: backoff and Retry-After waits are instant), then an apply
of three meetings through the CLI whose first create is hit.
"""

from __future__ import annotations

import copy
import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import HOSTS, TEST_NOW, meeting, read_csv, write_meetings
from tests.test_zoom_client import CREATE_BODY
from zoomstate import cli
from zoomstate.clock import FakeClock
from zoomstate.state import StateStore
from zoomstate.zoom import AmbiguousCreateError, ZoomClient, ZoomCredentials, ZoomError

HOST = HOSTS[0]
CLIENT_TIMEOUT = 0.3  # seconds; a "timeout" fault answers well after it
SLOW = 0.8
MAX_ATTEMPTS = 4
RETRY_AFTER = 2  # seconds, in the 429 that carries Retry-After
QPS_BODY = {"code": 429, "message": "You have reached the maximum per-second rate limit for this API. Try again later."}


# -- the scripted proxy ------------------------------------------------------------------------------------


@dataclass
class Fault:
    """What the proxy does instead of (or after) passing one request on to the sandbox."""

    status: int = 0  # answer this (0: answer what the sandbox answered)
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    forward: bool = False  # the sandbox handles the request first: Zoom did the work, the answer is lost
    reset: bool = False  # close the connection with a TCP reset instead of answering
    delay: float = 0.0  # wait this long before answering (past the client's timeout)


FAULTS: dict[str, Fault] = {
    "429-retry-after": Fault(429, QPS_BODY, {"Retry-After": str(RETRY_AFTER), "X-RateLimit-Type": "QPS"}),
    "429-no-retry-after": Fault(429, QPS_BODY, {"X-RateLimit-Type": "QPS"}),
    "5xx": Fault(503, {"code": 503, "message": "The server had an error. Try again later."}),
    "reset": Fault(forward=True, reset=True),
    "timeout": Fault(forward=True, delay=SLOW),
    "expired": Fault(401, {"code": 124, "message": "Access token is expired."}),
}
AMBIGUOUS = ("5xx", "reset", "timeout")  # a create hit by these may or may not exist in Zoom


def kind_of(method: str, path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["oauth", "token"]:
        return "token"
    if len(parts) == 4 and parts[1] == "users" and parts[3] == "meetings":
        return "create" if method == "POST" else "list"
    if len(parts) == 3 and parts[1] == "meetings":
        return {"GET": "get", "PATCH": "patch", "DELETE": "delete"}.get(method, "other")
    return "user" if len(parts) == 3 and parts[1] == "users" else "other"


class FaultProxy:
    """ThreadingHTTPServer on 127.0.0.1:0 passing requests on to ``upstream``, except the scripted ones.

    ``script[kind]`` holds faults used one per request of that kind, in order. With ``listening=False`` the
    port is bound but refuses connections until ``listen()``.
    """

    def __init__(self, upstream: str, *, listening: bool = True):
        target = urlsplit(upstream)
        self.upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self.script: dict[str, list[Fault]] = {}
        self.seen: list[str] = []  # kind of every request received
        self.token_api_url: str | None = None  # put in token answers as their api_url
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(), bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.allow_reuse_address = True
        self.server.server_bind()
        self._thread: threading.Thread | None = None
        if listening:
            self.listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def listen(self) -> None:
        if self._thread is None:
            self.server.server_activate()
            self._thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
        self.server.server_close()

    def count(self, kind: str) -> int:
        with self._lock:
            return self.seen.count(kind)

    def _next_fault(self, kind: str) -> Fault | None:
        with self._lock:
            self.seen.append(kind)
            queue = self.script.get(kind) or []
            return queue.pop(0) if queue else None

    def _pass_on(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=10)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection", "content-length")}
            conn.request(method, path, body=body or None, headers=sent)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""  # always read the body first
                fault = proxy._next_fault(kind_of(self.command, urlsplit(self.path).path))
                if fault is None or fault.forward:
                    status, headers, payload = proxy._pass_on(self.command, self.path, self.headers, body)
                    if proxy.token_api_url and kind_of(self.command, urlsplit(self.path).path) == "token" \
                            and status == 200:
                        # As any proxy in front of Zoom must: the token answer's api_url names the API proxy.
                        payload = json.dumps({**json.loads(payload), "api_url": proxy.token_api_url}).encode()
                if fault is not None:
                    time.sleep(fault.delay)
                    if fault.reset:
                        self.close_connection = True
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                        return
                    if fault.status:
                        status, headers = fault.status, list(fault.headers.items())
                        payload = b"" if fault.body is None else json.dumps(fault.body).encode()
                    elif not fault.forward:  # a slow request that never got anywhere: no answer at all
                        self.close_connection = True
                        return
                self._answer(status, headers, payload)

            def _answer(self, status: int, headers: list, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers:
                        if name.lower() not in ("connection", "content-length", "transfer-encoding", "date",
                                                "server"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    self.close_connection = True  # the client gave up first (timeout)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


class HookClock(FakeClock):
    """A fake clock that runs ``on_wait`` at the first real wait: a server can come up while a client backs off."""

    def __init__(self, on_wait: Callable[[], None] | None = None):
        super().__init__(TEST_NOW)
        self.on_wait = on_wait

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and self.on_wait is not None:
            hook, self.on_wait = self.on_wait, None
            hook()
        super().sleep(seconds)


# -- one client call per cell -----------------------------------------------------------------------------

KINDS = ("token", "list", "get", "create", "patch", "delete")


def _call(kind: str, client: ZoomClient, meeting_id: int) -> Any:
    if kind in ("token", "get"):
        return client.get_meeting(meeting_id)
    if kind == "list":
        return client.list_meetings(HOST)
    if kind == "create":
        return client.create_meeting(HOST, copy.deepcopy({**CREATE_BODY, "topic": "Made By The Call"}))
    if kind == "patch":
        return client.update_meeting(meeting_id, {"duration": 75})
    return client.delete_meeting(meeting_id)


@dataclass
class Cell:
    sandbox: Any
    api: FaultProxy
    oauth: FaultProxy
    clock: HookClock
    client: ZoomClient
    meeting_id: int  # a meeting that exists before the call

    def proxy_for(self, kind: str) -> FaultProxy:
        return self.oauth if kind == "token" else self.api


@pytest.fixture
def make_cell():
    """Build a sandbox, two proxies (API and OAuth) and a client; ``late`` names the proxy that refuses at first."""
    from zoomstate.sandbox import Sandbox

    sandboxes: list[Any] = []
    closers: list[Callable[[], None]] = []

    def build(late: str | None = None) -> Cell:
        clock = HookClock()
        sb = Sandbox(users=HOSTS, clock=clock).start()
        sandboxes.append(sb)
        api = FaultProxy(sb.api_url, listening=late != "api")
        oauth = FaultProxy(sb.oauth_url, listening=late != "oauth")
        oauth.token_api_url = api.url
        closers.extend([api.close, oauth.close])
        if late is not None:
            clock.on_wait = (api if late == "api" else oauth).listen
        existing = sb.create_out_of_band(HOST, copy.deepcopy(CREATE_BODY))
        client = ZoomClient(ZoomCredentials(sb.account_id, sb.client_id, sb.client_secret),
                            api_url=api.url + "/v2", oauth_url=oauth.url + "/oauth/token", clock=clock,
                            rng=random.Random(5), timeout=CLIENT_TIMEOUT, max_attempts=MAX_ATTEMPTS)
        closers.append(client.close)
        return Cell(sb, api, oauth, clock, client, int(existing["id"]))

    yield build
    for close in reversed(closers):
        close()
    for sb in sandboxes:
        sb.stop()


def _check_outcome(cell: Cell, kind: str, result: Any, *, reached: bool) -> None:
    """The call's effect happened exactly once, whatever the fault. ``reached``: the spoiled request was
    handled by Zoom before its answer was lost."""
    sb = cell.sandbox
    if kind in ("token", "get"):
        assert result["id"] == cell.meeting_id
    elif kind == "list":
        assert [m["id"] for m in result] == [cell.meeting_id]
    elif kind == "create":
        assert [m["topic"] for m in sb.meetings()].count("Made By The Call") == 1  # never a duplicate
        assert result["id"] in {m["id"] for m in sb.meetings()}
    elif kind == "patch":
        assert sb.meeting(cell.meeting_id)["duration"] == 75
    else:
        assert sb.meeting(cell.meeting_id) is None
        # When the DELETE reached Zoom but its answer was lost, the retry finds it already gone.
        assert result is (not reached)


MATRIX = [(kind, fault) for kind in KINDS for fault in FAULTS if not (kind == "token" and fault == "expired")]


@pytest.mark.parametrize(("kind", "fault"), MATRIX, ids=[f"{k}-{f}" for k, f in MATRIX])
def test_one_call_under_one_fault(make_cell, kind: str, fault: str):
    cell = make_cell()
    proxy = cell.proxy_for(kind)
    if kind != "token":
        cell.client.get_user(HOST)  # the token is fetched before the fault, so it hits only the call
    tokens_before = cell.oauth.count("token")
    proxy.script[kind] = [copy.deepcopy(FAULTS[fault])]
    started = cell.clock.monotonic()

    if kind == "create" and fault in AMBIGUOUS:
        with pytest.raises(AmbiguousCreateError) as info:
            _call(kind, cell.client, cell.meeting_id)
        # Exactly ONE POST: Zoom may have made the meeting, so it is never sent blindly again.
        assert proxy.count("create") == 1 and cell.client.stats()["create"] == 1
        made = [m["topic"] for m in cell.sandbox.meetings()].count("Made By The Call")
        assert made == (1 if FAULTS[fault].forward else 0)
        assert info.value.host == HOST and "may exist" in str(info.value)
        return

    result = _call(kind, cell.client, cell.meeting_id)
    _check_outcome(cell, kind, result, reached=FAULTS[fault].forward)
    # Retried exactly once: the faulted request, then one that went through.
    assert proxy.count(kind) == 2
    stats = cell.client.stats()
    if fault == "expired":
        assert cell.oauth.count("token") == tokens_before + 1  # a fresh token, then the call replayed
        assert stats["retries"] == 1
    elif fault.startswith("429"):
        assert stats["429"] == 1
    if fault == "429-retry-after" and kind != "token":
        assert cell.clock.monotonic() - started >= RETRY_AFTER  # waited what Zoom asked (on the fake clock)


def test_token_expired_by_time_is_renewed_before_the_call(make_cell):
    """The token's own fault: it runs out. The client renews it before sending, so Zoom never answers 401."""
    cell = make_cell()
    cell.client.get_user(HOST)
    cell.clock.advance(3600)  # the sandbox's token lifetime, on the clock both sides share
    assert cell.client.get_meeting(cell.meeting_id)["id"] == cell.meeting_id
    assert cell.oauth.count("token") == 2
    assert not [r for r in cell.sandbox.requests if r.status == 401]


@pytest.mark.parametrize("kind", KINDS, ids=[f"{k}-refused" for k in KINDS])
def test_connection_refused_before_sending_is_retried(make_cell, kind: str):
    """Nothing listens at first (refused: the request never left), then the server is up: retried, once."""
    cell = make_cell(late="oauth" if kind == "token" else "api")
    result = _call(kind, cell.client, cell.meeting_id)
    _check_outcome(cell, kind, result, reached=False)
    stats_kind = "token" if kind == "token" else ("update" if kind == "patch" else kind)
    assert cell.client.stats()[stats_kind] == 2  # two attempts: one refused, one that reached the proxy
    assert cell.proxy_for(kind).count(kind) == 1


RETRIED_KINDS = ("token", "list", "get", "patch", "delete")


@pytest.mark.parametrize("kind", RETRIED_KINDS, ids=[f"{k}-5xx-forever" for k in RETRIED_KINDS])
def test_a_fault_that_never_ends_gives_up_after_bounded_attempts(make_cell, kind: str):
    cell = make_cell()
    if kind != "token":
        cell.client.get_user(HOST)
    proxy = cell.proxy_for(kind)
    proxy.script[kind] = [copy.deepcopy(FAULTS["5xx"]) for _ in range(MAX_ATTEMPTS + 3)]
    with pytest.raises(ZoomError) as info:
        _call(kind, cell.client, cell.meeting_id)
    assert proxy.count(kind) == MAX_ATTEMPTS
    assert info.value.status == 503


# -- one level up: apply of three meetings, the first create hit ------------------------------------------

# fault -> does the hit create reach Zoom before the answer is spoiled?
APPLY_CASES = [
    ("429-retry-after", False),
    ("429-no-retry-after", False),
    ("expired", False),
    ("5xx", False),
    ("5xx", True),
    ("reset", True),
    ("reset", False),
    ("timeout", True),
    ("timeout", False),
]


def _apply_id(fault: str, reached: bool) -> str:
    if fault in AMBIGUOUS:
        return f"create-{fault}-{'made-in-zoom' if reached else 'lost'}"
    return f"create-{fault}"


@pytest.mark.parametrize(("fault", "reached"), APPLY_CASES, ids=[_apply_id(f, r) for f, r in APPLY_CASES])
def test_apply_whose_first_create_is_hit(tmp_path, capsys, monkeypatch, clock, sandbox, fault: str, reached: bool):
    from zoomstate import manager

    # The CLI's client, with a short timeout so a "timeout" fault is quick; everything else as shipped.
    monkeypatch.setattr(manager, "ZoomClient", lambda *a, **kw: ZoomClient(*a, **{**kw, "timeout": CLIENT_TIMEOUT}))
    api = FaultProxy(sandbox.api_url)
    oauth = FaultProxy(sandbox.oauth_url)
    oauth.token_api_url = api.url  # the token answer's api_url names the proxy, not the sandbox behind it
    try:
        spoiled = copy.deepcopy(FAULTS[fault])
        spoiled.forward = reached
        api.script["create"] = [spoiled]
        env = {"ZOOM_API_URL": api.url + "/v2", "ZOOM_OAUTH_URL": oauth.url + "/oauth/token",
               "ZOOM_ACCOUNT_ID": sandbox.account_id, "ZOOM_CLIENT_ID": sandbox.client_id,
               "ZOOM_CLIENT_SECRET": sandbox.client_secret}
        keys = ["first", "second", "third"]
        path = write_meetings(tmp_path / "meetings.yaml", [meeting(k, HOSTS[i % 2]) for i, k in enumerate(keys)])
        code = cli.main(["apply", "-f", str(path), "--auto-approve", "--parallelism", "1"], clock=clock,
                        environ=env)
        output = capsys.readouterr()
        assert code == 0, output.out + output.err

        topics = Counter(m["topic"] for m in sandbox.meetings())
        assert topics == Counter(k.title() for k in keys)  # exactly one meeting per key
        state = StateStore(tmp_path / "state" / "zoomstate.json").load()
        assert set(state.meetings) == set(keys) and not state.pending
        assert {m.meeting_id for m in state.meetings.values()} == {m["id"] for m in sandbox.meetings()}
        assert {r["key"] for r in read_csv(tmp_path / "zoom_meetings.csv")} == set(keys)
        # A create that reached Zoom is found and adopted, never sent again; a lost one is sent once more.
        posts = api.count("create")
        if fault in AMBIGUOUS:
            assert posts == (3 if reached else 4)
            assert api.count("list") >= 1  # the host's meetings were looked at before any second POST
        else:
            assert posts == 4  # the refused POST (429 or 401) made nothing, and was sent again
        capsys.readouterr()
        assert cli.main(["plan", "-f", str(path), "--detailed-exitcode"], clock=clock, environ=env) == 0
    finally:
        api.close()
        oauth.close()
