"""Plural categories: which form of a counted phrase a language uses for a whole number.

The categories are CLDR's (`zero`, `one`, `two`, `few`, `many`, `other`), and so are the rules,
for the counts the app shows (whole numbers, written without decimals). English and German use
`one` (1) and `other`; French counts 0 and 1 as `one`; Polish and Russian add `few` and `many`;
Arabic uses all six; Japanese and Chinese only `other`. A language missing from the table gets
English's rule, which is right for most languages of Europe.

An instruction file gives a counted string as its forms (`{one: …, other: …}`: `other` always,
the rest as its language needs); `UiStrings.plural` picks the form with `plural_category`.
"""

from __future__ import annotations

from collections.abc import Callable

CATEGORIES = ("zero", "one", "two", "few", "many", "other")
"""Every plural category, in CLDR's order."""

_Rule = Callable[[int], str]


def _one_other(n: int) -> str:
    return "one" if n == 1 else "other"


def _other(n: int) -> str:
    return "other"


def _romance(zero_is_one: bool) -> _Rule:
    """French, Spanish, Italian, Portuguese, Catalan: `many` for whole millions."""

    def rule(n: int) -> str:
        if n == 1 or (zero_is_one and n == 0):
            return "one"
        if n != 0 and n % 1_000_000 == 0:
            return "many"
        return "other"

    return rule


def _slavic(rest: str) -> _Rule:
    """Russian, Ukrainian, Belarusian (`rest` is `many`); Croatian, Serbian, Bosnian (`other`)."""

    def rule(n: int) -> str:
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return "few"
        return rest

    return rule


def _polish(n: int) -> str:
    if n == 1:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def _czech(n: int) -> str:
    """Czech and Slovak (`many` is for fractions only)."""
    if n == 1:
        return "one"
    return "few" if 2 <= n <= 4 else "other"


def _slovenian(n: int) -> str:
    if n % 100 == 1:
        return "one"
    if n % 100 == 2:
        return "two"
    return "few" if 3 <= n % 100 <= 4 else "other"


def _lithuanian(n: int) -> str:
    if n % 10 == 1 and not 11 <= n % 100 <= 19:
        return "one"
    if 2 <= n % 10 <= 9 and not 11 <= n % 100 <= 19:
        return "few"
    return "other"


def _latvian(n: int) -> str:
    if n % 10 == 0 or 11 <= n % 100 <= 19:
        return "zero"
    return "one" if n % 10 == 1 and n % 100 != 11 else "other"


def _romanian(n: int) -> str:
    if n == 1:
        return "one"
    return "few" if n == 0 or 1 <= n % 100 <= 19 else "other"


def _irish(n: int) -> str:
    if n == 1:
        return "one"
    if n == 2:
        return "two"
    if 3 <= n <= 6:
        return "few"
    return "many" if 7 <= n <= 10 else "other"


def _hebrew(n: int) -> str:
    if n == 1:
        return "one"
    return "two" if n == 2 else "other"


def _arabic(n: int) -> str:
    if n == 0:
        return "zero"
    if n == 1:
        return "one"
    if n == 2:
        return "two"
    if 3 <= n % 100 <= 10:
        return "few"
    return "many" if 11 <= n % 100 <= 99 else "other"


def _zero_one(n: int) -> str:
    """Hindi, Bengali, Persian, Amharic, Zulu: 0 and 1 take `one`."""
    return "one" if n in (0, 1) else "other"


_RULES: dict[str, _Rule] = {
    **dict.fromkeys(
        (
            "en", "de", "nl", "sv", "da", "nb", "nn", "no", "fi", "et", "el", "hu", "tr", "bg",
            "eu", "gl", "af", "sq", "az", "ka", "kk", "mn", "ur", "sw", "ta", "te", "ml", "uz",
            "is", "lb", "fy",
        ),
        _one_other,
    ),
    **dict.fromkeys(
        ("ja", "zh", "ko", "th", "vi", "id", "ms", "lo", "my", "km", "yue"), _other
    ),
    "fr": _romance(zero_is_one=True),
    "pt": _romance(zero_is_one=True),  # Brazilian Portuguese; Portugal's is `pt-PT`
    "pt-pt": _romance(zero_is_one=False),
    "es": _romance(zero_is_one=False),
    "it": _romance(zero_is_one=False),
    "ca": _romance(zero_is_one=False),
    **dict.fromkeys(("ru", "uk", "be"), _slavic("many")),
    "pl": _polish,
    **dict.fromkeys(("cs", "sk"), _czech),
    **dict.fromkeys(("hr", "sr", "bs"), _slavic("other")),
    "sl": _slovenian,
    "lt": _lithuanian,
    "lv": _latvian,
    "ro": _romanian,
    "ga": _irish,
    "he": _hebrew,
    "ar": _arabic,
    **dict.fromkeys(("hi", "bn", "fa", "am", "zu", "gu", "kn", "mr"), _zero_one),
}  # fmt: skip
# Enough counts to meet every category a rule above gives for whole numbers.
_SAMPLE_COUNTS = (*range(0, 200), 1_000_000)


def _rule(language: str) -> _Rule:
    code = language.strip().lower().replace("_", "-")
    return _RULES.get(code) or _RULES.get(code.split("-")[0]) or _one_other


def plural_category(language: str, count: int) -> str:
    """Return the CLDR plural category `language` uses for the whole number `count`.

    `language` is a code such as `en`, `de`, `pt-PT` or `pl`; an unknown one gets English's rule.
    A negative count is categorised by its size.
    """
    return _rule(language)(abs(count))


def categories(language: str) -> tuple[str, ...]:
    """Return the categories `language` uses for whole numbers, in CLDR's order."""
    rule = _rule(language)
    used = {rule(n) for n in _SAMPLE_COUNTS}
    return tuple(category for category in CATEGORIES if category in used)
