"""The UI's phrases in one language.

A string table with `{{placeholder}}`s, and the few phrases built from it (a status or rating in
words, "2 need attention, 1 suggestion", the summary's head), and the organisation's name where
config.yaml names none (`UNNAMED_ORGANIZATION`, which the tray reads from here without loading
any config code).

A counted string has a form per plural category of its language (`core.plurals`): the table
holds them as `<key>.<category>` (`notifyNewCritical.one`, `notifyNewCritical.other`), as the
instruction files' `{one: …, other: …}` are read, so the table stays texts by names wherever it
goes (the scan worker hands it to the tray as it is). `UiStrings.plural(key, count)` picks the
form: the one the language's rule names for `count`, else `other`.

Kept apart from `core.instructions` (which parses and merges the instruction files) so that the
tray process, which receives the table ready-made from the scan worker, needs no YAML or policy
code to speak the user's language. Until that table arrives the tray speaks `ENGLISH`, the
bundled English table generated into `core.strings_en`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from stethoscope_desktop.core.plurals import plural_category
from stethoscope_desktop.core.status import Rating, Status
from stethoscope_desktop.core.strings_en import STRINGS as ENGLISH_STRINGS

# Between a counted string's name and its plural category in the table: `notifyNewCritical.one`.
PLURAL_SEPARATOR = "."
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_STATUS_STRINGS = {
    Status.FAIL: "statusFail",
    Status.NUDGE: "statusNudge",
    Status.UNKNOWN: "statusUnknown",
    Status.PASS: "statusPass",
}
_RATING_STRINGS = {
    Rating.CRITICAL: "ratingCritical",
    Rating.HIGH: "ratingHigh",
    Rating.MEDIUM: "ratingMedium",
    Rating.LOW: "ratingLow",
}
# The statuses beside which the rating is said in words (`UiStrings.rating_text`).
RATED_STATUSES = frozenset({Status.FAIL})
# The counted string of each state's count ("2 need attention", "1 suggestion", "7 all good").
COUNT_STRINGS: Mapping[Status, str] = {
    Status.FAIL: "countAttention",
    Status.NUDGE: "countSuggestion",
    Status.UNKNOWN: "countUnknown",
    Status.PASS: "countPass",
}
# The states a summary counts in its parentheses (what is all good goes without saying there).
SUMMARY_COUNTED = (Status.FAIL, Status.NUDGE, Status.UNKNOWN)
# The head of the report's summary by its overall state; PASS has two, by whether some
# practices could not be checked (`UiStrings.summary_head`).
_SUMMARY_HEADS = {
    Status.FAIL: "summaryFail",
    Status.NUDGE: "summaryNudge",
    Status.UNKNOWN: "summaryNotChecked",
}
UNNAMED_ORGANIZATION = "Your organization"
"""config.yaml's `organization` when IT names none (core.config's default): not a name to show,
nor to fill into a text (`UiStrings.organization_words` says it in the language's own words)."""


def render(text: str, values: Mapping[str, object]) -> str:
    """Fill `{{placeholder}}`s from `values`; unknown or missing ones become empty."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), text).strip()


# What makes structure in Markdown: links, images, emphasis, code, raw HTML, entities, headings,
# tables (`\` first, so escapes are not doubled).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>!#|~&])")
# What GitHub's dialect turns into a link without brackets: `scheme://`, `www.`, `a@b.c`.
_AUTOLINK = re.compile(r"(?<=[A-Za-z]):(?=/)|@|(?<=[Ww]{3})\.")


def escape_markdown(text: str) -> str:
    """Return `text` so that Markdown shows it as written (a value filled into directions).

    A Wi-Fi name or an app name chosen by anyone must not become a link, an image or HTML:
    the characters that make Markdown structure are backslash-escaped (CommonMark shows an
    escaped ASCII punctuation character as itself), and so are the `:` of `scheme://`, `@` and
    the `.` after `www`, which GitHub's dialect would link. Ordinary text (a version `13.0.0`,
    `GNU/Linux`, a sentence's `:` or `.`) is left as it is.
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _AUTOLINK.sub(lambda match: "\\" + match.group(0), escaped)


def render_markdown(text: str, values: Mapping[str, object], markdown_keys: frozenset[str]) -> str:
    """Fill a Markdown template: values are escaped, except those named in `markdown_keys`."""
    escaped = {
        key: value if key in markdown_keys else escape_markdown(str(value))
        for key, value in values.items()
    }
    return render(text, escaped)


def local_time(iso: str) -> str:
    """Return an ISO timestamp as local HH:MM (or the text itself if it is not a timestamp)."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M")
    except ValueError:
        return iso


@dataclass(frozen=True)
class UiStrings:
    """A language's UI string table; a missing key shows as the key itself."""

    language: str = "en"
    strings: Mapping[str, str] = field(default_factory=dict)

    def string(self, key: str, **values: object) -> str:
        """Return a UI string with its placeholders filled in."""
        return render(self.strings.get(key, key), values)

    def plural(self, key: str, count: int, **values: object) -> str:
        """Return a counted string in the form `count` takes, `{{count}}` filled in.

        The form is the one the language's plural rule names (`core.plurals`), else `other`;
        a string with no forms at all shows as its key.
        """
        category = plural_category(self.language, count)
        text = self.strings.get(f"{key}{PLURAL_SEPARATOR}{category}")
        if text is None:
            text = self.strings.get(f"{key}{PLURAL_SEPARATOR}other", key)
        return render(text, {"count": count, **values})

    def status_name(self, status: Status) -> str:
        """Return a status in words ("Needs attention", "Suggestion", …)."""
        return self.string(_STATUS_STRINGS[status])

    def rating_name(self, rating: Rating) -> str:
        """Return a rating in words ("High importance", …)."""
        return self.string(_RATING_STRINGS[rating])

    def rating_text(self, status: Status, rating: Rating) -> str:
        """Return the rating in words where it adds something to the status, else "".

        Only beside "Needs attention": there it says what to fix first. A suggestion is not
        critical whatever its practice's rating ("Suggestion · Critical importance" misleads),
        and what could not be checked or is all good needs no ranking in words.
        """
        return self.rating_name(rating) if status in RATED_STATUSES else ""

    def count_phrase(self, status: Status, count: int) -> str:
        """Return how many practices are in a state: "2 need attention", "1 suggestion"."""
        return self.plural(COUNT_STRINGS[status], count)

    def count_phrases(
        self, counts: Mapping[Status, int], states: tuple[Status, ...] = SUMMARY_COUNTED
    ) -> list[str]:
        """Return "2 need attention", "1 suggestion", "3 couldn't be checked" (non-zero ones).

        `states` are those counted, in order (what is all good is left out unless named).
        """
        return [
            self.count_phrase(status, counts.get(status, 0))
            for status in states
            if counts.get(status, 0)
        ]

    def summary_head(
        self, status: Status, counts: Mapping[Status, int], organization: str = ""
    ) -> str:
        """Return the device's state in one sentence, without the counts (the summary's head).

        "This device doesn't meet every requirement yet." The report's summary adds the counts
        in parentheses; the window's header shows this and the counts beside it as chips.
        IT's own sentence may name `{{organization}}` (`organization` gives it, see below).
        """
        key = _SUMMARY_HEADS.get(status, "summaryPass")
        if status is Status.PASS and counts.get(Status.UNKNOWN, 0):
            key = "summaryUnknown"
        return self.string(key, organization=self.organization_words(organization))

    def organization_words(self, organization: str) -> str:
        """Return the organisation to fill into a text: its name, or the language's words for it.

        config.yaml's default (`UNNAMED_ORGANIZATION`, English) is not a name: where IT names
        none the text says "your organization" in its own language (`unnamedOrganization`).
        """
        named = organization_named(organization)
        return named or self.string("unnamedOrganization")


def organization_named(organization: str) -> str:
    """Return the organisation's name as config.yaml gives it, or "" where it names none."""
    name = organization.strip()
    return "" if name == UNNAMED_ORGANIZATION else name


# The bundled English strings: the tray's own words before (or without) the scan worker's.
ENGLISH = UiStrings("en", ENGLISH_STRINGS)
