r"""`stethoscope_security_software` on Windows: the antivirus and firewall products Windows knows.

Windows Security Center lists the registered products in WMI's `root/SecurityCenter2` namespace
(AntiVirusProduct, FirewallProduct), which any user may read on client editions (Windows Server
has no Security Center: the table then says so). Each product's productState packs, by the
widely used decoding (not documented by Microsoft), the on/off state in bits 12 to 15 (1 on, 0 off,
2 snoozed, 3 expired) and, for antivirus, whether its definitions are out of date in bits 4 to 7
(0 current, 1 out of date). Windows Defender Firewall is not listed as a firewall product; see
`stethoscope_firewall` for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stethoscope_desktop.tables._security import SECURITY_SOFTWARE_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row, TableError
from stethoscope_desktop.tables.windows._common import WindowsTable, powershell_json

PRODUCTS_SCRIPT = (
    "$r = @(); "
    "foreach ($c in 'AntiVirusProduct', 'FirewallProduct') { "
    "try { foreach ($p in @(Get-CimInstance -Namespace 'root/SecurityCenter2' -ClassName $c)) { "
    "$r += [ordered]@{ class = $c; name = $p.displayName; state = [int64]$p.productState; "
    "path = $p.pathToSignedProductExe } } } "
    "catch { $r += [ordered]@{ class = $c; error = $_.Exception.Message } } }; "
    "ConvertTo-Json -InputObject @($r) -Compress"
)
KINDS = {"AntiVirusProduct": "antivirus", "FirewallProduct": "firewall"}
STATES = {0: "off", 1: "on", 2: "snoozed", 3: "expired"}


def decode_state(product_state: int) -> tuple[int | None, int | None, str]:
    """Return (enabled, definitions current, in words) for a productState number."""
    state = (product_state >> 12) & 0xF
    signatures = (product_state >> 4) & 0xF
    enabled = 1 if state == 1 else 0 if state in (0, 2, 3) else None
    current = 1 if signatures == 0 else 0 if signatures == 1 else None
    words = STATES.get(state, f"in state {state}")
    return enabled, current, words


def product_row(entry: Mapping[str, Any]) -> Row | None:
    """Return the row for one product of the script's output, None for a failed class."""
    kind = KINDS.get(str(entry.get("class")), "security software")
    if entry.get("error"):
        return None
    name = str(entry.get("name") or "an unnamed product")
    raw = entry.get("state")
    if not isinstance(raw, int) or isinstance(raw, bool):
        return {"name": name, "type": kind, "enabled": None, "up_to_date": None,
                "version": None, "source": "Security Center",
                "detail": f"{name}: Windows Security Center gives no state"}  # fmt: skip
    product_state = raw
    enabled, current, words = decode_state(product_state)
    up_to_date = current if kind == "antivirus" else None
    definitions = ""
    if kind == "antivirus":
        definitions = {1: "; definitions up to date", 0: "; definitions out of date"}.get(
            current if current is not None else -1, ""
        )
    return {
        "name": name,
        "type": kind,
        "enabled": enabled,
        "up_to_date": up_to_date,
        "version": None,
        "source": "Security Center",
        "detail": f"{name} ({kind}) is {words}{definitions} (productState 0x{product_state:06X})",
    }


class SecuritySoftware(WindowsTable):
    """Registered antivirus and firewall products, one row each."""

    name = "stethoscope_security_software"
    columns = SECURITY_SOFTWARE_COLUMNS
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        data = powershell_json(self._system, PRODUCTS_SCRIPT, what="Windows Security Center")
        entries = data if isinstance(data, list) else [data]
        rows: list[Row] = []
        errors: list[str] = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            row = product_row(entry)
            if row is None:
                errors.append(f"{entry.get('class')}: {entry.get('error')}")
            else:
                rows.append(row)
        if not rows and errors:
            raise TableError(
                "Windows Security Center cannot be read (there is none on Windows Server): "
                + "; ".join(errors)
            )
        return rows
