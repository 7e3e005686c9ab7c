"""Choosing the engine: `auto` prefers a real osqueryd where one is installed, else embedded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from stethoscope_desktop.engines.base import QueryEngine
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.system import LocalSystem, System

OSQUERYD_ENV = "STETHOSCOPE_OSQUERYD"
STANDARD_OSQUERYD_PATHS = {
    "linux": ("/opt/osquery/bin/osqueryd", "/usr/bin/osqueryd", "/usr/local/bin/osqueryd"),
    "darwin": (
        "/opt/osquery/lib/osquery.app/Contents/MacOS/osqueryd",
        "/usr/local/bin/osqueryd",
    ),
    "windows": (r"C:\Program Files\osquery\osqueryd\osqueryd.exe",),
}


class EngineUnavailable(Exception):
    """The engine asked for cannot run here; the message says why."""


def find_osqueryd(
    platform: str, configured: str = "", env: Mapping[str, str] | None = None
) -> str | None:
    """Return the path of an osqueryd: config, then STETHOSCOPE_OSQUERYD, PATH, standard paths."""
    environment = os.environ if env is None else env
    for candidate in (configured, environment.get(OSQUERYD_ENV, "")):
        if candidate and Path(candidate).is_file():
            return candidate
    on_path = shutil.which("osqueryd")
    if on_path:
        return on_path
    for candidate in STANDARD_OSQUERYD_PATHS.get(platform, ()):
        if Path(candidate).is_file():
            return candidate
    return None


def create_engine(
    choice: str, platform: str, *, osquery_path: str = "", system: System | None = None
) -> QueryEngine:
    """Return the engine for `choice` (auto, embedded, osquery); raise EngineUnavailable."""
    system = system or LocalSystem()
    if choice == "embedded":
        return EmbeddedEngine(
            builtin_tables(platform, system), reason="chosen in the configuration"
        )
    found = find_osqueryd(platform, osquery_path)
    if choice == "osquery":
        raise EngineUnavailable(
            f"the osquery engine is not part of this version (osqueryd: {found or 'not found'})"
        )
    reason = (
        f"osqueryd found at {found}, but this version runs checks on the built-in engine"
        if found
        else "no osqueryd is installed, so the built-in engine runs the checks"
    )
    return EmbeddedEngine(builtin_tables(platform, system), reason=reason)
