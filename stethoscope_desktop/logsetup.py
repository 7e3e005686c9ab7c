"""Logging for the app: a rotating file in the user's log folder, and warnings on stderr.

`configure_logging` puts two handlers on the root logger: a rotating file handler writing
`stethoscope.log` in `platformdirs.user_log_dir("stethoscope")` (1 MiB, 3 backups; INFO, or
DEBUG with `--debug`) and a stderr handler (WARNING, or DEBUG with `--debug`). Calling it again
replaces them; `unconfigure_logging` removes them. A log folder that cannot be created or a file
that cannot be opened costs only the file: a warning goes to stderr and the app runs on.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "stethoscope"
LOG_FILE_NAME = "stethoscope.log"
MAX_BYTES = 1024 * 1024
BACKUP_COUNT = 3
LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"

_FILE_HANDLER = "stethoscope-file"
_CONSOLE_HANDLER = "stethoscope-console"
_OUR_HANDLERS = frozenset({_FILE_HANDLER, _CONSOLE_HANDLER})
_saved_root_level: int | None = None


class RotatingFileHandler(logging.FileHandler):
    """A log file that is renamed to `.1` (`.1` to `.2`, …) when it would grow past `max_bytes`.

    The standard library's `logging.handlers.RotatingFileHandler` does the same, but importing
    `logging.handlers` (sockets, pickle, queues) costs the idle tray app a megabyte.
    """

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        super().__init__(path, encoding="utf-8")
        self.max_bytes = max_bytes
        self.backups = backups

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record, rotating first when it would not fit."""
        try:
            if self._would_overflow(record):
                self._rotate()
        except OSError:
            self.handleError(record)
            return
        super().emit(record)

    def _would_overflow(self, record: logging.LogRecord) -> bool:
        if self.stream is None:
            self.stream = self._open()
        size = self.stream.tell()
        return size > 0 and size + len(self.format(record).encode("utf-8")) + 1 > self.max_bytes

    def _rotate(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        for number in range(self.backups - 1, 0, -1):
            older = f"{self.baseFilename}.{number}"
            if os.path.exists(older):
                os.replace(older, f"{self.baseFilename}.{number + 1}")
        if self.backups > 0:
            os.replace(self.baseFilename, f"{self.baseFilename}.1")
        else:
            os.remove(self.baseFilename)
        self.stream = self._open()


def default_log_dir() -> Path:
    """Return the user's log folder for the app on this OS (not created)."""
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def configure_logging(debug: bool, *, log_dir: Path | None = None) -> Path | None:
    """Log to a rotating file in `log_dir` (default: the user's log folder) and to stderr.

    Return the log file's path, or None when the file cannot be used (then say so on stderr).
    Calling it again replaces the handlers it added before instead of adding more.
    """
    global _saved_root_level
    root = logging.getLogger()
    _remove_our_handlers(root)
    if _saved_root_level is None:
        _saved_root_level = root.level
    formatter = logging.Formatter(LOG_FORMAT)

    console = logging.StreamHandler(sys.stderr)
    console.set_name(_CONSOLE_HANDLER)
    console.setLevel(logging.DEBUG if debug else logging.WARNING)
    console.setFormatter(formatter)
    root.addHandler(console)
    root.setLevel(logging.DEBUG if debug else logging.INFO)

    folder = default_log_dir() if log_dir is None else log_dir
    path = folder / LOG_FILE_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        file_handler = RotatingFileHandler(path, MAX_BYTES, BACKUP_COUNT)
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"stethoscope: warning: not logging to {path}: {reason}", file=sys.stderr)
        return None
    file_handler.set_name(_FILE_HANDLER)
    file_handler.setLevel(logging.DEBUG if debug else logging.INFO)
    file_handler.setFormatter(formatter)
    root.addHandler(file_handler)
    return path


def unconfigure_logging() -> None:
    """Remove and close the handlers `configure_logging` added; restore the root logger's level."""
    global _saved_root_level
    root = logging.getLogger()
    _remove_our_handlers(root)
    if _saved_root_level is not None:
        root.setLevel(_saved_root_level)
        _saved_root_level = None


def _remove_our_handlers(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        if handler.get_name() in _OUR_HANDLERS:
            root.removeHandler(handler)
            handler.close()
