"""osquery's `deb_packages` and `rpm_packages` tables.

deb_packages reads dpkg's database directly: the `status` file of the admin directory
(/var/lib/dpkg, or each `admindir = '...'` the query asks for, as osquery allows), with the
not-yet-merged records in `updates/` applied on top, as libdpkg does. Like osquery it lists every
package whose status is not "not-installed" (so "deinstall ok config-files" packages appear), with
status as "<want> <flag> <status>", version as written (epoch included), revision as the part
after the last '-' of the version ("" for native packages) and size as Installed-Size (KiB, as
dpkg records it). A machine without dpkg has no rows.

rpm_packages runs `rpm -qa` (or `rpm -q NAME` when the query constrains name) with a query format
whose fields are separated by control characters that cannot appear in package metadata.
`rpm -qa`'s rows are kept while the stat keys of rpm's database files stay the same (see
RPM_DB_FILES), so an unchanged database is not asked again.

deb_packages keeps its parsed files between scans the same way (tables/file_cache.py).

pacman (Arch and derivatives) has no osquery table: `PacmanDatabase` reads its local database,
one folder `<name>-<version>` per installed package under `<DBPath>/local` (DBPath from
/etc/pacman.conf's [options], /var/lib/pacman/ by default), each with a `desc` file of `%KEY%`
sections (`%NAME%`, `%VERSION%` as `[epoch:]pkgver-pkgrel`, `%ARCH%`, ...) ending at a blank
line. Only `desc` is read (the file lists are in `files`, never opened), at most
`PACMAN_DESC_LIMIT` bytes each and `PACMAN_MAX_PACKAGES` packages; the listing and each `desc`
are kept parsed between scans. `stethoscope_desktop_apps` gives its packages to the
applications practice.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.file_cache import (
    FileCache,
    FilesFingerprint,
    FolderCache,
    StatKey,
)
from stethoscope_desktop.tables.linux._common import (
    SMALL_FILE,
    MachineTable,
    command_reason,
    os_error_reason,
    run_quiet,
    to_int,
)
from stethoscope_desktop.tables.system import System

DPKG_ADMINDIR = "/var/lib/dpkg"
_STATUS_LIMIT = 32 * 1024 * 1024
# Admin directories whose merged records and rows are kept (queries may name any admindir).
_MAX_ADMINDIRS = 4
_WANTED_FIELDS = frozenset(
    {
        "Package",
        "Status",
        "Priority",
        "Section",
        "Installed-Size",
        "Maintainer",
        "Architecture",
        "Source",
        "Version",
    }
)
_WANTED_FIRST = frozenset(field[0] for field in _WANTED_FIELDS)
_FIELD_INDEX = {field: index for index, field in enumerate(sorted(_WANTED_FIELDS))}


class DpkgRecord(tuple[str | None, ...]):
    """One package's fields this module uses, by name through `get`.

    A tuple (None where the field is absent): kept parsed between scans for every package,
    it takes a fifth of a dict's memory.
    """

    __slots__ = ()

    @classmethod
    def of(cls, fields: dict[str, str]) -> DpkgRecord:
        """Return the record of a package's fields (those not in _WANTED_FIELDS are dropped)."""
        return cls(fields.get(field) for field in _FIELD_INDEX)

    def get(self, field: str, default: str = "") -> str:
        """Return the value of the dpkg field called `field`, or `default` where absent."""
        value = self[_FIELD_INDEX[field]]
        return default if value is None else value


def parse_dpkg_records(text: str) -> list[DpkgRecord]:
    """Split a dpkg status-format file into records of the fields this module uses."""
    records: list[DpkgRecord] = []
    record: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            if "Package" in record:
                records.append(DpkgRecord.of(record))
            record = {}
        elif line[0] in _WANTED_FIRST:  # skips continuation lines and unwanted fields cheaply
            key, sep, value = line.partition(":")
            if sep and key in _WANTED_FIELDS:
                record[key] = value.strip()
    if "Package" in record:
        records.append(DpkgRecord.of(record))
    return records


DpkgKey = tuple[str, str]  # (package, architecture)
DpkgRecords = dict[DpkgKey, DpkgRecord]


def keyed_dpkg_records(text: str) -> DpkgRecords:
    """Return a status-format file's records by (package, architecture); the last one wins."""
    return {
        (record.get("Package"), record.get("Architecture")): record
        for record in parse_dpkg_records(text)
    }


