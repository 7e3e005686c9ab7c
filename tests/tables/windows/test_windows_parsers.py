"""The Windows parsers against recorded outputs: netsh in English and German, sc, PowerShell JSON."""

from __future__ import annotations

import pytest

from stethoscope_desktop.tables.base import TableError
from stethoscope_desktop.tables.windows.disk_encryption import verdict
from stethoscope_desktop.tables.windows.firewall import parse_netsh_states
from stethoscope_desktop.tables.windows.os_version import windows_name
from stethoscope_desktop.tables.windows.remote_login import parse_sc_state
from stethoscope_desktop.tables.windows.updates import parse_iso_time
from stethoscope_desktop.tables.windows.wifi import (
    parse_connection_mode,
    parse_profile_names,
    parse_profile_security,
    sections,
)
from tests.tables.windows.helpers import FIXTURES, parse_reg


def recorded(machine: str, name: str) -> str:
    return (FIXTURES / machine / "commands" / f"{name}.out").read_text("utf-8")


def test_netsh_firewall_states_in_english_and_german() -> None:
    english = recorded("win10-22h2", "netsh-advfirewall-show-allprofiles-state")
    german = recorded("win11-24h2-de", "netsh-advfirewall-show-allprofiles-state")
    assert parse_netsh_states(english) == [True, True, True]
    assert parse_netsh_states(german) == [True, True, True]
    assert parse_netsh_states(german.replace("EIN", "AUS", 1)) == [False, True, True]


def test_netsh_firewall_state_in_an_unknown_language_is_unknown() -> None:
    english = recorded("win10-22h2", "netsh-advfirewall-show-allprofiles-state")
    assert parse_netsh_states(english.replace("ON", "ACCESO")) == [None, None, None]


def test_netsh_profile_names_in_english_and_german() -> None:
    assert parse_profile_names(recorded("win10-22h2", "netsh-wlan-show-profiles")) == [
        "Home-5G",
        "Cafe Guest",
        "Office (2nd floor)",
    ]
    assert parse_profile_names(recorded("win11-24h2-de", "netsh-wlan-show-profiles")) == [
        "FRITZ!Box 7590 XY",
        "Müller-WLAN",
        "Hotel Gast",
    ]


def test_netsh_profile_names_keep_colons_and_list_each_profile_once() -> None:
    text = (
        "\nProfiles on interface Wi-Fi:\n\nUser profiles\n-------------\n"
        "    All User Profile     : Office: 5 GHz\n    All User Profile     : Home\n\n"
        "Profiles on interface Wi-Fi 2:\n\nUser profiles\n-------------\n"
        "    All User Profile     : Home\n"
    )
    assert parse_profile_names(text) == ["Office: 5 GHz", "Home"]


def test_french_profile_names_whose_label_has_a_colon_before_the_name() -> None:
    text = (
        "\nProfils sur l'interface Wi-Fi :\n\nProfils utilisateur\n-------------------\n"
        "    Profil Tous les utilisateurs : Maison\n"
    )
    assert parse_profile_names(text) == ["Maison"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("The Wireless AutoConfig Service (wlansvc) is not running.\n", "WLAN service"),
        (
            'Der Dienst "Automatische WLAN-Konfiguration" (wlansvc) wird nicht ausgeführt.\n',
            "WLAN service",
        ),
        (
            "Network shell commands need location permission to access WLAN information. Turn "
            "on Location services on the Location page in Privacy & security settings.\n\n"
            "Here is the URI for the Location page in the Settings app:\n"
            "ms-settings:privacy-location\n",
            "Location services",
        ),
        ("Something we have never seen.\n", "no list of profiles"),
    ],
)
def test_netsh_profile_list_that_cannot_be_read_says_why(text: str, reason: str) -> None:
    with pytest.raises(TableError, match=reason):
        parse_profile_names(text)


def test_a_computer_without_wireless_has_no_saved_networks() -> None:
    assert parse_profile_names("There is no wireless interface on the system.\n") == []


@pytest.mark.parametrize(
    ("machine", "profile", "security", "is_open"),
    [
        ("win10-22h2", "Home-5G", "WPA2-Personal/CCMP, WPA2-Personal/GCMP", 0),
        ("win10-22h2", "Cafe Guest", "Open/None", 1),
        ("win10-22h2", "Office (2nd floor)", "WPA2-Enterprise/CCMP", 0),
        ("win11-24h2-de", "FRITZ!Box 7590 XY", "WPA2-Personal/CCMP", 0),
        ("win11-24h2-de", "Hotel Gast", "Offen/Keine", 1),
    ],
)
def test_netsh_profile_security(machine: str, profile: str, security: str, is_open: int) -> None:
    text = recorded(machine, f"netsh-wlan-show-profile--{profile}")
    assert parse_profile_security(text) == (security, is_open)


def test_open_wep_is_not_an_open_network() -> None:
    text = recorded("win10-22h2", "netsh-wlan-show-profile--Cafe Guest").replace(
        "Cipher                 : None", "Cipher                 : WEP"
    )
    assert parse_profile_security(text) == ("Open/WEP", 0)


@pytest.mark.parametrize("authentication", ["OWE", "Enhanced Open"])
def test_owe_is_an_open_network_although_its_cipher_is_ccmp(authentication: str) -> None:
    # Enhanced Open encrypts the air link, but anyone may join and nothing proves who runs the
    # access point: the same danger as an open network, as the Linux and macOS tables count it.
    text = (
        recorded("win10-22h2", "netsh-wlan-show-profile--Cafe Guest")
        .replace("Authentication         : Open", f"Authentication         : {authentication}")
        .replace("Cipher                 : None", "Cipher                 : CCMP")
    )
    assert parse_profile_security(text) == (f"{authentication}/CCMP", 1)


