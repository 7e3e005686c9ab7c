"""`stethoscope_wifi_networks` on Windows: the Wi-Fi profiles Windows remembers, and which are open.

`netsh wlan show profiles` lists the saved profiles per wireless interface, then
`netsh wlan show profile name=<profile>` shows one, its "Security settings" section giving
Authentication and Cipher pairs ("Open" / "None" for an open network). netsh speaks the display
language ("Profil für alle Benutzer : Name", "Authentifizierung : WPA2-Personal"), so nothing
here reads a label: profiles are the "label : name" lines under a dashed underline, and a
profile's security is the third underlined section, whose first two labels are authentication and
cipher. WPA, WEP and cipher names are the same in every language and mean "protected"; "open" and
"none" are recognised in English, German and French. OWE (Wi-Fi Enhanced Open; "OWE" in the
profile XML's authentication and in netsh, whose cipher then says CCMP or GCMP) counts as open,
as on Linux and macOS: it encrypts the air link, but anyone may join and nothing proves who runs
the access point, so a look-alike network with the same name is joined just as well. Anything
else leaves `open` NULL, and the check then says it cannot tell, as it does when the WLAN service
is not running, when Windows wants Location services on before netsh may list networks (Windows
11 24H2), or when netsh's output has no shape we know. A computer without a wireless interface
has no saved networks. `autoconnect` is the profile's connection mode ("Connect automatically" 1,
"Connect manually" 0, by the value's words in English, German or French; NULL otherwise, which the
check takes as automatic): an open profile set to connect manually is named and passes, as on
Linux.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from stethoscope_desktop.tables._shared import WIFI_NETWORK_COLUMNS, command_reason, run_quiet
from stethoscope_desktop.tables.base import QueryContext, Row, TableError
from stethoscope_desktop.tables.windows._common import WindowsTable

SHOW_PROFILES = ["netsh", "wlan", "show", "profiles"]
_SEPARATOR = re.compile(r"^\s*-{3,}\s*$")
_SECURE_AUTH = re.compile(r"WPA|WEP|802\.1X", re.IGNORECASE)
_ENHANCED_OPEN_AUTH = re.compile(r"\bOWE\b|enhanced open", re.IGNORECASE)
_SECURE_CIPHER = re.compile(r"WEP|TKIP|CCMP|GCMP|AES", re.IGNORECASE)
_MANUAL_CONNECTION = re.compile(r"\bmanu(?:al|ally|ell|elle|ellement)\b", re.IGNORECASE)
_AUTOMATIC_CONNECTION = re.compile(r"\bautomati(?:c|cally|sch|que|quement)\b", re.IGNORECASE)
OPEN_WORDS = frozenset({"open", "offen", "ouvert", "ouverte", "ouvrir"})
NONE_WORDS = frozenset({"none", "keine", "kein", "aucun", "aucune"})
NO_INTERFACE = (
    "There is no wireless interface on the system.",
    "Auf dem System ist keine Drahtlosschnittstelle vorhanden.",
)


def show_profile_argv(name: str) -> list[str]:
    """Return the argv that shows one saved profile."""
    return ["netsh", "wlan", "show", "profile", f"name={name}"]


@dataclass(frozen=True)
class Section:
    """One dashed-underlined section of netsh output: its title and its "label : value" lines."""

    title: str
    entries: tuple[tuple[str, str], ...]


def sections(text: str) -> list[Section]:
    """Split netsh output into its underlined sections (a title line, then a dashed line)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if i > 0 and _SEPARATOR.match(line)]
    found: list[Section] = []
    for number, index in enumerate(starts):
        end = starts[number + 1] - 1 if number + 1 < len(starts) else len(lines)
        entries: list[tuple[str, str]] = []
        for line in lines[index + 1 : end]:
            label, sep, value = line.partition(" : ")
            if not sep:
                label, sep, value = line.rstrip().rpartition(" :")
            if sep and label.strip():
                entries.append((label.strip(), value.strip()))
        found.append(Section(lines[index - 1].strip(), tuple(entries)))
    return found


