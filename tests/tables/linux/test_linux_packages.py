"""deb_packages from a dpkg status excerpt; rpm_packages from recorded rpm output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, TableError
from stethoscope_desktop.tables.linux.packages import (
    RPM_QUERYFORMAT,
    DebPackages,
    DpkgPackageCheck,
    RpmPackages,
    dpkg_installed,
)
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import (
    WatchedSystem,
    fixture,
    make_root,
    replace_keeping_mtime,
    rows,
)


def dpkg_root(tmp_path: Path, status: str = "dpkg/status") -> FakeSystem:
    return FakeSystem(make_root(tmp_path, {"/var/lib/dpkg/status": fixture(status)}))


def test_deb_packages_lists_what_osquery_lists(tmp_path: Path) -> None:
    generated = rows(DebPackages(dpkg_root(tmp_path)))
    # "purge ok not-installed" is left out; "deinstall ok config-files" stays, as in osquery.
    assert [(r["name"], r["arch"]) for r in generated] == [
        ("adduser", "all"),
        ("libc6", "amd64"),
        ("libc6", "i386"),
        ("old-tool", "amd64"),
        ("unattended-upgrades", "all"),
        ("vim", "amd64"),
    ]
    by_name = {(r["name"], r["arch"]): r for r in generated}
    assert by_name[("libc6", "amd64")] == {
        "name": "libc6",
        "version": "2.36-9+deb12u9",
        "source": "glibc",
        "size": 13001,
        "arch": "amd64",
        "revision": "9+deb12u9",
        "status": "install ok installed",
        "maintainer": "GNU Libc Maintainers <debian-glibc@lists.debian.org>",
        "section": "libs",
        "priority": "optional",
        "admindir": "/var/lib/dpkg",
        "pid_with_namespace": 0,
    }
    assert by_name[("adduser", "all")]["revision"] == ""  # native package: no revision
    assert by_name[("adduser", "all")]["source"] == ""
    assert by_name[("vim", "amd64")]["version"] == "2:9.0.1378-2+b1"  # epoch kept
    assert by_name[("vim", "amd64")]["revision"] == "2+b1"
    assert by_name[("vim", "amd64")]["source"] == "vim (2:9.0.1378-2)"
    assert by_name[("old-tool", "amd64")]["status"] == "deinstall ok config-files"


def test_pending_dpkg_updates_are_applied(tmp_path: Path) -> None:
    system = dpkg_root(tmp_path)
    system.write(
        "/var/lib/dpkg/updates/0001",
        "Package: vim\nStatus: deinstall ok config-files\nArchitecture: amd64\n"
        "Version: 2:9.0.1378-2+b1\n",
    )
    system.write("/var/lib/dpkg/updates/tmp.i", "Package: vim\nStatus: garbage\n")
    vim = [r for r in rows(DebPackages(system)) if r["name"] == "vim"]
    assert [r["status"] for r in vim] == ["deinstall ok config-files"]


def test_admindir_constraint_reads_that_database(tmp_path: Path) -> None:
    make_root(tmp_path, {"/srv/chroot/var/lib/dpkg/status": fixture("dpkg/status")})
    context = QueryContext((Constraint("admindir", Operator.EQUALS, "/srv/chroot/var/lib/dpkg"),))
    generated = rows(DebPackages(FakeSystem(tmp_path)), context)
    assert {r["admindir"] for r in generated} == {"/srv/chroot/var/lib/dpkg"}
    assert len(generated) == 6


def test_no_dpkg_means_no_rows(tmp_path: Path) -> None:
    assert rows(DebPackages(FakeSystem(tmp_path))) == []


def test_unreadable_dpkg_status_is_a_table_error(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg/status").mkdir(parents=True)  # exists, cannot be read as a file
    with pytest.raises(TableError, match="cannot read dpkg's database"):
        rows(DebPackages(FakeSystem(tmp_path)))


def test_dpkg_installed_reads_only_the_package_asked_for(tmp_path: Path) -> None:
    system = dpkg_root(tmp_path)
    assert dpkg_installed(system, "unattended-upgrades") is True
    assert dpkg_installed(system, "old-tool") is False  # config files only
    assert dpkg_installed(system, "never-installed") is False
    assert dpkg_installed(system, "this") is False  # "Package: this" in a description
    assert dpkg_installed(FakeSystem(tmp_path / "empty"), "adduser") is None


RPM_QA = ("rpm", "-qa", "--queryformat", RPM_QUERYFORMAT)


def test_rpm_packages_parses_the_query_format(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path, commands=dict([result(RPM_QA, fixture("commands/rpm/qa.txt"))]))
    generated = rows(RpmPackages(system))
    assert [r["name"] for r in generated] == [
        "bash",
        "gpg-pubkey",
        "shim-x64",
        "kernel-core",
        "java-21-openjdk",
    ]
    assert generated[0] == {
        "name": "bash",
        "version": "5.2.32",
        "release": "1.fc41",
        "source": "bash-5.2.32-1.fc41.src.rpm",
        "size": 8425165,
        "sha1": "4b7f2d9f3c1e8a6b5d4c3b2a1f0e9d8c7b6a5f4e",
        "arch": "x86_64",
        "epoch": None,
        "install_time": 1730000000,
        "vendor": "Fedora Project",
        "package_group": "Unspecified",
        "pid_with_namespace": 0,
    }
    assert generated[1]["arch"] is None  # "(none)" becomes NULL
    assert generated[4]["epoch"] == 1


def test_rpm_name_constraint_asks_rpm_for_those_names_only(tmp_path: Path) -> None:
    record = fixture("commands/rpm/qa.txt").split("\x1e")[0] + "\x1e"
    argv = ("rpm", "-q", "bash", "nosuch", "--queryformat", RPM_QUERYFORMAT)
    system = FakeSystem(
        tmp_path,
        commands=dict([result(argv, record + "package nosuch is not installed\n", returncode=1)]),
    )
    context = QueryContext(
        (
            Constraint("name", Operator.EQUALS, "nosuch"),
            Constraint("name", Operator.EQUALS, "bash"),
        )
    )
    assert [r["name"] for r in rows(RpmPackages(system), context)] == ["bash"]


def test_no_rpm_means_no_rows(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    assert rows(RpmPackages(system)) == []
    assert system.calls == []


def test_a_broken_rpm_database_is_a_table_error(tmp_path: Path) -> None:
    broken = result(RPM_QA, "", stderr="error: rpmdb: BDB0113 Thread died\n", returncode=1)
    with pytest.raises(TableError, match="BDB0113"):
        rows(RpmPackages(FakeSystem(tmp_path, commands=dict([broken]))))


# deb_packages keeps dpkg's parsed database between scans and parses it again when it changed.

STATUS = "/var/lib/dpkg/status"


def package(name: str, version: str = "1.0-1", status: str = "install ok installed") -> str:
    return (
        f"Package: {name}\nStatus: {status}\nArchitecture: amd64\nVersion: {version}\n"
        f"Description: {name}\n\n"
    )


def names(table: DebPackages) -> list[tuple[str, str]]:
    return [(str(r["name"]), str(r["version"])) for r in rows(table)]


def test_an_unchanged_dpkg_database_is_parsed_once(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    system.write(STATUS, package("aa") + package("bb"))
    table = DebPackages(system)
    first = rows(table)
    assert rows(table) == first
    assert system.reads[STATUS] == 1


def test_a_changed_dpkg_database_gives_new_rows(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    system.write(STATUS, package("aa"))
    table = DebPackages(system)
    assert names(table) == [("aa", "1.0-1")]
    system.write(STATUS, package("aa") + package("bb"))
    assert names(table) == [("aa", "1.0-1"), ("bb", "1.0-1")]


def test_a_same_sized_dpkg_database_with_its_mtime_put_back_gives_new_rows(
    tmp_path: Path,
) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    target = system.write(STATUS, package("aa", "1.0-1"))
    table = DebPackages(system)
    assert names(table) == [("aa", "1.0-1")]
    replace_keeping_mtime(target, package("aa", "1.0-2"))
    assert names(table) == [("aa", "1.0-2")]


def test_a_dpkg_database_renamed_over_gives_new_rows(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    target = system.write(STATUS, package("aa", "1.0-1"))
    table = DebPackages(system)
    assert names(table) == [("aa", "1.0-1")]
    written = system.write(STATUS + "-new", package("aa", "1.0-2"))  # as dpkg writes it
    before = os.stat(target)
    os.utime(written, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(written, target)
    assert names(table) == [("aa", "1.0-2")]


def test_a_racy_dpkg_database_with_an_identical_stat_gives_new_rows(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path)  # written just now: within the racy window
    system.write(STATUS, package("aa", "1.0-1"))
    system.freeze(STATUS)
    table = DebPackages(system)
    assert names(table) == [("aa", "1.0-1")]
    system.write(STATUS, package("aa", "1.0-2"))
    assert names(table) == [("aa", "1.0-2")]


def test_a_dpkg_database_removed_then_back(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    target = system.write(STATUS, package("aa"))
    table = DebPackages(system)
    assert names(table) == [("aa", "1.0-1")]
    target.unlink()
    assert rows(table) == []  # no dpkg: no rows, as without the cache
    system.write(STATUS, package("bb"))
    assert names(table) == [("bb", "1.0-1")]


def test_an_unreadable_dpkg_database_that_becomes_readable_is_read(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True, denied=[STATUS])
    system.write(STATUS, package("aa"))
    table = DebPackages(system)
    with pytest.raises(
        TableError, match=r"cannot read dpkg's database: /var/lib/dpkg/status: permission denied"
    ):
        rows(table)
    system.denied.clear()
    assert names(table) == [("aa", "1.0-1")]


def test_pending_dpkg_updates_that_come_and_go_are_seen(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    system.write(STATUS, package("aa", "1.0-1"))
    updates = tmp_path / "var/lib/dpkg/updates"
    updates.mkdir()
    table = DebPackages(system)
    assert names(table) == [("aa", "1.0-1")]
    update = system.write("/var/lib/dpkg/updates/0001", package("aa", "1.0-2"))
    assert names(table) == [("aa", "1.0-2")]
    update.unlink()
    assert names(table) == [("aa", "1.0-1")]
    assert system.reads[STATUS] == 1


def test_the_unattended_upgrades_check_sees_dpkg_change(tmp_path: Path) -> None:
    system = WatchedSystem(tmp_path, aged=True)
    system.write(STATUS, package("unattended-upgrades"))
    check = DpkgPackageCheck(system, "unattended-upgrades")
    assert check.installed() is True
    assert check.installed() is True
    assert system.reads[STATUS] == 1
    system.write(STATUS, package("unattended-upgrades", status="deinstall ok config-files"))
    assert check.installed() is False
    (tmp_path / STATUS.lstrip("/")).unlink()
    assert check.installed() is None


# rpm_packages keeps `rpm -qa`'s rows while rpm's database files are unchanged.

RPMDB = "/usr/lib/sysimage/rpm/rpmdb.sqlite"


def rpm_machine(tmp_path: Path, *, aged: bool = True) -> WatchedSystem:
    qa = fixture("commands/rpm/qa.txt")
    return WatchedSystem(tmp_path, aged=aged, commands=dict([result(RPM_QA, qa)]))


def rpm_names(table: RpmPackages) -> list[str]:
    return [str(r["name"]) for r in rows(table)]


def test_an_unchanged_rpm_database_is_asked_once(tmp_path: Path) -> None:
    system = rpm_machine(tmp_path)
    system.write(RPMDB, "SQLite format 3\0")
    table = RpmPackages(system)
    assert rpm_names(table) == rpm_names(table)
    assert system.calls == [RPM_QA]


def test_a_changed_rpm_database_is_asked_again(tmp_path: Path) -> None:
    system = rpm_machine(tmp_path)
    database = system.write(RPMDB, "SQLite format 3\0")
    table = RpmPackages(system)
    assert "bash" in rpm_names(table)
    one = (
        "zsh\x1f5.9\x1f8.fc41\x1fzsh.src.rpm\x1f1\x1f(none)\x1fx86_64\x1f(none)\x1f1\x1fF\x1fU\x1e"
    )
    system.commands[RPM_QA] = result(RPM_QA, one)[1]
    replace_keeping_mtime(database, "SQLite format 4\0")  # same size, same mtime
    assert rpm_names(table) == ["zsh"]
    system.write(RPMDB + "-wal", "a transaction")  # a write-ahead log appears
    system.commands[RPM_QA] = result(RPM_QA, "")[1]
    assert rpm_names(table) == []
    assert len(system.calls) == 3


def test_rpm_is_asked_every_time_without_a_database_file_or_when_racy(tmp_path: Path) -> None:
    system = rpm_machine(tmp_path / "none")
    table = RpmPackages(system)
    rows(table)
    rows(table)
    assert len(system.calls) == 2
    racy = rpm_machine(tmp_path / "racy", aged=False)
    racy.write(RPMDB, "SQLite format 3\0")  # written just now
    table = RpmPackages(racy)
    rows(table)
    rows(table)
    assert len(racy.calls) == 2


def test_a_failing_rpm_is_not_kept(tmp_path: Path) -> None:
    system = rpm_machine(tmp_path)
    system.write(RPMDB, "SQLite format 3\0")
    system.commands[RPM_QA] = result(RPM_QA, "", stderr="error: db locked\n", returncode=1)[1]
    table = RpmPackages(system)
    with pytest.raises(TableError, match="db locked"):
        rows(table)
    system.commands[RPM_QA] = result(RPM_QA, fixture("commands/rpm/qa.txt"))[1]
    assert "bash" in rpm_names(table)
