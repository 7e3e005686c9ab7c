"""Choosing the engine: `auto` prefers a real osqueryd where one is installed, else embedded.

osqueryd is looked for in the configured path, `STETHOSCOPE_OSQUERYD`, `PATH`, a binary bundled
under `resources/osquery/`, then the standard install paths of the platform. One that is found
must also run (`osqueryd --version`); the osquery engine is imported only when it is used, so the
embedded engine never loads Thrift. The chosen engine's `info.reason` says which and why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from stethoscope_desktop.engines.base import QueryEngine
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import TablePlugin
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
BUNDLED_OSQUERYD = {
    "linux": ("osquery", "osqueryd"),
    "darwin": ("osquery", "osquery.app", "Contents", "MacOS", "osqueryd"),
    "windows": ("osquery", "osqueryd.exe"),
}


class EngineUnavailable(Exception):
    """The engine asked for cannot run here; the message says why."""


def bundled_osqueryd(platform: str) -> str | None:
    """Return where a bundled osqueryd would be (under `resources/osquery/`), if resources exist."""
    from stethoscope_desktop.resources import resources_dir

    try:
        base = resources_dir()
    except FileNotFoundError:
        return None
    return str(base.joinpath(*BUNDLED_OSQUERYD.get(platform, BUNDLED_OSQUERYD["linux"])))


def osqueryd_candidates(
    platform: str,
    configured: str = "",
    env: Mapping[str, str] | None = None,
    *,
    standard_paths: Sequence[str] | None = None,
) -> list[str]:
    """Return, in order, every place osqueryd is looked for (PATH as one `osqueryd on PATH`)."""
    environment = os.environ if env is None else env
    places = [p for p in (configured, environment.get(OSQUERYD_ENV, "")) if p]
    on_path = shutil.which("osqueryd", path=environment.get("PATH", os.defpath))
    places.append(on_path or "osqueryd on PATH")
    bundled = bundled_osqueryd(platform)
    if bundled:
        places.append(bundled)
    places += list(
        STANDARD_OSQUERYD_PATHS.get(platform, ()) if standard_paths is None else standard_paths
    )
    return list(dict.fromkeys(places))


def _runnable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def find_osqueryd(
    platform: str,
    configured: str = "",
    env: Mapping[str, str] | None = None,
    *,
    standard_paths: Sequence[str] | None = None,
) -> str | None:
    """Return the first osqueryd found: config, STETHOSCOPE_OSQUERYD, PATH, bundled, standard."""
    for candidate in osqueryd_candidates(platform, configured, env, standard_paths=standard_paths):
        if _runnable(candidate):
            return candidate
    return None


def extension_tables(platform: str, system: System) -> list[TablePlugin]:
    """Return the tables that may be registered into osqueryd: every table we build in.

    The extension serves only ours (`stethoscope_*`) and those osqueryd itself lacks (fleetd's,
    say): osquery's own tables are osquery's to answer (`ExtensionTables`).
    """
    return builtin_tables(platform, system)


def create_engine(
    choice: str,
    platform: str,
    *,
    osquery_path: str = "",
    system: System | None = None,
    env: Mapping[str, str] | None = None,
    standard_paths: Sequence[str] | None = None,
) -> QueryEngine:
    """Return the engine for `choice` (auto, embedded, osquery); raise EngineUnavailable."""
    system = system or LocalSystem()
    if choice == "embedded":
        return EmbeddedEngine(
            builtin_tables(platform, system),
            reason="chosen in the configuration",
            platform=platform,
        )
    found = find_osqueryd(platform, osquery_path, env, standard_paths=standard_paths)
    if found is None:
        looked = ", ".join(
            osqueryd_candidates(platform, osquery_path, env, standard_paths=standard_paths)
        )
        if choice == "osquery":
            raise EngineUnavailable(f"no osqueryd found (looked in {looked})")
        return EmbeddedEngine(
            builtin_tables(platform, system),
            reason=f"no osqueryd found (looked in {looked}), "
            "so the built-in engine runs the checks",
            platform=platform,
        )
    from stethoscope_desktop.engines.osquery import OsqueryEngine, OsqueryFailure, osqueryd_version

    try:
        version = osqueryd_version(found, env=env)
    except OsqueryFailure as failure:
        if choice == "osquery":
            raise EngineUnavailable(failure.reason) from None
        return EmbeddedEngine(
            builtin_tables(platform, system),
            reason=f"osqueryd at {found} does not run ({failure.reason}), "
            "so the built-in engine runs the checks",
            platform=platform,
        )
    chosen = ", chosen in the configuration" if choice == "osquery" else ""
    return OsqueryEngine(
        found,
        extension_tables(platform, system),
        version=version,
        reason=f"osqueryd {version} at {found}{chosen}",
        env=env,
    )
