"""Plural forms, for counted strings in every language.

CLDR's rules per language (`core.plurals`), the counted strings of the instruction files
(`{one: …, other: …}`), and `UiStrings.plural`, which picks the form.
"""

from __future__ import annotations

import pytest

from stethoscope_desktop.core.instructions import (
    InstructionsLayer,
    merge_instructions,
    parse_instructions,
)
from stethoscope_desktop.core.plurals import CATEGORIES, categories, plural_category
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.strings import ENGLISH, UNNAMED_ORGANIZATION, UiStrings
from stethoscope_desktop.core.yamlfile import load_yaml, parse_yaml
from stethoscope_desktop.resources import practices_dir


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", {0: "other", 1: "one", 2: "other", 21: "other"}),
        ("de", {0: "other", 1: "one", 2: "other", 101: "other"}),
        ("fr", {0: "one", 1: "one", 2: "other", 1_000_000: "many"}),
        ("pt", {0: "one", 1: "one", 2: "other"}),
        ("pt-PT", {0: "other", 1: "one", 2: "other"}),
        ("pl", {1: "one", 2: "few", 4: "few", 5: "many", 12: "many", 22: "few", 21: "many"}),
        ("ru", {1: "one", 2: "few", 5: "many", 11: "many", 21: "one", 22: "few", 111: "many"}),
        ("uk_UA", {21: "one", 24: "few", 25: "many"}),
        ("cs", {1: "one", 3: "few", 5: "other"}),
        ("ar", {0: "zero", 1: "one", 2: "two", 3: "few", 11: "many", 100: "other"}),
        ("ja", {0: "other", 1: "other", 2: "other"}),
        ("xx", {1: "one", 2: "other"}),  # unknown: English's rule
    ],
)
def test_each_language_counts_by_its_cldr_rule(language: str, expected: dict[int, str]) -> None:
    assert {n: plural_category(language, n) for n in expected} == expected


def test_the_categories_a_language_uses() -> None:
    assert categories("en") == categories("de") == ("one", "other")
    assert categories("pl") == ("one", "few", "many")
    assert categories("ar") == CATEGORIES
    assert categories("zh") == ("other",)


def table(language: str, **forms: str) -> UiStrings:
    return UiStrings(language, {f"thing.{category}": text for category, text in forms.items()})


def test_plural_picks_the_form_and_fills_the_count() -> None:
    polish = table("pl", one="{{count}} plik", few="{{count}} pliki", many="{{count}} plików")
    assert [polish.plural("thing", n) for n in (1, 3, 5, 22)] == [
        "1 plik",
        "3 pliki",
        "5 plików",
        "22 pliki",
    ]


def test_a_form_the_text_lacks_falls_back_to_other_and_no_forms_to_the_key() -> None:
    strings = table("pl", one="{{count}} plik", other="{{count}} pliku")
    assert strings.plural("thing", 3) == "3 pliku"
    assert strings.plural("missing", 3) == "missing"


def test_the_bundled_notification_strings_are_counted_in_english() -> None:
    assert ENGLISH.plural("notifyNewCritical", 1) == "1 new problem needs attention"
    assert ENGLISH.plural("notifyNewCritical", 2) == "2 new problems need attention"
    assert ENGLISH.plural("pageFailedFound", 1).startswith("It checked this device and found 1 ")
    assert "found 1 problem that needs attention." in ENGLISH.plural("pageFailedFound", 1)
    assert "found 3 problems that need attention." in ENGLISH.plural("pageFailedFound", 3)


def layer(text: str, file: str = "instructions.pl.yaml") -> InstructionsLayer:
    return parse_instructions(parse_yaml(text, file))


def test_a_file_gives_a_counted_string_as_its_forms() -> None:
    read = layer(
        "strings:\n"
        "  notifyNewCritical:\n"
        "    one: '{{count}} nowy problem'\n"
        "    few: '{{count}} nowe problemy'\n"
        "    many: '{{count}} nowych problemów'\n"
        "    other: '{{count}} nowego problemu'\n"
    )
    assert read.problems == []
    merged = merge_instructions([read], "pl")
    assert [merged.plural("notifyNewCritical", n) for n in (1, 2, 5)] == [
        "1 nowy problem",
        "2 nowe problemy",
        "5 nowych problemów",
    ]


def test_a_form_the_language_uses_but_the_file_lacks_is_a_problem_naming_it() -> None:
    read = layer("strings:\n  notifyNewCritical:\n    one: 'a'\n    other: 'b'\n")
    assert [str(p) for p in read.problems] == [
        "instructions.pl.yaml:2: strings.notifyNewCritical: the language pl uses the forms one, "
        "few, many: few, many missing (other is shown for those counts)"
    ]
    assert read.strings == {"notifyNewCritical.one": "a", "notifyNewCritical.other": "b"}


