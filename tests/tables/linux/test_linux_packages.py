"""deb_packages from a dpkg status excerpt; rpm_packages from recorded rpm output."""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import Constraint, Operator, QueryContext, TableError
from stethoscope_desktop.tables.linux.packages import (
    RPM_QUERYFORMAT,
    DebPackages,
    RpmPackages,
    dpkg_installed,
)
from tests.fakes import FakeSystem, result
from tests.tables.linux.helpers import fixture, make_root, rows


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
