"""The words the person reads, as the report carries them for every front end, in en and de.

One vocabulary for the state (`status_text`: needs attention, suggestion, couldn't check, all
good), the rating only where it adds something (`rating_text`), a plain one-line `summary` per
practice and the technical lines apart (`details`), application outcomes that say what is true,
directions with the package filled in, and summaries whose counts agree with their numbers.
Reports are made by `evaluate` from hand-made facts (see test_evaluate_facts.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from stethoscope_desktop.core.custom_checks import CustomCheck
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.facts import PRACTICE_CHECKS, Fact, Facts
from stethoscope_desktop.core.instructions import Instructions
from stethoscope_desktop.core.protocol import (
    Event,
    ScanReported,
    ScanResult,
    TraySettings,
    decode,
    encode,
)
from stethoscope_desktop.core.report import Evidence, Report
from stethoscope_desktop.core.status import FeatureState, Rating, Status
from stethoscope_desktop.core.strings import ENGLISH
from tests.core.test_custom_checks import loader_for
from tests.core.test_custom_checks import scan as scan_practices
from tests.core.test_evaluate_facts import facts, failed, found, policy, result
from tests.ui.reports import practices

TEXTS = {language: practices(language).instructions for language in ("en", "de")}
ON, OFF = FeatureState.ON, FeatureState.OFF
# What no plain sentence for the person may hold: check data, tables, variables, file lines.
TECHNICAL = re.compile(r" = |stethoscope_|\b[A-Z]{2,}_[A-Z_]+\b|\.ya?ml:\d+|\bSELECT\b")


def gathered(
    checks: Mapping[str, Fact] | None = None, *, custom: Mapping[str, Fact] | None = None
) -> Facts:
    """The facts of a scan, each given by the practice it measures."""
    by_check = {PRACTICE_CHECKS[practice]: fact for practice, fact in (checks or {}).items()}
    return facts(by_check, custom=custom)


def texts(language: str) -> Instructions:
    return TEXTS[language]


# -- 1. one vocabulary: the state in words, the rating only where it adds something -------------


STATE_WORDS = {
    "en": {
        Status.FAIL: "Needs attention",
        Status.NUDGE: "Suggestion",
        Status.UNKNOWN: "Couldn't check",
        Status.PASS: "All good",
    },
    "de": {
        Status.FAIL: "Handlungsbedarf",
        Status.NUDGE: "Empfehlung",
        Status.UNKNOWN: "Nicht prüfbar",
        Status.PASS: "Alles in Ordnung",
    },
}


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_practice_carries_its_state_in_the_one_vocabulary(language: str) -> None:
    report = evaluate(
        policy(
            {
                "osVersion": {"linux": {"ok": ">=13.0.0", "nudge": ">=12.0.0"}},
                "firewall": "ALWAYS",
                "screenLock": "ALWAYS",
                "diskEncryption": "ALWAYS",
            }
        ),
        gathered(
            {
                "osVersion": found("os_version", {"value": "12.7.0"}, value="12.7.0"),
                "firewall": found("firewall", state=OFF),
                "screenLock": failed("screen_lock", "no desktop session"),
                "diskEncryption": found("disk_encryption", state=ON),
            }
        ),
        texts(language),
    )
    words = STATE_WORDS[language]
    shown = {p.key: (p.status, p.status_text, p.rating_text) for p in report.practices}
    high = "High importance" if language == "en" else "Wichtigkeit: hoch"
    assert shown == {
        "firewall": (Status.FAIL, words[Status.FAIL], high),
        # osVersion is rated critical, but a suggestion is not: no "Suggestion · Critical".
        "osVersion": (Status.NUDGE, words[Status.NUDGE], ""),
        "screenLock": (Status.UNKNOWN, words[Status.UNKNOWN], ""),
        "diskEncryption": (Status.PASS, words[Status.PASS], ""),
    }
    # Front ends that build their own line say the same.
    for practice in report.practices:
        assert texts(language).status_name(practice.status) == practice.status_text
        assert texts(language).rating_text(practice.status, practice.rating) == practice.rating_text


def test_the_tray_speaks_the_same_words_before_the_worker_answers() -> None:
    assert ENGLISH.status_name(Status.FAIL) == "Needs attention"
    assert ENGLISH.rating_text(Status.NUDGE, Rating.CRITICAL) == ""
    assert ENGLISH.rating_text(Status.FAIL, Rating.LOW) == "Low importance"
    assert ENGLISH.count_phrases({Status.FAIL: 2}) == ["2 need attention"]


# -- 2. application outcomes say what is true ----------------------------------------------------

SSHD_9 = {"name": "openssh-server", "version": "1:9.2p1-2+deb12u6", "source": "deb"}
SSHD_8 = {"name": "openssh-server", "version": "1:8.4p1-5", "source": "deb"}
FIREFOX_115 = {"name": "firefox-esr", "version": "115.12.0esr-1~deb12u1", "source": "deb"}
FIREFOX_128 = {"name": "firefox-esr", "version": "128.5.0esr-1~deb12u1", "source": "deb"}
BAN_OLD_SSHD = {"name": "openssh-server", "assertion": "NEVER", "version": "<9.0.0"}
BAN_TORRENT = {"name": "^qbittorrent$", "assertion": "NEVER"}
REQUIRE_FIREFOX = {"name": "firefox", "assertion": "ALWAYS", "version": ">=128"}
SUGGEST_FIREFOX = {"name": "firefox", "assertion": "SUGGESTED", "version": ">=128"}
WHERE_INSTALLED = {"name": "zoom", "assertion": "IF_SUPPORTED", "version": ">=6"}
TORRENT = {"name": "qbittorrent", "version": "4.5.2-3", "source": "deb"}


@pytest.mark.parametrize(
    ("language", "rule", "apps", "status", "title", "summary"),
    [
        ("en", BAN_OLD_SSHD, [SSHD_9], Status.PASS, "openssh-server 9.2p1 is an allowed version",
         "openssh-server 9.2p1 is installed: an allowed version (only versions below 9.0.0 are "
         "not allowed)."),
        ("de", BAN_OLD_SSHD, [SSHD_9], Status.PASS, "openssh-server 9.2p1 ist eine erlaubte Version",
         "openssh-server 9.2p1 ist installiert: eine erlaubte Version (nicht erlaubt sind nur "
         "Versionen unter 9.0.0)."),
        ("en", BAN_OLD_SSHD, [SSHD_8], Status.FAIL, "Remove openssh-server",
         "openssh-server 8.4p1 is installed, but versions below 9.0.0 are not allowed."),
        ("de", BAN_OLD_SSHD, [SSHD_8], Status.FAIL, "Entfernen Sie openssh-server",
         "openssh-server 8.4p1 ist installiert, aber Versionen unter 9.0.0 sind nicht erlaubt."),
        ("en", BAN_OLD_SSHD, [], Status.PASS, "openssh-server is not installed",
         "openssh-server is not installed."),
        ("en", BAN_TORRENT, [TORRENT], Status.FAIL, "Remove ^qbittorrent$",
         "qbittorrent 4.5.2 is installed, but it is not allowed."),
        ("de", BAN_TORRENT, [TORRENT], Status.FAIL, "Entfernen Sie ^qbittorrent$",
         "qbittorrent 4.5.2 ist installiert, ist aber nicht erlaubt."),
        ("en", REQUIRE_FIREFOX, [FIREFOX_115], Status.FAIL, "Install firefox",
         "firefox-esr 115.12.0esr is installed; 128 or later is required."),
        ("de", REQUIRE_FIREFOX, [FIREFOX_115], Status.FAIL, "Installieren Sie firefox",
         "firefox-esr 115.12.0esr ist installiert; verlangt ist 128 oder neuer."),
        ("en", REQUIRE_FIREFOX, [FIREFOX_128], Status.PASS, "firefox is installed",
         "firefox-esr 128.5.0esr meets the requirement (128 or later)."),
        ("en", REQUIRE_FIREFOX, [], Status.FAIL, "Install firefox",
         "firefox is not installed, but it is required."),
        ("en", SUGGEST_FIREFOX, [FIREFOX_115], Status.NUDGE, "Consider installing firefox",
         "firefox-esr 115.12.0esr is installed; 128 or later is recommended."),
        ("de", SUGGEST_FIREFOX, [], Status.NUDGE, "Wir empfehlen, firefox zu installieren",
         "firefox ist nicht installiert; die App wird empfohlen."),
        ("en", WHERE_INSTALLED, [], Status.PASS, "zoom is not installed (it need not be)",
         "zoom is not installed, which is allowed."),
        ("de", WHERE_INSTALLED, [], Status.PASS, "zoom ist nicht installiert (das muss es nicht)",
         "zoom ist nicht installiert; das ist erlaubt."),
    ],
)  # fmt: skip
def test_an_application_outcome_says_what_is_true(
    language: str,
    rule: dict[str, str],
    apps: list[dict[str, str]],
    status: Status,
    title: str,
    summary: str,
) -> None:
    report = evaluate(
        policy({"applications": [rule]}),
        gathered({"applications": found("applications", *apps)}),
        texts(language),
    )
    outcome = result(report, f"applications/{rule['name']}")
    assert (outcome.status, outcome.title, outcome.summary) == (status, title, summary)


# -- 3. IT's checks: the status follows IT's stated criticality ----------------------------------


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_failing_critical_check_of_its_needs_attention_and_another_is_a_suggestion(
    language: str,
) -> None:
    critical = CustomCheck("Disk encrypted", "SELECT 1 FROM x", critical=True)
    optional = CustomCheck("Login banner", "SELECT 1 FROM y")
    report = evaluate(
        policy({}, critical, optional),
        gathered(
            custom={
                critical.key: found("custom", value=0),
                optional.key: found("custom", value=0),
            }
        ),
        texts(language),
    )
    words = STATE_WORDS[language]
    must = result(report, critical.key)
    assert (must.status, must.status_text, must.rating) == (
        Status.FAIL,
        words[Status.FAIL],
        Rating.CRITICAL,
    )
    nice = result(report, optional.key)
    assert (nice.status, nice.status_text, nice.rating_text) == (
        Status.NUDGE,
        words[Status.NUDGE],
        "",
    )
    expected = {
        "en": "This computer doesn't pass this check from IT.",
        "de": "Dieser Computer erfüllt diese Prüfung der IT nicht.",
    }[language]
    assert must.summary == nice.summary == expected
    assert texts(language).string("detailSeen", observed="the query returned no rows") in (
        must.details
    )


# -- 4. a plain summary for the person, the technical lines in details --------------------------


def test_a_feature_summary_is_plain_and_its_check_data_is_in_details() -> None:
    fact = found(
        "firewall",
        {"enabled": 0, "source": "none", "detail": "no firewall"},
        state=OFF,
        detail="no firewall",
    )
    report = evaluate(policy({"firewall": "ALWAYS"}), gathered({"firewall": fact}), texts("en"))
    firewall = result(report, "firewall")
    assert firewall.summary == "Firewall: off, but it must be on."
    assert firewall.details == (
        "What the check saw: OFF (no firewall)",
        "What the policy says: ALWAYS",
        "Check: firewall (tables: firewall)",
        "enabled = 0, source = none, detail = no firewall",
    )


@pytest.mark.parametrize(
    ("requirement", "state", "en", "de"),
    [
        ("ALWAYS", ON, "Firewall: on, as required.", "Firewall: eingeschaltet, wie verlangt."),
        ("SUGGESTED", OFF, "Firewall: off; turning it on is recommended.",
         "Firewall: ausgeschaltet; Einschalten wird empfohlen."),
        ("SUGGESTED", ON, "Firewall: on, as recommended.", "Firewall: eingeschaltet, wie empfohlen."),
        ("NEVER", ON, "Firewall: on, but it must be off.",
         "Firewall: eingeschaltet, muss aber ausgeschaltet sein."),
        ("NEVER", OFF, "Firewall: off, as required.", "Firewall: ausgeschaltet, wie verlangt."),
        ("IF_SUPPORTED", OFF, "Firewall: off, but it must be on.",
         "Firewall: ausgeschaltet, muss aber eingeschaltet sein."),
    ],
)  # fmt: skip
def test_a_feature_summary_says_its_state_against_the_requirement(
    requirement: str, state: FeatureState, en: str, de: str
) -> None:
    for language, expected in (("en", en), ("de", de)):
        report = evaluate(
            policy({"firewall": requirement}),
            gathered({"firewall": found("firewall", state=state)}),
            texts(language),
        )
        assert result(report, "firewall").summary == expected


SCREEN_LOCK_REASON = (
    "no desktop session: no DISPLAY, WAYLAND_DISPLAY or XDG_CURRENT_DESKTOP, so no screen lock"
)


@pytest.mark.parametrize(
    ("reason", "mistake", "key"),
    [
        (SCREEN_LOCK_REASON, False, "unknownNoDesktop"),
        ("needs osquery: table sudoers is not built into Stethoscope on this platform", False,
         "unknownNeedsOsquery"),
        ("only root can read /etc/shadow; this app runs as you", False, "unknownNeedsAdmin"),
        ("not run: the scan had already taken its 60 s and was stopped", False, "unknownStopped"),
        ("the query ran longer than 5 s and was stopped", False, "unknownStopped"),
        ("NetworkManager's nmcli is not installed, so saved Wi-Fi networks cannot be read", False,
         "unknownNoTool"),
        ("cannot read /sys/firmware/efi/efivars/SecureBoot-8be4df61: I/O error", False,
         "unknownOther"),
        ("`systemd_units` has no column `name`; osquery's is `id`", True, "queryMistake"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("language", ["en", "de"])
def test_why_a_practice_could_not_be_checked_is_plain_and_the_reason_is_in_details(
    language: str, reason: str, mistake: bool, key: str
) -> None:
    evidence = Evidence("screen_lock", "SELECT 1", error=reason, query_mistake=mistake)
    fact = Fact(evidence, reason=reason)
    report = evaluate(
        policy({"screenLock": "ALWAYS"}), gathered({"screenLock": fact}), TEXTS[language]
    )
    lock = result(report, "screenLock")
    assert lock.status is Status.UNKNOWN
    assert lock.summary == texts(language).string(key)
    assert not TECHNICAL.search(lock.summary), lock.summary
    assert lock.reason == reason  # kept whole, for IT and old readers
    said = "queryMistakeForIt" if mistake else "detailReason"
    assert texts(language).string(said, reason=reason) in lock.details


@pytest.mark.parametrize("language", ["en", "de"])
def test_no_summary_of_a_whole_report_holds_technical_words(language: str) -> None:
    sshd = {"name": "openssh-server", "assertion": "NEVER", "version": "<9.0.0"}
    report = evaluate(
        policy(
            {
                "osVersion": {"linux": {"ok": ">=13.0.0"}},
                "firewall": "ALWAYS",
                "remoteLogin": "NEVER",
                "openWifiConnections": "ALWAYS",
                "screenIdle": "<=600",
                "applications": [sshd],
            },
            CustomCheck("Root only", "SELECT 1 FROM users", critical=True),
        ),
        gathered(
            {
                "osVersion": found("os_version", value="12.7.0"),
                "firewall": found(
                    "firewall", {"enabled": 0, "source": "none"}, state=OFF, detail="source none"
                ),
                "remoteLogin": found("remote_login", state=ON, detail="SSH port 22 listening"),
                "openWifiConnections": found("open_wifi", state=OFF, detail="Cafe saved"),
                "screenIdle": found("screen_idle", {"enabled": 1, "value": 900}, value=900),
                "applications": found("applications", SSHD_9),
            },
            custom={"custom/root-only": failed("custom", "no such table: users (XDG_X)")},
        ),
        texts(language),
        policy_problems=("/etc/xdg/stethoscope/policy.yaml:3: firewall: not an option",),
    )
    assert report.policy_problems_summary == texts(language).string("policyErrors")
    for practice in report.practices:
        assert practice.summary, practice.key
        assert not TECHNICAL.search(practice.summary), practice.summary
    idle = result(report, "screenIdle")
    assert (
        idle.summary
        == {
            "en": "Your screen locks after 900 seconds without use (allowed: at most 600 seconds).",
            "de": "Ihr Bildschirm sperrt sich nach 900 Sekunden ohne Nutzung (erlaubt: höchstens 600 "
            "Sekunden).",
        }[language]
    )
    wifi = result(report, "openWifiConnections")
    assert wifi.summary == texts(language).string("summaryOpenWifiSaved")


def test_the_new_fields_travel_in_json_and_to_the_tray_and_old_reports_still_load() -> None:
    report = evaluate(
        policy({"firewall": "ALWAYS"}),
        gathered({"firewall": found("firewall", {"enabled": 0}, state=OFF)}),
        texts("de"),
        policy_problems=("policy.yaml:3: firewall: not an option",),
    )
    data = json.loads(report.to_json())
    firewall = data["practices"][0]
    assert firewall["status_text"] == "Handlungsbedarf"
    assert firewall["rating_text"] == "Wichtigkeit: hoch"
    assert firewall["summary"] == "Firewall: ausgeschaltet, muss aber eingeschaltet sein."
    assert firewall["details"][-1] == "enabled = 0"
    assert data["policy_problems_summary"]
    assert Report.from_dict(data) == report
    line = encode(ScanReported(1, ScanResult(report, texts("de").ui, TraySettings())))
    event = decode(line, Event)
    assert isinstance(event, ScanReported) and event.result.report == report
    # A report written before these fields existed loads, with them empty.
    for key in ("status_text", "rating_text", "summary", "details"):
        del firewall[key]
    del data["policy_problems_summary"]
    old = Report.from_dict(data).practices[0]
    assert (old.status_text, old.summary, old.details) == ("", "", ())


# -- 5. directions name the package that is installed --------------------------------------------


@pytest.mark.parametrize(
    ("apps", "command"),
    [
        ([TORRENT], "`sudo apt remove qbittorrent`"),
        ([{**TORRENT, "source": "rpm"}], "`sudo dnf remove qbittorrent`"),
        ([{"name": "qBittorrent", "version": "4.6", "source": "flatpak",
           "path": "/var/lib/flatpak/app/org.qbittorrent.qBittorrent"}],
         "`flatpak uninstall org.qbittorrent.qBittorrent`"),
        ([{"name": "qbittorrent", "version": "4.6", "source": "snap", "path": "/snap/x/1"}],
         "`sudo snap remove qbittorrent`"),
        ([{**TORRENT, "source": "pacman"}], "`sudo pacman -R qbittorrent`"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("language", ["en", "de"])
def test_the_removal_directions_name_the_installed_package(
    language: str, apps: list[dict[str, str]], command: str
) -> None:
    rule = {"name": "qbittorrent", "assertion": "NEVER"}
    report = evaluate(
        policy({"applications": [rule]}),
        gathered({"applications": found("applications", *apps)}),
        texts(language),
    )
    torrent = result(report, "applications/qbittorrent")
    assert torrent.status is Status.FAIL
    assert command in torrent.directions
    assert not re.search(r"PACKAGE|PAKET|\bAPP\b|\{\{", torrent.directions)


@pytest.mark.parametrize("language", ["en", "de"])
def test_without_a_known_package_the_directions_say_how_to_find_its_name(language: str) -> None:
    rule = {"name": "qbittorrent", "assertion": "NEVER"}
    odd = {"name": "q`rm -rf`", "version": "1", "source": "deb"}  # never put in a command
    for fact in (failed("applications", "dpkg: cannot read"), found("applications", odd)):
        report = evaluate(policy({"applications": [rule]}), gathered({"applications": fact}),
                          texts(language))  # fmt: skip
        torrent = result(report, "applications/qbittorrent")
        assert texts(language).string("removeCommandUnknown") in torrent.directions
        assert not re.search(r"PACKAGE|PAKET|rm -rf", torrent.directions)


# -- 6. summaries: number agreement and wording ----------------------------------------------------


@pytest.mark.parametrize(
    ("states", "en", "de"),
    [
        ({"firewall": OFF}, "This device doesn't meet every requirement yet (1 needs attention).",
         "Dieses Gerät erfüllt noch nicht alle Anforderungen (1 mit Handlungsbedarf)."),
        ({"firewall": OFF, "diskEncryption": OFF, "automaticUpdates": OFF},
         "This device doesn't meet every requirement yet (2 need attention, 1 suggestion).",
         "Dieses Gerät erfüllt noch nicht alle Anforderungen (2 mit Handlungsbedarf, "
         "1 Empfehlung)."),
        ({"automaticUpdates": OFF},
         "This device meets every requirement, and could be safer (1 suggestion).",
         "Dieses Gerät erfüllt alle Anforderungen und ließe sich noch sicherer machen "
         "(1 Empfehlung)."),
        ({"firewall": ON, "diskEncryption": None},
         "Everything that could be checked is all good (1 couldn't be checked).",
         "Alles, was sich prüfen ließ, ist in Ordnung (1 nicht prüfbar)."),
        ({"firewall": None, "diskEncryption": None},
         "Nothing could be checked on this device (2 couldn't be checked).",
         "Auf diesem Gerät ließ sich nichts prüfen (2 nicht prüfbar)."),
        ({"firewall": ON}, "This device meets every requirement.",
         "Dieses Gerät erfüllt alle Anforderungen."),
    ],
)  # fmt: skip
def test_the_report_summary_agrees_with_its_counts(
    states: dict[str, FeatureState | None], en: str, de: str
) -> None:
    rules = {"firewall": "ALWAYS", "diskEncryption": "ALWAYS", "automaticUpdates": "SUGGESTED"}
    scanned = gathered(
        {
            key: found(key, state=state) if state else failed(key, "cannot read")
            for key, state in states.items()
        }
    )
    chosen = policy({key: rules[key] for key in states})
    for language, expected in (("en", en), ("de", de)):
        assert evaluate(chosen, scanned, texts(language)).summary == expected


FLEET_EXPORT = """\
apiVersion: v1
kind: policy
spec:
  name: Disk encrypted (Fleet)
  platform: linux
  critical: true
  query: SELECT 1 FROM os_version WHERE major > 1000;
