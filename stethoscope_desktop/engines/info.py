"""What a report records about the engine that answered.

Its name and version, and the time each table took. Kept apart from `engines.base` so that the
tray can read a report without loading the engines.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableTiming:
    """How long generating one table took in a scan, and how many rows it gave."""

    table: str
    seconds: float
    rows: int
    error: str | None = None


@dataclass(frozen=True)
class EngineInfo:
    """Which engine answered, its version where it has one, and why it was chosen."""

    name: str
    version: str = ""
    reason: str = ""
    tables: tuple[str, ...] = field(default_factory=tuple)
