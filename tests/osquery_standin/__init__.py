"""The osqueryd stand-in (a test fixture) and helpers to start engines on it.

`standin_osqueryd.py` is an executable that the engine spawns exactly as it spawns osqueryd; the
engine code does not know it exists. `fixtures/<platform>/` hold osquery-table rows the stand-in
serves, and `extension_tables/` beside them the rows of our own tables, which tests feed to the
engine (to register into the stand-in) and to the embedded engine alike.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.canned import CannedTable

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "standin_osqueryd.py"
FIXTURES = HERE / "fixtures"
PLATFORMS = ("linux", "darwin", "windows")


def fixtures_dir(platform: str) -> Path:
    """Return the stand-in's fixture folder for `platform`."""
    return FIXTURES / platform


def standin_env(platform: str = "linux", **extra: str) -> dict[str, str]:
    """Return an environment for the stand-in: this interpreter first on PATH, the fixtures set.

    The stand-in's `#!/usr/bin/env python3` then finds the interpreter running the tests (a venv's
    `python3`), which has the osquery bindings, thrift and apsw.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("STANDIN_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["STANDIN_FIXTURES"] = str(fixtures_dir(platform))
    env.update(extra)
    return env


def core_rows(platform: str) -> dict[str, list[dict[str, object]]]:
    """Return the stand-in's fixture rows for `platform`, by osquery table."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(fixtures_dir(platform).glob("*.json"))
        if path.name != "standin.json"
    }


def extension_rows(platform: str) -> dict[str, list[dict[str, object]]]:
    """Return the fixture rows of our own (`stethoscope_*`) tables for `platform`."""
    folder = fixtures_dir(platform) / "extension_tables"
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.json"))
    }


def canned(rows: Mapping[str, list[dict[str, object]]]) -> list[CannedTable]:
    """Return canned tables serving `rows`."""
    return [CannedTable(name, table_rows) for name, table_rows in rows.items()]  # type: ignore[arg-type]