def _pending_updates(folder: str, entries: list[str]) -> tuple[str, ...]:
    """Return the paths of dpkg's not-yet-merged records in `updates/`, in dpkg's order."""
    return tuple(f"{folder}/{entry}" for entry in entries if entry.isdigit())


class DpkgDatabase:
    """dpkg's database of an admin directory, its files parsed only when they changed.

    The status file and each pending update are kept parsed in a `FileCache`, the `updates/`
    listing in a `FolderCache`; the merged records are kept as long as none of them changed.
    """

    def __init__(self, system: System) -> None:
        self._files: FileCache[DpkgRecords] = FileCache(
            system, keyed_dpkg_records, limit=_STATUS_LIMIT
        )
        self._updates: FolderCache[tuple[str, ...]] = FolderCache(system, _pending_updates)
        self._merged: dict[str, tuple[tuple[DpkgRecords, ...], list[DpkgRecord]]] = {}
        self._lock = threading.Lock()

    def records(self, admindir: str = DPKG_ADMINDIR) -> list[DpkgRecord]:
        """Return the records sorted by (package, architecture); raise OSError without status.

        The list and its records are shared between calls: read them, never change them.
        """
        parts = [self._files.read(f"{admindir}/status")]
        try:
            updates = self._updates.read(f"{admindir}/updates")
        except OSError:
            updates = ()
        self._files.keep_only(updates, under=f"{admindir}/updates/")
        for path in updates:
            update = self._files.read_optional(path)
            if update is not None:
                parts.append(update)
        inputs = tuple(parts)
        with self._lock:
            merged = self._merged.get(admindir)
        if (
            merged is not None
            and len(merged[0]) == len(inputs)
            and all(old is new for old, new in zip(merged[0], inputs, strict=True))
        ):
            return merged[1]
        by_key: DpkgRecords = {}
        for part in inputs:
            by_key.update(part)
        records = [by_key[key] for key in sorted(by_key)]
        with self._lock:
            if len(self._merged) >= _MAX_ADMINDIRS and admindir not in self._merged:
                self._merged.pop(next(iter(self._merged)))
            self._merged[admindir] = (inputs, records)
        return records


def read_dpkg_database(system: System, admindir: str = DPKG_ADMINDIR) -> list[DpkgRecord]:
    """Return dpkg's package records, pending `updates/` applied; raise OSError without status."""
    return DpkgDatabase(system).records(admindir)


def _records_of(text: str, package: str) -> list[DpkgRecord]:
    """Return the records of one package in a status-format text, without parsing the rest."""
    found: list[DpkgRecord] = []
    needle = f"Package: {package}\n"
    start = text.find(needle)
    while start >= 0:
        if start == 0 or text[start - 1] == "\n":
            end = text.find("\n\n", start)
            found.extend(parse_dpkg_records(text[start : end if end >= 0 else len(text)]))
        start = text.find(needle, start + 1)
    return found


class DpkgPackageCheck:
    """Whether one package is installed, dpkg's files searched again only when they changed.

    Only the package's own records are parsed (in `status`, then any pending `updates/`), which
    is much cheaper than parsing the whole database.
    """

    def __init__(self, system: System, package: str, admindir: str = DPKG_ADMINDIR) -> None:
        self._admindir = admindir
        self._files: FileCache[tuple[DpkgRecord, ...]] = FileCache(
            system, lambda text: tuple(_records_of(text, package)), limit=_STATUS_LIMIT
        )
        self._updates: FolderCache[tuple[str, ...]] = FolderCache(system, _pending_updates)

    def installed(self) -> bool | None:
        """Return whether dpkg lists the package as installed; None when status is unreadable."""
        try:
            records = list(self._files.read(f"{self._admindir}/status"))
        except OSError:
            return None
        try:
            updates = self._updates.read(f"{self._admindir}/updates")
        except OSError:
            updates = ()
        self._files.keep_only(updates, under=f"{self._admindir}/updates/")
        for path in updates:
            records.extend(self._files.read_optional(path) or ())
        by_arch = {record.get("Architecture", ""): record for record in records}  # later wins
        return any(
            record.get("Status", "").split()[2:] == ["installed"] for record in by_arch.values()
        )


