"""Every key Stethoscope's config ever had: accepted, and what it means here.

The fixtures are our own files in the layouts of each release of Stethoscope's `config.yaml`
(2018's allowRegex, then hostLabels, testHosts, and 5.0's deprecationNotice) and of its
build-time `config.json` (the Help menu, rescanIntervalSeconds, autoLaunchPrompt, …), which an
IT team switching over pastes into `config.yaml` (YAML reads JSON). Each must load without a
problem, by the loader and by `check-policy` on a folder holding it, and set what the table says.
Then the problems the new keys can have, each named by line and key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from stethoscope_desktop.api.security import origin_allowed
from stethoscope_desktop.cli import main
from stethoscope_desktop.core.config import (
    CONFIG_FORMAT,
    NO_EFFECT_KEYS,
    AppConfig,
    HostLabel,
    merge_configs,
    parse_config,
)
from stethoscope_desktop.core.support import HelpLink, Notice
from stethoscope_desktop.core.yamlfile import parse_yaml
from stethoscope_desktop.resources import resources_dir

SCHEMA = Draft202012Validator(
    json.loads((resources_dir() / "schemas" / "config.schema.json").read_text("utf-8")),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)


@dataclass(frozen=True)
class Layout:
    """A config in one of Stethoscope's layouts, and the settings it makes here."""

    name: str
    text: str
    settings: dict[str, Any] = field(default_factory=dict)


