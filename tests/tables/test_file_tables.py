"""osquery's `file` and fleetd's `file_lines` on fake roots, and through the embedded engine.

The queries at the end are written in the shapes of Fleet's CIS policies (LIKE and NOT LIKE on
lines, COUNT(*) in subqueries, OR between path constraints, IN lists, `||` concatenation), on
files of our own.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stethoscope_desktop.engines.base import QueryError
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables import file as file_module
from stethoscope_desktop.tables import file_lines as file_lines_module
from stethoscope_desktop.tables.base import (
    Constraint,
    Operator,
    QueryContext,
    Row,
    TableError,
)
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.file import (
    PathStyle,
    describe_bsd_flags,
    file_table,
)
from stethoscope_desktop.tables.file_lines import FileLines, split_lines
from stethoscope_desktop.tables.system import FileStat, LocalSystem
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import make_root
from tests.tables.linux.helpers import query_rows as query

EQ, LIKE = Operator.EQUALS, Operator.LIKE

MODPROBE = {
    "/etc/modprobe.d/cramfs.conf": "# keep cramfs away\nblacklist cramfs\ninstall cramfs /bin/false\n",
    "/etc/modprobe.d/usb.conf": "install usb-storage /bin/true\r\n",
    "/etc/modprobe.d/.hidden.conf": "blacklist hidden\n",
    "/etc/modprobe.d/notes.txt": "blacklist ignored\n",
}


def context(*terms: tuple[str, Operator, str]) -> QueryContext:
    return QueryContext(tuple(Constraint(column, op, expr) for column, op, expr in terms))


def file_rows(system: LocalSystem, *terms: tuple[str, Operator, str], platform: str = "linux"):
    return list(file_table(system, platform).generate(context(*terms)))


def by_path(rows: list[Row]) -> dict[object, Row]:
    return {row["path"]: row for row in rows}


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    make_root(
        tmp_path,
        {
            "/etc/hosts": "127.0.0.1 localhost\n",
            "/etc/.pwd.lock": "",
            "/etc/ssh/sshd_config": "PermitRootLogin no\n",
            "/etc/ssh/sshd_config.d/10-local.conf": "PasswordAuthentication no\n",
            **MODPROBE,
        },
    )
    (tmp_path / "etc/hosts").chmod(0o640)
    (tmp_path / "etc/ssh").chmod(0o755)
    return tmp_path


# -- file -----------------------------------------------------------------------------------------


def test_path_equals_gives_osquerys_columns(etc: Path) -> None:
    [row] = file_rows(LocalSystem(etc), ("path", EQ, "/etc/hosts"))
    real = os.stat(etc / "etc/hosts")
    assert row == {
        "path": "/etc/hosts",
        "directory": "/etc",
        "filename": "hosts",
        "symlink": 0,
        "inode": real.st_ino,
        "uid": real.st_uid,
        "gid": real.st_gid,
        "mode": "0640",
        "device": real.st_rdev,
        "size": len("127.0.0.1 localhost\n"),
        "block_size": real.st_blksize,
        "hard_links": 1,
        "atime": int(real.st_atime),
        "mtime": int(real.st_mtime),
        "ctime": int(real.st_ctime),
        "btime": 0,
        "type": "regular",
        "pid_with_namespace": 0,
    }


def test_mode_keeps_the_special_bits(etc: Path) -> None:
    (etc / "tmp").mkdir()
    (etc / "tmp").chmod(0o1777)
    [row] = file_rows(LocalSystem(etc), ("path", EQ, "/tmp"))
    assert (row["mode"], row["type"], row["filename"], row["directory"]) == (
        "1777",
        "directory",
        "tmp",
        "/",
    )


def test_missing_path_and_no_constraint_give_no_rows(etc: Path) -> None:
    assert file_rows(LocalSystem(etc), ("path", EQ, "/etc/nothing")) == []
    assert file_rows(LocalSystem(etc)) == []
    # The >=/< range SQLite derives from a LIKE prefix names no file.
    assert file_rows(LocalSystem(etc), ("path", Operator.GREATER_THAN_OR_EQUALS, "/etc/")) == []


def test_like_percent_is_one_component_without_dot_files(etc: Path) -> None:
    rows = by_path(file_rows(LocalSystem(etc), ("path", LIKE, "/etc/%")))
    assert sorted(rows) == ["/etc/hosts", "/etc/modprobe.d/", "/etc/ssh/"]
    folder = rows["/etc/ssh/"]
    assert (folder["filename"], folder["directory"], folder["type"]) == (
        ".",
        "/etc/ssh",
        "directory",
    )


def test_like_with_a_suffix(etc: Path) -> None:
    rows = file_rows(LocalSystem(etc), ("path", LIKE, "/etc/modprobe.d/%.conf"))
    assert sorted(r["path"] for r in rows) == [
        "/etc/modprobe.d/cramfs.conf",
        "/etc/modprobe.d/usb.conf",
    ]
    assert {r["directory"] for r in rows} == {"/etc/modprobe.d"}


def test_like_in_the_middle(etc: Path) -> None:
    rows = file_rows(LocalSystem(etc), ("path", LIKE, "/etc/%/sshd_config"))
    assert [r["path"] for r in rows] == ["/etc/ssh/sshd_config"]


def test_double_percent_walks_recursively_with_dot_files_below(etc: Path) -> None:
    rows = by_path(file_rows(LocalSystem(etc), ("path", LIKE, "/etc/ssh/%%")))
    assert sorted(rows) == [
        "/etc/ssh/sshd_config",
        "/etc/ssh/sshd_config.d/",
        "/etc/ssh/sshd_config.d/10-local.conf",
    ]
    everything = by_path(file_rows(LocalSystem(etc), ("path", LIKE, "/etc/%%")))
    assert "/etc/modprobe.d/.hidden.conf" in everything  # below the first level, as osquery
    assert "/etc/.pwd.lock" not in everything  # the first level is glob's


def test_double_percent_survives_a_symlink_loop(etc: Path) -> None:
    (etc / "etc/ssh/loop").symlink_to("..")
    rows = by_path(file_rows(LocalSystem(etc), ("path", LIKE, "/etc/ssh/%%")))
    # The link is listed (a folder: marked) and followed back into /etc, which is listed once;
    # /etc/ssh is entered once more through it, and its link then leads nowhere new. A folder is
    # entered once, by whichever path reaches it first.
    assert sorted(rows) == [
        "/etc/ssh/loop/",
        "/etc/ssh/loop/.pwd.lock",
        "/etc/ssh/loop/hosts",
        "/etc/ssh/loop/modprobe.d/",
        "/etc/ssh/loop/modprobe.d/.hidden.conf",
        "/etc/ssh/loop/modprobe.d/cramfs.conf",
        "/etc/ssh/loop/modprobe.d/notes.txt",
        "/etc/ssh/loop/modprobe.d/usb.conf",
        "/etc/ssh/loop/ssh/",
        "/etc/ssh/loop/ssh/loop/",
        "/etc/ssh/loop/ssh/sshd_config",
        "/etc/ssh/loop/ssh/sshd_config.d/",
        "/etc/ssh/loop/ssh/sshd_config.d/10-local.conf",
        "/etc/ssh/sshd_config",
        "/etc/ssh/sshd_config.d/",  # already entered through the link: not again (osquery)
    ]


def test_double_percent_stops_at_64_levels(tmp_path: Path) -> None:
    deep = tmp_path / "d"
    for _ in range(70):
        deep = deep / "x"
    deep.mkdir(parents=True)
    rows = file_rows(LocalSystem(tmp_path), ("path", LIKE, "/d/%%"))
    depths = {str(r["path"]).count("/") for r in rows}
    # /d/x/ from glob (3 separators), then 64 levels walked below it; 70 exist.
    assert max(depths) == 3 + 64


def test_too_many_matches_fail_instead_of_being_cut(
    etc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_module, "MAX_MATCHES", 3)
    with pytest.raises(TableError, match="matches more than 3 files"):
        file_rows(LocalSystem(etc), ("path", LIKE, "/etc/%%"))


def test_directory_equals_lists_every_entry(etc: Path) -> None:
    rows = by_path(file_rows(LocalSystem(etc), ("directory", EQ, "/etc/modprobe.d")))
    assert sorted(rows) == sorted(MODPROBE)
    assert {r["directory"] for r in rows.values()} == {"/etc/modprobe.d"}
    assert rows["/etc/modprobe.d/usb.conf"]["filename"] == "usb.conf"
    assert file_rows(LocalSystem(etc), ("directory", EQ, "/etc/hosts")) == []
    assert file_rows(LocalSystem(etc), ("directory", EQ, "/nowhere")) == []


def test_directory_like_expands_to_folders(etc: Path) -> None:
    rows = file_rows(LocalSystem(etc), ("directory", LIKE, "/etc/%"))
    assert {r["directory"] for r in rows} == {"/etc/modprobe.d/", "/etc/ssh/"}
    assert "/etc/ssh/sshd_config" in {r["path"] for r in rows}


def test_symlinks(etc: Path) -> None:
    (etc / "etc/localtime").symlink_to("hosts")
    (etc / "etc/broken").symlink_to("missing")
    rows = by_path(
        file_rows(LocalSystem(etc), ("path", EQ, "/etc/localtime"), ("path", EQ, "/etc/broken"))
    )
    link = rows["/etc/localtime"]
    assert (link["symlink"], link["symlink_target_path"], link["type"], link["mode"]) == (
        1,
        "hosts",
        "regular",
        "0640",
    )
    broken = rows["/etc/broken"]
    assert (broken["symlink"], broken["symlink_target_path"], broken["type"]) == (
        1,
        "missing",
        "unknown",
    )


class DeniedStat(FakeSystem):
    """A machine where stat of some paths is refused, as a folder without search permission."""

    def __init__(self, root: Path, refused: set[str]) -> None:
        super().__init__(root)
        self.refused = refused

    def stat(self, path: str, *, follow_symlinks: bool = True) -> FileStat:
        if path in self.refused:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return super().stat(path, follow_symlinks=follow_symlinks)


def test_what_only_root_could_see_fails_with_the_reason(etc: Path) -> None:
    with pytest.raises(TableError, match=r"cannot read /etc/hosts: permission denied \(osquery"):
        file_rows(DeniedStat(etc, {"/etc/hosts"}), ("path", EQ, "/etc/hosts"))
    unlistable = FakeSystem(etc, denied={"/etc/ssh"})
    with pytest.raises(TableError, match="cannot list /etc/ssh"):
        file_rows(unlistable, ("directory", EQ, "/etc/ssh"))
    with pytest.raises(TableError, match="cannot list /etc/ssh"):
        file_rows(unlistable, ("path", LIKE, "/etc/ssh/%"))


def test_darwin_and_windows_columns(etc: Path) -> None:
    [mac] = file_rows(LocalSystem(etc), ("path", EQ, "/etc/hosts"), platform="darwin")
    assert mac["bsd_flags"] == "" and "pid_with_namespace" not in mac
    [win] = file_rows(LocalSystem(etc), ("path", EQ, "/etc/hosts"), platform="windows")
    assert (win["mode"], win["uid"], win["gid"], win["type"]) == (None, None, None, "regular")
    assert describe_bsd_flags(0x8000 | 0x20000 | 0x40000000) == (
        "HIDDEN, SF_IMMUTABLE, SF_SUPPORTED, 0x40000000"
    )


def test_path_style_splits_as_boost() -> None:
    posix = PathStyle.for_platform("linux")
    assert posix.split("/etc/hosts") == ("/etc", "hosts")
    assert posix.split("/etc/ssh/") == ("/etc/ssh", ".")
    assert posix.split("/hosts") == ("/", "hosts")
    assert posix.join("/etc/", "hosts") == posix.join("/etc", "hosts") == "/etc/hosts"
    windows = PathStyle.for_platform("windows")
    assert windows.split("C:\\Windows\\win.ini") == ("C:\\Windows", "win.ini")
    assert windows.split("C:\\win.ini") == ("C:\\", "win.ini")


# -- file_lines -----------------------------------------------------------------------------------


def lines(system: LocalSystem, *terms: tuple[str, Operator, str]) -> list[tuple[object, object]]:
    rows = FileLines(system, "linux").generate(context(*terms))
    return [(row["path"], row["line"]) for row in rows]


def test_split_lines_as_go_scanlines() -> None:
    assert split_lines(b"") == []
    assert split_lines(b"a\r\n\nb") == ["a", "", "b"]
    assert split_lines(b"a\n") == ["a"]
    assert split_lines(b"\xff\n") == ["\ufffd"]


def test_file_lines_of_one_file(etc: Path) -> None:
    assert lines(LocalSystem(etc), ("path", EQ, "/etc/modprobe.d/cramfs.conf")) == [
        ("/etc/modprobe.d/cramfs.conf", "# keep cramfs away"),
        ("/etc/modprobe.d/cramfs.conf", "blacklist cramfs"),
        ("/etc/modprobe.d/cramfs.conf", "install cramfs /bin/false"),
    ]


def test_file_lines_like_expands_as_go_glob(etc: Path) -> None:
    found = lines(LocalSystem(etc), ("path", LIKE, "/etc/modprobe.d/%.conf"))
    assert {path for path, _ in found} == {
        "/etc/modprobe.d/.hidden.conf",  # Go's * matches a leading dot
        "/etc/modprobe.d/cramfs.conf",
        "/etc/modprobe.d/usb.conf",
    }
    assert ("/etc/modprobe.d/usb.conf", "install usb-storage /bin/true") in found
    # %% is no recursive walk here: it means %.
    assert lines(LocalSystem(etc), ("path", LIKE, "/etc/%%")) == lines(
        LocalSystem(etc), ("path", LIKE, "/etc/%")
    )
    assert [p for p, _ in lines(LocalSystem(etc), ("path", LIKE, "/etc/%"))] == [
        "/etc/hosts"
    ]  # /etc/.pwd.lock is empty; folders have no lines


def test_file_lines_without_rows(etc: Path) -> None:
    os.mkfifo(etc / "etc/fifo")
    system = LocalSystem(etc)
    assert lines(system) == []
    assert lines(system, ("path", EQ, "/etc/missing")) == []
    assert lines(system, ("path", EQ, "/etc/ssh")) == []
    assert lines(system, ("path", EQ, "/etc/fifo")) == []  # never opened: it would not end


def test_file_lines_unreadable_file_fails_with_the_reason(etc: Path) -> None:
    system = FakeSystem(etc, denied={"/etc/modprobe.d/usb.conf"})
    with pytest.raises(TableError, match=r"cannot read /etc/modprobe\.d/usb\.conf: permission"):
        lines(system, ("path", LIKE, "/etc/modprobe.d/%.conf"))


def test_file_lines_bounds(etc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_lines_module, "MAX_FILE_BYTES", 20)
    with pytest.raises(TableError, match=r"cramfs\.conf is larger than"):
        lines(LocalSystem(etc), ("path", EQ, "/etc/modprobe.d/cramfs.conf"))
    monkeypatch.setattr(file_lines_module, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(file_lines_module, "MAX_LINES", 2)
    with pytest.raises(TableError, match="has more than 2 lines"):
        lines(LocalSystem(etc), ("path", EQ, "/etc/modprobe.d/cramfs.conf"))
    monkeypatch.setattr(file_lines_module, "MAX_MATCHES", 1)
    with pytest.raises(TableError, match="matches more than 1 files"):
        lines(LocalSystem(etc), ("path", LIKE, "/etc/modprobe.d/%"))


# -- through the embedded engine, in the shapes of Fleet's queries --------------------------------


@pytest.fixture
def engine(etc: Path) -> Iterator[EmbeddedEngine]:
    make_root(
        etc,
        {
            "/etc/sysctl.conf": "# defaults\nkernel.printk = 4\nvm.swappiness = 10\n"
            "fs.protected_fifos = 1\n",
            "/etc/sysctl.d/60-forward.conf": "net.ipv4.ip_forward = 0\n",
            "/home/ana/.profile": "",
        },
    )
    built = EmbeddedEngine(builtin_tables("linux", LocalSystem(etc)))
    yield built
    built.close()


def test_modprobe_shape_counts_uncommented_lines(engine: EmbeddedEngine) -> None:
    sql = """
        SELECT 1 WHERE
          (SELECT COUNT(*) FROM file_lines
             WHERE path LIKE '/etc/modprobe.d/%.conf'
               AND line LIKE 'blacklist {mod}%' AND line NOT LIKE '#%') >= 1
          AND (SELECT COUNT(*) FROM file_lines
             WHERE path LIKE '/etc/modprobe.d/%.conf'
               AND (line LIKE 'install {mod} /bin/false%' OR line LIKE 'install {mod} /bin/true%')
               AND line NOT LIKE '#%') >= 1
    """
    assert query(engine, sql.format(mod="cramfs")) == [{"1": 1}]
    assert query(engine, sql.format(mod="usb-storage")) == []  # installed away, not blacklisted
    assert query(engine, sql.format(mod="ignored")) == []  # only in notes.txt


def test_or_between_paths_keeps_every_file(engine: EmbeddedEngine) -> None:
    # /etc/sysctl.conf has more lines than the file the second branch reads: with rowids taken
    # from positions, SQLite's OR would drop the second file's first lines.
    sql = """
        SELECT path, line FROM file_lines
        WHERE (path = '/etc/sysctl.conf' OR path LIKE '/etc/sysctl.d/%.conf')
          AND line NOT LIKE '#%'
    """
    assert ("/etc/sysctl.d/60-forward.conf", "net.ipv4.ip_forward = 0") in {
        (row["path"], row["line"]) for row in query(engine, sql)
    }
    assert len(query(engine, sql)) == 4
    both = """
        SELECT COUNT(*) AS n FROM file_lines
        WHERE path = '/etc/sysctl.conf' OR path LIKE '/etc/sysctl%.conf'
    """
    assert query(engine, both) == [{"n": 4}]  # one file both branches name, counted once


def test_in_list_and_concatenation(engine: EmbeddedEngine) -> None:
    sql = """
        SELECT path FROM file
        WHERE path IN ('/etc/hosts', '/etc/ssh/sshd_config', '/etc/none')
          AND ',' || mode || ',' LIKE '%,0640,%'
    """
    assert query(engine, sql) == [{"path": "/etc/hosts"}]


def test_file_shapes(engine: EmbeddedEngine) -> None:
    assert query(
        engine,
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM file WHERE path = '/etc/ssh' "
        "AND type = 'directory' AND mode = '0755')",
    ) == [{"1": 1}]
    world_writable = """
        WITH entries AS (
          SELECT path, type, mode FROM file
          WHERE path LIKE '/etc/%' AND path NOT LIKE '/etc/ssh/%'
        )
        SELECT COUNT(*) AS n FROM entries WHERE substr(mode, 4, 1) IN ('2', '3', '6', '7')
    """
    assert query(engine, world_writable) == [{"n": 0}]
    joined = """
        WITH homes(home) AS (VALUES ('/home/ana'), ('/home/bo'))
        SELECT homes.home, f.type FROM homes LEFT JOIN file f ON f.path = homes.home
        ORDER BY homes.home
    """
    assert query(engine, joined) == [
        {"home": "/home/ana", "type": "directory"},
        {"home": "/home/bo", "type": None},
    ]


def test_like_sqlite_keeps_to_itself_gives_no_rows(engine: EmbeddedEngine) -> None:
    # With ESCAPE, LIKE is a function SQLite does not pass to the table; osquery gives no rows
    # then either, and no wrong ones.
    sql = "SELECT COUNT(*) AS n FROM file_lines WHERE path LIKE '/etc/sysctl.conf' ESCAPE '!'"
    assert query(engine, sql) == [{"n": 0}]


def test_unreadable_file_makes_the_query_fail(etc: Path) -> None:
    engine = EmbeddedEngine(builtin_tables("linux", FakeSystem(etc, denied={"/etc/hosts"})))
    try:
        with pytest.raises(QueryError, match="cannot read /etc/hosts"):
            query(engine, "SELECT COUNT(*) FROM file_lines WHERE path = '/etc/hosts'")
    finally:
        engine.close()
