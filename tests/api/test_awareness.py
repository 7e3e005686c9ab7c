"""The once-per-sessionId notice rule for a web page's failed check."""

from __future__ import annotations

import pytest

from stethoscope_desktop.api.awareness import SessionNotices, should_notify
from stethoscope_desktop.core.status import Status


@pytest.mark.parametrize(
    ("session_id", "status", "notified", "expected"),
    [
        ("s1", Status.FAIL, set(), True),
        ("s1", Status.FAIL, {"s1"}, False),  # once per session
        ("s2", Status.FAIL, {"s1"}, True),
        ("s1", Status.NUDGE, set(), False),  # a nudge lets the user in
        ("s1", Status.PASS, set(), False),
        ("s1", Status.UNKNOWN, set(), False),
        (None, Status.FAIL, set(), False),  # no session id, no notice (as in Stethoscope)
        ("", Status.FAIL, set(), False),
    ],
)
def test_should_notify(
    session_id: str | None, status: Status, notified: set[str], expected: bool
) -> None:
    assert should_notify(session_id, status, notified) is expected


def test_a_session_gets_one_notice_even_after_passing_first() -> None:
    notices = SessionNotices()
    assert notices.claim("s1", Status.PASS) is False
    assert notices.claim("s1", Status.FAIL) is True
    assert notices.claim("s1", Status.FAIL) is False
    assert notices.claim("s2", Status.FAIL) is True


def test_old_sessions_are_forgotten_beyond_the_capacity() -> None:
    notices = SessionNotices(capacity=2)
    for session in ("a", "b", "c"):
        assert notices.claim(session, Status.FAIL)
    assert notices.claim("a", Status.FAIL) is True  # forgotten, so it may notify again
    assert notices.claim("c", Status.FAIL) is False
