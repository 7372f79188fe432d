"""Switchable faults: the ways a real Zoom misbehaves, on demand and reproducibly (one seeded RNG)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields
from functools import partial

FAULT_FIELDS = (
    "rate_429", "rate_5xx", "rate_5xx_reads", "drop_after_create", "reset_before", "expire_token_every",
    "latency", "slow_rate", "slow_seconds", "token_5xx", "unknown_meeting_code_300",
)


@dataclass
class Faults:
    """All off by default. Probabilities are per request; they apply to /v2 API routes only, except
    ``token_5xx``, which applies to the token endpoint only.

    - ``rate_429``: a per-second 429 (half with ``Retry-After: 1``, half with no Retry-After).
    - ``rate_5xx``: a 5xx on any API request; ``rate_5xx_reads``: on GET requests only.
    - ``drop_after_create``: after a create is stored, the connection is closed with no response.
    - ``reset_before``: the connection is closed before the request is handled (nothing happens).
    - ``expire_token_every``: every Nth API request answers 401 code 124 and invalidates its token.
    - ``latency``: seconds added to every API response.
    - ``slow_rate`` / ``slow_seconds``: this share of API requests waits ``slow_seconds`` before being
      handled (a client timeout then leaves the request running, as with a real server).
    - ``unknown_meeting_code_300``: a meeting id that does not exist answers, on GET/PATCH/DELETE
      /meetings/{id}, HTTP 400 ``{"code": 300, "message": "Invalid meeting id."}`` (Zoom's answer for the
      number of a meeting that has ended) instead of 404 code 3001.
    """

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_5xx_reads: float = 0.0
    drop_after_create: float = 0.0
    reset_before: float = 0.0
    expire_token_every: int = 0
    latency: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    token_5xx: float = 0.0
    unknown_meeting_code_300: bool = False
    _rng: random.Random = field(default_factory=partial(random.Random, 0), init=False, repr=False,
                                compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _api_requests: int = field(default=0, init=False, repr=False, compare=False)

    def seed(self, seed: int) -> None:
        with self._lock:
            self._rng.seed(seed)

    def update(self, **changes: float | int | bool) -> None:
        known = {f.name for f in fields(self) if not f.name.startswith("_")}
        unknown = sorted(set(changes) - known)
        if unknown:
            known_text = ", ".join(sorted(known))
            raise TypeError(f"unknown fault field(s): {', '.join(unknown)}; known: {known_text}")
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

    def chance(self, probability: float) -> bool:
        """A seeded coin with P(True) = ``probability``; no draw at all when the fault is off."""
        if probability <= 0:
            return False
        with self._lock:
            return self._rng.random() < probability

    def pick(self, options: tuple):
        with self._lock:
            return self._rng.choice(options)

    def token_expires_now(self) -> bool:
        """Counts API requests; True on every ``expire_token_every``-th one."""
        with self._lock:
            self._api_requests += 1
            every = int(self.expire_token_every or 0)
            return every > 0 and self._api_requests % every == 0
