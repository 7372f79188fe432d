"""Zoom API client: Server-to-Server OAuth, pacing per rate-limit label, retries, typed calls."""

from zoomstate.zoom.api import PAGE_SIZE, ZoomClient
from zoomstate.zoom.auth import ZoomCredentials, credentials_from_env
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
from zoomstate.zoom.http import DEFAULT_API_URL, DEFAULT_OAUTH_URL, parse_retry_after
from zoomstate.zoom.pacing import KIND_LABELS, PLAN_RATES, plan_rates

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_OAUTH_URL",
    "KIND_LABELS",
    "PAGE_SIZE",
    "PLAN_RATES",
    "AmbiguousCreateError",
    "AuthError",
    "DailyLimitError",
    "MeetingNotFound",
    "NotFoundError",
    "RateLimitError",
    "ScopeError",
    "TransportError",
    "UserNotFound",
    "ValidationFailed",
    "ZoomClient",
    "ZoomCredentials",
    "ZoomError",
    "credentials_from_env",
    "parse_retry_after",
    "plan_rates",
    "scrub",
]