def dpkg_installed(system: System, package: str, admindir: str = DPKG_ADMINDIR) -> bool | None:
    """Return whether dpkg lists `package` as installed; None when dpkg's status is unreadable."""
    return DpkgPackageCheck(system, package, admindir).installed()


def debian_revision(version: str) -> str:
    """Return the Debian revision of a version: what follows its last '-', else ""."""
    _, sep, revision = version.rpartition("-")
    return revision if sep else ""


class DebPackages(MachineTable):
    """Packages in dpkg's database (Debian, Ubuntu and derivatives)."""

    name = "deb_packages"
    columns = (
        Column("name", "text"),
        Column("version", "text"),
        Column("source", "text"),
        Column("size", "bigint"),
        Column("arch", "text"),
        Column("revision", "text"),
        Column("status", "text"),
        Column("maintainer", "text"),
        Column("section", "text"),
        Column("priority", "text"),
        Column("admindir", "text"),
        Column("pid_with_namespace", "integer", hidden=True),
        Column("mount_namespace_id", "text", hidden=True),
    )
    platforms = ("linux",)

    def __init__(self, system: System) -> None:
        super().__init__(system)
        self._database = DpkgDatabase(system)
        # Rows by admindir, kept with the records they were made of (shared, never changed).
        self._rows: dict[str, tuple[list[DpkgRecord], list[Row]]] = {}
        self._lock = threading.Lock()

    def _rows_of(self, admindir: str, records: list[DpkgRecord]) -> list[Row]:
        with self._lock:
            kept = self._rows.get(admindir)
        if kept is not None and kept[0] is records:
            return kept[1]
        rows: list[Row] = []
        for record in records:
            status = record.get("Status", "")
            if status.endswith(" not-installed"):
                continue
            version = record.get("Version", "")
            rows.append(
                {
                    "name": record.get("Package"),
                    "version": version,
                    "source": record.get("Source", ""),
                    "size": to_int(record.get("Installed-Size")),
                    "arch": record.get("Architecture", ""),
                    "revision": debian_revision(version),
                    "status": status,
                    "maintainer": record.get("Maintainer", ""),
                    "section": record.get("Section", ""),
                    "priority": record.get("Priority", ""),
                    "admindir": admindir,
                    "pid_with_namespace": 0,
                }
            )
        with self._lock:
            if len(self._rows) >= _MAX_ADMINDIRS and admindir not in self._rows:
                self._rows.pop(next(iter(self._rows)))
            self._rows[admindir] = (records, rows)
        return rows

    def generate(self, context: QueryContext) -> Iterable[Row]:
        requested = sorted(context.equals("admindir"))
        admindirs = requested or [DPKG_ADMINDIR]
        rows: list[Row] = []
        failures: list[str] = []
        for admindir in admindirs:
            try:
                records = self._database.records(admindir)
            except OSError as error:
                if not requested and not self._system.exists(f"{admindir}/status"):
                    continue  # no dpkg on this machine: no rows, not an error
                failures.append(f"{admindir}/status: {os_error_reason(error)}")
                continue
            # The rows are kept between scans: the list is new, the rows are shared (the
            # engine copies each row before typing it; nobody changes them).
            rows.extend(self._rows_of(admindir, records))
        if failures and not rows:
            raise TableError("cannot read dpkg's database: " + "; ".join(failures))
        return rows


# Unit and record separators: rpm copies them literally and they never occur in its metadata.
_FS = "\x1f"
_RS = "\x1e"
_RPM_TAGS = (
    ("name", "NAME"),
    ("version", "VERSION"),
    ("release", "RELEASE"),
    ("source", "SOURCERPM"),
    ("size", "SIZE"),
    ("sha1", "SHA1HEADER"),
    ("arch", "ARCH"),
    ("epoch", "EPOCH"),
    ("install_time", "INSTALLTIME"),
    ("vendor", "VENDOR"),
    ("package_group", "GROUP"),
)
# Where rpm keeps its database (%_dbpath: /usr/lib/sysimage/rpm on Fedora 36+ and openSUSE,
# /var/lib/rpm before, often a link to the former) and the files that change when a package is
# installed or removed: SQLite's database and its write-ahead log, Berkeley DB's and ndb's
# Packages. Not rpmdb.sqlite-shm or __db.00N, which a reader such as `rpm -qa` writes too.
RPM_DB_FOLDERS = ("/usr/lib/sysimage/rpm", "/var/lib/rpm")
RPM_DB_FILES = ("rpmdb.sqlite", "rpmdb.sqlite-wal", "Packages", "Packages.db")
RPM_QUERYFORMAT = _FS.join(f"%{{{tag}}}" for _, tag in _RPM_TAGS) + _RS
_RPM_INTEGERS = frozenset({"size", "epoch", "install_time"})
_NOT_INSTALLED = re.compile(r"^package .* is not installed$")


