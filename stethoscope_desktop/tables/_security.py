"""The columns of `stethoscope_security_software`, the same on every platform.

One row per protection the machine reports: its name, its kind ("antivirus" for antivirus and
endpoint protection, "firewall", "app verification"), whether it is on (running), whether its
definitions are current (NULL when the platform does not say), its version, where the fact came
from and a sentence saying it. The `securitySoftware` practice reads its antivirus rows
(checks/security_software.yaml); IT's own checks can too (`SELECT … FROM
stethoscope_security_software WHERE type = 'antivirus' AND enabled = 1`).
"""

from __future__ import annotations

from stethoscope_desktop.tables.base import Column

SECURITY_SOFTWARE_COLUMNS = (
    Column("name", "text"),
    Column("type", "text"),
    Column("enabled", "integer"),
    Column("up_to_date", "integer"),
    Column("version", "text"),
    Column("source", "text"),
    Column("detail", "text"),
)