---
apiVersion: v1
kind: policy
spec:
  name: Login banner (Fleet)
  platform: linux
  critical: false
  query: SELECT 1 FROM os_version WHERE major > 1000;
"""
GITOPS = """\
policies:
  - name: Firewall (GitOps)
    platform: linux
    critical: true
    query: SELECT 1 FROM os_version WHERE major > 1000;
  - name: Screen saver (GitOps)
    platform: linux
    query: SELECT 1 FROM os_version WHERE major > 1000;
"""


def test_fleet_files_criticality_decides_the_state_of_a_failing_check(tmp_path: Path) -> None:
    loader = loader_for(
        tmp_path, {"checks.d/export.yml": FLEET_EXPORT, "checks.d/gitops.yml": GITOPS}
    )
    report = scan_practices(loader.load())
    shown = {
        p.name: (p.status, p.status_text)
        for p in report.practices
        if p.name.endswith(("(Fleet)", "(GitOps)"))
    }
    attention, suggestion = ("Needs attention", "Suggestion")
    assert shown == {
        "Disk encrypted (Fleet)": (Status.FAIL, attention),
        "Login banner (Fleet)": (Status.NUDGE, suggestion),
        "Firewall (GitOps)": (Status.FAIL, attention),
        "Screen saver (GitOps)": (Status.NUDGE, suggestion),
    }
