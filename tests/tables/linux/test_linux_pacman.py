"""pacman's local database (Arch): `PacmanDatabase` and its rows in `stethoscope_desktop_apps`.

The `desc` files are our own, in the shape pacman writes them: `%KEY%`, its values one a line,
a blank line; NAME and VERSION first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.linux import packages
from stethoscope_desktop.tables.linux.desktop_apps import DesktopApps
from stethoscope_desktop.tables.linux.packages import (
    PacmanDatabase,
    PacmanPackage,
    parse_pacman_dbpath,
    parse_pacman_desc,
)
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import make_root, rows


def desc(name: str, version: str, arch: str = "x86_64") -> str:
    return (
        f"%NAME%\n{name}\n\n%VERSION%\n{version}\n\n%BASE%\n{name}\n\n"
        f"%DESC%\nThe {name} package\n\n%ARCH%\n{arch}\n\n%BUILDDATE%\n1733000000\n\n"
        "%INSTALLDATE%\n1734500000\n\n%SIZE%\n1048576\n\n%REASON%\n1\n\n"
        "%LICENSE%\nMPL-2.0\nGPL-2.0-or-later\n\n%VALIDATION%\npgp\n\n"
        "%DEPENDS%\nglibc\ngtk3\n\n"
    )


def arch_root(tmp_path: Path, installed: dict[str, str]) -> FakeSystem:
    files = {"/etc/pacman.conf": "[options]\nArchitecture = auto\n\n[core]\n"}
    files["/var/lib/pacman/local/ALPM_DB_VERSION"] = "9\n"
    for name, version in installed.items():
        files[f"/var/lib/pacman/local/{name}-{version}/desc"] = desc(name, version)
        files[f"/var/lib/pacman/local/{name}-{version}/files"] = "%FILES%\nusr/\n\n"
    make_root(tmp_path, files)
    return FakeSystem(tmp_path)


def test_desc_sections() -> None:
    assert parse_pacman_desc(desc("firefox", "133.0.3-1")) == PacmanPackage(
        "firefox", "133.0.3-1", "x86_64"
    )
    assert parse_pacman_desc("%VERSION%\n1-1\n") is None  # no name
    assert parse_pacman_desc("%NAME%\nx\n\n%DESC%\n") is None  # no version
    assert parse_pacman_desc("") is None


@pytest.mark.parametrize(
    ("version", "upstream"),
    [
        ("133.0.3-1", "133.0.3"),
        ("1:9.9p1-1", "9.9p1"),  # openssh's epoch
        ("7.0.0.r6.gc685ae6-2", "7.0.0.r6.gc685ae6"),
        ("20241201", "20241201"),  # no pkgrel: not what pacman writes, kept whole
    ],
)
def test_upstream_version(version: str, upstream: str) -> None:
    assert PacmanPackage("p", version, "any").upstream_version == upstream


def test_dbpath_from_pacman_conf() -> None:
    assert parse_pacman_dbpath("[options]\n#DBPath = /x/\n") == "/var/lib/pacman/"
    assert parse_pacman_dbpath("[options]\nDBPath = /srv/pacman/ # moved\n") == "/srv/pacman/"
    assert parse_pacman_dbpath("[core]\nDBPath = /srv/pacman/\n") == "/var/lib/pacman/"


def test_rows_in_desktop_apps(tmp_path: Path) -> None:
    system = arch_root(tmp_path, {"firefox": "133.0.3-1", "openssh": "1:9.9p1-2"})
    make_root(tmp_path, {"/var/lib/pacman/local/half-installed-1.0-1/files": ""})  # no desc
    assert rows(DesktopApps(system)) == [
        {"name": "firefox", "version": "133.0.3", "source": "pacman", "path": ""},
        {"name": "openssh", "version": "9.9p1", "source": "pacman", "path": ""},
    ]


def test_db_path_moved_in_pacman_conf(tmp_path: Path) -> None:
    make_root(
        tmp_path,
        {
            "/etc/pacman.conf": "[options]\nDBPath = /srv/pacman/\n",
            "/srv/pacman/local/vim-9.1.0866-1/desc": desc("vim", "9.1.0866-1"),
            "/var/lib/pacman/local/stale-1-1/desc": desc("stale", "1-1"),
        },
    )
    assert [row["name"] for row in rows(DesktopApps(FakeSystem(tmp_path)))] == ["vim"]


def test_no_pacman_no_rows(tmp_path: Path) -> None:
    assert PacmanDatabase(FakeSystem(tmp_path)).packages() is None
    assert rows(DesktopApps(FakeSystem(tmp_path))) == []


def test_kept_between_scans_and_read_again_on_change(tmp_path: Path) -> None:
    system = arch_root(tmp_path, {"firefox": "133.0.3-1"})
    database = PacmanDatabase(system)
    first = database.packages()
    assert database.packages() is first  # nothing changed: the same list
    make_root(tmp_path, {"/var/lib/pacman/local/vlc-3.0.21-5/desc": desc("vlc", "3.0.21-5")})
    assert [p.name for p in database.packages() or ()] == ["firefox", "vlc"]
    # An upgrade: pacman removes the old folder and writes the new one.
    (tmp_path / "var/lib/pacman/local/firefox-133.0.3-1/desc").unlink()
    (tmp_path / "var/lib/pacman/local/firefox-133.0.3-1/files").unlink()
    (tmp_path / "var/lib/pacman/local/firefox-133.0.3-1").rmdir()
    make_root(tmp_path, {"/var/lib/pacman/local/firefox-134.0-1/desc": desc("firefox", "134.0-1")})
    assert [(p.name, p.version) for p in database.packages() or ()] == [
        ("firefox", "134.0-1"),
        ("vlc", "3.0.21-5"),
    ]


def test_count_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = arch_root(tmp_path, {"a": "1-1", "b": "1-1", "c": "1-1"})
    monkeypatch.setattr(packages, "PACMAN_MAX_PACKAGES", 2)
    with pytest.raises(TableError, match=r"has 3 package folders, more than the 2 read$"):
        PacmanDatabase(system).packages()


def test_size_bounded(tmp_path: Path) -> None:
    # Only the first PACMAN_DESC_LIMIT bytes are read: NAME and VERSION come first.
    big = desc("texlive-doc", "2024.2-1") + "%DESC%\n" + "x" * (2 * packages.PACMAN_DESC_LIMIT)
    make_root(tmp_path, {"/var/lib/pacman/local/texlive-doc-2024.2-1/desc": big})
    (package,) = PacmanDatabase(FakeSystem(tmp_path)).packages() or ()
    assert package.name == "texlive-doc"


def test_unlistable_database_is_named(tmp_path: Path) -> None:
    arch_root(tmp_path, {"firefox": "133.0.3-1"})
    system = FakeSystem(tmp_path, denied=["/var/lib/pacman/local"])
    with pytest.raises(TableError, match=r"^cannot list pacman's database /var/lib/pacman/local: "):
        rows(DesktopApps(system))
