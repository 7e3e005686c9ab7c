"""Starting at login on macOS: a per-user LaunchAgent property list.

`enable()` writes `~/Library/LaunchAgents/com.stethoscope.desktop.plist` with `RunAtLoad`, which
launchd reads at the user's next login; no `launchctl` call is needed for that, and not calling it
means switching the option on does not start a second copy of the running app. `disable()` removes
the file: launchd does not start the app at the next login, and since the job has no `KeepAlive`,
a copy launchd started at this login is not restarted when it quits.

macOS 13 and later show a "Background Items Added" notice and list the agent under System
Settings > General > Login Items, where the user can switch it off; launchd then records that
outside this file, so `is_enabled()` cannot see it. (A signed app bundle could use SMAppService
instead, which reports that state; that needs Objective-C bindings this module does without.)
"""

from __future__ import annotations

import logging
import plistlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

from stethoscope_desktop.autostart.abc import Autostart, AutostartError, display_path
from stethoscope_desktop.core.files import remove_stale_temporaries, write_atomically

log = logging.getLogger(__name__)

LABEL = "com.stethoscope.desktop"
PLIST_NAME = f"{LABEL}.plist"


class MacAutostart(Autostart):
    """Starting at login through a LaunchAgent in the user's ~/Library/LaunchAgents."""

    def __init__(self, home: Path, program_arguments: Sequence[str]) -> None:
        if not program_arguments:
            raise ValueError("program_arguments must name the program to start")
        self.home = home
        self.program_arguments = list(program_arguments)
        self.path = home / "Library" / "LaunchAgents" / PLIST_NAME

    def remove_stale_temporaries(self) -> int:
        """Remove the temporary files a switch killed mid-write left next to the file."""
        return len(remove_stale_temporaries(self.path))

    @property
    def description(self) -> str:
        """Return `~/Library/LaunchAgents/com.stethoscope.desktop.plist`."""
        return display_path(self.path, self.home)

    def agent(self) -> dict[str, Any]:
        """Return the property list we write."""
        return {
            "Label": LABEL,
            "ProgramArguments": list(self.program_arguments),
            "RunAtLoad": True,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }

    def is_enabled(self) -> bool:
        """Return True when the agent file exists and does not say `Disabled`."""
        try:
            with self.path.open("rb") as file:
                agent = plistlib.load(file)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except (OSError, ExpatError, plistlib.InvalidFileException, ValueError) as error:
            log.warning("cannot read %s, so launchd cannot either: %s", self.description, error)
            return False
        return isinstance(agent, dict) and agent.get("Disabled") is not True

    def enable(self) -> None:
        """Write the agent, replacing any earlier one; raise AutostartError on failure."""
        data = plistlib.dumps(self.agent(), fmt=plistlib.FMT_XML)
        try:
            # launchd refuses an agent that others may write to.
            write_atomically(self.path, data, mode=0o644)
        except OSError as error:
            reason = error.strerror or str(error)
            raise AutostartError(f"cannot write {self.description}: {reason}") from error
        log.info("wrote %s", self.path)

    def disable(self) -> None:
        """Remove the agent (nothing to do when it is missing); raise AutostartError on failure."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as error:
            raise AutostartError(f"cannot remove {self.description}: {error.strerror}") from error
        log.info("removed %s", self.path)
