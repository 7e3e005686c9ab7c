"""macOS system_controls from a recorded `sysctl -a`, with osquery's rows and struct fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.darwin.system_controls import (
    SYSCTL,
    SystemControls,
    parse_sysctl_output,
)
from tests.fakes import FakeSystem, result
from tests.tables.darwin.helpers import load_mac
from tests.tables.linux.helpers import equals, rows


def test_every_entry_with_subsystem_and_config_value(tmp_path: Path) -> None:
    generated = rows(SystemControls(load_mac("sonoma-14", tmp_path)))
    by_name = {r["name"]: r for r in generated if r["field_name"] is None}
    assert by_name["kern.maxfiles"] == {
        "name": "kern.maxfiles",
        "oid": None,
        "subsystem": "kern",
        "current_value": "245760",
        "config_value": "524288",
        "type": None,
        "field_name": None,
    }
    assert by_name["net.inet.ip.forwarding"]["config_value"] == "0"
    assert by_name["kern.coredump"]["config_value"] is None  # commented out with ';'
    assert by_name["kern.nisdomainname"]["current_value"] == ""
    assert by_name["security.mac.amfi.force_policy"]["subsystem"] is None
    assert by_name["user.cs_path"]["subsystem"] == "user"
    assert generated[0]["name"] == "kern.ostype"  # the MIB's order, as sysctl walks it


def test_structures_split_into_fields_as_osquery_does(tmp_path: Path) -> None:
    generated = rows(SystemControls(load_mac("sonoma-14", tmp_path)))
    fields = {
        (r["name"], r["field_name"]): r["current_value"]
        for r in generated
        if r["field_name"] is not None
    }
    assert fields == {
        ("kern.clockrate", "hz"): "100",
        ("kern.clockrate", "tick"): "10000",
        ("kern.clockrate", "tickadj"): "0",
        ("kern.clockrate", "profhz"): "100",
        ("kern.clockrate", "stathz"): "100",
        ("kern.boottime", "sec"): "1733205133",
        ("kern.boottime", "usec"): "415262",
        ("vm.loadavg", "ldavg0"): "2.050000",
        ("vm.loadavg", "ldavg1"): "1.980000",
        ("vm.loadavg", "ldavg2"): "1.870000",
        ("vm.swapusage", "xsu_total"): "2048.000000",
        ("vm.swapusage", "xsu_used"): "1054.250000",
        ("vm.swapusage", "xsu_avail"): "993.750000",
        ("vm.swapusage", "xsu_encrypted"): "1",
    }
    assert {r["type"] for r in generated if r["field_name"] is not None} == {"struct"}


def test_name_constraint_asks_sysctl_for_those_names_only(tmp_path: Path) -> None:
    asked = (SYSCTL, "kern.hv_vmm_present", "kern.nope")
    system = FakeSystem(
        tmp_path,
        commands=dict(
            [
                result(
                    asked,
                    "kern.hv_vmm_present: 1\n",
                    stderr="sysctl: unknown oid 'kern.nope'\n",
                    returncode=1,
                )
            ]
        ),
    )
    table = SystemControls(system)
    (row,) = rows(table, equals("name", "kern.nope", "kern.hv_vmm_present"))
    assert (row["name"], row["current_value"], row["subsystem"]) == (
        "kern.hv_vmm_present",
        "1",
        "kern",
    )
    assert system.calls == [asked]
    only_unknown = FakeSystem(
        tmp_path,
        commands=dict(
            [result((SYSCTL, "kern.nope"), stderr="sysctl: unknown oid 'kern.nope'", returncode=1)]
        ),
    )
    assert rows(SystemControls(only_unknown), equals("name", "kern.nope")) == []
    # A node's name prints every entry under it; osquery's row for a name is that name only.
    node = FakeSystem(
        tmp_path, commands=dict([result((SYSCTL, "vm"), "vm.cs_force_kill: 0\nvm.loadavg: x\n")])
    )
    assert rows(SystemControls(node), equals("name", "vm")) == []


def test_subsystem_and_oid_constraints(tmp_path: Path) -> None:
    system = load_mac("sonoma-14", tmp_path)
    net = rows(SystemControls(system), equals("subsystem", "net"))
    assert {r["subsystem"] for r in net} == {"net"}
    assert len(net) == 6
    with pytest.raises(TableError, match="by oid"):
        rows(SystemControls(system), equals("oid", "1.8"))


def test_when_sysctl_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot read the kernel's settings"):
        rows(SystemControls(FakeSystem(tmp_path)))


def test_continuation_lines_join_the_entry_above() -> None:
    assert parse_sysctl_output("kern.a: one\n  two\nkern.b:\nvm.c: x: y\n") == [
        ("kern.a", "one\n  two"),
        ("kern.b", ""),
        ("vm.c", "x: y"),
    ]


def test_a_cis_style_check_on_the_engine(tmp_path: Path) -> None:
    system = load_mac("sonoma-14", tmp_path)
    asked = (SYSCTL, "net.inet.ip.forwarding")
    system.commands.update([result(asked, "net.inet.ip.forwarding: 0\n")])
    engine = EmbeddedEngine(builtin_tables("darwin", system))
    try:
        with engine.begin_scan() as session:
            passing = session.query(
                "SELECT 1 FROM system_controls WHERE name = 'net.inet.ip.forwarding' "
                "AND current_value = '0'"
            ).rows
    finally:
        engine.close()
    assert passing == ({"1": 1},)
    assert asked in system.calls
