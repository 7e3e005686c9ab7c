"""Reading one user's last report as root, treating the file and its folders as the user's.

A user controls their report and every folder under their home, so, running as root:

- the path is walked one folder at a time from the root (`openat`), never following a symbolic
  link unless root made it in a folder only root can write (as `/home -> /srv/home`); a link
  under the user's home, or anywhere the user can write, refuses the report;
- the file is opened without following a link and without blocking (a FIFO), and must be a
  regular file owned by that user (not root's `/etc/shadow` hard-linked in, not another user's);
- at most `MAX_REPORT_BYTES` are read, and JSON nested deeper than Python's parser allows, or
  with more objects than a report has (`MAX_REPORT_OBJECTS`), is refused: that bounds the time
  the parse and the check of the report's format take (a second at most on a slow machine);
- an error says what is wrong with the file, never what is in it: the file could be any file the
  user can name, and errors go into rows IT collects.

On Windows (no `openat`) each folder is checked not to be a reparse point (a link or junction)
before the file is opened; the owner is not compared there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath
from typing import Any

from stethoscope_desktop.core.report import REPORT_SCHEMA_VERSION, Report, ReportFormatError

MAX_REPORT_BYTES = 4 * 1024 * 1024
# A report has hundreds of JSON objects, a few thousand with long lists of rows as evidence; 4 MiB
# of `{}` would be 1.4 million, which take seconds to check: the parse stops past this many.
MAX_REPORT_OBJECTS = 100_000
MAX_LINK_HOPS = 40
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class ReadOutcome(StrEnum):
    """How reading a user's report went."""

    READ = "READ"
    MISSING = "MISSING"
    UNREADABLE = "UNREADABLE"


@dataclass(frozen=True)
class ReportRead:
    """One user's report, or why there is none: `error` never holds the file's content."""

    outcome: ReadOutcome
    report: Report | None = None
    error: str = ""


class Refused(Exception):
    """The report is refused; the message says why (never the file's content)."""


class Missing(Exception):
    """There is no report (the file, or a folder on its way, does not exist)."""


def read_report(root: str, path: PurePath, uid: int | None) -> ReportRead:
    """Read the report at `path` (as seen under `root`) that user `uid` should own.

    `uid` None: do not compare the owner (Windows). Never raises for the file or its content.
    """
    try:
        data = read_user_file(root, path, uid)
    except Missing:
        return ReportRead(ReadOutcome.MISSING)
    except Refused as refusal:
        return ReportRead(ReadOutcome.UNREADABLE, error=str(refusal))
    except OSError as error:  # the root folder itself, say: never the table's failure
        return ReportRead(ReadOutcome.UNREADABLE, error=f"cannot read {path}: {error.strerror}")
    try:
        return ReportRead(ReadOutcome.READ, report=parse_report(data))
    except Refused as refusal:
        return ReportRead(ReadOutcome.UNREADABLE, error=str(refusal))
    except Exception as error:  # one user's odd file must not fail the table for every user
        reason = f"not a report of this format ({type(error).__name__})"
        return ReportRead(ReadOutcome.UNREADABLE, error=reason)


def parse_report(data: bytes) -> Report:
    """Return the report `data` holds; raise Refused saying (without content) why it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Refused(f"not UTF-8 text (at byte {error.start})") from None
    try:
        raw: Any = json.loads(text, object_hook=_ObjectCounter())
    except _TooManyObjects:
        raise Refused(f"not a report: more than {MAX_REPORT_OBJECTS} JSON objects") from None
    except json.JSONDecodeError as error:
        raise Refused(f"not JSON (line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise Refused("not a report: JSON nested too deeply") from None
    if not isinstance(raw, dict):
        raise Refused(f"not a report: the JSON is {type(raw).__name__}, not an object")
    version = raw.get("schema_version", REPORT_SCHEMA_VERSION)
    if type(version) is not int:
        raise Refused("not a report: schema_version is not a number")
    if version != REPORT_SCHEMA_VERSION:
        raise Refused(
            f"report format version {version}; this extension reads version {REPORT_SCHEMA_VERSION}"
        )
    try:
        return Report.from_dict(raw)
    except ReportFormatError as error:
        # The message's text before ':' names the field (a fixed name); after it may be content.
        field = str(error).split(":", 1)[0]
        raise Refused(f"not a report of this format: {field} is missing or wrong") from None
    except (TypeError, ValueError, RecursionError):
        raise Refused("not a report of this format") from None


class _TooManyObjects(Exception):
    """The JSON holds more objects than a report has."""


class _ObjectCounter:
    """A `json.loads` object hook that stops the parse past MAX_REPORT_OBJECTS objects."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, value: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        if self.count > MAX_REPORT_OBJECTS:
            raise _TooManyObjects()
        return value


