"""Which of our tables go into a real osqueryd: ours, and those it lacks; never its own."""

from __future__ import annotations

from pathlib import Path

from stethoscope_desktop.engines.factory import extension_tables
from stethoscope_desktop.engines.osquery_extension import ExtensionTables
from stethoscope_desktop.tables.system import LocalSystem
from tests.canned import CannedTable
from tests.engines.osquery_helpers import assert_nothing_leaked, short_dir, standin_engine
from tests.fakes import FakeSystem, write_file

OURS_OS_VERSION = [{"name": "ours", "major": 99}]
OURS_CONTROLS = [{"name": "net.ipv4.ip_forward", "current_value": "0", "subsystem": "net"}]


def test_a_builtin_table_osqueryd_lacks_is_registered_one_it_has_is_not() -> None:
    # The stand-in serves osquery's os_version but has no system_controls (an osquery table all
    # the same: an older or trimmed osqueryd), so only that one, and ours, are registered.
    tables = [
        CannedTable("os_version", OURS_OS_VERSION),
        CannedTable("system_controls", OURS_CONTROLS),
        CannedTable("stethoscope_firewall", [{"enabled": 1, "source": "test", "detail": ""}]),
    ]
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, tables=tables)
        try:
            with engine.begin_scan() as session:
                registered = {
                    row["name"]
                    for row in session.query(
                        "SELECT name FROM osquery_registry WHERE registry = 'table'"
                        " AND owner_uuid != 0"
                    ).rows
                }
                assert registered == {"system_controls", "stethoscope_firewall"}
                assert session.query("SELECT name, major FROM os_version").rows == (
                    {"name": "Debian GNU/Linux", "major": 12},  # osqueryd's own answer
                )
                controls = session.query("SELECT current_value FROM system_controls").rows
                assert controls == ({"current_value": "0"},)
            assert engine.extension_table_names() == ["stethoscope_firewall", "system_controls"]
        finally:
            engine.close()
        assert_nothing_leaked(engine, runtime_dir)


def test_before_osqueryd_answers_osquerys_own_list_stands_for_its_tables() -> None:
    tables = [
        CannedTable("os_version", OURS_OS_VERSION),
        CannedTable("system_controls", OURS_CONTROLS),
        CannedTable("stethoscope_firewall", []),
        CannedTable("file_lines", []),  # fleetd's: no osqueryd has it
    ]
    served = ExtensionTables(tables, osquery_has=None)
    assert served.names == {"stethoscope_firewall", "file_lines"}
    served.serve_what_osquery_lacks({"os_version", "file_lines", "stethoscope_firewall"})
    assert served.names == {"system_controls", "stethoscope_firewall"}  # ours always


def test_the_factory_offers_every_builtin_table() -> None:
    names = {table.name for table in extension_tables("linux", LocalSystem())}
    assert {"os_version", "stethoscope_firewall", "stethoscope_os_version"} <= names


def test_on_the_stand_in_fleetds_and_missing_tables_are_ours_the_rest_osquerys(
    tmp_path: Path,
) -> None:
    # Our real built-in tables on a fake root: the stand-in has users, file, processes and
    # augeas (osquery's own, answered by it), not file_lines (fleetd's) nor system_controls.
    write_file(tmp_path, "/etc/motd", "first\nsecond\n")
    write_file(tmp_path, "/proc/sys/net/ipv4/ip_forward", "0\n")
    with short_dir() as runtime_dir:
        engine = standin_engine(runtime_dir, tables=extension_tables("linux", FakeSystem(tmp_path)))
        try:
            with engine.begin_scan() as session:
                lines = session.query("SELECT line FROM file_lines WHERE path = '/etc/motd'")
                assert [row["line"] for row in lines.rows] == ["first", "second"]
            served = set(engine.extension_table_names())
            assert {"file_lines", "dconf_read", "system_controls", "stethoscope_firewall"} <= served
            assert not served & {"users", "file", "processes", "augeas", "os_version", "mounts"}
        finally:
            engine.close()
        assert_nothing_leaked(engine, runtime_dir)
