"""HTTP layer: kept-alive connections per thread, and the request loop (auth, pacing, retries, 429s).

An own loop rather than urllib3's Retry: Zoom sends ISO-8601 dates in Retry-After, a daily limit must
never be waited for, and a create must never be replayed once it may have reached Zoom.
"""

from __future__ import annotations

import base64
import heapq
import http.client
import ipaddress
import itertools
import json
import logging
import os
import random
import select
import socket
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlencode, urlsplit

from zoomstate.clock import Clock
from zoomstate.zoom.errors import (
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
    ZoomError,
    scrub,
)
from zoomstate.zoom.pacing import Pacer

DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"
USER_AGENT = "zoomstate/0.1"

log = logging.getLogger("zoomstate.zoom")

# A Retry-After further away than this is a daily limit: never slept on.
NEAR_RETRY_SECONDS = 60.0
BACKOFF_BASE = 0.25
STAT_KEYS = ("create", "get", "list", "update", "delete", "get_user", "token", "429", "retries", "5xx")
# Whole-request bounds: a read timeout is per socket read, so a server dribbling one byte at a time
# would otherwise hold a call forever; and no answer zoomstate reads comes near 16 MiB.
REQUEST_DEADLINE = 60.0
MAX_BODY_BYTES = 16 * 1024 * 1024
READ_CHUNK = 64 * 1024


@dataclass
class Answer:
    """One HTTP answer: status, headers, parsed JSON body (None when empty or not JSON)."""

    status: int
    headers: Mapping[str, str]
    body: Any = None
    content_type: str = ""
    raw_text: str = ""  # first characters of a non-JSON body, for error messages

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Stats:
    """Thread-safe counters: requests by kind, 429 answers, retries, 5xx answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter({key: 0 for key in STAT_KEYS})

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


@dataclass
class Backoff:
    """Bounded exponential backoff with full jitter: uniform(0, min(cap, base * 2**(n-1)))."""

    rng: random.Random
    cap: float = 8.0
    base: float = BACKOFF_BASE

    def delay(self, failures: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** max(failures - 1, 0))
        return self.rng.uniform(0, ceiling)


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as an absolute UTC time: seconds, an HTTP date, or an ISO-8601 date (Zoom's form)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return now + timedelta(seconds=max(float(text), 0.0))
    except (ValueError, OverflowError):  # not a number, or "inf"/"nan"
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # Zoom's dates are UTC
    return when.astimezone(UTC)


def next_utc_midnight(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)


def is_loopback(url: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: addresses that never leave this machine."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, name: str) -> None:
    """Refuse, before any connection, a URL that would send credentials in clear text (or elsewhere)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return
    if scheme == "http" and parts.hostname and is_loopback(url):
        return
    shown = scrub(url)
    if scheme == "http":
        message = (f"{name} {shown} uses plain http: credentials and tokens would travel unencrypted. "
                   "Use an https:// URL (http is accepted only for loopback addresses: localhost, 127.0.0.0/8, ::1)")
    else:
        message = f"{name} {shown!r} is not an https:// URL with a host name: use https://"
    raise TransportError(message, operation=f"connect to Zoom ({name})", hint="")


class NetworkError(Exception):
    """A send that brought no complete answer. ``sent`` is False only when the request certainly never left
    (no connection was made): only then may a create be sent again. ``name`` says what failed."""

    def __init__(self, message: str, *, sent: bool = True, name: str | None = None):
        super().__init__(message)
        self.sent = sent
        self.name = name or type(self).__name__


class DeadlineExceeded(NetworkError):
    """The whole request took longer than its deadline (each read was in time: the server dribbled)."""


class ResponseTooLarge(NetworkError):
    """The answer's body is larger than zoomstate ever reads."""


def network_error(exc: BaseException, *, sent: bool = True) -> NetworkError:
    return NetworkError(str(exc) or type(exc).__name__, sent=sent, name=type(exc).__name__)


