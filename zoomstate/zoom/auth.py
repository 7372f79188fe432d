"""Server-to-Server OAuth: credentials, and a thread-safe cached access token (Zoom's API reference)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from zoomstate.clock import Clock
from zoomstate.zoom.errors import AuthError, TransportError, ZoomError, scrub
from zoomstate.zoom.http import (
    DEFAULT_API_URL,
    Answer,
    Backoff,
    NetworkError,
    Transport,
    basic_authorization,
    is_loopback,
    log,
    redirect_error,
    zoom_code_message,
)

ENV_NAMES = ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET")
FALLBACK_NAMES = ("account_id", "client_id", "client_secret")

# Refresh this long before expiry; tokens shorter than twice this are refreshed at half-life.
REFRESH_MARGIN = 300.0
KEEP_TOKENS = 8  # recent tokens remembered only to scrub them from messages
# One token fetch, retries included, ends within this many seconds; an attempt is not started with less
# than MIN_ATTEMPT_SECONDS left. Threads that waited on a failed fetch, and callers arriving within
# FAILURE_HOLD seconds of it, get its error instead of starting another one each.
TOKEN_BUDGET = 110.0
MIN_ATTEMPT_SECONDS = 2.0
FAILURE_HOLD = 60.0

_HINTS = {
    "invalid_client": (
        "Zoom rejected the client id or client secret: check ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET "
        "against the app's credentials in the Zoom Marketplace"
    ),
    "unsupported_grant_type": (
        "the app must be a Server-to-Server OAuth app (account_credentials grant): create one in the "
        "Zoom Marketplace and use its Account ID, Client ID and Client Secret"
    ),
    "invalid_request": (
        "check ZOOM_ACCOUNT_ID: it must be the Account ID shown with the Server-to-Server OAuth app's "
        "credentials"
    ),
}
_SERVER_HINT = "Zoom's token endpoint failed; run again later"
# Zoom's numeric OAuth error codes (Zoom's API reference) mapped to the OAuth error names above.
_CODE_ERRORS = {
    4702: "invalid_client",
    4704: "invalid_client",
    4705: "unsupported_grant_type",
    4706: "invalid_request",
}


@dataclass(frozen=True)
class ZoomCredentials:
    """Server-to-Server OAuth app credentials. repr/str never show the secret."""

    account_id: str
    client_id: str
    client_secret: str = field(repr=False)

    def __repr__(self) -> str:
        shown = f"ZoomCredentials(account_id={self.account_id!r}, client_id={self.client_id!r}"
        return f"{shown}, client_secret=***)"

    __str__ = __repr__


def credentials_from_env(
    environ: Mapping[str, str], fallback: Mapping[str, str] | None = None
) -> ZoomCredentials | None:
    """Credentials from ZOOM_ACCOUNT_ID / ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET, else from ``fallback``
    (a seed-style zoom_api block); None when neither is complete."""
    values = [(environ.get(name) or "").strip() for name in ENV_NAMES]
    if all(values):
        return ZoomCredentials(*values)
    if fallback:
        values = [str(fallback.get(name) or "").strip() for name in FALLBACK_NAMES]
        if all(values):
            return ZoomCredentials(*values)
    return None


def refresh_after(expires_in: float) -> float:
    """Seconds after issue at which a token is renewed."""
    if expires_in >= 2 * REFRESH_MARGIN:
        return expires_in - REFRESH_MARGIN
    return expires_in / 2


class TokenProvider:
    """Fetches and caches the S2S access token. One refresh at a time: other threads wait and reuse it."""

    def __init__(
        self,
        creds: ZoomCredentials,
        oauth_url: str,
        transport: Transport,
        clock: Clock,
        backoff: Backoff,
        max_attempts: int,
        api_url: str = DEFAULT_API_URL,
    ):
        self._creds = creds
        self._oauth_url = oauth_url
        self._api_url = api_url
        self._api_bases: dict[str, str] = {}  # token -> the API base its answer named
        self._transport = transport
        self._clock = clock
        self._backoff = backoff
        self._max_attempts = max(1, max_attempts)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_accepted = False  # Zoom has answered a request made with the current token
        self._refresh_at = 0.0
        self._issued: list[str] = []
        self._failures = 0  # fetches that ended in an error
        self._failure: ZoomError | None = None
        self._failed_at = float("-inf")
        basic = f"{creds.client_id}:{creds.client_secret}"
        self._basic = (basic, basic_authorization(creds.client_id, creds.client_secret).removeprefix("Basic "))
        self.operation = f"get an access token for Zoom account {creds.account_id}"

    def token(self) -> str:
        failures_seen = self._failures
        with self._lock:
            if self._token is None or self._clock.monotonic() >= self._refresh_at:
                recent = self._clock.monotonic() - self._failed_at < FAILURE_HOLD
                if self._failure is not None and (self._failures != failures_seen or recent):
                    raise copy.copy(self._failure)  # the fetch this caller waited on failed: no new one
                try:
                    self._fetch()
                except ZoomError as exc:
                    self._failure, self._failed_at = exc, self._clock.monotonic()
                    self._failures += 1
                    raise
                self._failure = None
            assert self._token is not None
            return self._token

    def accepted(self, token: str) -> None:
        """Zoom answered a request made with ``token``: it was good, so a later refusal means it expired."""
        if token == self._token and not self._token_accepted:
            with self._lock:
                if token == self._token:
                    self._token_accepted = True

    def invalidate(self, token: str) -> bool:
        """Drop the cached token if it is still ``token``. Returns True only when the refusal says something
        about the credentials: the token was the current one and Zoom had never accepted it. A token another
        thread already replaced, or one that worked before (it expired), returns False."""
        with self._lock:
            if self._token == token:
                suspicious = not self._token_accepted
                self._token = None
                return suspicious
            return False

    def api_base(self, token: str) -> str | None:
        """The API base URL (ending in /v2) named by the token answer that issued ``token``, if usable."""
        return self._api_bases.get(token)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in messages: the client secret, the Basic credential (raw and
        base64) and issued tokens."""
        return (*self._basic, self._creds.client_secret, *self._issued)

    def _fetch(self) -> None:
        started = self._transport.monotonic()
        attempt = 0
        while True:
            attempt += 1
            left = TOKEN_BUDGET - (self._transport.monotonic() - started)
            try:
                answer = self._send(attempt, left)
            except NetworkError as exc:
                detail = scrub(f"{exc.name}: {exc}", self.secrets())
                error = TransportError(f"token endpoint unreachable ({detail})", operation=self.operation)
                self._wait_or_raise(attempt, error, started)
                continue
            if 300 <= answer.status < 400:
                raise redirect_error(answer, "POST", urlsplit(self._oauth_url).path, self.operation)
            if answer.ok:
                self._accept(answer)
                return
            if answer.status >= 500 or answer.status == 429:
                self._transport.stats.add("5xx" if answer.status >= 500 else "429")
                self._wait_or_raise(attempt, self._error(answer), started)
                continue
            raise self._error(answer)

    def _send(self, attempt: int, deadline: float) -> Answer:
        return self._transport.send(
            "token",
            "POST",
            self._oauth_url,
            attempt=attempt,
            deadline=deadline,
            params={"grant_type": "account_credentials", "account_id": self._creds.account_id},
            authorization=basic_authorization(self._creds.client_id, self._creds.client_secret),
        )

    def _wait_or_raise(self, attempt: int, error: ZoomError, started: float) -> None:
        delay = self._backoff.delay(attempt)
        spent = self._transport.monotonic() - started
        if attempt >= self._max_attempts or TOKEN_BUDGET - spent - delay < MIN_ATTEMPT_SECONDS:
            tries = f"{attempt} attempt{'s' if attempt != 1 else ''}"
            error.message = f"{error.message.rstrip('.')}; gave up after {tries} in {spent:.0f} s"
            raise error
        # Said on stderr (the default handler shows warnings): a slow token endpoint is not a silent hang.
        log.warning("%s: attempt %d failed (%s); trying again in %.1f s", self.operation, attempt,
                    error.message.rstrip("."), delay)
        self._transport.stats.add("retries")
        self._clock.sleep(delay)

    def _accept(self, answer: Answer) -> None:
        body = answer.body if isinstance(answer.body, dict) else {}
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(
                "the token endpoint answered without an access_token",
                status=answer.status,
                operation=self.operation,
            )
        try:
            expires_in = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600.0
        self._token = token
        self._token_accepted = False
        self._refresh_at = self._clock.monotonic() + refresh_after(expires_in)
        self._issued = [*self._issued[-(KEEP_TOKENS - 1) :], token]
        base = self._usable_api_base(body.get("api_url"))
        self._api_bases = {t: b for t, b in self._api_bases.items() if t in self._issued}
        if base:
            self._api_bases[token] = base

    def _usable_api_base(self, value: object) -> str | None:
        """The token answer's ``api_url`` (e.g. https://api.zoom.us) as a base with /v2, or None.

        Used only when it is https and the configured API URL is Zoom's default (an API URL set to
        something else, a proxy say, is where the user wants requests to go), or when both are loopback
        (a local Zoom)."""
        if not isinstance(value, str) or not value.strip():
            return None
        parts = urlsplit(value.strip())
        scheme = parts.scheme.lower()
        configured_default = self._api_url.rstrip("/") == DEFAULT_API_URL
        if configured_default:
            usable = scheme == "https"
        else:
            usable = scheme in ("http", "https") and is_loopback(value) and is_loopback(self._api_url)
        if not parts.hostname or not usable or parts.query or parts.fragment:
            log.debug("the token answer's api_url is not used")
            return None
        host = parts.netloc.rpartition("@")[2]  # never user:password@ from an answer
        path = parts.path.rstrip("/")
        return f"{scheme}://{host}{path if path.endswith('/v2') else path + '/v2'}"

    def _error(self, answer: Answer) -> AuthError:
        code, message = zoom_code_message(answer)
        error = code if isinstance(code, str) else _CODE_ERRORS.get(code) if isinstance(code, int) else None
        message = scrub(message, self.secrets())
        return AuthError(
            message,
            error=error,
            status=answer.status,
            code=code,
            operation=self.operation,
            hint=_HINTS.get(error or "") if answer.status < 500 else _SERVER_HINT,
        )
