"""A policy's application rules are matched against the installed names cheaply and alike.

A page's policy (any local program can post one to the local API) may hold 500 rules and the
device thousands of installed names. Matching each rule against each name, twice, cost 1.5
million RE2 calls per 500 rules and 1,500 names: seconds of CPU while other clients waited. The
work is counted here, never timed: one RE2 Set call per installed name for all the pattern
rules, a dictionary look-up for exact names, and the same verdicts as `ApplicationRule.matches`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stethoscope_desktop.api.device_lists import installed_applications
from stethoscope_desktop.core import outside_patterns
from stethoscope_desktop.core import policy as policy_module
from stethoscope_desktop.core.evaluate import evaluate
from stethoscope_desktop.core.outside_patterns import OutsidePattern, PatternSet
from stethoscope_desktop.core.policy import ApplicationRule, Requirement, match_applications
from tests.core.test_evaluate_facts import DEBIAN, facts, found, policy
from tests.ui.reports import practices

TEXTS = practices("en").instructions

RULES = (
    ApplicationRule("^Adobe Flash"),
    ApplicationRule("Notepad\\+\\+", Requirement.NEVER),
    ApplicationRule("firefox"),
    ApplicationRule("(?i)ZOOM$"),
    ApplicationRule("[0-9]{3}"),
    ApplicationRule("straße"),
    ApplicationRule("K"),
    ApplicationRule("openssh-server", exact_match=True),
    ApplicationRule("OpenSSH-Server ", exact_match=True),
    ApplicationRule("(unclosed"),  # refused by validation: matches nothing
    ApplicationRule("(.+)+#"),
    ApplicationRule("firefox", Requirement.SUGGESTED),  # the same pattern twice
)
NAMES = (
    "Adobe Flash Player",
    "adobe flash player",
    "My Adobe Flash",
    "Notepad++",
    "Firefox ESR",
    "zoom",
    "Zoom Meetings",
    "app 123",
    "STRASSE",
    "Straße",
    "\u212a kelvin",  # KELVIN SIGN: RE2 folds it with k
    "openssh-server",
    "OpenSSH-Server",
    "bad \udcff byte",  # a name that was not UTF-8
    "x" * 2000 + "#",  # longer than MAX_SUBJECT_CHARS: searched in its start
    "y" * 1000 + "#",
    "",
)


@pytest.fixture(autouse=True)
def fresh_pattern_sets() -> Iterator[None]:
    """Each test builds its own sets (one kept from another test would hide a patched RE2)."""
    policy_module._application_patterns.cache_clear()
    policy_module._last_matched = None
    yield
    policy_module._application_patterns.cache_clear()
    policy_module._last_matched = None


def one_by_one(rules: tuple[ApplicationRule, ...], names: tuple[str, ...]) -> list[tuple[int, ...]]:
    return [tuple(i for i, name in enumerate(names) if rule.matches(name)) for rule in rules]


def test_all_rules_at_once_match_as_each_rule_alone() -> None:
    assert match_applications(RULES, NAMES) == one_by_one(RULES, NAMES)


def test_a_set_that_cannot_decide_falls_back_to_each_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class OutOfMemory:
        """RE2's Set out of memory: it answers that nothing matched."""

        def Match(self, text: str) -> None:
            return None

    monkeypatch.setattr(outside_patterns, "_compiled_set", lambda texts, ignore_case: OutOfMemory())
    assert match_applications(RULES, NAMES) == one_by_one(RULES, NAMES)
    patterns = [
        outside_patterns.compile_outside_pattern("a"),
        outside_patterns.compile_outside_pattern("b"),
    ]
    searched = PatternSet(patterns)
    assert searched.matching("cab") == (0, 1)
    assert searched.fallbacks == 1


def test_a_set_too_big_to_build_falls_back_to_each_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outside_patterns, "_compiled_set", lambda texts, ignore_case: None)
    assert match_applications(RULES, NAMES) == one_by_one(RULES, NAMES)