def test_forms_without_other_or_with_a_wrong_category_are_refused_whole() -> None:
    no_other = layer("strings:\n  notifyNewCritical:\n    one: 'a'\n", "instructions.en.yaml")
    assert any("needs other" in p.message for p in no_other.problems)
    assert no_other.strings == {}
    wrong = layer(
        "strings:\n  notifyNewCritical:\n    one: 'a'\n    several: 'b'\n    other: 'c'\n",
        "instructions.en.yaml",
    )
    assert any(p.key == "strings.notifyNewCritical.several" for p in wrong.problems)
    assert wrong.strings == {}


def test_a_plain_text_where_forms_are_needed_is_a_problem() -> None:
    read = layer("strings:\n  notifyNewCritical: '{{count}} new'\n", "instructions.en.yaml")
    assert [p.key for p in read.problems] == ["strings.notifyNewCritical"]
    assert "plural forms" in read.problems[0].message


def test_retired_keys_are_accepted_and_left_unused() -> None:
    read = layer(
        "strings:\n  notifyTitleOther: '{{count}} new'\n  pageFailedBody: 'x'\n",
        "instructions.en.yaml",
    )
    assert read.problems == []
    assert read.strings == {}


def test_the_counts_names_before_plural_forms_still_load_and_are_left_unused() -> None:
    # IT's translated files of earlier versions name the counts' One/Other strings.
    old = "".join(
        f"  {name}{number}: '{{{{count}}}} x'\n"
        for name in ("countCritical", "countSuggestion", "countUnknown", "countPass",
                     "manualCount", "manualLeftOut", "bannerTitle")
        for number in ("One", "Other")
    )  # fmt: skip
    read = layer(f"strings:\n{old}", "instructions.de.yaml")
    assert read.problems == []
    assert read.strings == {}


def test_the_counts_are_counted_strings_in_english_and_german() -> None:
    german = merge_instructions(
        [
            parse_instructions(load_yaml(practices_dir() / f"instructions.{language}.yaml"))
            for language in ("en", "de")
        ],
        "de",
    )
    counts = {Status.FAIL: 1, Status.NUDGE: 2, Status.UNKNOWN: 1, Status.PASS: 5}
    assert ENGLISH.count_phrases(counts) == [
        "1 needs attention", "2 suggestions", "1 couldn't be checked"
    ]  # fmt: skip
    assert ENGLISH.count_phrase(Status.PASS, 1) == "1 passing"
    assert german.count_phrases(counts, (Status.FAIL, Status.NUDGE, Status.UNKNOWN, Status.PASS)) == [
        "1 mit Handlungsbedarf", "2 Empfehlungen", "1 nicht prüfbar", "5 erfüllt"
    ]  # fmt: skip
    assert german.plural("manualLeftOut", 1).startswith("1 Prüfung von Hand")
    assert german.plural("manualCount", 3).startswith("3 Prüfungen von Hand")
    # The summary's head speaks of the organisation in the language's words where IT names none.
    it_sentence = UiStrings("de", {**german.strings, "summaryPass": "Erfüllt: {{organization}}."})
    assert it_sentence.summary_head(Status.PASS, {}, UNNAMED_ORGANIZATION) == (
        "Erfüllt: Ihre Organisation."
    )
    assert it_sentence.summary_head(Status.PASS, {}, "Example AG") == "Erfüllt: Example AG."


def test_a_later_layer_replaces_a_counted_string_whole() -> None:
    english = layer(
        "strings:\n  notifyNewCritical:\n    one: '{{count}} new problem'\n"
        "    other: '{{count}} new problems'\n",
        "instructions.en.yaml",
    )
    japanese = layer(
        "strings:\n  notifyNewCritical:\n    other: '新しい問題 {{count}} 件'\n",
        "instructions.ja.yaml",
    )
    assert japanese.problems == []
    merged = merge_instructions([english, japanese], "ja")
    assert merged.strings == {"notifyNewCritical.other": "新しい問題 {{count}} 件"}
    # English's `one` is gone, so a language whose rule says `one` gets its own `other`.
    german_other_only = layer(
        "strings:\n  notifyNewCritical:\n    other: '{{count}} neue Probleme'\n",
        "instructions.xx.yaml",
    )
    merged = merge_instructions([english, german_other_only], "xx")
    assert merged.plural("notifyNewCritical", 1) == "1 neue Probleme"


def test_keeping_the_last_good_version_keeps_a_counted_string_whole() -> None:
    good = layer(
        "strings:\n  notifyNewCritical:\n    one: 'a {{count}}'\n    other: 'b {{count}}'\n",
        "instructions.en.yaml",
    )
    broken = layer("strings:\n  notifyNewCritical:\n    one: 'c'\n", "instructions.en.yaml")
    assert broken.strings == {}
    broken.keep_last_good(good)
    assert broken.strings == good.strings
    changed = layer(
        "strings:\n  notifyNewCritical:\n    other: 'd {{count}}'\n", "instructions.xx.yaml"
    )
    changed.keep_last_good(good)
    assert changed.strings == {"notifyNewCritical.other": "d {{count}}"}
