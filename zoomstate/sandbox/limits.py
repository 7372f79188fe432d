"""Zoom's rate limits: per-second limits per label for the account, and the per-host daily limit.

Per-second limits are counted in 1-second windows of ``clock.monotonic()``, so a fake clock controls them
in tests. The daily limit counts successful creates and updates per host and UTC day of ``clock.now()``;
its counters live in the store so that they survive restarts like Zoom's do.
"""

from __future__ import annotations

import threading
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from zoomstate.clock import Clock

LIGHT, MEDIUM = "Light", "Medium"

# Requests per second by plan and label (Zoom's API reference; Business+ covers Business, Education, Enterprise).
PLAN_QPS: dict[str, dict[str, int]] = {
    "free": {LIGHT: 4, MEDIUM: 2},
    "pro": {LIGHT: 30, MEDIUM: 20},
    "business": {LIGHT: 80, MEDIUM: 60},
}

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_API_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)


def daily_user_message(limit: int) -> str:
    return (
        f"You have exceeded the daily rate limit ({limit}) of Meeting Create/Update API requests permitted "
        "for this particular user. You may resume these requests at GMT 00:00:00."
    )


@dataclass(frozen=True)
class Verdict:
    """The outcome of one rate-limit check, with the values of Zoom's X-RateLimit-* headers."""

    allowed: bool
    category: str
    limit: int
    remaining: int
    kind: str = "QPS"  # X-RateLimit-Type: "QPS" or "Daily-limit"

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Category": self.category,
            "X-RateLimit-Type": self.kind,
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
        }


class QpsLimiter:
    """Fixed 1-second windows per label, account-wide (all users and apps share them)."""

    def __init__(self, plan: str, clock: Clock, enabled: bool = True):
        if plan not in PLAN_QPS:
            raise ValueError(f"unknown plan {plan!r}: choose one of {', '.join(PLAN_QPS)}")
        self.limits = PLAN_QPS[plan]
        self.clock = clock
        self.enabled = enabled
        self._lock = threading.Lock()
        self._window: dict[str, int] = {}
        self._count: dict[str, int] = {}

    def _used(self, label: str, window: int) -> int:
        if self._window.get(label) != window:
            self._window[label] = window
            self._count[label] = 0
        return self._count[label]

    def take(self, label: str) -> Verdict:
        """Count one request against ``label``; refused when the current second is full."""
        limit = self.limits[label]
        with self._lock:
            used = self._used(label, int(self.clock.monotonic() // 1))
            if self.enabled and used >= limit:
                return Verdict(False, label, limit, 0)
            self._count[label] = used + 1
            return Verdict(True, label, limit, limit - used - 1)

    def peek(self, label: str) -> Verdict:
        """The headers for a response that did not reach the limiter (e.g. a 401)."""
        limit = self.limits[label]
        with self._lock:
            used = self._used(label, int(self.clock.monotonic() // 1))
        return Verdict(True, label, limit, limit - used)


def utc_day(now: datetime) -> str:
    return now.date().isoformat()


def next_utc_midnight(now: datetime) -> str:
    """Retry-After of a daily limit: the next 00:00:00Z as ISO-8601."""
    tomorrow = now.date() + timedelta(days=1)
    return f"{tomorrow.isoformat()}T00:00:00Z"


class DailyLimit:
    """Creates + updates per host per UTC day. ``counters`` maps "host_id|YYYY-MM-DD" to a count."""

    def __init__(self, limit: int, counters: MutableMapping[str, int]):
        self.limit = limit
        self.counters = counters

    def used(self, host_id: str, now: datetime) -> int:
        return self.counters.get(f"{host_id}|{utc_day(now)}", 0)

    def check(self, host_id: str, now: datetime, category: str) -> Verdict:
        used = self.used(host_id, now)
        return Verdict(used < self.limit, category, self.limit, self.limit - used, kind="Daily-limit")

    def record(self, host_id: str, now: datetime, category: str) -> Verdict:
        """Count one successful create/update; the verdict carries the remaining budget for the headers."""
        today = utc_day(now)
        # Older days can never matter again: drop them so the store stays small.
        for key in [k for k in self.counters if not k.endswith(f"|{today}")]:
            del self.counters[key]
        key = f"{host_id}|{today}"
        self.counters[key] = self.counters.get(key, 0) + 1
        return Verdict(True, category, self.limit, self.limit - self.counters[key], kind="Daily-limit")
