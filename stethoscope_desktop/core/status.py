"""The small vocabularies shared by evaluation, instructions and the report."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A practice's (or the device's) verdict, in the words of Stethoscope's FeatureState.

    PASS: meets the policy. NUDGE: a suggestion (yellow). FAIL: a critical finding (red).
    UNKNOWN: the fact could not be read; the reason says why.
    """

    PASS = "PASS"
    NUDGE = "NUDGE"
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"


class FeatureState(StrEnum):
    """What a state check saw: the setting is on, off, or could not be read."""

    ON = "ON"
    OFF = "OFF"
    UNKNOWN = "UNKNOWN"


class Rating(StrEnum):
    """How much a practice matters; orders practices within a status."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


STATUS_RANK = {Status.FAIL: 0, Status.NUDGE: 1, Status.UNKNOWN: 2, Status.PASS: 3}
RATING_RANK = {Rating.CRITICAL: 0, Rating.HIGH: 1, Rating.MEDIUM: 2, Rating.LOW: 3}
