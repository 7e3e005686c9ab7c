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
    """The table's name."""
    seconds: float
    """Time spent generating the table."""
    rows: int
    """How many rows it gave."""
    error: str | None = None
    """Why the table failed; null if it did not."""


@dataclass(frozen=True)
class EngineInfo:
    """Which engine answered, its version where it has one, and why it was chosen."""

    name: str
    """The engine: embedded or osquery."""
    version: str = ""
    """The engine's version, e.g. 'SQLite 3.46.0' or the osqueryd version; empty if unknown."""
    reason: str = ""
    """Why this engine was chosen (e.g. no osqueryd found)."""
    tables: tuple[str, ...] = field(default_factory=tuple)
    """The tables the engine can serve on this device."""
