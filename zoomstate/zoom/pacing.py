"""Client-side pacing: one token bucket per Zoom rate-limit label, shared by every thread of a client.

Zoom limits requests per second per account and label (Zoom's API reference). Pacing at the limit keeps 429s rare
instead of relying on retries; all waiting goes through the injected clock so tests run instantly.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from zoomstate.clock import Clock

LIGHT = "light"
MEDIUM = "medium"
HEAVY = "heavy"

# Requests per second by plan and label (Zoom's API reference).
PLAN_RATES: dict[str, dict[str, float]] = {
    "free": {LIGHT: 4, MEDIUM: 2, HEAVY: 1},
    "pro": {LIGHT: 30, MEDIUM: 20, HEAVY: 10},
    "business": {LIGHT: 80, MEDIUM: 60, HEAVY: 40},
}
PLAN_ALIASES = {
    "basic": "free",
    "business+": "business",
    "education": "business",
    "enterprise": "business",
    "partner": "business",
    "partners": "business",
}

# Zoom's label for each kind of call this client makes.
KIND_LABELS: dict[str, str] = {
    "create": MEDIUM,
    "list": MEDIUM,
    "get": LIGHT,
    "update": LIGHT,
    "delete": LIGHT,
    "get_user": LIGHT,
}

# Spacing is kept a hair above 1/rate so scheduling jitter between threads never puts rate+1 requests
# into one second of a sliding window at the server.
JITTER_MARGIN = 0.98


def plan_rates(plan: str) -> dict[str, float]:
    """Per-label rates for a Zoom plan name (free, pro, business and its aliases)."""
    name = plan.strip().lower()
    name = PLAN_ALIASES.get(name, name)
    if name not in PLAN_RATES:
        known = ", ".join(sorted(PLAN_RATES))
        raise ValueError(f"unknown Zoom plan {plan!r}; expected one of {known}")
    return PLAN_RATES[name]


class TokenBucket:
    """A thread-safe token bucket (virtual scheduling form): ``burst`` at once, then ``rate`` per second.

    Each caller reserves a send time under the lock and sleeps outside it, so waiting threads queue
    in order without holding the lock.
    """

    def __init__(self, rate: float, clock: Clock, burst: int = 1):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.burst = max(1, burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._tat: float | None = None  # theoretical arrival time of the next request
        self._blocked_until = float("-inf")

    def reserve(self, pace: bool = True) -> float:
        """Reserve the next slot; returns how long the caller must wait before sending.

        With ``pace`` False only a pause set by ``block_for`` is honoured.
        """
        with self._lock:
            now = self._clock.monotonic()
            if not pace:
                return max(self._blocked_until - now, 0.0)
            tat = now if self._tat is None else max(self._tat, now)
            tat = max(tat, self._blocked_until)
            send_at = max(now, tat - (self.burst - 1) * self.interval, self._blocked_until)
            self._tat = max(tat, send_at) + self.interval
            return send_at - now

    def acquire(self, pace: bool = True) -> float:
        """Wait for a slot; returns the seconds waited."""
        wait = self.reserve(pace)
        if wait > 0:
            self._clock.sleep(wait)
        return wait

    def block_for(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` from now (after a 429 or an exhausted per-second quota)."""
        with self._lock:
            until = self._clock.monotonic() + max(seconds, 0.0)
            self._blocked_until = max(self._blocked_until, until)


class Pacer:
    """One bucket per label; ``acquire(kind)`` paces a call of that kind.

    With pacing disabled only pauses after a 429 (or an exhausted quota) make callers wait.
    """

    def __init__(self, plan: str, clock: Clock, enabled: bool = True, margin: float = JITTER_MARGIN):
        self.enabled = enabled
        self._clock = clock
        rates = plan_rates(plan)
        self.rates = dict(rates)
        self._buckets = {label: TokenBucket(rate * margin, clock) for label, rate in rates.items()}

    def label(self, kind: str) -> str:
        return KIND_LABELS.get(kind, LIGHT)

    def acquire(self, kind: str) -> float:
        """Wait until a call of ``kind`` may be sent; returns the seconds waited.

        Disabled pacing still honours pauses set after a 429.
        """
        return self._buckets[self.label(kind)].acquire(pace=self.enabled)

    def pause(self, kind: str, seconds: float) -> None:
        """Pause the label of ``kind`` for every thread of this client."""
        self._buckets[self.label(kind)].block_for(seconds)

    def pause_until_end_of_second(self, kind: str, sent_at: datetime) -> None:
        """Zoom said the per-second quota of the second ``sent_at`` falls in is used up: hold the label until
        that wall-clock second ends (no wait at all when it already has)."""
        ends = sent_at.replace(microsecond=0) + timedelta(seconds=1)
        left = (ends - self._clock.now()).total_seconds()
        if left > 0:
            self.pause(kind, left)
