"""The device's last report on disk, for IT's osquery to read through the osquery extension.

After every scan the tray's worker (and `scan --save`) writes the report's JSON (the format of
`resources/schemas/report.schema.json`) to `last-report.json` in the user's state folder:
`platformdirs.user_state_dir("stethoscope")`, i.e. `~/.local/state/stethoscope/` on Linux,
`~/Library/Application Support/stethoscope/` on macOS and `%LOCALAPPDATA%/stethoscope/` on
Windows. The file is 0600 in a 0700 folder and replaced atomically, so a reader sees the old or the
new report, never a torn one. A write that fails is logged and never fails the scan.

`report_path_in_home` gives the same place under another user's home folder, where the extension
(running as root) looks for it: the platform's default location, since another user's
environment (XDG_STATE_HOME) cannot be known.
"""

from __future__ import annotations

import dataclasses
import errno
import importlib
import logging
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath
from typing import Protocol

from stethoscope_desktop.core.files import (
    make_private_folder,
    remove_stale_temporaries,
    write_atomically,
)
from stethoscope_desktop.core.report import Report

log = logging.getLogger(__name__)

APP_STATE_NAME = "stethoscope"
LAST_REPORT_NAME = "last-report.json"
# IT's files are small; this bounds what a digest reads of a runaway one.
POLICY_FILE_LIMIT = 64 * 1024 * 1024
# Where the state folder is under a home folder, by osquery platform name (platformdirs' defaults).
STATE_FOLDER_IN_HOME: dict[str, PurePath] = {
    "linux": PurePath(".local", "state", APP_STATE_NAME),
    "darwin": PurePath("Library", "Application Support", APP_STATE_NAME),
    "windows": PurePath("AppData", "Local", APP_STATE_NAME),
}


def last_report_path() -> Path:
    """Return where this user's last report is written (platformdirs' user state folder)."""
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_STATE_NAME, appauthor=False)) / LAST_REPORT_NAME


def report_path_in_home(home: str, platform: str) -> PurePath:
    """Return where a user whose home folder is `home` has the last report on `platform`."""
    folder = STATE_FOLDER_IN_HOME.get(platform, STATE_FOLDER_IN_HOME["linux"])
    base = PurePath(home)
    return base / folder / LAST_REPORT_NAME


class _Hash(Protocol):
    """What a SHA-256 object does for us."""

    def update(self, data: bytes, /) -> None:
        """Add `data`."""

    def digest(self) -> bytes:
        """Return the digest."""

    def hexdigest(self) -> str:
        """Return the digest in hexadecimal."""


def _sha256_factory() -> Callable[[], _Hash]:
    """Return Python's own SHA-256 (`_sha2`, `_sha256` before 3.12), else hashlib's.

    Every scan computes the digest in the scan worker, and `hashlib` would load OpenSSL there,
    which a default scan leaves out (tests/test_boundaries.py); the results are the same.
    """
    for name in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    import hashlib  # pragma: no cover - a Python without its own SHA-256

    return hashlib.sha256  # pragma: no cover


def policy_sha256(files: Iterable[str]) -> str:
    """Return the hex SHA-256 over the policy files' contents, in layer order.

    Only contents count, not where the files are, so devices with the same policy give the same
    value wherever it is installed. A layer that is not a local file (a policy server's URL) counts
    by its name; a file that cannot be read now counts by its name and the error.
    """
    digest = _sha256_factory()()
    for name in files:
        if "://" in name:
            digest.update(b"url\0" + name.encode("utf-8", "surrogateescape") + b"\0")
            continue
        try:
            digest.update(file_sha256(name))
        except OSError as error:
            unreadable = f"unreadable\0{name}\0{error.strerror or error}\0"
            digest.update(unreadable.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def file_sha256(name: str) -> bytes:
    """Return the SHA-256 of a regular file's first POLICY_FILE_LIMIT bytes, never blocking.

    A named pipe (or any file that is not regular) raises OSError instead of being read.
    """
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        digest = _sha256_factory()()
        left = POLICY_FILE_LIMIT
        while left > 0 and (chunk := os.read(fd, min(left, 1024 * 1024))):
            digest.update(chunk)
            left -= len(chunk)
        return digest.digest()
    finally:
        os.close(fd)


def with_policy_sha256(report: Report) -> Report:
    """Return `report` with `policy_sha256` set from its policy files (if not set already)."""
    if report.policy_sha256:
        return report
    return dataclasses.replace(report, policy_sha256=policy_sha256(report.policy_files))


def save_last_report(report: Report, path: Path | None = None) -> Path | None:
    """Write `report` as this user's last report; return the path, or None if it failed (logged).

    The folder is made (and kept) 0700, the file 0600. Never raises for the file system.
    """
    target = last_report_path() if path is None else path
    try:
        data = with_policy_sha256(report).to_json().encode("utf-8")
        make_private_folder(target.parent)
        remove_stale_temporaries(target)  # what a writer killed mid-write left
        write_atomically(target, data, mode=0o600)
    except (OSError, ValueError) as error:
        log.warning("could not write the last report to %s: %s", target, error)
        return None
    log.debug("wrote the last report to %s", target)
    return target
