"""The app's small persistent state: one JSON object in a file, replaced atomically.

The app keeps what must survive a restart here (the notification state under `"notify"`, and
whatever else it adds), in `Path(platformdirs.user_state_dir("stethoscope")) / "state.json"`.
The store knows nothing about the keys: each part of the app owns its own key and its format.

Losing the state is harmless (at worst a notification shows again), so nothing here raises for
the file system: a missing, unreadable or corrupt file loads as `{}`, a failed save is logged and
reported as False. A save never leaves a half-written file: it writes a temporary file in the same
folder, flushes and fsyncs it, and `os.replace`s the real one, which is atomic on POSIX and on
Windows (same volume).
A save killed mid-write leaves only its temporary file, which `remove_stale_temporaries` (called
once at start) removes once no live writer holds it.

Concurrency: every save writes its own uniquely named temporary file, so concurrent saves (threads
or processes) never mix their contents; the file always holds one save whole, the last one to
finish. There is no lock across processes: two app instances writing different keys could undo
each other's change (the app runs one instance per user). Within a process, saves through one
store take turns, and `update` does its load-merge-save under the same lock, so parts of the app
updating different keys through one store do not lose each other's writes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stethoscope_desktop.core.files import remove_stale_temporaries, write_atomically

logger = logging.getLogger(__name__)


class StateStore:
    """A JSON object kept in one file."""

    def __init__(self, path: Path) -> None:
        """Keep the state in `path`; its folder is created on the first save."""
        self._path = path
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        """Return the file the state lives in."""
        return self._path

    def load(self) -> dict[str, Any]:
        """Return the saved object; `{}` if there is none or it cannot be read (logged).

        What `save` could not write again reads as what it can: NaN and Infinity (which Python's
        json reads, though JSON has neither) as null; a lone surrogate (half of a UTF-16 pair) is
        kept and `save` writes it escaped.
        """
        try:
            text = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            logger.warning("Could not read the state file %s: %s", self._path, error)
            return {}
        try:
            data = json.loads(text, parse_constant=_no_number)
        except (ValueError, RecursionError) as error:  # bad JSON or UTF-8, absurd nesting
            logger.warning("Ignoring the corrupt state file %s: %s", self._path, error)
            return {}
        if not isinstance(data, dict):
            logger.warning(
                "Ignoring the state file %s: it holds %s, not an object",
                self._path,
                type(data).__name__,
            )
            return {}
        return data

    def save(self, data: Mapping[str, Any]) -> bool:
        """Replace the saved object with `data` atomically; return False (logged) if that failed.

        The file system never makes this raise; `data` that JSON cannot hold (a set, NaN) is a
        programming error and raises TypeError or ValueError before anything is written.
        """
        text = json.dumps(dict(data), ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False)
        with self._lock:
            return self._write(text)

    def _write(self, text: str) -> bool:
        try:
            # A lone surrogate, which UTF-8 cannot hold, can only be in a JSON string: written
            # as its escape (\udc80), it reads back as it was.
            write_atomically(self._path, (text + "\n").encode("utf-8", "backslashreplace"))
        except OSError as error:
            logger.warning("Could not save the state to %s: %s", self._path, error)
            return False
        return True

    def update(self, values: Mapping[str, Any]) -> bool:
        """Set these top-level keys, keeping the others; return what `save` returned."""
        with self._lock:
            return self.save({**self.load(), **values})

    def remove_stale_temporaries(self) -> int:
        """Remove temporary files left by saves killed mid-write (core.files); return how many.

        Called once at start; never raises for the file system.
        """
        return len(remove_stale_temporaries(self._path))


def _no_number(constant: str) -> None:
    """Read JSON's non-standard NaN, Infinity and -Infinity as null: `save` refuses them."""
    return None
