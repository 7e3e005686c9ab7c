"""`stethoscope_firewall`: is a host firewall (ufw, firewalld or nftables) switched on?

Listing the live ruleset (`iptables -L`, `nft list ruleset`, `ufw status`) needs root, so this
table reads what any user can:
- ufw: ENABLED=yes in /etc/ufw/ufw.conf, together with the ufw unit being active (the unit loads
  the rules at boot). Without systemd running, ENABLED=yes alone counts, with that caveat said.
- firewalld: its unit being active (`systemctl is-active`, asked together with the others in one
  call); without systemd, `firewall-cmd --state` printing "running" (exit 0). firewall-cmd is a
  Python program that takes a while to start, so it is only run when systemd cannot answer.
- nftables: nftables.service active with a ruleset file that filters something, or, without
  systemd, a filtering ruleset file and the nf_tables module loaded.
- loaded netfilter modules in /proc/modules, as supporting evidence only: Docker and other tools
  load them too, so they never prove a firewall on their own.

One row. enabled is 1 when any of them is on, NULL when none is on but one is installed and its
state cannot be told, 0 when everything installed is off (or nothing is installed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.linux._common import (
    FEATURE_STATE_COLUMNS,
    MachineTable,
    command_reason,
    find_program,
    os_error_reason,
    parse_env_file,
    read_optional,
    run_quiet,
)
from stethoscope_desktop.tables.linux._systemd import (
    ActiveStates,
    active_states,
    not_running_reason,
    systemd_running,
    unit_file,
)
from stethoscope_desktop.tables.system import System

UFW_CONF = "/etc/ufw/ufw.conf"
NFTABLES_CONFS = ("/etc/nftables.conf", "/etc/sysconfig/nftables.conf")
_NETFILTER_MODULES = re.compile(
    r"^(nf_tables|nft_\w+|ip_tables|ip6_tables|iptable_filter|ip6table_filter|x_tables)$"
)
_NFT_FILTERING = re.compile(r"\b(drop|reject)\b|^\s*include\b")


@dataclass(frozen=True)
class Finding:
    """What one firewall mechanism told us: on (True), off (False) or unknown (None)."""

    mechanism: str
    state: bool | None
    detail: str


def nft_ruleset_filters(text: str) -> bool:
    """Return True when an nft ruleset file can drop or reject traffic, or includes other files.

    Debian's stock /etc/nftables.conf declares empty chains with the default accept policy, which
    filters nothing and must not count as a firewall; accept-only rules filter nothing either. An
    include may pull rules from elsewhere, which counts as filtering (we do not chase includes).
    """
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        if _NFT_FILTERING.search(line):
            return True
    return False


def loaded_netfilter_modules(system: System) -> list[str] | None:
    """Return the loaded netfilter modules, or None when /proc/modules cannot be read."""
    text = read_optional(system, "/proc/modules", limit=1024 * 1024)
    if text is None:
        return None
    names = [line.split(" ", 1)[0] for line in text.splitlines() if line.strip()]
    return [name for name in names if _NETFILTER_MODULES.match(name)]


class Firewall(MachineTable):
    """Whether a host firewall is on, which mechanism said so, and what was seen."""

    name = "stethoscope_firewall"
    columns = FEATURE_STATE_COLUMNS
    platforms = ("linux",)

    # -- ufw -------------------------------------------------------------------------------

    def _ufw(self, systemd: bool, states: ActiveStates, modules: list[str] | None) -> Finding:
        try:
            conf = parse_env_file(self._system.read_text(UFW_CONF))
        except OSError as error:
            return Finding("ufw", None, f"ufw: cannot read {UFW_CONF}: {os_error_reason(error)}")
        enabled = conf.get("ENABLED", "")
        if enabled.lower() != "yes":
            shown = f"ENABLED={enabled}" if enabled else "ENABLED is not set"
            return Finding("ufw", False, f"ufw: {shown} in {UFW_CONF}")
        if not systemd:
            caveat = _module_note(modules)
            return Finding(
                "ufw",
                True,
                f"ufw: ENABLED=yes in {UFW_CONF}; {not_running_reason(self._system)}, so whether "
                f"the ufw unit loaded the rules could not be confirmed{caveat}",
            )
        state = states.states.get("ufw.service")
        if state == "active":
            return Finding(
                "ufw", True, f"ufw: ENABLED=yes in {UFW_CONF} and the ufw unit is active"
            )
        if state is None:
            return Finding(
                "ufw",
                None,
                f"ufw: ENABLED=yes in {UFW_CONF}, but the ufw unit's state is unknown "
                f"({states.error or 'systemctl gave no answer'})",
            )
        return Finding(
            "ufw",
            None,
            f"ufw: ENABLED=yes in {UFW_CONF}, but the ufw unit is {state}, so whether its rules "
            "are loaded cannot be told without root",
        )

    # -- firewalld -------------------------------------------------------------------------

    def _firewalld(self, systemd: bool, states: ActiveStates) -> Finding:
        if systemd:
            state = states.states.get("firewalld.service")
            if state == "active":
                return Finding("firewalld", True, "firewalld: the firewalld unit is active")
            if state is not None:
                return Finding("firewalld", False, f"firewalld: the firewalld unit is {state}")
        result = run_quiet(self._system, ["firewall-cmd", "--state"])
        if isinstance(result, str):
            return Finding("firewalld", None, f"firewalld: state unknown: {result}")
        said = result.stdout.strip()
        if result.ok and said == "running":
            return Finding("firewalld", True, "firewalld: firewall-cmd --state says running")
        # "not running" comes with exit status 252, printed as a warning (on stderr).
        if "not running" in f"{result.stdout}\n{result.stderr}".lower():
            return Finding("firewalld", False, "firewalld: firewall-cmd --state says not running")
        return Finding(
            "firewalld",
            None,
            f"firewalld: firewall-cmd --state failed: {command_reason(result)}",
        )

    # -- nftables --------------------------------------------------------------------------

    def _nftables(self, systemd: bool, states: ActiveStates, modules: list[str] | None) -> Finding:
        conf_path = next((p for p in NFTABLES_CONFS if self._system.exists(p)), None)
        conf_text: str | None = None
        conf_problem = "no ruleset file"
        if conf_path is not None:
            try:
                conf_text = self._system.read_text(conf_path)
            except OSError as error:
                conf_problem = f"{conf_path} cannot be read ({os_error_reason(error)})"
        filters = nft_ruleset_filters(conf_text) if conf_text is not None else None
        rules = (
            f"{conf_path} has rules that drop or reject traffic"
            if filters
            else f"{conf_path} has no rule that drops or rejects traffic"
            if filters is False
            else conf_problem
        )
        if systemd:
            state = states.states.get("nftables.service")
            if state is None:
                reason = states.error or "systemctl gave no answer"
                return Finding("nftables", None, f"nftables: unit state unknown ({reason})")
            if state != "active":
                return Finding("nftables", False, f"nftables: nftables.service is {state}")
            if filters:
                return Finding(
                    "nftables", True, f"nftables: nftables.service is active and {rules}"
                )
            if filters is False:
                return Finding(
                    "nftables", False, f"nftables: nftables.service is active but {rules}"
                )
            return Finding(
                "nftables",
                None,
                f"nftables: nftables.service is active but {rules}, so whether it filters "
                "anything is unknown",
            )
        if filters is False:
            return Finding("nftables", False, f"nftables: {rules}")
        if filters and modules is not None and "nf_tables" in modules:
            return Finding(
                "nftables",
                True,
                f"nftables: {rules} and the nf_tables module is loaded; "
                f"{not_running_reason(self._system)}, so that the rules are loaded is not "
                "confirmed",
            )
        module_state = (
            "/proc/modules cannot be read"
            if modules is None
            else "nf_tables is not loaded as a module (it may be built into the kernel)"
        )
        return Finding(
            "nftables",
            None,
            f"nftables: {rules}, but {not_running_reason(self._system)} and {module_state}, "
            "so whether the rules are loaded is unknown",
        )

    # -- table -----------------------------------------------------------------------------

    def generate(self, context: QueryContext) -> Iterable[Row]:
        system = self._system
        systemd = systemd_running(system)
        # A removed (not purged) ufw leaves ufw.conf behind: require the program or its unit too.
        ufw = system.exists(UFW_CONF) and (
            find_program(system, "ufw") is not None or unit_file(system, "ufw.service") is not None
        )
        firewalld = (
            system.which("firewall-cmd") is not None
            or unit_file(system, "firewalld.service") is not None
        )
        nftables = unit_file(system, "nftables.service") is not None or any(
            system.exists(path) for path in NFTABLES_CONFS
        )
        modules = loaded_netfilter_modules(system)
        if not (ufw or firewalld or nftables):
            detail = "no firewall (ufw, firewalld or nftables) is installed"
            if modules:
                detail += (
                    f"; netfilter modules are loaded ({', '.join(modules)}), so some other tool "
                    "(such as Docker or a script) may have set rules, which only root can list"
                )
            return [{"enabled": 0, "source": "none", "detail": detail}]

        units = [
            unit
            for unit, present in (
                ("ufw.service", ufw),
                ("firewalld.service", firewalld),
                ("nftables.service", nftables),
            )
            if present
        ]
        states = active_states(system, units) if systemd else ActiveStates({})
        findings: list[Finding] = []
        if ufw:
            findings.append(self._ufw(systemd, states, modules))
        if firewalld:
            findings.append(self._firewalld(systemd, states))
        if nftables:
            findings.append(self._nftables(systemd, states, modules))

        on = [f for f in findings if f.state is True]
        unknown = [f for f in findings if f.state is None]
        if on:
            ordered = on + [f for f in findings if f not in on]
            return [
                {
                    "enabled": 1,
                    "source": on[0].mechanism,
                    "detail": "; ".join(f.detail for f in ordered),
                }
            ]
        enabled = None if unknown else 0
        return [
            {
                "enabled": enabled,
                "source": ", ".join(f.mechanism for f in findings),
                "detail": "; ".join(f.detail for f in findings),
            }
        ]


def _module_note(modules: list[str] | None) -> str:
    if modules is None:
        return ""
    if modules:
        return f" (netfilter modules loaded: {', '.join(modules)})"
    return " (no netfilter module is loaded, though netfilter may be built into the kernel)"
