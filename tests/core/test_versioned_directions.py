"""Version-specific directions: `darwin@<13` keys validated at load, chosen by the OS version.

The instructions format stays Stethoscope-compatible (plain platform keys keep working); a key
may add `@` and a node-semver range. The scanner picks the text by the device's OS version and
the report names the key it chose (PracticeResult.directions_platform).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stethoscope_desktop.core.instructions import (
    InstructionsLayer,
    PracticeText,
    merge_instructions,
    parse_instructions,
)
from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.yamlfile import load_yaml
from stethoscope_desktop.resources import practices_dir

MAC = PracticeText(
    directions={
        "darwin@<13": "1. Open System Preferences.",
        "darwin@>=13": "1. Open System Settings.",
        "linux": "1. Open Settings.",
    }
)
WINDOWS = PracticeText(
    directions={
        "win32@<10.0.22000": "1. Windows 10.",
        "win32@>=10.0.22000": "1. Windows 11.",
    }
)


@pytest.mark.parametrize(
    ("keys", "version", "chosen"),
    [
        (("darwin",), "12.7.6", "darwin@<13"),
        (("darwin",), "13.0", "darwin@>=13"),
        (("darwin",), "15.7.1", "darwin@>=13"),
        (("darwin",), "26.0", "darwin@>=13"),
        # The version is unknown: the last (newest) versioned text.
        (("darwin",), "", "darwin@>=13"),
        (("darwin",), "not a version", "darwin@>=13"),
        (("ubuntu", "linux"), "24.04", "linux"),
        (("fedora",), "41", ""),
    ],
)
def test_the_os_version_picks_the_text(keys: tuple[str, ...], version: str, chosen: str) -> None:
    key, text = MAC.directions_for(keys, version)
    assert key == chosen
    assert text == (MAC.directions[chosen] if chosen else "")


@pytest.mark.parametrize(
    ("version", "chosen"),
    [("10.0.19045", "win32@<10.0.22000"), ("10.0.22631", "win32@>=10.0.22000")],
)
def test_windows_10_and_11(version: str, chosen: str) -> None:
    assert WINDOWS.directions_for(("win32",), version)[0] == chosen


def test_a_plain_key_is_the_text_for_versions_no_range_names() -> None:
    texts = PracticeText(directions={"darwin@<13": "old", "darwin": "current"})
    assert texts.directions_for(("darwin",), "12.1") == ("darwin@<13", "old")
    assert texts.directions_for(("darwin",), "14.6") == ("darwin", "current")
    assert texts.directions_for(("darwin",), "") == ("darwin", "current")


def test_a_more_specific_platform_wins_before_versions_of_a_general_one() -> None:
    texts = PracticeText(directions={"ubuntu@>=24.04": "noble", "linux": "any"})
    assert texts.directions_for(("ubuntu", "linux"), "24.4.0") == ("ubuntu@>=24.04", "noble")
    assert texts.directions_for(("ubuntu", "linux"), "22.4.0") == ("linux", "any")


def parse(text: str, tmp_path: Path) -> InstructionsLayer:
    path = tmp_path / "instructions.en.yaml"
    path.write_text(text, encoding="utf-8")
    return parse_instructions(load_yaml(path))


@pytest.mark.parametrize(
    ("key", "line", "fragment"),
    [
        ("macos@<13", 4, 'unknown key (did you mean "darwin"?)'),
        ("darwin@", 4, "needs an OS version range after the @"),
        ("darwin@<thirteen", 4, "the part after the @ is not a version range"),
        ("darwin@>=13 ||", 4, "the part after the @ is not a version range"),
    ],
)
def test_a_bad_key_is_reported_with_file_line_and_key(
    key: str, line: int, fragment: str, tmp_path: Path
) -> None:
    layer = parse(
        "practices:\n  firewall:\n    directions:\n"
        f"      '{key}': Open the settings\n"
        "      darwin@>=13: Open System Settings\n",
        tmp_path,
    )
    [problem] = layer.problems
    assert (problem.file, problem.line, problem.key) == (
        str(tmp_path / "instructions.en.yaml"),
        line,
        f"practices.firewall.directions.{key}",
    )
    assert fragment in problem.message
    # The good key next to it still loads.
    assert layer.practices["firewall"]["directions"] == {"darwin@>=13": "Open System Settings"}


def test_versioned_keys_need_no_quotes(tmp_path: Path) -> None:
    layer = parse(
        "practices:\n  firewall:\n    directions:\n"
        "      darwin@<13: Old\n      win32@>=10.0.22000: New\n      ubuntu@>=24.04 <26: Noble\n",
        tmp_path,
    )
    assert layer.problems == []
    assert set(layer.practices["firewall"]["directions"]) == {
        "darwin@<13",
        "win32@>=10.0.22000",
        "ubuntu@>=24.04 <26",
    }


def test_a_later_layer_replaces_all_of_a_platforms_texts() -> None:
    bundled = InstructionsLayer(
        "bundled",
        practices={
            "firewall": {"directions": {"darwin@<13": "old", "darwin@>=13": "new", "linux": "l"}}
        },
    )
    it = InstructionsLayer("it", practices={"firewall": {"directions": {"darwin": "IT's text"}}})
    merged = merge_instructions([bundled, it], "en").practice("firewall")
    assert merged.directions_for(("darwin",), "12.0") == ("darwin", "IT's text")
    assert merged.directions_for(("darwin",), "14.0") == ("darwin", "IT's text")
    assert merged.directions_for(("debian", "linux"), "12.0") == ("linux", "l")


def test_the_shipped_texts_cover_every_macos_and_windows_version() -> None:
    for language in ("en", "de"):
        texts = PracticesLoader([PracticesFolder("bundled", practices_dir())], language).load()
        for key, practice in texts.instructions.practices.items():
            for version in ("11.7", "12.7.6", "13.6", "14.6.1", "15.7.1", "26.0"):
                chosen, text = practice.directions_for(("darwin",), version)
                assert chosen and "1. " in text, (language, key, version)
            for version in ("10.0.19045", "10.0.22631", "10.0.26100"):
                chosen, text = practice.directions_for(("win32",), version)
                assert chosen and "1. " in text, (language, key, version)


@pytest.mark.parametrize(
    ("practice", "version", "chosen", "pane"),
    [
        ("firewall", "12.7.6", "darwin@<13", "System Preferences"),
        ("firewall", "14.6.1", "darwin@>=13", "System Settings"),
        ("remoteLogin", "12.7.6", "darwin@<13", "System Preferences"),
        ("screenLock", "13.0", "darwin@>=13", "Lock Screen"),
    ],
)
def test_the_shipped_macos_texts_name_the_right_app(
    practice: str, version: str, chosen: str, pane: str
) -> None:
    texts = PracticesLoader([PracticesFolder("bundled", practices_dir())]).load()
    key, text = texts.instructions.practice(practice).directions_for(("darwin",), version)
    assert key == chosen
    assert pane in text
