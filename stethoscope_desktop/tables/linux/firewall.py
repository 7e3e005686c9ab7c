"""`stethoscope_firewall`: does a host firewall (ufw, firewalld or nftables) filter what comes in?

Listing the live ruleset (`iptables -L`, `nft list ruleset`, `ufw status`) needs root, so this
table reads what any user can, and says in `detail` what it read and what it could not see:
- ufw: ENABLED=yes in /etc/ufw/ufw.conf, together with the ufw unit being active (the unit loads
  the rules at boot). Without systemd running, nothing readable says whether the rules were
  loaded (ufw keeps no state a user can read; /lib/ufw holds only files root writes), so
  ENABLED=yes alone is unknown (NULL), with that reason, rather than on.
- firewalld: its unit being active (`systemctl is-active`, asked together with the others in one
  call); without systemd, `firewall-cmd --state` printing "running" (exit 0). Running is not
  enough: the default zone (DefaultZone in /etc/firewalld/firewalld.conf, `public` when it names
  none) must not accept everything. /etc/firewalld is readable by root only on Debian and Fedora,
  so where the file cannot be read, `firewall-cmd --get-default-zone` (allowed to every user)
  names the zone. The zone's `target` comes from /etc/firewalld/zones/<zone>.xml, else the
  shipped /usr/lib/firewalld/zones/<zone>.xml: ACCEPT (the `trusted` zone) is off, naming the
  zone; default, %%REJECT%%, REJECT and DROP are on, unless the zone's <port> (or <protocol>)
  entries let in all or nearly all of the unprivileged ports 1025-65535 of TCP or UDP (all but
  at most 1000): Fedora Workstation's default zone, FedoraWorkstation, opens 1025-65535 for both,
  so any program listening there can be reached, and that is off, naming the zone and the
  ranges. A readable zone bound to every source address (<source address="0.0.0.0/0"/> or
  ::/0) gets every connection of that family ahead of the default zone, so one that accepts
  everything or opens nearly every port is off too. Where /etc/firewalld/zones cannot be read,
  the shipped zone is judged and the detail says a changed copy could not be seen. Zones that
  NetworkManager gives single connections cannot be read without root and are not judged.
- nftables: nftables.service active with a ruleset file whose input hook drops or rejects new
  incoming connections for IPv4 and IPv6 (see `nft_ruleset`: base chains on the input hook,
  their policies, their rules and the chains they jump to, and the files they include). An
  IPv4-only drop counts only where IPv6 is switched off (disable_ipv6 = 1, or no IPv6 in the
  kernel). The detail says the verdict was judged from the file, as the rules loaded now cannot
  be read without root: a file that lets connections in is off even while the service is active
  (rules added by hand since are not seen, and are gone at the next restart). Without systemd,
  whether the file was loaded cannot be told, so a filtering file alone is unknown.
- loaded netfilter modules in /proc/modules, as supporting evidence only: Docker and other tools
  load them too, so they never prove a firewall on their own.

One row. enabled is 1 when any of them is on, NULL when none is on but one is installed and its
state cannot be told, 0 when everything installed is off (or nothing is installed).
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.linux._common import (
    FEATURE_STATE_COLUMNS,
    SMALL_FILE,
    MachineTable,
    command_reason,
    find_program,
    os_error_reason,
    parse_env_file,
    read_line,
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
from stethoscope_desktop.tables.linux.nft_ruleset import (
    InputHook,
    NftSyntaxError,
    input_hook,
    read_ruleset,
)
from stethoscope_desktop.tables.system import System

UFW_CONF = "/etc/ufw/ufw.conf"
NFTABLES_CONFS = ("/etc/nftables.conf", "/etc/sysconfig/nftables.conf")
FIREWALLD_CONF = "/etc/firewalld/firewalld.conf"
FIREWALLD_ZONE_DIRS = ("/etc/firewalld/zones", "/usr/lib/firewalld/zones")
FIREWALLD_DEFAULT_ZONE = "public"  # firewalld's own default when firewalld.conf names none
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,63}$")
# A zone's target: what happens to a connection none of its services, ports or rules allow.
_ZONE_TARGETS = {
    "default": "rejects",
    "%%REJECT%%": "rejects",
    "REJECT": "rejects",
    "DROP": "drops",
}
NFT_LIVE_NOTE = "the rules loaded now can't be read without root"
_NETFILTER_MODULES = re.compile(
    r"^(nf_tables|nft_\w+|ip_tables|ip6_tables|iptable_filter|ip6table_filter|x_tables)$"
)


@dataclass(frozen=True)
class Finding:
    """What one firewall mechanism told us: on (True), off (False) or unknown (None)."""

    mechanism: str
    state: bool | None
    detail: str


@dataclass(frozen=True)
class NftFileVerdict:
    """What an nftables ruleset file does to new incoming connections, and the files read."""

    filters: bool | None
    says: str
    files: tuple[str, ...]

    @property
    def judged_from(self) -> str:
        """Say that only the files were read, as the live ruleset needs root."""
        return f"judged from {', '.join(self.files)}; {NFT_LIVE_NOTE}"


def ipv6_switched_off(system: System) -> str | None:
    """Return how IPv6 is seen to be off (disable_ipv6 = 1, or not in the kernel), else None."""
    if read_line(system, "/proc/sys/net/ipv6/conf/all/disable_ipv6") == "1" and read_line(
        system, "/proc/sys/net/ipv6/conf/default/disable_ipv6"
    ) in (None, "1"):
        return "net.ipv6.conf.all.disable_ipv6 = 1"
    if system.is_dir("/proc/sys/net/ipv4") and not system.is_dir("/proc/sys/net/ipv6"):
        return "the kernel has no IPv6: /proc/sys/net/ipv6 is missing"
    return None


def judge_nft_file(system: System, path: str) -> NftFileVerdict:
    """Judge what the input hook of the ruleset file `path` (and what it includes) does."""
    try:
        ruleset = read_ruleset(system, path)
    except NftSyntaxError as error:
        return NftFileVerdict(None, f"{path} could not be judged: {error}", (path,))
    hook = input_hook(ruleset)
    filters, says = _nft_hook_verdict(system, path, hook)
    return NftFileVerdict(filters, says, hook.files or (path,))


def _nft_hook_verdict(system: System, path: str, hook: InputHook) -> tuple[bool | None, str]:
    if hook.unknown:
        return None, (
            f"what {path} does to new incoming connections cannot be told: "
            + "; ".join(hook.unknown)
        )
    chains = hook.describe()
    if hook.ipv4 and hook.ipv6:
        return True, f"{path} drops or rejects new incoming connections ({chains})"
    if hook.ipv4:
        off = ipv6_switched_off(system)
        if off is not None:
            return True, (
                f"{path} drops or rejects new incoming IPv4 connections ({chains}), and IPv6 is "
                f"switched off ({off})"
            )
        return False, (
            f"{path} drops or rejects new incoming IPv4 connections but lets IPv6 ones in, as no "
            f"ip6 or inet input chain drops them ({chains})"
        )
    if hook.ipv6:
        return False, (
            f"{path} drops or rejects new incoming IPv6 connections but lets IPv4 ones in, as no "
            f"ip or inet input chain drops them ({chains})"
        )
    return False, f"{path} lets new incoming connections in ({chains})"


def loaded_netfilter_modules(system: System) -> list[str] | None:
    """Return the loaded netfilter modules, or None when /proc/modules cannot be read."""
    text = read_optional(system, "/proc/modules", limit=1024 * 1024)
    if text is None:
        return None
    names = [line.split(" ", 1)[0] for line in text.splitlines() if line.strip()]
    return [name for name in names if _NETFILTER_MODULES.match(name)]


@dataclass(frozen=True)
class Zone:
    """What a firewalld zone file says about incoming connections it is given.

    `target` is what happens to a connection nothing in the zone allows; `open_ports` maps
    "tcp" and "udp" to the merged port ranges its `<port>` entries let in (a `<protocol>` entry
    for tcp or udp lets in every port, 1-65535). Services are not counted: each opens a few
    named ports, never the most of a protocol.
    """

    target: str
    open_ports: dict[str, tuple[tuple[int, int], ...]]
    sources: tuple[str, ...] = ()

    def open_verdict(self) -> str | None:
        """Say how the zone lets (nearly) everything in, else None."""
        if self.target == "ACCEPT":
            return "accepts every incoming connection (target ACCEPT)"
        wide_open = self.wide_open()
        return None if wide_open is None else f"lets in {wide_open}"

    def catch_all_source(self) -> str | None:
        """Return a `<source address>` that covers every address (0.0.0.0/0, ::/0), else None.

        firewalld gives a connection to the zone bound to its source address ahead of the zone
        of its interface and the default zone, so such a zone takes every connection.
        """
        for address in self.sources:
            try:
                network = ipaddress.ip_network(address.strip(), strict=False)
            except ValueError:  # a MAC address or an ipset: not every address
                continue
            if network.prefixlen == 0:
                return address
        return None

    def wide_open(self) -> str | None:
        """Say which protocols the zone lets in on (nearly) every unprivileged port, else None.

        "Nearly every" is all but at most NEARLY_ALL_SLACK of the ports 1025-65535 (those a
        program can listen on without root): Fedora Workstation's zone opens all of them for TCP
        and UDP, and a range that starts at 2000 or ends at 65000 lets in just as much.
        """
        wide = {
            protocol: ranges
            for protocol, ranges in self.open_ports.items()
            if _unprivileged_ports_closed(ranges) <= NEARLY_ALL_SLACK
        }
        if not wide:
            return None
        shown = {protocol: _show_ranges(ranges) for protocol, ranges in sorted(wide.items())}
        if len(shown) == 2 and len(set(shown.values())) == 1:
            return f"TCP and UDP ports {shown['tcp']}"
        return " and ".join(f"{protocol.upper()} ports {text}" for protocol, text in shown.items())


UNPRIVILEGED_PORTS = (1025, 65535)
NEARLY_ALL_SLACK = 1000  # ports of 1025-65535 a zone may leave closed and still count as open
MAX_ZONE_FILES = 256  # zone files read per folder when looking for a zone bound to every address
_PORT_RANGE = re.compile(r"^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$")


def _merge_ranges(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def _unprivileged_ports_closed(ranges: tuple[tuple[int, int], ...]) -> int:
    first, last = UNPRIVILEGED_PORTS
    opened = sum(max(0, min(high, last) - max(low, first) + 1) for low, high in ranges)
    return (last - first + 1) - opened


def _show_ranges(ranges: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"{low}-{high}" if low != high else str(low) for low, high in ranges)


def read_zone(text: str, path: str) -> Zone:
    """Read a firewalld zone file: its `target` ("default" when it has none) and open ports.

    Raise ValueError naming the file when it is not a zone (or declares entities, which a zone
    file never needs and which are refused rather than expanded). A `<port>` whose port is not
    a number or a rising range of numbers within 1-65535 (firewalld also takes a service name,
    one port) is skipped.
    """
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ValueError(f"{path} declares a DOCTYPE or entities, which a zone file never has")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ValueError(f"{path} is not well-formed XML ({error})") from error
    if root.tag != "zone":
        raise ValueError(f"{path} is not a firewalld zone (its root element is <{root.tag}>)")
    ranges: dict[str, list[tuple[int, int]]] = {"tcp": [], "udp": []}
    sources: list[str] = []
    for element in root:
        if element.tag == "source" and element.get("address"):
            sources.append(element.get("address", ""))
        if element.tag == "protocol" and element.get("value", "").lower() in ranges:
            ranges[element.get("value", "").lower()].append((1, 65535))
        if element.tag != "port":
            continue
        protocol = element.get("protocol", "").lower()
        found = _PORT_RANGE.match(element.get("port", ""))
        if protocol not in ranges or found is None:
            continue
        low = int(found.group(1))
        high = int(found.group(2) or low)
        if low >= 1 and low <= high <= 65535:
            ranges[protocol].append((low, high))
    return Zone(
        target=root.get("target") or "default",
        open_ports={protocol: _merge_ranges(found) for protocol, found in ranges.items() if found},
        sources=tuple(sources),
    )


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
            # Nothing a user can read says whether ufw-init loaded the rules: `ufw status` and
            # the live rules need root, and ufw keeps no state outside root's files.
            return Finding(
                "ufw",
                None,
                f"ufw: ENABLED=yes in {UFW_CONF}, but {not_running_reason(self._system)}, so "
                "whether its rules are loaded cannot be told: `ufw status` and the rules loaded "
                f"now can't be read without root{_module_note(modules)}",
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
                return self._firewalld_zone("the firewalld unit is active")
            if state is not None:
                return Finding("firewalld", False, f"firewalld: the firewalld unit is {state}")
        result = run_quiet(self._system, ["firewall-cmd", "--state"])
        if isinstance(result, str):
            return self._firewalld_state_unknown(f"state unknown: {result}")
        said = result.stdout.strip()
        if result.ok and said == "running":
            return self._firewalld_zone("firewall-cmd --state says running")
        # "not running" comes with exit status 252, printed as a warning (on stderr).
        if "not running" in f"{result.stdout}\n{result.stderr}".lower():
            return Finding("firewalld", False, "firewalld: firewall-cmd --state says not running")
        return self._firewalld_state_unknown(
            f"firewall-cmd --state failed: {command_reason(result)}"
        )

    def _firewalld_state_unknown(self, why: str) -> Finding:
        """Whether firewalld runs can't be told: OFF all the same if its zone lets all in."""
        zone = self._firewalld_zone(f"whether it runs can't be told ({why})")
        if zone.state is False:
            return zone
        return Finding("firewalld", None, f"firewalld: {why}")

    def _firewalld_default_zone(self) -> tuple[str | None, str]:
        """Return the default zone and where it was read, or None and why it could not be."""
        try:
            conf = parse_env_file(self._system.read_text(FIREWALLD_CONF, limit=SMALL_FILE))
        except FileNotFoundError:
            return FIREWALLD_DEFAULT_ZONE, f"there is no {FIREWALLD_CONF}"
        except OSError as error:
            # /etc/firewalld is root's only (mode 0750) on Debian and Fedora; the running
            # firewalld tells every user its default zone over D-Bus.
            unread = f"{FIREWALLD_CONF}: {os_error_reason(error)}"
            result = run_quiet(self._system, ["firewall-cmd", "--get-default-zone"])
            if isinstance(result, str):
                return None, f"{unread}, and {result}"
            if not result.ok or len(result.stdout.split()) != 1:
                return None, f"{unread}, and firewall-cmd --get-default-zone failed: " + (
                    command_reason(result)
                )
            return result.stdout.strip(), f"firewall-cmd --get-default-zone ({unread})"
        zone = conf.get("DefaultZone", "")
        if not zone:
            return FIREWALLD_DEFAULT_ZONE, f"{FIREWALLD_CONF} names no DefaultZone"
        return zone, f"DefaultZone in {FIREWALLD_CONF}"

    def _firewalld_zone(self, running: str) -> Finding:
        zone, source = self._firewalld_default_zone()
        if zone is None:
            return Finding(
                "firewalld",
                None,
                f"firewalld: {running}, but its default zone cannot be told: {source}",
            )
        if not _ZONE_NAME.match(zone):
            return Finding(
                "firewalld", None, f"firewalld: {running}, but its default zone {zone!r} "
                f"({source}) is not a zone name",
            )  # fmt: skip
        caveat = ""
        text: str | None = None
        path = ""
        for folder in FIREWALLD_ZONE_DIRS:
            path = f"{folder}/{zone}.xml"
            try:
                text = self._system.read_text(path, limit=SMALL_FILE)
                break
            except FileNotFoundError:
                continue
            except OSError as error:
                if folder == FIREWALLD_ZONE_DIRS[0]:
                    caveat = (
                        f"; whether {folder} changes the zone can't be read without root "
                        f"({os_error_reason(error)})"
                    )
                    continue
                return Finding(
                    "firewalld", None, f"firewalld: {running}, but {path} cannot be read "
                    f"({os_error_reason(error)})",
                )  # fmt: skip
        said = f"its default zone is {zone} ({source})"
        if text is None:
            return Finding(
                "firewalld",
                None,
                f"firewalld: {running} and {said}, but no zone file "
                f"({' or '.join(f'{d}/{zone}.xml' for d in FIREWALLD_ZONE_DIRS)}) says what it "
                f"does{caveat}",
            )
        try:
            zone_read = read_zone(text, path)
        except ValueError as error:
            return Finding("firewalld", None, f"firewalld: {running} and {said}, but {error}")
        target = zone_read.target
        if target == "ACCEPT":
            return Finding(
                "firewalld",
                False,
                f"firewalld: {running}, but {said}, which accepts every incoming connection "
                f"(target ACCEPT in {path}){caveat}",
            )
        wide_open = zone_read.wide_open()
        if wide_open is not None:
            return Finding(
                "firewalld",
                False,
                f"firewalld: {running}, but {said}, and zone {zone} lets in {wide_open} (the "
                f"<port> entries in {path}), so nearly any program can be reached from the "
                f"network{caveat}",
            )
        verb = _ZONE_TARGETS.get(target)
        if verb is None:
            return Finding(
                "firewalld",
                None,
                f"firewalld: {running} and {said}, whose target {target!r} in {path} is not "
                f"one firewalld knows{caveat}",
            )
        taken = self._zone_taking_every_address(zone)
        if taken is not None:
            return Finding("firewalld", False, f"firewalld: {running} and {said}, but {taken}")
        return Finding(
            "firewalld",
            True,
            f"firewalld: {running} and {said}, which {verb} incoming connections it does not "
            f"allow (target {target} in {path}){caveat}",
        )

    def _zone_taking_every_address(self, default_zone: str) -> str | None:
        """Say which readable zone takes every source address and lets everything in, else None.

        A zone whose `<source address>` is 0.0.0.0/0 or ::/0 gets every connection of that family
        ahead of the default zone. Zones in /etc/firewalld/zones override the shipped ones of the
        same name; folders that cannot be read (root's only on Debian and Fedora) are skipped,
        as the default zone's caveat already says.
        """
        seen: set[str] = {default_zone}
        for folder in FIREWALLD_ZONE_DIRS:
            try:
                names = self._system.list_dir(folder)
            except OSError:
                continue
            for name in names[:MAX_ZONE_FILES]:
                zone = name.removesuffix(".xml")
                if not name.endswith(".xml") or zone in seen:
                    continue
                seen.add(zone)
                path = f"{folder}/{name}"
                try:
                    read = read_zone(self._system.read_text(path, limit=SMALL_FILE), path)
                except (OSError, ValueError):
                    continue
                address = read.catch_all_source()
                verdict = read.open_verdict() if address is not None else None
                if verdict is not None:
                    return (
                        f"zone {zone} takes the connections from every address ({address} in "
                        f"its <source> in {path}) ahead of {default_zone}, and {verdict}"
                    )
        return None

    # -- nftables --------------------------------------------------------------------------

    def _nftables(self, systemd: bool, states: ActiveStates, modules: list[str] | None) -> Finding:
        conf_path = next((p for p in NFTABLES_CONFS if self._system.exists(p)), None)
        verdict = (
            judge_nft_file(self._system, conf_path)
            if conf_path is not None
            else NftFileVerdict(
                None, f"there is no ruleset file ({' or '.join(NFTABLES_CONFS)})", ()
            )
        )
        judged = verdict.judged_from if verdict.files else NFT_LIVE_NOTE
        if systemd:
            state = states.states.get("nftables.service")
            if state is None:
                reason = states.error or "systemctl gave no answer"
                return Finding("nftables", None, f"nftables: unit state unknown ({reason})")
            if state != "active":
                return Finding(
                    "nftables",
                    False,
                    f"nftables: nftables.service is {state}, so no ruleset file is loaded at "
                    f"start ({NFT_LIVE_NOTE})",
                )
            joiner = "and" if verdict.filters else "but"
            detail = f"nftables: nftables.service is active {joiner} {verdict.says}; {judged}"
            return Finding("nftables", verdict.filters, detail)
        if verdict.filters is False:
            return Finding("nftables", False, f"nftables: {verdict.says}; {judged}")
        module_state = (
            "/proc/modules cannot be read"
            if modules is None
            else "the nf_tables module is loaded (Docker and others load it too)"
            if "nf_tables" in modules
            else "nf_tables is not loaded as a module (it may be built into the kernel)"
        )
        return Finding(
            "nftables",
            None,
            f"nftables: {verdict.says}, but {not_running_reason(self._system)} and "
            f"{module_state}, so whether the file was loaded cannot be told; {judged}",
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
