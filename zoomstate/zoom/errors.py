"""Errors raised by the Zoom client, each saying what failed, what Zoom said, and what to do next.

Messages are scrubbed: they never carry the client secret, the Basic credential, an access token or a
meeting's start_url.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

# start_url carries the host's ZAK key: hide the whole URL and any stray zak parameter.
_START_URL = re.compile(r"https?://[^\s\"'<>]*?/s/[^\s\"'<>]*")
_ZAK = re.compile(r"(zak=)[^&\s\"'<>]+")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-~+/=]+", re.IGNORECASE)
_BASIC = re.compile(r"(Basic\s+)[A-Za-z0-9+/=]{8,}", re.IGNORECASE)
_TOKEN_FIELD = re.compile(r"""(["']?(?:access_token|refresh_token|id_token)["']?\s*[:=]\s*["']?)[^"'\s,&}]+""",
                          re.IGNORECASE)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove secrets, bearer tokens, Basic credentials, token fields and start_url links from text meant
    for people or logs. Longer secrets go first, so one that contains another is hidden whole."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _START_URL.sub("<start_url hidden>", text)
    text = _ZAK.sub(r"\1***", text)
    text = _TOKEN_FIELD.sub(r"\1***", text)
    text = _BASIC.sub(r"\1***", text)
    return _BEARER.sub(r"\1***", text)


class ZoomError(Exception):
    """A Zoom API call failed.

    ``status`` is the HTTP status (None when no answer came back), ``code`` Zoom's numeric error code,
    ``message`` Zoom's text, ``operation`` what was being done (e.g. "create meeting for a@b.com").
    """

    default_hint = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        operation: str = "",
        retry_after: datetime | None = None,
        hint: str | None = None,
    ):
        self.message = message
        self.status = status
        self.code = code
        self.operation = operation
        self.retry_after = retry_after
        self.hint = self.default_hint if hint is None else hint
        super().__init__(message)

    def __str__(self) -> str:
        what = f"{self.operation} failed" if self.operation else "Zoom request failed"
        said = []
        if self.status is not None:
            said.append(f"HTTP {self.status}")
        if self.code is not None and self.code != self.status:
            said.append(f"Zoom code {self.code}")
        text = f"{what} ({', '.join(said)})" if said else what
        if self.message:
            text += f": {self.message.rstrip('.')}"
        if self.retry_after is not None:
            text += f" (retry after {self.retry_after.isoformat().replace('+00:00', 'Z')})"
        if self.hint:
            text += f". {self.hint}"
        return text


class AuthError(ZoomError):
    """The access token could not be obtained or was refused.

    ``error`` is the OAuth error of the token endpoint (``invalid_client``, ``unsupported_grant_type``,
    ``invalid_request``) when there was one.
    """

    default_hint = "Check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"

    def __init__(self, message: str, *, error: str | None = None, **kwargs):
        self.error = error
        super().__init__(message, **kwargs)


class ScopeError(ZoomError):
    default_hint = (
        "Add the missing scopes to the Server-to-Server OAuth app in the Zoom Marketplace "
        "(meeting:write:admin, meeting:read:admin, user:read:admin or their granular equivalents)"
    )


class NotFoundError(ZoomError):
    pass


class UserNotFound(NotFoundError):
    default_hint = "Check host_email: the user must exist in this Zoom account"


class MeetingNotFound(NotFoundError):
    default_hint = "The meeting was deleted or has expired in Zoom"


class ValidationFailed(ZoomError):
    """Zoom refused the request body (code 300); ``errors`` is Zoom's errors[] list."""

    default_hint = "Fix the fields Zoom names and run again"

    def __init__(self, message: str, *, errors: list | None = None, **kwargs):
        self.errors = list(errors or [])
        super().__init__(message, **kwargs)

    def __str__(self) -> str:
        text = super().__str__()
        details = [
            f"{e.get('field', '?')}: {e.get('message', '')}" if isinstance(e, dict) else str(e)
            for e in self.errors
        ]
        return f"{text} [{'; '.join(details)}]" if details else text


class RateLimitError(ZoomError):
    default_hint = "Zoom's per-second rate limit kept refusing the request; run again later"


class DailyLimitError(RateLimitError):
    """A daily limit was hit (per host: 100 creates+updates per UTC day). Never retried."""

    default_hint = "Zoom's daily limit was reached; run again after the time shown (00:00 UTC for a host)"

    def __init__(self, message: str, *, host: str | None = None, **kwargs):
        self.host = host
        super().__init__(message, **kwargs)


class AmbiguousCreateError(ZoomError):
    """The create may or may not have happened in Zoom (timeout, connection dropped after sending, 5xx).

    Retrying blindly could make a duplicate: list the host's meetings and look for it first.
    """

    default_hint = (
        "The meeting may exist in Zoom now; list the host's meetings and adopt it before creating again"
    )

    def __init__(self, message: str, *, host: str | None = None, **kwargs):
        self.host = host
        super().__init__(message, **kwargs)


class TransportError(ZoomError):
    default_hint = "Check the network connection and ZOOM_API_URL / ZOOM_OAUTH_URL, then run again"
