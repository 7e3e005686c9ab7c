"""`stethoscope_security_software` on Linux: the antivirus and endpoint protection it knows.

Linux keeps no list of security products (as Windows Security Center does), so this table knows
the common ones by what they leave on the machine (`PRODUCTS`): their install folder or systemd
unit file, and the name of the process they run. A product with any of these present gets a row:

- running (enabled 1): one of its units is active (`systemctl is-active`, one call for all), or a
  process of its name runs (/proc/<pid>/comm, which any user can read unless /proc is mounted
  with hidepid);
- not running (0): installed, and systemd says its units are not active, or every process is
  visible and none is its;
- cannot tell (NULL): installed, but neither systemd nor /proc can say.

A product this table does not know gives no row; IT can write a check of its own for one (see
README). Versions and definition dates are not readable without root, so they are NULL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables._security import SECURITY_SOFTWARE_COLUMNS
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.linux._common import MachineTable, list_optional, read_line
from stethoscope_desktop.tables.linux._systemd import (
    ActiveStates,
    active_states,
    not_running_reason,
    systemd_running,
    unit_file,
)
from stethoscope_desktop.tables.system import System

# The kernel keeps the first 15 characters of a process's name in /proc/<pid>/comm.
COMM_LENGTH = 15
# At most this many processes are looked at (a desktop has a few hundred).
MAX_PROCESSES = 20_000
# Unit states in which the product runs.
RUNNING_STATES = ("active", "reloading")


@dataclass(frozen=True)
class KnownProduct:
    """A security product and what it leaves on a Linux machine."""

    name: str
    units: tuple[str, ...]
    processes: tuple[str, ...]
    paths: tuple[str, ...]


PRODUCTS = (
    KnownProduct(
        "CrowdStrike Falcon",
        ("falcon-sensor.service",),
        ("falcon-sensor", "falcond"),
        ("/opt/CrowdStrike",),
    ),
    KnownProduct(
        "Microsoft Defender for Endpoint",
        ("mdatp.service",),
        ("wdavdaemon",),
        ("/opt/microsoft/mdatp",),
    ),
    KnownProduct(
        "SentinelOne",
        ("sentinelone.service",),
        ("s1-agent", "s1-orchestrator"),
        ("/opt/sentinelone",),
    ),
    KnownProduct(
        "Carbon Black Cloud",
        ("cbagentd.service",),
        ("cbagentd",),
        ("/opt/carbonblack/psc",),
    ),
    KnownProduct("Carbon Black EDR", ("cbdaemon.service",), ("cbdaemon",), ("/opt/cbsensor",)),
    KnownProduct(
        "Sophos Protection for Linux",
        ("sophos-spl.service",),
        ("sophos_watchdog",),
        ("/opt/sophos-spl",),
    ),
    KnownProduct("ESET Endpoint Antivirus", ("eea.service",), (), ("/opt/eset/eea",)),
    KnownProduct(
        "Trend Micro Deep Security Agent",
        ("ds_agent.service",),
        ("ds_agent",),
        ("/opt/ds_agent",),
    ),
    KnownProduct(
        "Elastic Defend",
        ("ElasticEndpoint.service",),
        ("elastic-endpoint",),
        ("/opt/Elastic/Endpoint",),
    ),
    KnownProduct("Cortex XDR", ("traps_pmd.service",), (), ("/opt/traps",)),
    # clamav-daemon on Debian, Ubuntu and Arch; clamd@scan on Fedora and RHEL.
    KnownProduct(
        "ClamAV",
        ("clamav-daemon.service", "clamd@scan.service"),
        ("clamd",),
        ("/usr/sbin/clamd", "/usr/bin/clamd", "/usr/bin/clamscan"),
    ),
)


@dataclass(frozen=True)
class Processes:
    """The names of the running processes, and whether other users' processes are visible."""

    names: frozenset[str]
    complete: bool


