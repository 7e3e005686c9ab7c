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
  time and are refused with a message that says so; RE2 also bounds a pattern's size (a count
  above 1000, or nested counts whose product is too big, are refused).

What users write (Stethoscope's JavaScript names such as `^Adobe Flash`, `Notepad\+\+`,
character classes, `(?i)`, alternatives, anchors) compiles on both and means the same; RE2's
`\d`, `\w` and `\s` are ASCII, as JavaScript's are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

# Compiled patterns kept (a policy has at most 500 application rules; config a few labels).
_CACHE_SIZE = 1024
# RE2's memory budget for one compiled pattern (its default): bigger patterns are refused.
_MAX_MEMORY_BYTES = 8 << 20


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
        """Return True if the pattern matches anywhere in `subject`."""
        return self._compiled.search(subject) is not None

    def fullmatch(self, subject: str) -> bool:
        """Return True if the pattern matches the whole of `subject`."""
        return self._compiled.fullmatch(subject) is not None


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
    return OutsidePattern(pattern, ignore_case, compiled)


def pattern_problem(pattern: str, *, ignore_case: bool = False) -> PatternError | None:
    """Return why `pattern` can't be used (its message is for the file and key), or None."""
    try:
        compile_outside_pattern(pattern, ignore_case=ignore_case)
    except PatternError as error:
        return error
    return None
