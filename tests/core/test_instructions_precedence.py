"""Which file's directions a device gets when the bundled texts, IT's and an override all give some.

The rule (core.instructions): the last file that names any of the device's platform keys for a
practice gives all of that practice's directions on that device; within that file the most
specific key wins (a distribution before `linux`), and among one platform's keys the first whose
version range holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.core.instructions import InstructionsLayer, merge_instructions
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.resources import practices_dir

BUNDLED = {
    "darwin@<13": "bundled old macOS",
    "darwin@>=13": "bundled new macOS",
    "win32": "bundled Windows",
    "linux": "bundled Linux",
    "debian": "bundled Debian",
    "ubuntu": "bundled Ubuntu",
}
DEBIAN = ("debian", "linux")
UBUNTU = ("ubuntu", "linux")
FEDORA = ("fedora", "linux")
MAC = ("darwin",)
WINDOWS = ("win32",)

# IT's directions, the device (platform keys, OS version) -> the key and text it gets
PRECEDENCE = [
    ({"linux": "IT Linux"}, DEBIAN, "12.7.0", ("linux", "IT Linux")),
    ({"linux": "IT Linux"}, UBUNTU, "24.4.0", ("linux", "IT Linux")),
    ({"linux": "IT Linux"}, MAC, "14.6.0", ("darwin@>=13", "bundled new macOS")),
    ({"linux": "IT Linux"}, WINDOWS, "10.0.22631", ("win32", "bundled Windows")),
    ({"debian": "IT Debian"}, DEBIAN, "12.7.0", ("debian", "IT Debian")),
    ({"debian": "IT Debian"}, UBUNTU, "24.4.0", ("ubuntu", "bundled Ubuntu")),
    ({"debian": "IT Debian"}, FEDORA, "40.0.0", ("linux", "bundled Linux")),
    ({"linux": "IT Linux", "debian": "IT Debian"}, DEBIAN, "12.7.0", ("debian", "IT Debian")),
    ({"linux": "IT Linux", "debian": "IT Debian"}, UBUNTU, "24.4.0", ("linux", "IT Linux")),
    ({"debian@>=13": "IT trixie", "linux": "IT Linux"}, DEBIAN, "12.7.0", ("linux", "IT Linux")),
    ({"debian@>=13": "IT trixie", "linux": "IT Linux"}, DEBIAN, "13.1.0", ("debian@>=13", "IT trixie")),
    ({"darwin": "IT macOS"}, MAC, "12.7.6", ("darwin", "IT macOS")),
    ({"darwin": "IT macOS"}, MAC, "14.6.0", ("darwin", "IT macOS")),
    ({"darwin": "IT macOS"}, DEBIAN, "12.7.0", ("debian", "bundled Debian")),
    ({"darwin@<10.14.0": "IT High Sierra", "darwin@>=10.14.0": "IT Mojave+"}, MAC, "12.7.6", ("darwin@>=10.14.0", "IT Mojave+")),
    ({"darwin@>=14": "IT Sonoma"}, MAC, "12.7.6", ("darwin@>=14", "IT Sonoma")),
    ({"win32": ""}, WINDOWS, "10.0.22631", ("win32", "bundled Windows")),
]  # fmt: skip


@pytest.mark.parametrize(("it", "keys", "version", "chosen"), PRECEDENCE)
def test_its_directions_win_for_every_platform_key_they_name(
    it: dict[str, str], keys: tuple[str, ...], version: str, chosen: tuple[str, str]
) -> None:
    layers = [
        InstructionsLayer("bundled", practices={"firewall": {"directions": BUNDLED}}),
        InstructionsLayer("it", practices={"firewall": {"directions": it}}),
    ]
    texts = merge_instructions(layers, "en").practice("firewall")
    assert texts.directions_for(keys, version) == chosen


def test_an_override_folder_names_the_directions_over_its() -> None:
    layers = [
        InstructionsLayer("bundled", practices={"firewall": {"directions": BUNDLED}}),
        InstructionsLayer("it", practices={"firewall": {"directions": {"linux": "IT Linux"}}}),
        InstructionsLayer("override", practices={"firewall": {"directions": {"ubuntu": "Mine"}}}),
    ]
    texts = merge_instructions(layers, "en").practice("firewall")
    assert texts.directions_for(UBUNTU, "24.4.0") == ("ubuntu", "Mine")
    assert texts.directions_for(DEBIAN, "12.7.0") == ("linux", "IT Linux")
    assert texts.directions_for(MAC, "14.6.0") == ("darwin@>=13", "bundled new macOS")


def test_a_layer_without_directions_leaves_the_directions_below_it() -> None:
    layers = [
        InstructionsLayer("bundled", practices={"firewall": {"directions": BUNDLED}}),
        InstructionsLayer("it", practices={"firewall": {"title_failing": "Turn it on"}}),
    ]
    texts = merge_instructions(layers, "en").practice("firewall")
    assert texts.title_failing == "Turn it on"
    assert texts.directions_for(DEBIAN, "12.7.0") == ("debian", "bundled Debian")


def test_its_linux_firewall_text_is_shown_on_debian_over_the_bundled_debian_one(
    tmp_path: Path,
) -> None:
    it = tmp_path / "it"
    it.mkdir()
    (it / "instructions.en.yaml").write_text(
        "practices:\n  firewall:\n    directions:\n      linux: Ask the helpdesk to run ufw.\n"
    )
    folders = [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", it)]
    practices = PracticesLoader(folders).load()
    firewall = practices.instructions.practice("firewall")
    assert firewall.directions_for(DEBIAN, "12.7.0") == ("linux", "Ask the helpdesk to run ufw.")
    chosen, text = firewall.directions_for(MAC, "14.6.0")
    assert chosen == "darwin@>=13" and "System Settings" in text


def test_its_english_texts_win_over_the_bundled_german_ones_for_a_german_user(
    tmp_path: Path,
) -> None:
    it = tmp_path / "it"
    it.mkdir()
    (it / "instructions.en.yaml").write_text(
        "practices:\n  firewall:\n    title:\n      failing: Turn on the firewall (IT)\n"
        "    directions:\n      linux: Ask the helpdesk to run ufw.\n"
    )
    folders = [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", it)]
    texts = PracticesLoader(folders, "de").load().instructions
    assert texts.language == "de"
    firewall = texts.practice("firewall")
    assert firewall.title_failing == "Turn on the firewall (IT)"
    assert firewall.directions_for(DEBIAN, "12.7.0") == ("linux", "Ask the helpdesk to run ufw.")
    # What IT did not write stays in the person's language.
    assert texts.practice("diskEncryption").title_failing.startswith("Schalten Sie")