def running_processes(system: System) -> Processes:
    """Return the names in /proc/<pid>/comm; complete when PID 1 (root's) is visible too.

    With hidepid=1 or 2, /proc shows only this user's processes: a product's absence then
    proves nothing.
    """
    names: set[str] = set()
    pids = [entry for entry in list_optional(system, "/proc") if entry.isdigit()]
    for pid in pids[:MAX_PROCESSES]:
        name = read_line(system, f"/proc/{pid}/comm")
        if name:
            names.add(name)
    return Processes(frozenset(names), complete=read_line(system, "/proc/1/comm") is not None)


def unit_path(system: System, unit: str) -> str | None:
    """Return the file of a unit, or of its template for an instance (clamd@scan → clamd@)."""
    found = unit_file(system, unit)
    if found is None and "@" in unit:
        prefix, _, rest = unit.partition("@")
        found = unit_file(system, f"{prefix}@.{rest.rpartition('.')[2]}")
    return found


@dataclass(frozen=True)
class Presence:
    """What of a product is on this machine."""

    product: KnownProduct
    installed_at: str | None
    units: tuple[str, ...]
    process: str | None


def find_presence(system: System, product: KnownProduct, processes: Processes) -> Presence | None:
    """Return what of `product` is here, or None when nothing is."""
    installed_at = next((path for path in product.paths if system.exists(path)), None)
    units = tuple(unit for unit in product.units if unit_path(system, unit) is not None)
    process = next(
        (name for name in product.processes if name[:COMM_LENGTH] in processes.names), None
    )
    if installed_at is None and not units and process is None:
        return None
    if installed_at is None and units:
        installed_at = unit_path(system, units[0])
    return Presence(product, installed_at, units, process)


def product_row(
    presence: Presence, states: ActiveStates, processes: Processes, why_no_systemd: str
) -> Row:
    """Return the row of a product that is here: running, not running, or cannot tell."""
    product = presence.product
    row: Row = {
        "name": product.name,
        "type": "antivirus",
        "up_to_date": None,
        "version": None,
    }
    where = f" ({presence.installed_at})" if presence.installed_at else ""
    active = next(
        (unit for unit in presence.units if states.states.get(unit) in RUNNING_STATES), None
    )
    if active is not None:
        return row | {
            "enabled": 1,
            "source": "systemd",
            "detail": f"{product.name} is running ({active} is {states.states[active]})",
        }
    if presence.process is not None:
        return row | {
            "enabled": 1,
            "source": "processes",
            "detail": f"{product.name} is running (process {presence.process})",
        }
    known = [unit for unit in presence.units if unit in states.states]
    if known:
        said = ", ".join(f"{unit} is {states.states[unit]}" for unit in known)
        return row | {
            "enabled": 0,
            "source": "systemd",
            "detail": f"{product.name} is installed{where} but not running ({said})",
        }
    if processes.complete and product.processes:
        return row | {
            "enabled": 0,
            "source": "processes",
            "detail": f"{product.name} is installed{where} but not running "
            f"(no {' or '.join(product.processes)} process)",
        }
    reasons = [states.error or why_no_systemd] if presence.units else []
    if not processes.complete:
        reasons.append("/proc shows only this user's processes")
    return row | {
        "enabled": None,
        "source": "files",
        "detail": f"{product.name} is installed{where}; cannot tell whether it runs: "
        + ("; ".join(reason for reason in reasons if reason) or "it has no known process"),
    }


class SecuritySoftware(MachineTable):
    """The known antivirus and endpoint protection products present, one row each."""

    name = "stethoscope_security_software"
    columns = SECURITY_SOFTWARE_COLUMNS
    platforms = ("linux",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        processes = running_processes(self._system)
        present = [
            presence
            for product in PRODUCTS
            if (presence := find_presence(self._system, product, processes)) is not None
        ]
        units = [unit for presence in present for unit in presence.units]
        systemd = systemd_running(self._system)
        states = active_states(self._system, units) if systemd else ActiveStates({})
        why_no_systemd = "" if systemd else not_running_reason(self._system)
        return [product_row(presence, states, processes, why_no_systemd) for presence in present]
