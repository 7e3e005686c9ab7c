"""osquery's `secureboot` table on Linux, from the world-readable EFI variables in efivarfs.

Each file under /sys/firmware/efi/efivars is 4 bytes of attributes followed by the value; for
SecureBoot and SetupMode the value is one byte, 1 or 0 (anything else is reported as -1, as
osquery does). A machine booted through legacy BIOS has no /sys/firmware/efi and no row (osquery
returns an empty row there). An EFI machine whose firmware has no SecureBoot variable does not
implement Secure Boot, so it is reported as 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from stethoscope_desktop.tables.base import Column, QueryContext, Row, TableError
from stethoscope_desktop.tables.linux._common import MachineTable, os_error_reason

EFI_DIR = "/sys/firmware/efi"
EFIVARS_DIR = "/sys/firmware/efi/efivars"
EFI_GLOBAL_GUID = "8be4df61-93ca-11d2-aa0d-00e098032b8c"


class SecureBoot(MachineTable):
    """Whether UEFI Secure Boot is enforced, one row on EFI machines."""

    name = "secureboot"
    columns = (
        Column("secure_boot", "integer"),
        Column("setup_mode", "integer"),
    )
    platforms = ("linux",)

    def _variable(self, name: str) -> int | None:
        """Return an EFI boolean variable: 1, 0, -1 for other values, None when absent."""
        path = f"{EFIVARS_DIR}/{name}-{EFI_GLOBAL_GUID}"
        try:
            data = self._system.read_bytes(path, limit=5)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise TableError(f"cannot read {path}: {os_error_reason(error)}") from error
        if len(data) != 5:
            raise TableError(f"{path} holds {len(data)} bytes, expected 5")
        return data[4] if data[4] in (0, 1) else -1

    def generate(self, context: QueryContext) -> Iterable[Row]:
        if not self._system.is_dir(EFI_DIR):
            return []
        if not self._system.is_dir(EFIVARS_DIR):
            raise TableError(
                f"booted through EFI, but efivarfs is not mounted at {EFIVARS_DIR}, "
                "so the Secure Boot state cannot be read"
            )
        secure_boot = self._variable("SecureBoot")
        setup_mode = self._variable("SetupMode")
        return [
            {"secure_boot": 0 if secure_boot is None else secure_boot, "setup_mode": setup_mode}
        ]