LAYOUTS = [
    Layout(
        "config.yaml 1.0 (2018): allowRegex searched anywhere, empty policyServer",
        'allowHosts:\n  - "stethoscope://main"\n'
        'allowRegex:\n  - "(portal|gate)\\\\.([^.]+\\\\.)?example\\\\.(com|org)$"\n'
        "policyServer:\n",
        {
            "allow_hosts": ("stethoscope://main",),
            "host_labels": (HostLabel(r"(portal|gate)\.([^.]+\.)?example\.(com|org)$", ""),),
            "policy_server": "",
        },
    ),
    Layout(
        "config.yaml 1.0 (2018-04): allowRegex anchored",
        'allowHosts:\n  - "stethoscope://main"\n'
        'allowRegex:\n  - "^https://(portal|gate)\\\\.((dev|live)\\\\.)?example\\\\.(com|org)$"\n'
        "policyServer:\n",
        {
            "host_labels": (
                HostLabel(r"^https://(portal|gate)\.((dev|live)\.)?example\.(com|org)$", ""),
            )
        },
    ),
    Layout(
        "config.yaml 2.0 (2018-05): hostLabels",
        'allowHosts:\n  - "stethoscope://main"\n'
        "hostLabels:\n"
        '  - pattern: "^https://portal\\\\.((dev|live)\\\\.)?example\\\\.org$"\n'
        "    name: Portal\n"
        '  - pattern: "^http://localhost:8080"\n'
        "    name: Local Portal\n"
        "policyServer:\n",
        {
            "host_labels": (
                HostLabel(r"^https://portal\.((dev|live)\.)?example\.org$", "Portal"),
                HostLabel("^http://localhost:8080", "Local Portal"),
            )
        },
    ),
    Layout(
        "config.yaml 3.0 (2018-10): testHosts with its entries commented out",
        'allowHosts:\n  - "stethoscope://main"\n'
        "hostLabels:\n"
        '  - pattern: "^http://127.0.0.1:8080"\n'
        "    name: Local Portal\n"
        "policyServer:\n"
        "testHosts:\n"
        '  # - url: "http://portal.example.org"\n'
        "  #   label: Portal\n",
        {"host_labels": (HostLabel("^http://127.0.0.1:8080", "Local Portal"),)},
    ),
    Layout(
        "config.yaml 5.0 (2022): deprecationNotice, its other lines empty",
        'allowHosts:\n  - "stethoscope://main"\n'
        "hostLabels:\n"
        '  - pattern: "^http://127.0.0.1:8080"\n'
        "    name: Local Portal\n"
        "policyServer:\n"
        "testHosts:\n"
        "deprecationNotice:\n"
        "  heading: >\n"
        "    This checkup app is retired; please install its successor.\n"
        "  subHeading:\n"
        "  linkUrl:\n"
        "  linkText:\n",
        {"notice": Notice("This checkup app is retired; please install its successor.")},
    ),
    Layout(
        "config.yaml with every key set",
        "allowHosts:\n  - https://login.example.org\n"
        "allowRegex:\n  - 'https://[a-z]+\\.example\\.net'\n"
        "hostLabels:\n  - pattern: 'https://portal\\.example\\.org'\n    name: Portal\n"
        "policyServer: https://policy.example.org/policy.yaml\n"
        "testHosts:\n"
        "  - url: https://login.example.org\n    label: Login\n"
        "  - url: https://portal.example.org\n    label: Portal\n"
        "  - url: https://wiki.example.net\n"
        "deprecationNotice:\n"
        "  heading: Moving to a new checkup app\n"
        "  subHeading: It arrives on your computer in May.\n"
        "  linkUrl: https://intranet.example.org/new-checkup\n"
        "  linkText: Read more\n",
        {
            "allow_hosts": ("https://login.example.org",),
            "host_labels": (
                HostLabel(r"https://portal\.example\.org", "Portal"),
                HostLabel(r"https://[a-z]+\.example\.net", ""),
            ),
            "policy_server": "https://policy.example.org/policy.yaml",
            "notice": Notice(
                "Moving to a new checkup app",
                "It arrives on your computer in May.",
                "https://intranet.example.org/new-checkup",
                "Read more",
            ),
        },
    ),
    Layout(
        "config.json 1.0 (2018): help menu, scanIntervalSeconds and showStethoscopeLink",
        json.dumps(
            {
                "menu": {
                    "help": [
                        {"label": "Email Support", "link": "mailto:helpdesk@example.org"},
                        {"label": "Chat Support", "link": "slack://channel?id=C0&team=T0"},
                        {"label": "Feedback", "link": "https://forms.example.org/checkup"},
                    ]
                },
                "scanIntervalSeconds": 30,
                "showStethoscopeLink": True,
            },
            indent=2,
        ),
        {
            "help_links": (
                HelpLink("Email Support", "mailto:helpdesk@example.org"),
                HelpLink("Chat Support", "slack://channel?id=C0&team=T0"),
                HelpLink("Feedback", "https://forms.example.org/checkup"),
            ),
        },
    ),
    Layout(
        "config.json 2.0 (2018-05 to 2019): help, rescanIntervalSeconds, autoLaunchPrompt, "
        "allowPrerelease",
        json.dumps(
            {
                "menu": {
                    "help": [
                        {"label": "Email Support", "link": "mailto:support@example.org"},
                        {"label": "Chat Support", "link": "slack://channel?id=C1&team=T1"},
                    ]
                },
                "rescanIntervalSeconds": 604800,
                "autoLaunchPrompt": True,
                "allowPrerelease": False,
            },
            indent=2,
        ),
        {
            "help_links": (
                HelpLink("Email Support", "mailto:support@example.org"),
                HelpLink("Chat Support", "slack://channel?id=C1&team=T1"),
            ),
            "scan_interval_minutes": 7 * 24 * 60,
        },
    ),
    Layout(
        "config.json's stethoscopeWebURI (read by its window) and a bare e-mail address",
        "menu:\n  help:\n    - label: Write to IT\n      link: it@example.org\n"
        "stethoscopeWebURI: https://devices.example.org/mine\n",
        {
            "help_links": (HelpLink("Write to IT", "mailto:it@example.org"),),
            "devices_url": "https://devices.example.org/mine",
        },
    ),
    Layout(
        "rescanIntervalSeconds that is not whole minutes is rounded up",
        "rescanIntervalSeconds: 301\n",
        {"scan_interval_minutes": 6},
    ),
    Layout(
        "empty keys are none",
        "menu:\ntestHosts: []\ndeprecationNotice:\nstethoscopeWebURI: ''\n",
        {"help_links": (), "devices_url": "", "notice": None},
    ),
]


