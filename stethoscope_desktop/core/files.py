"""Writing a file so that readers see either the old or the new contents, never a torn one.

A write goes through a temporary file next to the target, named `.<target name>.<8 random
characters>.tmp` (tempfile.mkstemp's pattern). A process killed mid-write (SIGKILL, power loss)
leaves that temporary file behind, never a torn target; `remove_stale_temporaries` removes such
leftovers at start. While it writes, the writer holds an exclusive `flock` on its temporary file
(POSIX), which the kernel drops when the writer dies however it dies: a temporary file nobody holds
and that is not brand new is a leftover. Where locks cannot be tested (Windows, a file system
without flock) only leftovers older than `UNTESTABLE_MIN_AGE_SECONDS` go.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
import sys
import tempfile
import time
from pathlib import Path

try:  # POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

# A temporary file created this recently may belong to a writer that has not yet taken its lock.
MIN_AGE_SECONDS = 2.0
# Without a lock to test, only a leftover this old is surely not a write in progress.
UNTESTABLE_MIN_AGE_SECONDS = 600.0
# tempfile.mkstemp's random part: 8 characters of this alphabet.
_RANDOM_PART = "[a-z0-9_]{8}"


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace `path` with `data`: temp file in the same folder, fsync, chmod, rename.

    Creates the folder. Raises OSError; never leaves the temp file behind.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        _hold(fd)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    sync_directory(directory)


def make_private_folder(folder: Path) -> None:
    """Make `folder` (and its parents) if missing; make it 0700 where the OS has modes.

    A folder that exists with other modes is made private too: what goes in it (the last report,
    the nonce ledger, the device key) is the user's alone. Raise OSError.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix" and (folder.stat().st_mode & 0o777) != 0o700:
        folder.chmod(0o700)


def sync_directory(directory: Path) -> None:
    """Make the rename itself durable where the OS allows fsync on a folder (POSIX)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _hold(fd: int) -> None:
    """Take an exclusive lock on our temporary file so a start-up sweep knows it is in use."""
    if sys.platform == "win32" or fcntl is None:
        return
    with contextlib.suppress(OSError):  # a file system without flock: the sweep falls back to age
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def temporary_name_pattern(path: Path) -> re.Pattern[str]:
    """Return the pattern of the temporary files `write_atomically(path, ...)` creates."""
    return _temporary_pattern(re.escape(path.name))


def _temporary_pattern(target_names: str) -> re.Pattern[str]:
    return re.compile(rf"\.(?:{target_names})\.{_RANDOM_PART}\.tmp")


def remove_stale_temporaries(
    path: Path, *, min_age: float = MIN_AGE_SECONDS, now: float | None = None
) -> list[Path]:
    """Remove the temporary files a killed `write_atomically(path, ...)` left; return them.

    Only files named exactly as our writes name them, next to `path`, that are regular files (not
    symlinks), not held by a live writer and at least `min_age` seconds old. Never raises for the
    file system (logged at debug level).
    """
    return _remove_stale(path.parent, temporary_name_pattern(path), str(path), min_age, now)


def remove_stale_temporaries_in(
    directory: Path, target_names: str, *, min_age: float = MIN_AGE_SECONDS
) -> list[Path]:
    """Remove what killed writes of any file in `directory` named as `target_names` left.

    `target_names` is a regular expression of the target files' names (a cache's keys, say); the
    rules are those of `remove_stale_temporaries`.
    """
    pattern = _temporary_pattern(target_names)
    return _remove_stale(directory, pattern, str(directory), min_age, None)


def _remove_stale(
    directory: Path, pattern: re.Pattern[str], what: str, min_age: float, now: float | None
) -> list[Path]:
    try:
        names = [name for name in os.listdir(directory) if pattern.fullmatch(name)]
    except OSError:
        return []
    moment = time.time() if now is None else now
    removed: list[Path] = []
    for name in names:
        candidate = directory / name
        try:
            if _remove_if_stale(candidate, min_age, moment):
                removed.append(candidate)
        except OSError as error:
            logger.debug("Could not remove the leftover %s: %s", candidate, error)
    if removed:
        logger.info("Removed %d leftover temporary file(s) of %s", len(removed), what)
    return removed


def _remove_if_stale(candidate: Path, min_age: float, now: float) -> bool:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(candidate, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        lock = _try_lock(fd)
        if lock == "held":
            return False
        needed = min_age if lock == "taken" else max(min_age, UNTESTABLE_MIN_AGE_SECONDS)
        if now - info.st_mtime < needed:
            return False
        # Still holding the lock: a writer cannot take it between our test and the unlink.
        os.unlink(candidate)
        return True
    finally:
        os.close(fd)


def _try_lock(fd: int) -> str:
    """Return "taken" (nobody held it), "held" (a live writer has it) or "untestable"."""
    if sys.platform == "win32" or fcntl is None:
        return "untestable"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return "held"
        return "untestable"
    return "taken"