def test_a_profile_in_a_language_we_do_not_know_is_unknown() -> None:
    text = recorded("win11-24h2-de", "netsh-wlan-show-profile--Hotel Gast")
    text = text.replace(": Offen", ": Aperta").replace(": Keine", ": Nessuna")
    assert parse_profile_security(text) == ("Aperta/Nessuna", None)


def test_netsh_sections_are_found_by_layout() -> None:
    found = sections(recorded("win11-24h2-de", "netsh-wlan-show-profile--Müller-WLAN"))
    assert [s.title for s in found] == [
        "Profilinformationen",
        "Konnektivitätseinstellungen",
        "Sicherheitseinstellungen",
        "Kosteneinstellungen",
    ]


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("        STATE              : 4  RUNNING \n", 4),
        ("        STATUS             : 4  RUNNING \n", 4),  # German labels, English states
        ("        STATE              : 1  STOPPED \n", 1),
        ("[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\n", None),
    ],
)
def test_sc_query_state(text: str, state: int | None) -> None:
    assert parse_sc_state(text) == state


@pytest.mark.parametrize(
    ("data", "encrypted", "words"),
    [
        ({"drive": "C:", "protection": 1}, 1, "BitLocker is on"),
        ({"drive": "C:", "protection": 2}, 0, "BitLocker is off"),
        ({"drive": "C:", "protection": 3}, 1, "encryption of the drive is in progress"),
        ({"drive": "C:", "protection": 4}, 0, "decryption in progress"),
        ({"drive": "C:", "protection": 5}, 0, "BitLocker is suspended"),
        ({"drive": "C:", "protection": 6}, 1, "locked"),
        ({"drive": "C:", "protection": 8}, 0, "waiting for activation"),
        ({"drive": "C:", "protection": 0}, None, "unfamiliar state 0"),
        ({"drive": "C:", "protection": None}, None, "reported no BitLocker state"),
        (
            {"drive": "C:", "protection": None, "shell_error": "Class not registered"},
            None,
            "Class not registered",
        ),
        # As an administrator, WMI answers: protection off while the drive is encrypted.
        (
            {"drive": "C:", "protection": 5, "protection_status": 0, "conversion_status": 1},
            0,
            "BitLocker is suspended on C:: the drive is fully encrypted but protection is off",
        ),
        (
            {"drive": "C:", "protection": 1, "protection_status": 1, "conversion_status": 1},
            1,
            "BitLocker protects C: (fully encrypted",
        ),
        (
            {"drive": "C:", "protection": 2, "protection_status": 0, "conversion_status": 0},
            0,
            "does not protect C: (fully decrypted",
        ),
    ],
)
def test_bitlocker_verdict(data: dict[str, object], encrypted: int | None, words: str) -> None:
    found, said = verdict(data)
    assert found == encrypted
    assert words in said


@pytest.mark.parametrize(
    ("product", "build", "name"),
    [
        ("Windows 10 Pro", 19045, "Microsoft Windows 10 Pro"),
        ("Windows 10 Pro", 22631, "Microsoft Windows 11 Pro"),
        ("Windows 10 Enterprise", 26100, "Microsoft Windows 11 Enterprise"),
        ("Windows 10 Enterprise LTSC 2021", 19044, "Microsoft Windows 10 Enterprise LTSC 2021"),
    ],
)
def test_windows_11_is_named_by_its_build(product: str, build: int, name: str) -> None:
    assert windows_name(product, build) == name


def test_pause_times_are_read_as_utc() -> None:
    parsed = parse_iso_time("2024-09-19T07:41:12Z")
    assert parsed is not None and parsed.isoformat() == "2024-09-19T07:41:12+00:00"
    assert parse_iso_time("next week") is None


def test_reg_export_values_of_every_type() -> None:
    keys = parse_reg(
        "Windows Registry Editor Version 5.00\n\n"
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Test]\n"
        '@="default"\n'
        '"Quoted"="say \\"hi\\" C:\\\\x"\n'
        '"Dword"=dword:0000000a\n'
        '"Qword"=hex(b):00,10,00,00,00,00,00,00\n'
        '"Expand"=hex(2):25,00,41,00,25,00,00,00\n'
        '"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00\n'
        '"Binary"=hex:de,ad,\\\n  be,ef\n'
    )
    values = keys["HKEY_LOCAL_MACHINE\\SOFTWARE\\Test"]
    assert values[""].data == "default"
    assert values["Quoted"].data == 'say "hi" C:\\x'
    assert (values["Dword"].type, values["Dword"].data) == ("REG_DWORD", 10)
    assert values["Qword"].data == 4096
    assert values["Expand"].data == "%A%"
    assert values["Multi"].data == ("a", "b")
    assert values["Binary"].data == bytes.fromhex("deadbeef")


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("Connect automatically", 1),
        ("Connect manually", 0),
        ("Automatisch verbinden", 1),
        ("Manuell verbinden", 0),
        ("Se connecter automatiquement", 1),
        ("Se connecter manuellement", 0),
        ("Connettiti automaticamente", None),  # Italian: not a language we know
    ],
)
def test_netsh_profile_connection_mode(value: str, mode: int | None) -> None:
    text = recorded("win10-22h2", "netsh-wlan-show-profile--Cafe Guest").replace(
        "Connect automatically", value
    )
    assert parse_connection_mode(text) == mode


def test_the_recorded_german_profile_connects_automatically() -> None:
    assert (
        parse_connection_mode(recorded("win11-24h2-de", "netsh-wlan-show-profile--Hotel Gast")) == 1
    )