def settings_of(text: str) -> tuple[AppConfig, list[str]]:
    layer = parse_config(parse_yaml(text, "config.yaml"))
    config, problems = merge_configs([layer])
    return config, [str(p) for p in (*layer.problems, *problems)]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_each_layout_loads_without_a_problem_and_sets_what_it_means(layout: Layout) -> None:
    config, problems = settings_of(layout.text)
    assert problems == []
    for name, value in layout.settings.items():
        assert getattr(config, name) == value, name


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_editors_accept_each_layout(layout: Layout) -> None:
    data = parse_yaml(layout.text, "config.yaml").data
    assert [error.message for error in SCHEMA.iter_errors(data)] == []


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_check_policy_accepts_a_folder_holding_each_layout(
    layout: Layout, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.yaml").write_text(layout.text, encoding="utf-8")
    assert main(["check-policy", str(tmp_path)]) == 0, capsys.readouterr()
    assert capsys.readouterr().out.strip() == "1 file valid."


def test_the_layouts_use_every_key_the_format_declares() -> None:
    used: set[str] = set()
    for layout in LAYOUTS:
        data = parse_yaml(layout.text, "config.yaml").data
        used |= set(data)
    stethoscope_keys = {
        "allowHosts", "allowRegex", "hostLabels", "policyServer", "testHosts",
        "deprecationNotice", "menu", "stethoscopeWebURI", "rescanIntervalSeconds",
        *NO_EFFECT_KEYS,
    }  # fmt: skip
    assert stethoscope_keys <= used
    schema = CONFIG_FORMAT.json_schema()["properties"]
    assert stethoscope_keys <= set(schema)


def test_keys_without_effect_say_why_in_their_description() -> None:
    properties = CONFIG_FORMAT.json_schema()["properties"]
    for key in NO_EFFECT_KEYS:
        assert "No effect" in properties[key]["description"], key


@dataclass(frozen=True)
class Bad:
    """A config with one problem: the key and line it names, and part of the message."""

    name: str
    text: str
    key: str
    line: int
    message: str
    # Whether the schema says so too (it can't where the problem spans keys).
    in_schema: bool = True


BAD = [
    Bad(
        "a test host the API would refuse",
        "allowHosts: [https://login.example.org]\n"
        "testHosts:\n  - url: https://login.example.org\n  - url: https://other.example.org\n",
        "testHosts[1].url",
        4,
        "https://other.example.org would be refused by the local API",
        in_schema=False,
    ),
    Bad(
        "a test host only a search (not a whole match) would allow",
        "allowRegex: ['example\\.org$']\ntestHosts:\n  - url: https://portal.example.org\n",
        "testHosts[0].url",
        3,
        "patterns match the whole origin",
        in_schema=False,
    ),
    Bad(
        "a test host with a path",
        "testHosts:\n  - url: https://login.example.org/sso\n",
        "testHosts[0].url",
        2,
        "must be an origin as a browser sends it",
    ),
    Bad("a test host without url", "testHosts:\n  - label: X\n", "testHosts[0].url", 2, "missing"),
    Bad("testHosts a text", "testHosts: https://x.example\n", "testHosts", 1, "must be a list"),
    Bad(
        "a help entry without link",
        "menu:\n  help:\n    - label: Email Support\n",
        "menu.help[0].link",
        3,
        "missing; what the entry opens",
    ),
    Bad(
        "a help link that is no link",
        "menu:\n  help:\n    - label: Chat\n      link: the chat channel\n",
        "menu.help[0].link",
        4,
        "must be a link such as",
    ),
    Bad(
        "a help entry without label",
        "menu:\n  help:\n    - link: mailto:it@example.org\n",
        "menu.help[0].label",
        3,
        "missing; the entry's text",
    ),
    Bad("menu a list", "menu: [help]\n", "menu", 1, "must be a mapping with help"),
    Bad("a misspelt menu key", "menu:\n  halp: []\n", "menu.halp", 2, 'did you mean "help"?'),
    Bad(
        "deprecationNotice a text",
        "deprecationNotice: Retired\n",
        "deprecationNotice",
        1,
        "must be a mapping with heading, subHeading, linkUrl and linkText",
    ),
    Bad(
        "a notice's link text without a link",
        "deprecationNotice:\n  heading: Retired\n  linkText: Read more\n",
        "deprecationNotice.linkText",
        3,
        "has no linkUrl to open",
        in_schema=False,
    ),
    Bad(
        "a notice's misspelt key",
        "deprecationNotice:\n  subheading: x\n",
        "deprecationNotice.subheading",
        2,
        'did you mean "subHeading"?',
    ),
    Bad(
        "stethoscopeWebURI that is no link",
        "stethoscopeWebURI: devices page\n",
        "stethoscopeWebURI",
        1,
        "must be a link",
    ),
    Bad(
        "rescanIntervalSeconds under five minutes",
        "rescanIntervalSeconds: 60\n",
        "rescanIntervalSeconds",
        1,
        "must be at least 300 seconds (5 minutes)",
    ),
    Bad(
        "both intervals",
        "scanIntervalMinutes: 30\nrescanIntervalSeconds: 604800\n",
        "rescanIntervalSeconds",
        2,
        "ignored: scanIntervalMinutes sets the interval",
        in_schema=False,
    ),
    Bad(
        "autoLaunchPrompt not a flag",
        "autoLaunchPrompt: 'yes'\n",
        "autoLaunchPrompt",
        1,
        "must be true or false",
    ),
    Bad(
        "allowPrerelease not a flag",
        "allowPrerelease: 1\n",
        "allowPrerelease",
        1,
        "must be true or false",
    ),
    Bad(
        "scanIntervalSeconds not a number",
        "scanIntervalSeconds: often\n",
        "scanIntervalSeconds",
        1,
        "must be a whole number of seconds",
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=lambda bad: bad.name)
def test_each_problem_names_its_line_and_key(bad: Bad) -> None:
    layer = parse_config(parse_yaml(bad.text, "config.yaml"))
    assert [(p.key, p.line) for p in layer.problems] == [(bad.key, bad.line)], layer.problems
    assert bad.message in layer.problems[0].message
    schema_errors = list(SCHEMA.iter_errors(parse_yaml(bad.text, "config.yaml").data))
    assert bool(schema_errors) is bad.in_schema, schema_errors


def test_both_intervals_keep_the_minutes() -> None:
    config, _ = settings_of("scanIntervalMinutes: 30\nrescanIntervalSeconds: 604800\n")
    assert config.scan_interval_minutes == 30


def test_a_broken_help_entry_leaves_the_others_in_force() -> None:
    config, problems = settings_of(
        "menu:\n  help:\n    - label: Broken\n    - label: Web\n      link: https://it.example\n"
    )
    assert config.help_links == (HelpLink("Web", "https://it.example"),)
    assert len(problems) == 1


def test_its_help_links_and_notice_cannot_be_changed_by_a_later_layer() -> None:
    it = parse_config(
        parse_yaml(
            "menu:\n  help:\n    - {label: IT, link: 'mailto:it@example.org'}\n"
            "deprecationNotice: {heading: Retired}\n",
            "/etc/xdg/stethoscope/config.yaml",
        )
    )
    user = parse_config(parse_yaml("menu:\ndeprecationNotice:\n", "/home/me/practices/config.yaml"))
    config, problems = merge_configs([it, user], locked_from=0)
    assert config.help_links == (HelpLink("IT", "mailto:it@example.org"),)
    assert config.notice == Notice("Retired")
    assert [(p.key, p.message) for p in problems] == [
        ("menu", "ignored: IT's configuration sets this"),
        ("deprecationNotice", "ignored: IT's configuration sets this"),
    ]


def test_a_broken_notice_keeps_its_last_good_version() -> None:
    good = parse_config(parse_yaml("deprecationNotice: {heading: Retired}\n", "config.yaml"))
    broken = parse_config(parse_yaml("deprecationNotice: Retired\n", "config.yaml"))
    assert broken.keep_last_good(good) == ["deprecationNotice"]
    assert merge_configs([broken])[0].notice == Notice("Retired")


ORIGINS = [
    "https://login.example.org",
    "https://LOGIN.example.org",
    "https://login.example.org/",
    "http://login.example.org",
    "https://portal.example.org",
    "https://portal.example.org.evil.test",
    "https://wiki.example.net",
    "https://a.b.example.net",
    "stethoscope://main",
    "null",
]


@pytest.mark.parametrize("origin", ORIGINS)
def test_lists_origin_decides_as_the_local_api_does(origin: str) -> None:
    config = AppConfig(
        allow_hosts=("https://login.example.org", "stethoscope://main"),
        host_labels=(
            HostLabel(r"https://portal\.example\.org", "Portal"),
            HostLabel(r"https://[a-z]+\.example\.net", ""),
        ),
    )
    allowed = origin_allowed(origin, config) is not None
    assert config.lists_origin(origin) is allowed
