r"""Regular expressions from outside the app (IT's files, a web page's policy), run in linear time.

An application rule's name in `policy.yaml` (or in a page's policy sent to the local API) and a
`hostLabels`/`allowRegex` pattern in `config.yaml` are regular expressions someone else wrote.
Python's `re` backtracks: `(.+)+#` against a long application name, or
`https://([a-z0-9]+[-.]?)+\.example\.com` against a foreign page's origin, runs for seconds to
hours. Every such pattern is compiled here, once, and runs on RE2 (`google-re2`), whose time is
linear in the text matched, whatever the pattern.

A pattern is accepted when both hold:

- Python's `re` compiles it (its messages name the mistake: "missing ), unterminated
  subpattern"), and a count too large for it (`a{99999999999}`, which `re` refuses with
  OverflowError, not re.error) is a mistake like any other;
- RE2 compiles it: back-references and lookarounds (`\1`, `(?=`, `(?<=`) can't run in linear
  time and are refused with a message that says so; RE2 also refuses a count above 1000;
- its RE2 program has at most `MAX_PROGRAM_SIZE` instructions. Linear time is time proportional
  to the text times the program: `(.*a){1000}` is 11,000 instructions and takes 200 ms on a
  1,000-character name. A 200-character literal name is about 200 instructions, `^Adobe Flash` 8.

The text matched is bounded too (`MAX_SUBJECT_CHARS`): a longer application name is searched in
its first `MAX_SUBJECT_CHARS` characters, and a longer origin matches no pattern (no browser sends
one). Both bounds together keep one pattern against one name or origin within a few ms
(tests/benchmarks/bench_hostile_regex.py prints the worst case; the target is 50 ms).

What users write (Stethoscope's JavaScript names such as `^Adobe Flash`, `Notepad\+\+`,
character classes, `(?i)`, alternatives, anchors) compiles on both and means the same; RE2's
`\d`, `\w` and `\s` are ASCII, as JavaScript's are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

# Compiled patterns kept (a policy has at most 500 application rules; config a few labels).
_CACHE_SIZE = 1024
# RE2's memory budget for one compiled pattern (its default): a bigger one is refused
# while it compiles, before its program size can be checked.
_MAX_MEMORY_BYTES = 8 << 20
# The largest RE2 program accepted, in instructions: what users write is a few dozen.
MAX_PROGRAM_SIZE = 1000
# The longest text matched: installed application names and origins are far shorter.
MAX_SUBJECT_CHARS = 1024


class PatternError(ValueError):
    """A pattern from outside that can't be used; the message says why, for the file's author.

    `syntax` is True when the pattern is not a regular expression at all (Python's `re` refuses
    it), False when it is one that RE2 can't run.
    """

    def __init__(self, message: str, *, syntax: bool) -> None:
        super().__init__(message)
        self.syntax = syntax


@dataclass(frozen=True)
class OutsidePattern:
    """A compiled pattern from outside: searched or matched whole, in linear time."""

    text: str
    ignore_case: bool
    _compiled: Any

    def search(self, subject: str) -> bool:
        """Return True if the pattern matches anywhere in `subject`'s first MAX_SUBJECT_CHARS."""
        return self._compiled.search(_encodable(subject[:MAX_SUBJECT_CHARS])) is not None

    def fullmatch(self, subject: str) -> bool:
        """Return True if the pattern matches the whole of `subject`; never for a longer one."""
        if len(subject) > MAX_SUBJECT_CHARS:
            return False
        return self._compiled.fullmatch(_encodable(subject)) is not None


def _encodable(subject: str) -> str:
    """Return `subject` as RE2 can take it (UTF-8 text).

    A lone surrogate (a byte of a name that was not UTF-8, decoded with surrogateescape) becomes
    U+FFFD, which no pattern of text matches by accident.
    """
    try:
        subject.encode("utf-8")
    except UnicodeEncodeError:
        return subject.encode("utf-8", "replace").decode("utf-8")
    return subject


def _python_problem(pattern: str, flags: int) -> str | None:
    """Return why Python's `re` refuses `pattern`, or None if it compiles."""
    try:
        re.compile(pattern, flags)
    except re.error as error:
        return str(error)
    except OverflowError:
        return "a repetition count is too large"
    except RecursionError:
        return "it nests too deeply"
    except (ValueError, MemoryError) as error:
        return str(error) or type(error).__name__
    return None


def _lone_surrogate(text: str) -> str | None:
    """Return the first lone UTF-16 surrogate in `text` written as an escape, or None."""
    for char in text:
        if "\ud800" <= char <= "\udfff":
            return f"\\u{ord(char):04x}"
    return None


def _re2_message(error: Exception) -> str:
    """Return RE2's message as text (it gives bytes)."""
    message = error.args[0] if error.args else error
    if isinstance(message, bytes):
        return message.decode("utf-8", "replace")
    return str(message)