class _HeaderWatch:
    """Shuts the socket of any send still waiting for its answer's status line and headers at its deadline,
    so a server that dribbles its headers cannot outlast the deadline either (the read timeout alone is per
    socket read). One thread for the whole process, woken only by an earlier deadline than the one it waits
    for, rather than a timer thread per request."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, ends_at: float, cut: Callable[[], None]) -> list[Callable[[], None] | None]:
        """Call ``cut`` at ``ends_at`` (time.monotonic) unless ``done`` is called with the returned entry."""
        entry: list[Callable[[], None] | None] = [cut]
        with self._cond:
            heapq.heappush(self._heap, (ends_at, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="zoomstate-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is entry:
                self._cond.notify()
        return entry

    def done(self, entry: list[Callable[[], None] | None]) -> None:
        with self._cond:  # under the lock: a cut never lands on a connection already handed back
            entry[0] = None

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2][0] is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                ends_at, _, entry = self._heap[0]
                left = ends_at - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                cut, entry[0] = entry[0], None
                if cut is not None:
                    cut()


_header_watch = _HeaderWatch()


class _HeadersWithinDeadline:
    """Connection mixin: the status line and headers must all arrive by ``ends_at`` (set per send)."""

    sock: Any
    ends_at: float | None = None

    def getresponse(self) -> Any:
        if self.ends_at is None:
            return super().getresponse()  # type: ignore[misc]
        entry = _header_watch.watch(self.ends_at, self._cut)
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            _header_watch.done(entry)

    def _cut(self) -> None:
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _HTTPConnection(_HeadersWithinDeadline, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_HeadersWithinDeadline, http.client.HTTPSConnection):
    pass


def basic_authorization(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def bearer_authorization(token: str) -> str:
    return f"Bearer {token}"


class Transport:
    """Sends one HTTP request at a time per thread, each thread over its own kept-alive connection to each
    host; one raw send with DEBUG logging.

    The standard library's http.client rather than requests (or urllib3 under it): a GET through a
    requests.Session cost 1.7 ms of CPU here and one through http.client 0.5 ms, and zoomstate uses none of
    what the layers add (cookies, redirects, retries, pools shared between threads). What it did use is kept:
    TLS verified against certifi's CA bundle (or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE), proxies from the
    environment (HTTPS_PROXY, ALL_PROXY, NO_PROXY; an http:// proxy, never for loopback), a kept-alive
    connection the server has closed is noticed before it is used. No cookies, no ~/.netrc: every request
    carries exactly the Authorization it is given.

    Every send has a wall-clock ``deadline`` (on ``monotonic``, real time by default: the network is real
    even when a test's Clock is not), never follows a redirect and refuses bodies over ``max_body`` bytes.
    """

    def __init__(
        self,
        timeout: float,
        stats: Stats,
        trust_env: bool = True,
        *,
        deadline: float = REQUEST_DEADLINE,
        max_body: int = MAX_BODY_BYTES,
        monotonic: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ):
        self.timeout = timeout
        self.deadline = deadline
        self.max_body = max_body
        self.monotonic = monotonic
        self.stats = stats
        self._trust_env = trust_env
        self._environ = os.environ if environ is None else environ
        self._local = threading.local()  # .connections: this thread's, by scheme://host:port
        self._lock = threading.Lock()
        self._all: list[http.client.HTTPConnection] = []
        self._tls: ssl.SSLContext | None = None

    def send(
        self, kind: str, method: str, url: str, *, attempt: int, authorization: str,
        deadline: float | None = None, params: Mapping[str, Any] | None = None, json_body: Any = None,
    ) -> Answer:
        """Send once. Raises NetworkError on network failure (DeadlineExceeded, ResponseTooLarge among them);
        never logs headers or bodies. ``deadline`` shortens this send's own one."""
        parts = urlsplit(url)
        route = parts.path
        self.stats.add(kind)
        limit = self.deadline if deadline is None else min(deadline, self.deadline)
        ends_at = self.monotonic() + limit
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity",
                   "Authorization": authorization}
        body = None
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            body = b""
        target = quote(route or "/", safe="/%@:+,;=!$&'()*~")
        query = urlencode([(k, v) for k, v in params.items() if v is not None]) if params else ""
        if parts.query or query:
            target += "?" + "&".join(q for q in (parts.query, query) if q)
        # Connecting gets half the deadline at most; each read of the headers and the body the same.
        per_step = max(min(self.timeout, limit / 2), 0.001)
        conn = self._connection(parts.scheme.lower(), parts.hostname or "", parts.port, per_step)
        try:
            response = self._exchange(conn, method, target, body, headers, time.monotonic() + limit, limit)
            try:
                content = self._read_body(response, ends_at, limit)
            finally:
                response.close()
        except BaseException as exc:
            conn.close()  # whatever is left of the exchange must not be read as the next answer
            if isinstance(exc, NetworkError):
                log.debug("%s %s -> %s (attempt %d)", method, route, exc.name, attempt)
            raise
        log.debug("%s %s -> %d (attempt %d)", method, route, response.status, attempt)
        return to_answer(response, content)

    def _exchange(self, conn: Any, method: str, target: str, body: bytes | None, headers: dict[str, str],
                  ends_at: float, limit: float) -> Any:
        if conn.sock is None:
            try:
                conn.connect()
            except (OSError, http.client.HTTPException) as exc:  # refused, unreachable, DNS, TLS, proxy
                conn.close()
                if time.monotonic() >= ends_at:
                    raise DeadlineExceeded(f"no complete answer within {limit:g} s", sent=False) from exc
                raise network_error(exc, sent=False) from exc
        conn.ends_at = ends_at
        try:
            conn.request(method, target, body=body, headers=headers)
            return conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() >= ends_at:
                raise DeadlineExceeded(f"no complete answer within {limit:g} s") from exc
            raise network_error(exc) from exc
        finally:
            conn.ends_at = None

    def _connection(self, scheme: str, host: str, port: int | None, timeout: float) -> Any:
        """This thread's connection to the host, made on first use; one the server has closed meanwhile (or
        that has bytes waiting, which no answer can be) is closed and connects again when used."""
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
        origin = f"{scheme}://{host}:{port}"
        conn = connections.get(origin)
        if conn is None:
            conn = self._new_connection(scheme, host, port)
            connections[origin] = conn
            with self._lock:
                self._all.append(conn)
        elif conn.sock is not None and _readable(conn.sock):
            conn.close()
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _new_connection(self, scheme: str, host: str, port: int | None) -> Any:
        if scheme == "http":
            return _HTTPConnection(host, port)
        proxy = environment_proxy(scheme, host, self._environ) if self._trust_env else None
        if proxy is None:
            return _HTTPSConnection(host, port, context=self._tls_context())
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if parts.scheme.lower() != "http" or not parts.hostname:
            # The URL itself is not shown: it may carry the proxy's password.
            raise TransportError(f"the proxy from the environment ({parts.scheme or 'no'}://…) is not an http:// URL",
                                 operation="connect to Zoom through HTTPS_PROXY",
                                 hint="zoomstate reaches Zoom through a proxy with HTTP CONNECT: set HTTPS_PROXY "
                                      "to http://HOST:PORT")
        conn = _HTTPSConnection(parts.hostname, parts.port or 80, context=self._tls_context())
        tunnel_headers = {}
        if parts.username is not None:
            tunnel_headers["Proxy-Authorization"] = basic_authorization(unquote(parts.username),
                                                                        unquote(parts.password or ""))
        conn.set_tunnel(host, port or 443, headers=tunnel_headers)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        with self._lock:
            if self._tls is None:
                bundle = None
                if self._trust_env:
                    bundle = self._environ.get("REQUESTS_CA_BUNDLE") or self._environ.get("CURL_CA_BUNDLE")
                if not bundle:
                    import certifi  # what requests, and so zoomstate until now, verified Zoom's certificate with

                    bundle = certifi.where()
                self._tls = ssl.create_default_context(cafile=bundle)
            return self._tls

    def _read_body(self, response: Any, ends_at: float, limit: float) -> bytes:
        declared = response.getheader("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > self.max_body:
            raise ResponseTooLarge(f"the answer announces {int(declared)} bytes, over the {self.max_body}-byte cap")
        # Asked for identity; a server that compresses anyway is decoded, within the same cap.
        encoding = (response.getheader("Content-Encoding") or "").strip().lower()
        inflate = zlib.decompressobj(47 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS) \
            if encoding in ("gzip", "x-gzip", "deflate") else None
        chunks: list[bytes] = []
        size = 0
        while True:
            if self.monotonic() > ends_at:
                raise DeadlineExceeded(f"no complete answer within {limit:g} s")
            try:
                chunk = response.read1(READ_CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise network_error(exc) from exc
            if inflate is not None:
                try:
                    chunk = inflate.decompress(chunk, self.max_body - size + 1) if chunk else inflate.flush()
                except zlib.error as exc:
                    raise network_error(exc) from exc
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_body:
                raise ResponseTooLarge(f"the answer is over the {self.max_body}-byte cap")
            chunks.append(chunk)

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()
        self._local = threading.local()


def _readable(sock: socket.socket) -> bool:
    """True when an idle kept-alive socket has something to read: the server closed it (or sent bytes no
    request asked for). poll where there is one: select cannot watch descriptors past 1023."""
    try:
        if hasattr(select, "poll"):
            watch = select.poll()
            watch.register(sock, select.POLLIN)
            return bool(watch.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed meanwhile
        return True


def environment_proxy(scheme: str, host: str, environ: Mapping[str, str]) -> str | None:
    """The proxy for an https URL from HTTPS_PROXY or ALL_PROXY (any case), unless NO_PROXY names the host or
    a domain above it (``*``: every host; a leading dot is optional), as curl and requests read them. Never
    for loopback, and never for http, which zoomstate sends only to loopback."""
    if scheme != "https" or is_loopback(f"{scheme}://{host}"):
        return None
    found = {name.lower(): value for name, value in environ.items()
             if name.lower() in ("https_proxy", "all_proxy", "no_proxy") and value}
    host = host.lower().rstrip(".")
    for entry in (e.strip().lower().lstrip(".").split(":")[0] for e in found.get("no_proxy", "").split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    return found.get("https_proxy") or found.get("all_proxy")


def to_answer(response: Any, content: bytes) -> Answer:
    content_type = response.getheader("Content-Type", "")
    answer = Answer(response.status, response.headers, content_type=content_type)
    if content.strip():
        try:
            answer.body = json.loads(content)
        except ValueError:
            answer.raw_text = " ".join(content[:300].decode("utf-8", "replace").split())[:120]
    return answer


def zoom_code_message(answer: Answer) -> tuple[int | str | None, str]:
    """Zoom's {code, message} (or the token endpoint's {error, reason}); a clear text for other bodies."""
    body = answer.body
    if isinstance(body, dict):
        code = body.get("code", body.get("error"))
        message = body.get("message") or body.get("reason") or body.get("error_description") or ""
        return code, str(message)
    if answer.raw_text:
        kind = answer.content_type.split(";")[0] or "no content type"
        return None, f"Zoom answered with a non-JSON body ({kind}): {answer.raw_text}"
    if body is None:
        return None, "Zoom answered with an empty body"
    return None, f"Zoom answered with an unexpected JSON body ({type(body).__name__})"


def api_error(answer: Answer, operation: str, secrets: Iterable[str] = ()) -> ZoomError:
    """Map a failed API answer to the matching error class."""
    code, message = zoom_code_message(answer)
    message = scrub(message, secrets)
    common: dict[str, Any] = {"status": answer.status, "code": code, "operation": operation}
    if answer.status == 404:
        if code == 1001:
            return UserNotFound(message, **common)
        if code == 3001:
            return MeetingNotFound(message, **common)
        return NotFoundError(message, **common)
    if code in (4700, 4711) or "does not contain scopes" in message:
        return ScopeError(message, **common)
    if code == 300:
        errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
        return ValidationFailed(message, errors=errors if isinstance(errors, list) else [], **common)
    if answer.status == 401:
        return AuthError(message, hint="Zoom refused the access token; check the app is activated", **common)
    if answer.status >= 500:
        return ZoomError(message, hint="Zoom had a server error; run again later", **common)
    return ZoomError(message, **common)


def redirect_error(answer: Answer, method: str, path: str, operation: str) -> ZoomError:
    """A 3xx: never followed (the bearer token or the Basic credential would go wherever it points)."""
    location = urlsplit(answer.headers.get("Location") or "")
    where = f" to {location.scheme}://{location.hostname}" if location.hostname else ""
    return TransportError(
        f"Zoom answered {method} {path} with a redirect{where}, which zoomstate never follows",
        status=answer.status,
        operation=operation,
        hint="Check ZOOM_API_URL and ZOOM_OAUTH_URL: they must point at Zoom's API itself",
    )


class TokenSource(Protocol):
    def token(self) -> str: ...

    def invalidate(self, token: str) -> bool: ...

    def accepted(self, token: str) -> None: ...

    def secrets(self) -> tuple[str, ...]: ...

    def api_base(self, token: str) -> str | None: ...


@dataclass
class Call:
    """One logical API call, carried through its attempts."""

    kind: str
    method: str
    path: str
    operation: str
    params: Mapping[str, Any] | None = None
    body: Any = None
    host: str | None = None
    attempt: int = 0
    failures: int = 0
    refreshes: int = 0
    stale_replays: int = 0

    @property
    def may_duplicate(self) -> bool:
        # POST is the only non-idempotent call here (create): a replay could make a second meeting.
        return self.method == "POST"


# Fresh tokens one call may fetch after 401s of never-accepted tokens before the 401 is reported as an
# AuthError, and replays after refusals of tokens that had expired or that other threads had already replaced.
MAX_TOKEN_REFRESHES = 3
MAX_STALE_REPLAYS = 20


class _Retry(Exception):
    """Internal: retry after ``wait`` seconds (``None``: the pacer already holds the wait)."""

    def __init__(self, wait: float | None):
        super().__init__()
        self.wait = wait


class RequestLoop:
    """Sends API calls with auth, pacing and retries, and turns failures into ZoomError subclasses."""

    def __init__(
        self,
        api_url: str,
        transport: Transport,
        auth: TokenSource,
        pacer: Pacer,
        clock: Clock,
        backoff: Backoff,
        max_attempts: int,
    ):
        self.api_url = api_url.rstrip("/")
        self.transport = transport
        self.auth = auth
        self.pacer = pacer
        self.clock = clock
        self.backoff = backoff
        self.max_attempts = max(1, max_attempts)

    def call(self, call: Call) -> Answer:
        while True:
            call.attempt += 1
            self.pacer.acquire(call.kind)
            token = self.auth.token()
            try:
                sent_at = self.clock.now()
                answer = self._send(call, token)
                return self._check(call, answer, token, sent_at)
            except _Retry as retry:
                self.transport.stats.add("retries")
                if retry.wait:
                    self.clock.sleep(retry.wait)

    def _send(self, call: Call, token: str) -> Answer:
        try:
            return self.transport.send(
                call.kind,
                call.method,
                (self.auth.api_base(token) or self.api_url) + call.path,
                attempt=call.attempt,
                params=call.params,
                json_body=call.body,
                authorization=bearer_authorization(token),
            )
        except NetworkError as exc:
            raise self._network_failure(call, exc) from None

    def _network_failure(self, call: Call, exc: NetworkError) -> Exception:
        detail = scrub(f"{exc.name}: {exc}", self.auth.secrets())
        if call.may_duplicate and exc.sent:
            return AmbiguousCreateError(
                f"no complete answer after the request was sent ({detail})", operation=call.operation,
                host=call.host,
            )
        error = TransportError(f"network failure ({detail})", operation=call.operation)
        if isinstance(exc, ResponseTooLarge):
            return error  # asking again brings the same oversized answer
        return self._retry_or(call, error)

    def _retry_or(self, call: Call, error: ZoomError, wait: float | None = None) -> Exception:
        """A retry signal while attempts remain, else ``error``."""
        if call.attempt >= self.max_attempts:
            return error
        call.failures += 1
        return _Retry(self.backoff.delay(call.failures) if wait is None else wait)

    def _check(self, call: Call, answer: Answer, token: str, sent_at: datetime) -> Answer:
        if 300 <= answer.status < 400:
            raise redirect_error(answer, call.method, call.path, call.operation)
        if answer.status != 401:
            self.auth.accepted(token)
        if answer.ok:
            self._note_quota(call, answer, sent_at)
            return answer
        if answer.status == 401:
            # Expired or revoked token (code 124): fetch a new one and replay. Refusals of a token that had
            # worked (it expired) or that another thread already replaced say nothing about the credentials;
            # fresh tokens that Zoom keeps refusing are a real auth failure.
            suspicious = self.auth.invalidate(token)
            if suspicious and call.refreshes < MAX_TOKEN_REFRESHES:
                call.refreshes += 1
                call.attempt -= 1
                raise _Retry(None)
            if not suspicious and call.stale_replays < MAX_STALE_REPLAYS:
                call.stale_replays += 1
                call.attempt -= 1
                raise _Retry(None)
        if answer.status == 429:
            raise self._rate_limited(call, answer)
        if answer.status >= 500:
            raise self._server_error(call, answer)
        raise api_error(answer, call.operation, self.auth.secrets())

    def _note_quota(self, call: Call, answer: Answer, sent_at: datetime) -> None:
        """``X-RateLimit-Remaining: 0`` speaks of the second in which the request was sent, which has often
        closed by the time the answer arrives. Paced calls already keep under the limit, so only unpaced
        ones wait, and only until that second ends (a 429 still pauses the label in every case)."""
        if self.pacer.enabled:
            return
        remaining = answer.headers.get("X-RateLimit-Remaining")
        kind = (answer.headers.get("X-RateLimit-Type") or "").lower()
        if remaining is not None and remaining.strip() == "0" and kind == "qps":
            self.pacer.pause_until_end_of_second(call.kind, sent_at)

    def _rate_limited(self, call: Call, answer: Answer) -> Exception:
        self.transport.stats.add("429")
        now = self.clock.now()
        code, message = zoom_code_message(answer)
        message = scrub(message, self.auth.secrets())
        retry_at = parse_retry_after(answer.headers.get("Retry-After"), now)
        limit_type = (answer.headers.get("X-RateLimit-Type") or "").lower()
        far = retry_at is not None and (retry_at - now).total_seconds() > NEAR_RETRY_SECONDS
        if limit_type == "daily-limit" or "daily rate limit" in message.lower() or far:
            return DailyLimitError(
                message,
                status=429,
                code=code,
                operation=call.operation,
                host=call.host,
                retry_after=retry_at or next_utc_midnight(now),
            )
        error = RateLimitError(message, status=429, code=code, operation=call.operation, retry_after=retry_at)
        signal = self._retry_or(call, error)
        if isinstance(signal, _Retry):
            # Every thread of this client waits on the label, not only the one that was refused.
            wait = (retry_at - now).total_seconds() if retry_at is not None else signal.wait or 0.0
            self.pacer.pause(call.kind, wait)
            signal.wait = None
        return signal

    def _server_error(self, call: Call, answer: Answer) -> Exception:
        self.transport.stats.add("5xx")
        error = api_error(answer, call.operation, self.auth.secrets())
        if call.may_duplicate:
            return AmbiguousCreateError(
                error.message or f"HTTP {answer.status}",
                status=answer.status,
                code=error.code,
                operation=call.operation,
                host=call.host,
            )
        now = self.clock.now()
        retry_at = parse_retry_after(answer.headers.get("Retry-After"), now)
        wait = None
        if retry_at is not None and (retry_at - now).total_seconds() <= NEAR_RETRY_SECONDS:
            wait = max((retry_at - now).total_seconds(), 0.0)
        return self._retry_or(call, error, wait)
