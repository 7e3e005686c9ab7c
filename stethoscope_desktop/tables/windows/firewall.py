r"""`stethoscope_firewall` on Windows: is Windows Defender Firewall on for every network profile?

The registry holds each profile's switch, readable by every user:
`HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\
{DomainProfile,StandardProfile,PublicProfile}\EnableFirewall` (StandardProfile is the private
profile), and Group Policy's, which wins, under
`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\{DomainProfile,PrivateProfile,PublicProfile}`.
When a profile's switch cannot be read there, `netsh advfirewall show allprofiles state` answers.
Its text is in the display language ("State ON", "Status EIN", "État Actif"), so the profiles are
read in netsh's fixed order (domain, private, public) and the value against a small table of
translations; a word not in it makes that profile unknown. On means on for all three profiles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from stethoscope_desktop.tables._shared import FEATURE_STATE_COLUMNS, run_quiet
from stethoscope_desktop.tables.base import QueryContext, Row
from stethoscope_desktop.tables.windows._common import WindowsTable
from stethoscope_desktop.tables.windows._registry import read_value

LOCAL = (
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy"
)
POLICY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\WindowsFirewall"
# (profile, its local key, its policy keys)
PROFILES = (
    ("domain", "DomainProfile", ("DomainProfile",)),
    ("private", "StandardProfile", ("PrivateProfile", "StandardProfile")),
    ("public", "PublicProfile", ("PublicProfile",)),
)
NETSH = ["netsh", "advfirewall", "show", "allprofiles", "state"]
# netsh's word for a profile's state in the display languages we have seen (English, German,
# French); any other word leaves the profile unknown rather than guessed.
ON_WORDS = frozenset({"on", "ein", "actif", "activé"})
OFF_WORDS = frozenset({"off", "aus", "inactif", "désactivé"})
_SEPARATOR = re.compile(r"^\s*-{10,}\s*$")


def parse_netsh_states(text: str) -> list[bool | None]:
    """Return each profile's state from `netsh advfirewall show allprofiles state`, in order.

    A profile is a dashed separator line followed by its state line ("State   ON"); True is on,
    False off, None a word we do not know.
    """
    states: list[bool | None] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not _SEPARATOR.match(line):
            continue
        following = next((ln for ln in lines[index + 1 :] if ln.strip()), "")
        word = following.split()[-1].casefold() if following.split() else ""
        states.append(True if word in ON_WORDS else False if word in OFF_WORDS else None)
    return states


class Firewall(WindowsTable):
    """Whether Windows Defender Firewall is on for the domain, private and public profiles."""

    name = "stethoscope_firewall"
    columns = FEATURE_STATE_COLUMNS
    platforms = ("windows",)

    def _registry_state(
        self, local_key: str, policy_keys: tuple[str, ...]
    ) -> tuple[bool | None, str]:
        for key in policy_keys:
            try:
                value = read_value(self._registry, f"{POLICY}\\{key}", "EnableFirewall")
            except OSError:
                value = None
            number = value.as_int() if value is not None else None
            if number is not None:
                return number != 0, f"Group Policy EnableFirewall = {number}"
        try:
            value = read_value(self._registry, f"{LOCAL}\\{local_key}", "EnableFirewall")
        except OSError:
            return None, "registry: permission denied"
        number = value.as_int() if value is not None else None
        if number is None:
            return None, "registry: no EnableFirewall value"
        return number != 0, f"EnableFirewall = {number}"

    def _netsh(self) -> list[bool | None] | str:
        result = run_quiet(self._system, NETSH)
        if isinstance(result, str):
            return result
        states = parse_netsh_states(result.stdout)
        if len(states) != len(PROFILES):
            first = result.stdout.strip().splitlines()[:1] or [result.stderr.strip()]
            return f"netsh printed {len(states)} profiles ({first[0][:120]!r})"
        return states

    def generate(self, context: QueryContext) -> Iterable[Row]:
        states: list[bool | None] = []
        sources: list[str] = []
        for _, local_key, policy_keys in PROFILES:
            state, said = self._registry_state(local_key, policy_keys)
            states.append(state)
            sources.append(said)
        source = "registry"
        if None in states:
            netsh = self._netsh()
            if isinstance(netsh, str):
                sources = [
                    s if st is not None else f"{s}; netsh: {netsh}"
                    for s, st in zip(sources, states, strict=True)
                ]
            else:
                source = "registry, netsh" if any(s is not None for s in states) else "netsh"
                for index, state in enumerate(states):
                    if state is None:
                        states[index] = netsh[index]
                        word = {True: "on", False: "off", None: "unknown word"}[netsh[index]]
                        sources[index] = f"netsh: {word}"
        parts = [
            f"{profile}: {'on' if state else 'off' if state is False else 'unknown'} ({said})"
            for (profile, _, _), state, said in zip(PROFILES, states, sources, strict=True)
        ]
        off = [
            profile
            for (profile, _, _), state in zip(PROFILES, states, strict=True)
            if state is False
        ]
        if off:
            enabled: int | None = 0
            head = f"Windows Defender Firewall is off for the {' and '.join(off)} network profile"
        elif None in states:
            enabled = None
            head = "cannot tell whether Windows Defender Firewall is on for every profile"
        else:
            enabled = 1
            head = "Windows Defender Firewall is on for the domain, private and public profiles"
        return [{"enabled": enabled, "source": source, "detail": f"{head} ({'; '.join(parts)})"}]
