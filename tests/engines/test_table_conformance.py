"""Every table the embedded engine serves that osquery also has declares osquery's columns.

Checked against osquery's specs as `resources/osquery/tables.json` records them, on every
platform, so a check's SQL means the same on both engines. Our own tables must not take a name
osquery uses, and are named `stethoscope_*`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.resources import resources_dir
from stethoscope_desktop.tables.base import Column, TablePlugin
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.system import LocalSystem

SCHEMAS: dict[str, Any] = json.loads(
    (resources_dir() / "osquery" / "tables.json").read_text("utf-8")
)["tables"]
PLATFORMS = ("linux", "darwin", "windows")
ALIASES = {"windows": {"windows", "win32", "cygwin"}, "darwin": {"darwin"}, "linux": {"linux"}}


def osquery_columns(table: str, platform: str) -> tuple[Column, ...]:
    """Return osquery's columns of `table` on `platform`, options included."""
    columns: list[Column] = []
    for entry in SCHEMAS[table]["columns"]:
        options: dict[str, Any] = entry[2] if len(entry) > 2 else {}
        only = options.get("platforms")
        if only is not None and not ALIASES[platform] & set(only):
            continue
        columns.append(
            Column(
                entry[0],
                entry[1],
                index=bool(options.get("index", False)),
                required=bool(options.get("required", False)),
                hidden=bool(options.get("hidden", False)),
            )
        )
    return tuple(columns)


def served(platform: str, root: Path) -> list[TablePlugin]:
    return builtin_tables(platform, LocalSystem(root))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_tables_osquery_also_has_declare_osquerys_columns(platform: str, tmp_path: Path) -> None:
    tables = served(platform, tmp_path)
    checked = 0
    for table in tables:
        if table.name in SCHEMAS:
            assert platform in SCHEMAS[table.name]["platforms"], table.name
            assert table.columns == osquery_columns(table.name, platform), table.name
            checked += 1
    assert checked or platform != "linux"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_our_own_tables_are_named_stethoscope(platform: str, tmp_path: Path) -> None:
    for table in served(platform, tmp_path):
        if table.name not in SCHEMAS:
            assert table.name.startswith("stethoscope_"), table.name
        assert {c.type for c in table.columns} <= {"text", "integer", "bigint", "double"}
        names = [c.name for c in table.columns]
        assert len(names) == len(set(names)), table.name