def _rpm_lines(text: str, *, records: bool = True) -> list[str]:
    """Split rpm's output into records (with separators) or other lines (messages)."""
    lines = [line for chunk in text.split(_RS) for line in chunk.split("\n") if line.strip()]
    return [line for line in lines if (_FS in line) is records]


def parse_rpm_output(text: str) -> list[Row]:
    """Parse `rpm -q --queryformat RPM_QUERYFORMAT` output into rows."""
    rows: list[Row] = []
    for record in _rpm_lines(text):
        fields = record.split(_FS)
        if len(fields) != len(_RPM_TAGS):
            continue
        row: Row = {}
        for (column, _), value in zip(_RPM_TAGS, fields, strict=True):
            if value == "(none)":
                row[column] = None
            elif column in _RPM_INTEGERS:
                row[column] = to_int(value)
            else:
                row[column] = value
        row["pid_with_namespace"] = 0
        rows.append(row)
    return rows


class RpmPackages(MachineTable):
    """Packages in the RPM database (Fedora, RHEL, openSUSE and derivatives)."""

    name = "rpm_packages"
    columns = (
        Column("name", "text", index=True),
        Column("version", "text", index=True),
        Column("release", "text", index=True),
        Column("source", "text"),
        Column("size", "bigint"),
        Column("sha1", "text"),
        Column("arch", "text", index=True),
        Column("epoch", "integer", index=True),
        Column("install_time", "integer"),
        Column("vendor", "text"),
        Column("package_group", "text"),
        Column("pid_with_namespace", "integer", hidden=True),
        Column("mount_namespace_id", "text", hidden=True),
    )
    platforms = ("linux",)

    def __init__(self, system: System) -> None:
        super().__init__(system)
        self._database = FilesFingerprint(
            system, [f"{folder}/{name}" for folder in RPM_DB_FOLDERS for name in RPM_DB_FILES]
        )
        # `rpm -qa`'s rows (shared, never changed) and the database's fingerprint they came from.
        self._all: tuple[tuple[StatKey | None, ...], list[Row]] | None = None
        self._lock = threading.Lock()

    def generate(self, context: QueryContext) -> Iterable[Row]:
        if self._system.which("rpm") is None:
            return []
        names = sorted(context.equals("name"))
        fingerprint, trusted = self._database.current()
        known = any(key is not None for key in fingerprint)
        with self._lock:
            kept = self._all
        if not names and known and kept is not None and kept[0] == fingerprint:
            return kept[1]
        argv = ["rpm", "-q", *names] if names else ["rpm", "-qa"]
        result = run_quiet(self._system, [*argv, "--queryformat", RPM_QUERYFORMAT])
        if isinstance(result, str):
            raise TableError(f"cannot list RPM packages: {result}")
        rows = parse_rpm_output(result.stdout)
        if not result.ok and not names:
            raise TableError(f"cannot list RPM packages: {command_reason(result)}")
        if not names:
            with self._lock:
                self._all = (fingerprint, rows) if known and trusted else None
        if not result.ok:
            # `rpm -q a b` exits 1 when some are not installed; anything else is a failure.
            other = [
                line
                for line in _rpm_lines(result.stdout, records=False)
                if not _NOT_INSTALLED.match(line.strip())
            ]
            if other or result.stderr.strip():
                raise TableError(f"cannot list RPM packages: {command_reason(result)}")
        return rows


PACMAN_CONF = "/etc/pacman.conf"
PACMAN_DBPATH = "/var/lib/pacman/"
# A desc holds a package's metadata, not its file list: a few KiB even with long descriptions.
PACMAN_DESC_LIMIT = 256 * 1024
# A full desktop has one to three thousand packages; ten times that is no real system.
PACMAN_MAX_PACKAGES = 30_000


