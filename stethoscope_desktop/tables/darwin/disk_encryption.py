"""`stethoscope_disk_encryption` on macOS: is FileVault on for the startup disk?

osquery's disk_encryption is not documented to work as a user, so we ask `fdesetup status`,
which any user may run. Its first line is "FileVault is On." or "FileVault is Off."; further lines
say "Encryption in progress: Percent completed = 42.37" (on: the key is in force and the rest is
encrypted in the background), "Decryption in progress: …" (being turned off), "Encryption
paused…" or "Deferred enablement appears to be active for user 'ana'." (off until that user
logs out or in). When the status says neither On nor Off, `fdesetup isactive` ("true"/"false")
decides. One row for "/", with the same columns as on Linux.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import (
    DISK_ENCRYPTION_COLUMNS,
    MachineTable,
    command_reason,
    run_quiet,
)
from stethoscope_desktop.tables.base import QueryContext, Row

FDESETUP_STATUS = ["/usr/bin/fdesetup", "status"]
FDESETUP_ISACTIVE = ["/usr/bin/fdesetup", "isactive"]
_PERCENT = re.compile(r"Percent completed\s*=\s*([\d.,]+)", re.IGNORECASE)


def parse_fdesetup_status(text: str) -> tuple[int | None, str]:
    """Return (encrypted 1/0/None, what it means in words) for `fdesetup status` output."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lowered = [line.lower() for line in lines]
    on = any(line.startswith("filevault is on") for line in lowered)
    off = any(line.startswith("filevault is off") for line in lowered)
    percent_match = _PERCENT.search(text)
    percent = f" ({percent_match.group(1).replace(',', '.')} % done)" if percent_match else ""
    if any(line.startswith("decryption in progress") for line in lowered):
        return 0, f"FileVault is being turned off: decryption in progress{percent}"
    if any(line.startswith("encryption in progress") for line in lowered):
        return 1, f"FileVault is on; encryption of the disk is in progress{percent}"
    if any(line.startswith("encryption paused") for line in lowered):
        return 1, f"FileVault is on; encryption of the disk is paused{percent}"
    deferred = next((line for line in lines if line.lower().startswith("deferred enablement")), "")
    if off:
        if deferred:
            return 0, f"FileVault is off; it is set to turn on at the next login ({deferred})"
        return 0, "FileVault is off"
    if on:
        return 1, "FileVault is on"
    return None, ""


class DiskEncryption(MachineTable):
    """Whether FileVault protects the startup disk, one row."""

    name = "stethoscope_disk_encryption"
    columns = DISK_ENCRYPTION_COLUMNS
    platforms = ("darwin",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        row: Row = {"name": "Macintosh HD", "mountpoint": "/", "type": "FileVault"}
        problems: list[str] = []
        status = run_quiet(self._system, FDESETUP_STATUS)
        if isinstance(status, str):
            problems.append(status)
        elif not status.ok:
            problems.append(f"fdesetup status: {command_reason(status)}")
        else:
            encrypted, words = parse_fdesetup_status(status.stdout)
            if encrypted is not None:
                row.update(encrypted=encrypted, detail=f"{words} (fdesetup status)")
                return [row]
            first = status.stdout.strip().splitlines()[:1]
            problems.append(f"fdesetup status said {first[0]!r}" if first else "no status")
        active = run_quiet(self._system, FDESETUP_ISACTIVE)
        if not isinstance(active, str):
            answer = active.stdout.strip().lower()
            if answer in ("true", "false"):
                on = answer == "true"
                row.update(
                    encrypted=int(on),
                    detail=f"FileVault is {'on' if on else 'off'} (fdesetup isactive: {answer})",
                )
                return [row]
            problems.append(f"fdesetup isactive: {command_reason(active)}")
        else:
            problems.append(active)
        row.update(
            encrypted=None, detail="cannot tell whether FileVault is on: " + "; ".join(problems)
        )
        return [row]