def parse_profile_names(text: str) -> list[str]:
    """Return the saved profile names of `netsh wlan show profiles` output, in order, once each.

    Raise TableError when the output says why there are none to read (service stopped, Location
    services needed) or has no shape we know.
    """
    stripped = text.strip()
    if "wlansvc" in stripped.lower():
        raise TableError(
            "the WLAN service is not running, so saved Wi-Fi networks cannot be read "
            f"({_first_line(stripped)})"
        )
    if "ms-settings:privacy-location" in stripped:
        raise TableError(
            "Windows lets apps read saved Wi-Fi networks only with Location services on "
            f"({_first_line(stripped)})"
        )
    if any(message in stripped for message in NO_INTERFACE):
        return []
    found = sections(text)
    if not found:
        raise TableError(f"netsh printed no list of profiles ({_first_line(stripped)!r})")
    names: list[str] = []
    for section in found:
        for _, value in section.entries:
            if value and not (value.startswith("<") and value.endswith(">")) and value not in names:
                names.append(value)
    return names


def parse_profile_security(text: str) -> tuple[str | None, int | None]:
    """Return (security, open 1/0/None) from `netsh wlan show profile name=…` output."""
    found = sections(text)
    if len(found) < 3 or len(found[2].entries) < 2:
        return None, None
    entries = found[2].entries
    auth_label, cipher_label = entries[0][0], entries[1][0]
    auths = [value for label, value in entries if label == auth_label]
    ciphers = [value for label, value in entries if label == cipher_label]
    security = ", ".join(dict.fromkeys(f"{a}/{c}" for a, c in zip(auths, ciphers, strict=False)))
    if any(_ENHANCED_OPEN_AUTH.search(a) for a in auths):
        return security, 1
    if any(_SECURE_AUTH.search(a) for a in auths) or any(_SECURE_CIPHER.search(c) for c in ciphers):
        return security, 0
    if all(a.casefold() in OPEN_WORDS for a in auths) and all(
        c.casefold() in NONE_WORDS for c in ciphers
    ):
        return security, 1
    return security or None, None


def parse_connection_mode(text: str) -> int | None:
    """Return 1 if the profile connects automatically, 0 if only when picked, None if unknown.

    The "Connection mode" line of the first section, by its value in English, German or French
    ("Connect automatically", "Manuell verbinden", "Se connecter manuellement").
    """
    found = sections(text)
    if not found:
        return None
    for _label, value in found[0].entries:
        if _MANUAL_CONNECTION.search(value):
            return 0
        if _AUTOMATIC_CONNECTION.search(value):
            return 1
    return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class WifiNetworks(WindowsTable):
    """Saved Wi-Fi profiles and their security."""

    name = "stethoscope_wifi_networks"
    columns = WIFI_NETWORK_COLUMNS
    platforms = ("windows",)

    def generate(self, context: QueryContext) -> Iterable[Row]:
        listing = run_quiet(self._system, SHOW_PROFILES)
        if isinstance(listing, str):
            raise TableError(f"cannot list saved Wi-Fi networks: {listing}")
        output = listing.stdout + ("\n" + listing.stderr if listing.stderr.strip() else "")
        if not listing.ok and not output.strip():
            raise TableError(f"cannot list saved Wi-Fi networks: netsh: {command_reason(listing)}")
        rows: list[Row] = []
        for name in parse_profile_names(output):
            shown = run_quiet(self._system, show_profile_argv(name))
            if isinstance(shown, str) or not shown.ok:
                rows.append({"name": name, "uuid": None, "security": None, "open": None})
                continue
            security, is_open = parse_profile_security(shown.stdout)
            rows.append(
                {
                    "name": name,
                    "uuid": None,
                    "security": security,
                    "open": is_open,
                    "autoconnect": parse_connection_mode(shown.stdout),
                }
            )
        return rows
