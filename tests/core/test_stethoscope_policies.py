"""Policies written for Netflix's Stethoscope, in every layout it had, load and judge as there.

The fixtures are ours, written in the shapes of Stethoscope's policy files over its releases: the
2018 files (keys in words, one version range per platform, values in any case), the 2019-2021
files (`{ok, nudge}` brackets with `ubuntu`, `linux` and `awsWorkspace` keys) and the last ones
(with `screenIdle` and `openWifiConnections`). The verdicts asserted are the ones Stethoscope's
own code gives for the same policy and device, where they agree with ours by design.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stethoscope_desktop import STETHOSCOPE_RELEASE, __version__
from stethoscope_desktop.cli import main
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.policy import policy_from_mapping
from stethoscope_desktop.core.practices import Practices, PracticesLoader, practices_folders
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.yamlfile import parse_yaml
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from tests.canned import canned_linux

PASS, NUDGE, FAIL = Status.PASS, Status.NUDGE, Status.FAIL

# Stethoscope's first policies (2018): keys in words, one range per platform.
POLICY_2018 = textwrap.dedent(
    """\
    # our default policy
    os version:
      darwin: ">=10.13.3"
      win32: ">=10.0.16299"
      linux: ">=4.3.3"
    firewall: ALWAYS
    disk encryption: ALWAYS
    automatic updates: Suggested
    screen lock: IF_SUPPORTED
    remote login: never
    """
)
# 2019 to 2021: brackets, a Linux key beside a distribution key, Amazon WorkSpaces.
POLICY_2020 = textwrap.dedent(
    """\
    osVersion:
      darwin:
        ok: ">=10.15.4"
        nudge: ">=10.14.6"
      win32:
        ok: ">=10.0.18363"
        nudge: ">=10.0.17763"
      awsWorkspace:
        ok: ">=10.0.14393"
      ubuntu:
        ok: ">=18.04.4"
        nudge: ">=16.04.6"
      linux:
        ok: ">=18.04.4"
        nudge: ">=16.04.6"
    firewall: ALWAYS
    diskEncryption: ALWAYS
    automaticUpdates: SUGGESTED
    screenLock: IF_SUPPORTED
    remoteLogin: NEVER
    """
)
# The last layout: idle time and open Wi-Fi networks too.
POLICY_2022 = POLICY_2020 + 'screenIdle: "<=120"\nopenWifiConnections: SUGGESTED\n'
LAYOUTS = {"2018": POLICY_2018, "2020": POLICY_2020, "2022": POLICY_2022}
# Each key of a layout and the practice it is judged as.
KEYS = {
    "os version": "osVersion",
    "disk encryption": "diskEncryption",
    "automatic updates": "automaticUpdates",
    "screen lock": "screenLock",
    "remote login": "remoteLogin",
}


def _folder(root: Path, name: str, policy: str) -> Path:
    folder = root / name
    folder.mkdir(exist_ok=True)
    (folder / "policy.yaml").write_text(policy, encoding="utf-8")
    return folder


def _load(root: Path, it: Path | None, override: Path | None = None) -> Practices:
    folders = practices_folders(practices_dir(), override, machine=it or root / "none", env={})
    return PracticesLoader(folders, "en").load()


def _scan(practices: Practices) -> Report:
    engine = EmbeddedEngine(canned_linux())  # a Debian 12.7 laptop
    try:
        return Scanner(engine, load_checks(checks_dir()), platform="linux").scan(practices)
    finally:
        engine.close()


def _verdicts(report: Report) -> dict[str, Status]:
    return {practice.key: practice.status for practice in report.practices}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_passes_check_policy(
    layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path, "it", LAYOUTS[layout])
    assert main(["check-policy", str(folder)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_key_of_each_layout_is_judged(layout: str, tmp_path: Path) -> None:
    text = LAYOUTS[layout]
    report = _scan(_load(tmp_path, _folder(tmp_path, "it", text)))
    data = parse_yaml(text, "policy.yaml").data
    assert {KEYS.get(key, key) for key in data} == set(_verdicts(report))


def test_the_2018_layout_judges_as_stethoscope_did(tmp_path: Path) -> None:
    # One range per platform: inside passes, outside fails (Debian 12 is inside ">=4.3.3").
    verdicts = _verdicts(_scan(_load(tmp_path, _folder(tmp_path, "it", POLICY_2018))))
    assert verdicts == {
        "osVersion": PASS,
        "firewall": PASS,
        "diskEncryption": PASS,
        "automaticUpdates": PASS,
        "screenLock": PASS,
        "remoteLogin": PASS,
    }
    strict = POLICY_2018.replace('linux: ">=4.3.3"', 'linux: ">=13"')
    verdicts = _verdicts(_scan(_load(tmp_path, _folder(tmp_path, "it", strict))))
    assert verdicts["osVersion"] == FAIL  # no nudge in a one-range bracket


def test_its_policy_is_the_whole_policy(tmp_path: Path) -> None:
    # The bundled policy's clamav and firefox suggestions, its bans and its own version key are
    # not judged beside IT's file; its debian bracket does not replace IT's linux one.
    report = _scan(_load(tmp_path, _folder(tmp_path, "it", POLICY_2022)))
    verdicts = _verdicts(report)
    assert set(verdicts) == {
        "osVersion",
        "firewall",
        "diskEncryption",
        "automaticUpdates",
        "screenLock",
        "screenIdle",
        "remoteLogin",
        "openWifiConnections",
    }
    # Debian 12.7 against linux {ok: ">=18.04.4", nudge: ">=16.04.6"}: FAIL, as in Stethoscope.
    assert verdicts["osVersion"] == FAIL
    assert report.practice("osVersion").requirement == ">=18.04.4"  # type: ignore[union-attr]


def test_the_window_and_the_api_agree_on_the_same_file(tmp_path: Path) -> None:
    practices = _load(tmp_path, _folder(tmp_path, "it", POLICY_2022))
    window = _scan(practices)
    data = parse_yaml(POLICY_2022, "policy.yaml").data
    page_policy, problems = policy_from_mapping(data)
    assert problems == []
    engine = EmbeddedEngine(canned_linux())
    try:
        scanner = Scanner(engine, load_checks(checks_dir()), platform="linux")
        facts = scanner.gather(page_policy)
    finally:
        engine.close()
    page = evaluate(page_policy, facts, practices.instructions)
    assert _verdicts(page) == _verdicts(window)
    assert page.status is window.status is FAIL


def test_an_empty_applications_list_leaves_no_application_rules(tmp_path: Path) -> None:
    practices = _load(tmp_path, _folder(tmp_path, "it", "firewall: ALWAYS\napplications: []\n"))
    assert practices.policy.applications == ()
    assert set(_verdicts(_scan(practices))) == {"firewall"}


def test_the_bundled_policy_applies_where_it_ships_none(tmp_path: Path) -> None:
    it = tmp_path / "it"
    it.mkdir()
    (it / "config.yaml").write_text("organization: Example\n", encoding="utf-8")
    practices = _load(tmp_path, it)
    assert practices.policy.sources["firewall"] == str(practices_dir() / "policy.yaml")
    assert any(rule.name == "clamav" for rule in practices.policy.applications)


def test_the_override_cannot_put_a_distribution_key_under_its_linux_key(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", POLICY_2022)
    override = _folder(tmp_path, "override", "osVersion:\n  debian:\n    ok: '>=12'\n")
    practices = _load(tmp_path, it, override)
    assert "debian" not in practices.policy.os_version
    (problem,) = [p for p in practices.problems if p.file == str(override / "policy.yaml")]
    assert (problem.key, problem.line) == ("osVersion.debian", 2)
    assert problem.message.startswith("ignored: IT's policy sets this")


def test_a_key_it_got_wrong_keeps_the_bundled_value_until_fixed(tmp_path: Path) -> None:
    practices = _load(
        tmp_path, _folder(tmp_path, "it", "firewall: SOMETIMES\nremoteLogin: NEVER\n")
    )
    assert {key: str(value) for key, value in practices.policy.features.items()} == {
        "firewall": "ALWAYS",  # the bundled requirement stands in
        "remoteLogin": "NEVER",
    }
    assert practices.policy.sources["firewall"] == str(practices_dir() / "policy.yaml")


@pytest.mark.parametrize(
    ("requirement", "verdict"),
    [
        (">=1.0.0", PASS),  # Stethoscope's documented example
        (">=1.1.0", PASS),
        (">=2.3.0", PASS),
        (">=5.0.6", PASS),
        ("^5.0.0", PASS),
        (">=6.0.0", FAIL),  # no Stethoscope release this app answers as
        ("<3.0.0", FAIL),
    ],
)
def test_stethoscope_version_is_judged_against_the_release_this_app_answers_as(
    requirement: str, verdict: Status, tmp_path: Path
) -> None:
    practices = _load(tmp_path, _folder(tmp_path, "it", f'stethoscopeVersion: "{requirement}"\n'))
    practice = _scan(practices).practice("stethoscopeVersion")
    assert practice is not None and practice.status is verdict
    assert practice.observed == STETHOSCOPE_RELEASE
    if verdict is FAIL:
        assert f"answers as Stethoscope {STETHOSCOPE_RELEASE}" in practice.directions
        assert "stethoscopeDesktopVersion" in practice.directions


@pytest.mark.parametrize(
    ("requirement", "verdict"),
    [(f">={__version__}", PASS), (">=0.0.1", PASS), (">=99.0.0", FAIL)],
)
def test_this_apps_own_version_has_its_own_key(
    requirement: str, verdict: Status, tmp_path: Path
) -> None:
    policy = f'stethoscopeDesktopVersion: "{requirement}"\n'
    practice = _scan(_load(tmp_path, _folder(tmp_path, "it", policy))).practice(
        "stethoscopeDesktopVersion"
    )
    assert practice is not None and practice.status is verdict
    assert practice.observed == __version__


@pytest.mark.parametrize(
    "os_version",
    [
        "{linux: {ok: banana}}",
        "{linux: {ok: banana, nudge: '>=11'}}",
        "{linux: {okay: '>=13'}}",
        "{debain: {ok: '>=12'}}",
        "'>=13'",
    ],
)
def test_an_os_version_it_got_wrong_never_passes_the_device_by_it(
    os_version: str, tmp_path: Path
) -> None:
    # The bundled brackets stand in (Debian 12.7 against debian >=13: NUDGE); never the bundled
    # catch-all for distributions it does not track, and never no practice at all.
    policy = f"firewall: ALWAYS\nosVersion: {os_version}\n"
    practices = _load(tmp_path, _folder(tmp_path, "it", policy))
    assert any(p.key.startswith("osVersion") for p in practices.problems)
    assert _verdicts(_scan(practices))["osVersion"] == NUDGE


def test_a_broken_entry_beside_its_linux_bracket_keeps_its_linux_bracket(tmp_path: Path) -> None:
    policy = "osVersion:\n  linux: {ok: '>=24.04'}\n  debain: {ok: '>=12'}\n"
    practices = _load(tmp_path, _folder(tmp_path, "it", policy))
    assert "debian" not in practices.policy.os_version  # IT's linux covers Debian
    assert _verdicts(_scan(practices))["osVersion"] == FAIL


def test_the_bundled_policy_is_not_listed_among_the_files_in_force_when_its_replaces_it(
    tmp_path: Path,
) -> None:
    practices = _load(tmp_path, _folder(tmp_path, "it", POLICY_2022))
    assert str(practices_dir() / "policy.yaml") not in practices.files
    broken = _load(tmp_path, _folder(tmp_path, "it2", "firewall: SOMETIMES\n"))
    assert str(practices_dir() / "policy.yaml") in broken.files  # it stands in for firewall