@dataclass(frozen=True)
class PacmanPackage:
    """One installed package of pacman's local database (its `desc`)."""

    name: str
    version: str  # [epoch:]pkgver-pkgrel, as pacman writes it
    arch: str

    @property
    def upstream_version(self) -> str:
        """Return the version as its project names it: pkgver, without epoch and pkgrel."""
        version = self.version.split(":", 1)[1] if ":" in self.version else self.version
        return version.rsplit("-", 1)[0] if "-" in version else version


def parse_pacman_desc(text: str) -> PacmanPackage | None:
    """Parse a local database `desc`: `%KEY%` lines, each followed by its values to a blank line.

    Return None when it names no package (%NAME%) or version (%VERSION%).
    """
    sections: dict[str, str] = {}
    key: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            key = None
        elif key is None:
            if len(stripped) > 2 and stripped[0] == "%" and stripped[-1] == "%":
                key = stripped[1:-1]
                sections.setdefault(key, "")
        elif not sections[key]:
            sections[key] = stripped  # the first value (NAME, VERSION and ARCH have one)
    name, version = sections.get("NAME", ""), sections.get("VERSION", "")
    if not name or not version:
        return None
    return PacmanPackage(name, version, sections.get("ARCH", ""))


def parse_pacman_dbpath(text: str) -> str:
    """Return DBPath of pacman.conf's [options] (the last one set), else pacman's default."""
    section = ""
    dbpath = PACMAN_DBPATH
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif section == "options":
            name, sep, value = stripped.partition("=")
            if sep and name.strip() == "DBPath" and value.strip().startswith("/"):
                dbpath = value.strip()
    return dbpath


def _pacman_package_folders(folder: str, entries: list[str]) -> tuple[str, ...]:
    """Return the `desc` paths of the package folders of `local/` (ALPM_DB_VERSION is a file)."""
    return tuple(
        f"{folder}/{entry}/desc"
        for entry in entries
        if not entry.startswith(".") and entry.count("-") >= 2
    )


class PacmanDatabase:
    """pacman's local database, its listing and each `desc` parsed only when they changed."""

    def __init__(self, system: System) -> None:
        self._system = system
        self._conf: FileCache[str] = FileCache(system, parse_pacman_dbpath, limit=SMALL_FILE)
        self._folders: FolderCache[tuple[str, ...]] = FolderCache(system, _pacman_package_folders)
        self._descs: FileCache[PacmanPackage | None] = FileCache(
            system,
            parse_pacman_desc,
            limit=PACMAN_DESC_LIMIT,
            max_entries=PACMAN_MAX_PACKAGES,
        )
        self._kept: tuple[tuple[PacmanPackage | None, ...], list[PacmanPackage]] | None = None
        self._lock = threading.Lock()

    def local_folder(self) -> str:
        """Return the folder of the local database, as pacman.conf places it."""
        dbpath = self._conf.read_optional(PACMAN_CONF) or PACMAN_DBPATH
        return dbpath.rstrip("/") + "/local"

    def packages(self) -> list[PacmanPackage] | None:
        """Return the installed packages by name; None without a local database.

        Raise TableError when the database cannot be listed or is larger than any real one.
        The list is shared between calls: read it, never change it.
        """
        local = self.local_folder()
        if not self._system.is_dir(local):
            return None
        try:
            descs = self._folders.read(local)
        except OSError as error:
            raise TableError(
                f"cannot list pacman's database {local}: {os_error_reason(error)}"
            ) from error
        if len(descs) > PACMAN_MAX_PACKAGES:
            raise TableError(
                f"pacman's database {local} has {len(descs)} package folders, more than the "
                f"{PACMAN_MAX_PACKAGES} read"
            )
        self._descs.keep_only(descs, under=f"{local}/")
        parsed = tuple(self._descs.read_optional(desc) for desc in descs)
        with self._lock:
            kept = self._kept
        if (
            kept is not None
            and len(kept[0]) == len(parsed)
            and all(old is new for old, new in zip(kept[0], parsed, strict=True))
        ):
            return kept[1]
        packages = sorted(
            (package for package in parsed if package is not None), key=lambda p: p.name
        )
        with self._lock:
            self._kept = (parsed, packages)
        return packages
