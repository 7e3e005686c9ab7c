"""When to tell the user that a web page's check failed: once per `sessionId`, as Stethoscope did.

A login page that asks with a `sessionId` and gets FAIL may refuse the user; the app can show a
native notification saying why. The rule, as a pure function:

- only a request that carries a `sessionId` can lead to a notice (a page that sends none never
  notifies, as in Stethoscope);
- only a FAIL does (a NUDGE lets the user in);
- at most one notice per `sessionId`: a page that asks again in the same session (a retry, a
  reload) does not notify again. A session that passed first and fails later gets its one notice
  then (Stethoscope used the `sessionId` up on the first request, pass or fail).

Whether the notice is shown at all (notifications off, snoozed) is the app's decision.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Container

from stethoscope_desktop.core.status import Status

# Session ids remembered; the oldest are forgotten beyond this (a session lasts minutes).
MAX_REMEMBERED_SESSIONS = 1000


def should_notify(session_id: str | None, status: Status, notified: Container[str]) -> bool:
    """Return True if this result calls for the one notice of its session."""
    return bool(session_id) and status is Status.FAIL and session_id not in notified


class SessionNotices:
    """Remembers which sessions got their notice; thread-safe and bounded."""

    def __init__(self, capacity: int = MAX_REMEMBERED_SESSIONS) -> None:
        self._capacity = capacity
        self._notified: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, session_id: str | None, status: Status) -> bool:
        """Return True (once per session) if a notice should be shown, and remember it."""
        with self._lock:
            if not should_notify(session_id, status, self._notified):
                return False
            assert session_id is not None
            self._notified[session_id] = None
            while len(self._notified) > self._capacity:
                self._notified.popitem(last=False)
            return True