@lru_cache(maxsize=_CACHE_SIZE)
def compile_outside_pattern(pattern: str, *, ignore_case: bool = False) -> OutsidePattern:
    """Return `pattern` compiled to run in linear time; raise PatternError saying what is wrong."""
    if not isinstance(pattern, str):
        raise PatternError("must be a regular expression in quotes", syntax=True)
    if (surrogate := _lone_surrogate(pattern)) is not None:
        raise PatternError(
            f"holds {surrogate}, half of a UTF-16 pair, which is not a character", syntax=True
        )
    if (problem := _python_problem(pattern, re.IGNORECASE if ignore_case else 0)) is not None:
        raise PatternError(f"not a valid regular expression: {problem}", syntax=True)
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    options.max_mem = _MAX_MEMORY_BYTES
    try:
        compiled = re2.compile(pattern, options)
    except Exception as error:  # RE2's own error type, and whatever else it raises
        raise PatternError(
            f"can't be run in linear time ({_re2_message(error)}); back-references, lookahead "
            "and lookbehind are not supported, and a repetition count is at most 1000",
            syntax=False,
        ) from error
    if (size := int(compiled.programsize)) > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"too complex to match quickly ({size} steps; at most {MAX_PROGRAM_SIZE}): use "
            "smaller repetition counts, or split it into several simpler patterns",
            syntax=False,
        )
    return OutsidePattern(pattern, ignore_case, compiled)


def pattern_problem(pattern: str, *, ignore_case: bool = False) -> PatternError | None:
    """Return why `pattern` can't be used (its message is for the file and key), or None."""
    try:
        compile_outside_pattern(pattern, ignore_case=ignore_case)
    except PatternError as error:
        return error
    return None


class PatternSet:
    """Many patterns searched in a name at once: which of them match it, in one RE2 call.

    A page's policy may hold hundreds of application rules and the device thousands of installed
    names; one call per rule and name (7 µs of wrapper each) made a 500-rule policy cost seconds.
    RE2's Set runs every pattern in one pass over the name. An always-matching pattern is added
    first: a Set that runs out of memory answers "nothing matched", so an answer without it means
    the Set could not decide, and that name is searched pattern by pattern (`fallbacks` counts
    those names), which is slower but never wrong.
    """

    def __init__(self, patterns: Sequence[OutsidePattern]) -> None:
        if len({pattern.ignore_case for pattern in patterns}) > 1:
            raise ValueError("a PatternSet's patterns must all ignore case, or none")
        self.patterns = tuple(patterns)
        self.fallbacks = 0
        self._set: Any = None
        # Each subject's answer, kept for the next scan, which mostly sees the same names; at
        # most MAX_REMEMBERED_SUBJECTS, then forgotten all at once.
        self._answers: dict[str, tuple[int, ...]] = {}
        if self.patterns:
            self._set = _compiled_set(
                tuple(pattern.text for pattern in self.patterns), self.patterns[0].ignore_case
            )

    def matching(self, subject: str) -> tuple[int, ...]:
        """Return the indices of the patterns found in `subject`'s first MAX_SUBJECT_CHARS."""
        answer = self._answers.get(subject)
        if answer is None:
            answer = self._search(subject)
            if len(self._answers) >= MAX_REMEMBERED_SUBJECTS:
                self._answers = {}
            self._answers[subject] = answer
        return answer

    def _search(self, subject: str) -> tuple[int, ...]:
        if not self.patterns:
            return ()
        if self._set is not None:
            found = self._set.Match(_encodable(subject[:MAX_SUBJECT_CHARS]))
            if found and _ALWAYS in found:
                return tuple(sorted(index - 1 for index in found if index != _ALWAYS))
        self.fallbacks += 1
        return tuple(i for i, pattern in enumerate(self.patterns) if pattern.search(subject))


# Answers a PatternSet keeps (a developer's machine has about 10,000 package names).
MAX_REMEMBERED_SUBJECTS = 16_384
# The Set's index of its always-matching pattern (the others follow it, shifted by one).
_ALWAYS = 0
# The Set's memory budget: many patterns' DFA states; past it the Set answers nothing.
_MAX_SET_MEMORY_BYTES = 64 << 20


@lru_cache(maxsize=64)
def _compiled_set(texts: tuple[str, ...], ignore_case: bool) -> Any:
    """Return RE2's Set of `texts` (each already accepted), or None if RE2 can't build it."""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    options.max_mem = _MAX_SET_MEMORY_BYTES
    compiled = re2.Set.SearchSet(options)
    try:
        compiled.Add("")
        for text in texts:
            compiled.Add(text)
        compiled.Compile()
    except Exception:  # RE2's own error type: the Set is too big; search one by one
        return None
    return compiled