def read_user_file(root: str, path: PurePath, uid: int | None) -> bytes:
    """Return the bytes of the regular file at `path` under `root` that `uid` owns.

    Raise Missing when it (or a folder on its way) does not exist, Refused otherwise.
    """
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return _read_windows(root, path)
    fd = _open_path(root, path)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{path} is not a regular file")
        if uid is not None and info.st_uid != uid:
            raise Refused(f"{path} is owned by uid {info.st_uid}, not by its user (uid {uid})")
        if info.st_size > MAX_REPORT_BYTES:
            raise Refused(f"{path} is larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
        return _read_at_most(fd, path)
    finally:
        os.close(fd)


def _read_at_most(fd: int, path: PurePath) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = os.read(fd, 1024 * 1024)
        except BlockingIOError:
            raise Refused(f"{path} cannot be read without waiting") from None
        except OSError as error:
            raise Refused(f"cannot read {path}: {error.strerror}") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPORT_BYTES:
            raise Refused(f"{path} is larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
        chunks.append(chunk)


def _trusted_link(parent_fd: int, info: os.stat_result) -> bool:
    """Return True for a link root made in a folder only root can change."""
    parent = os.fstat(parent_fd)
    return info.st_uid == 0 and parent.st_uid == 0 and not parent.st_mode & 0o022


def _open_path(root: str, path: PurePath) -> int:
    """Open `path` under `root` for reading, walking folder by folder (see the module)."""
    root_fd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    root_id = _identity(root_fd)
    fd = os.dup(root_fd)
    parts = [part for part in path.parts if part not in ("/", "", ".")]
    hops = 0
    try:
        while parts:
            name = parts.pop(0)
            last = not parts
            if name == "..":
                if _identity(fd) != root_id:
                    fd = _replace(
                        fd, os.open("..", os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC, dir_fd=fd)
                    )
                continue
            flags = (
                os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC
                if last
                else os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
            )
            try:
                opened = os.open(name, flags, dir_fd=fd)
            except OSError as error:
                if error.errno == errno.ENOENT:
                    raise Missing() from None
                if error.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise Refused(f"cannot open {path}: {error.strerror}") from None
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    raise Missing() from None
                if not stat.S_ISLNK(info.st_mode):
                    raise Refused(f"{path}: {name} is not a folder") from None
                if last or not _trusted_link(fd, info):
                    raise Refused(
                        f"{path} goes through a symbolic link ({name}) its user could have made"
                    ) from None
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise Refused(f"{path}: too many symbolic links") from None
                target = PurePath(os.readlink(name, dir_fd=fd))
                if target.is_absolute():
                    fd = _replace(fd, os.dup(root_fd))
                parts = [p for p in target.parts if p not in ("/", "", ".")] + parts
                continue
            fd = _replace(fd, opened)
        result, fd = fd, -1
        return result
    finally:
        os.close(root_fd)
        if fd >= 0:
            os.close(fd)


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _replace(old: int, new: int) -> int:
    with contextlib.suppress(OSError):
        os.close(old)
    return new


FILE_ATTRIBUTE_REPARSE_POINT = 0x400


def _read_windows(root: str, path: PurePath) -> bytes:  # pragma: no cover - Windows only
    current = PurePath(root) / path if not path.is_absolute() else path
    parts = current.parts
    for depth in range(1, len(parts) + 1):
        part = PurePath(*parts[:depth])
        try:
            info = os.stat(part, follow_symlinks=False)
        except FileNotFoundError:
            raise Missing() from None
        except OSError as error:
            raise Refused(f"cannot open {path}: {error.strerror}") from None
        attributes = getattr(info, "st_file_attributes", 0)
        if attributes & FILE_ATTRIBUTE_REPARSE_POINT:
            raise Refused(f"{path} goes through a link or junction ({parts[depth - 1]})")
    try:
        with open(current, "rb") as file:
            if os.fstat(file.fileno()).st_size > MAX_REPORT_BYTES:
                raise Refused(f"{path} is larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
            data = file.read(MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        raise Missing() from None
    except OSError as error:
        raise Refused(f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise Refused(f"{path} is larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
    return data
