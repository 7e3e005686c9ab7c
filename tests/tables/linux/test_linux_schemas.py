"""Our osquery-compatible Linux tables declare exactly osquery's Linux columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.resources import resources_dir
from stethoscope_desktop.tables.base import Column, TablePlugin
from stethoscope_desktop.tables.linux import (
    OSQUERY_TABLE_CLASSES,
    STETHOSCOPE_TABLE_CLASSES,
    linux_tables,
)
from stethoscope_desktop.tables.system import LocalSystem
from tests.canned import STETHOSCOPE_COLUMNS

SCHEMAS = resources_dir() / "osquery" / "tables.json"


def osquery_linux_columns(table: str) -> tuple[Column, ...]:
    """Return osquery's columns of `table` on Linux, as `Column`s."""
    spec: dict[str, Any] = json.loads(SCHEMAS.read_text(encoding="utf-8"))["tables"][table]
    columns: list[Column] = []
    for entry in spec["columns"]:
        name, kind = entry[0], entry[1]
        options: dict[str, Any] = entry[2] if len(entry) > 2 else {}
        platforms = options.get("platforms")
        if platforms is not None and "linux" not in platforms:
            continue
        columns.append(
            Column(
                name,
                kind,
                index=bool(options.get("index", False)),
                required=bool(options.get("required", False)),
                hidden=bool(options.get("hidden", False)),
            )
        )
    return tuple(columns)


@pytest.mark.parametrize("cls", OSQUERY_TABLE_CLASSES, ids=lambda cls: cls.name)
def test_osquery_tables_have_osquerys_linux_columns(cls: type[TablePlugin]) -> None:
    assert cls.columns == osquery_linux_columns(cls.name)


@pytest.mark.parametrize("cls", STETHOSCOPE_TABLE_CLASSES, ids=lambda cls: cls.name)
def test_our_tables_are_named_stethoscope(cls: type[TablePlugin]) -> None:
    assert cls.name.startswith("stethoscope_")
    assert cls.platforms == ("linux",)
    declared = tuple((column.name, column.type) for column in cls.columns)
    assert declared == tuple(STETHOSCOPE_COLUMNS[cls.name])  # what the checks are written against


def test_linux_tables_builds_every_table_once(tmp_path: Path) -> None:
    tables = linux_tables(LocalSystem(tmp_path))
    names = [table.name for table in tables]
    expected = len(OSQUERY_TABLE_CLASSES) + len(STETHOSCOPE_TABLE_CLASSES)
    assert len(names) == len(set(names)) == expected
    assert {"os_version", "stethoscope_firewall", "systemd_units"} <= set(names)