class Calls:
    """Counts calls into RE2 made one pattern and one name at a time, and Set calls."""

    def __init__(self) -> None:
        self.single = 0
        self.sets = 0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    counted = Calls()
    search, matching = OutsidePattern.search, PatternSet.matching

    def counted_search(self: OutsidePattern, subject: str) -> bool:
        counted.single += 1
        return search(self, subject)

    def counted_matching(self: PatternSet, subject: str) -> tuple[int, ...]:
        counted.sets += 1
        return matching(self, subject)

    monkeypatch.setattr(OutsidePattern, "search", counted_search)
    monkeypatch.setattr(PatternSet, "matching", counted_matching)
    yield counted


HOSTILE_RULES = 100
INSTALLED = 300


def hostile_policy() -> dict[str, object]:
    """The red team's page policy: many patterns, each different, none matching."""
    return {
        "applications": [
            {"name": f"(.+)+#|z{i}_{i}", "assertion": "NEVER"} for i in range(HOSTILE_RULES)
        ]
    }


def installed_rows() -> list[dict[str, str]]:
    return [
        {"name": f"org.example.Application{i:04d}.with.a.long.name", "version": "1.0"}
        for i in range(INSTALLED)
    ]


def test_evaluating_a_policy_searches_each_installed_name_once(calls: Calls) -> None:
    report = evaluate(
        policy(hostile_policy()),
        facts({"applications": found("applications", *installed_rows())}),
        TEXTS,
    )
    assert len([p for p in report.practices if p.key.startswith("applications/")]) == HOSTILE_RULES
    # Before: two searches per rule and name (60,000); now one Set call per name.
    assert calls.single == 0
    assert calls.sets == INSTALLED


def test_the_installed_list_searches_each_name_once(calls: Calls) -> None:
    rules = policy(hostile_policy()).applications
    listed = installed_applications(installed_rows(), rules, DEBIAN)
    assert len(listed) == INSTALLED
    assert calls.single == 0
    assert calls.sets == INSTALLED


def test_the_installed_list_names_the_first_rule_that_matches() -> None:
    rules = (
        ApplicationRule("fire", Requirement.NEVER, description="first"),
        ApplicationRule("firefox", description="second"),
        ApplicationRule("Firefox ESR", exact_match=True, description="exact"),
    )
    listed = installed_applications([{"name": "Firefox ESR"}, {"name": "zoom"}], rules, DEBIAN)
    assert [(app["name"], app["assertion"], app["description"]) for app in listed] == [
        ("Firefox ESR", "NEVER", "first"),
        ("zoom", None, None),
    ]


@pytest.fixture
def searched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names a PatternSet searched (rather than answered from memory), in order."""
    names: list[str] = []
    search = PatternSet._search

    def counted(self: PatternSet, subject: str) -> tuple[int, ...]:
        names.append(subject)
        return search(self, subject)

    monkeypatch.setattr(PatternSet, "_search", counted)
    return names


def test_a_later_scan_searches_only_names_it_has_not_seen(searched: list[str]) -> None:
    first = match_applications(RULES, NAMES)
    assert len(searched) == len(set(NAMES))
    searched.clear()
    assert match_applications(RULES, NAMES) == first  # the same machine: nothing searched
    assert searched == []
    assert match_applications(RULES, (*NAMES, "Firefox Nightly")) == [
        (*matched, len(NAMES)) if "firefox" in RULES[i].name else matched
        for i, matched in enumerate(first)
    ]
    assert searched == ["Firefox Nightly"]
    # Another policy's rules are another set, with its own answers.
    assert match_applications((ApplicationRule("fire"),), ("Firefox ESR",)) == [(0,)]
    assert searched == ["Firefox Nightly", "Firefox ESR"]


def test_a_set_remembers_a_bounded_number_of_answers(
    monkeypatch: pytest.MonkeyPatch, searched: list[str]
) -> None:
    monkeypatch.setattr(outside_patterns, "MAX_REMEMBERED_SUBJECTS", 10)
    patterns = PatternSet([outside_patterns.compile_outside_pattern("a")])
    names = [f"name {i} a" for i in range(25)]
    assert [patterns.matching(name) for name in names] == [(0,)] * 25
    assert [patterns.matching(name) for name in names[-5:]] == [(0,)] * 5
    assert len(searched) == 25  # the last ones are still remembered
    assert patterns.matching(names[0]) == (0,)
    assert len(searched) == 26  # the first was forgotten: at most 10 answers are kept
