"""Deterministic kill points for crash tests.

``ZOOMSTATE_CRASH_AT="after-create:2"`` makes the process SIGKILL itself the second time it reaches the
point named "after-create". Off unless the variable is set; nothing else reads it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable

CRASH_ENV = "ZOOMSTATE_CRASH_AT"


class CrashPoints:
    """Deterministic kill points for crash tests: ZOOMSTATE_CRASH_AT="after-create:2" SIGKILLs this
    process the second time apply reaches that point. Off unless the variable is set.

    Points: before-pending, before-create, after-create, after-save, before-update, after-update, before-delete,
    after-delete (here); during-csv (export.write_csv, once per CSV written); and in the state store:
    before-journal, mid-journal (half the line written), after-journal (line fsync'd), before-compact,
    during-compact (whole new file written, not yet renamed) and after-compact (renamed, journal not yet
    removed)."""

    def __init__(self, spec: str | None):
        self._point, self._nth = None, 0
        if spec:
            point, _, nth = spec.partition(":")
            self._point, self._nth = point, int(nth or 1)
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reach(self, point: str, before_kill: Callable[[], object] | None = None) -> None:
        """Die here if this is the point and the time; ``before_kill`` leaves a half-done step behind first."""
        if point != self._point:
            return
        with self._lock:
            self._hits[point] += 1
            if self._hits[point] == self._nth:
                if before_kill is not None:
                    before_kill()
                os.kill(os.getpid(), signal.SIGKILL)

    @classmethod
    def from_env(cls) -> CrashPoints:
        return cls(os.environ.get(CRASH_ENV))
