"""Version numbers and node-semver version ranges, as used by Stethoscope policies.

Stethoscope policies express requirements as node-semver range strings
(``osVersion: {darwin: {ok: ">=14.6", nudge: ">=13.6"}}``, application ``version: ">=4.2.0"``)
and ``screenIdle`` limits as numeric comparisons (``"<=600"``). This module is the pure-Python
implementation of both, plus a loose parser for the version strings found on real machines.

Public API:

* :class:`Version` and :func:`parse_version` -- versions reported by the OS, package managers and
  applications. ``parse_version`` is deliberately forgiving (see its docstring for the rules).
* :class:`VersionRange` -- node-semver range grammar: ``<``, ``<=``, ``>``, ``>=``, ``=``, bare
  versions, x-ranges (``*``, ``1.x``, ``1.2``), tilde (``~1.2.3``, also ``~>1.2.3``), caret
  (``^1.2.3``), hyphen ranges (``1.2.3 - 2.3.4``), whitespace for AND and ``||`` for OR.
* :func:`compare_versions` -- a total order over arbitrary strings (backs ``version_compare``).
* :class:`NumericRange` -- ``"<=120"``, ``">=60 <=600"``, ``"=0"`` or a bare number.

Deliberate differences from node-semver (all are extensions or stricter errors; no range that
node-semver accepts with a sensible meaning changes meaning here):

* Versions may have more than three numeric parts (Windows ``10.0.19045.4894``, Chrome
  ``122.0.6261.94``), in ranges as well as on the machine. Missing parts count as zero, so
  ``"<=10.0.19045"`` does *not* admit ``10.0.19045.4894``; write ``"10.0.19045.x"`` or
  ``"<10.0.19046"`` for "any build of 10.0.19045".
* Leading zeros are accepted and ignored (``">=18.04"`` means ``>=18.4.0``), as Stethoscope's own
  patched semver did for Ubuntu version numbers. node-semver rejects them.
* ``"1 || || 2"``, ``"||"`` and ``"1 ||"`` are errors. node-semver reads an empty alternative as
  ``*`` (any version), which would make a typo in a security policy pass every machine.
* A prerelease tag on a partial version (``"1.2.x-beta"``) is an error; node-semver ignores it.
* ``"~=1.2"`` is an error (node-semver reads it as ``~1.2``, Python as ``>=1.2 <2``), as are other
  operator spellings node-semver happens to tolerate (``"> =1"``, ``"vv1"``); ``"v1.2"``,
  ``"=v1.2"`` and whitespace after an operator (``">= 1.2"``) are accepted as in node-semver.
* Numbers (version parts, numeric prerelease identifiers) may have at most 32 digits.
* Ranges longer than :data:`MAX_RANGE_LENGTH` characters are rejected before any parsing, and the
  parser is a linear scanner without backtracking regular expressions.
* Prerelease handling: see :meth:`VersionRange.satisfies`. By default a prerelease is ordered
  like any other version (node-semver's ``includePrerelease: true``); node-semver's default rule
  is available with ``include_prerelease=False``.

``~>`` is node-semver syntax (a synonym of ``~``), so ``"~>1.2"`` means ``>=1.2.0 <1.3.0-0``,
*not* Ruby's ``>=1.2 <2.0``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "MAX_RANGE_LENGTH",
    "MAX_VERSION_LENGTH",
    "NumericRange",
    "NumericRangeError",
    "Version",
    "VersionRange",
    "VersionRangeError",
    "compare_versions",
    "parse_version",
]

#: Longer strings are never versions: :func:`parse_version` returns ``None`` for them.
MAX_VERSION_LENGTH = 256
#: Longer range strings are rejected by :meth:`VersionRange.parse` before any parsing.
MAX_RANGE_LENGTH = 2048
#: A number (version part or prerelease identifier) may have at most this many digits.
_MAX_DIGITS = 32

PrereleaseId: TypeAlias = int | str
_PreKey: TypeAlias = tuple[tuple[int, int, str], ...]
_Key: TypeAlias = tuple[tuple[int, ...], int, _PreKey]

_DIGITS = frozenset("0123456789")
_IDENT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")
_ALNUM = _IDENT_CHARS - {"-"}
_LETTERS = _ALNUM - _DIGITS


# --------------------------------------------------------------------------------------------
# Version
# --------------------------------------------------------------------------------------------


def _prerelease_key(prerelease: tuple[PrereleaseId, ...]) -> _PreKey:
    # Semver precedence: numeric identifiers compare numerically and sort below alphanumeric
    # ones, which compare in ASCII order; a longer list wins when one is a prefix of the other.
    return tuple((0, i, "") if isinstance(i, int) else (1, 0, i) for i in prerelease)


@dataclass(frozen=True, order=True)
class Version:
    """A version number: numeric release parts plus an optional semver prerelease tag.

    ``release`` always has at least three parts (shorter tuples are padded with zeros) and keeps
    any fourth and later part, e.g. Windows ``10.0.19045.4894``. Comparison, equality and hashing
    use semver precedence over *all* release parts, with missing parts counting as zero (so
    ``1.2 == 1.2.0 == 1.2.0.0 < 1.2.0.1``) and a prerelease sorting before its release
    (``1.0.0-rc.1 < 1.0.0``). Build metadata is not kept. ``original`` is the text the version
    was parsed from, stripped (or the canonical form when constructed directly); it takes no
    part in comparisons. Digit-only prerelease identifiers become ints (``"01"`` -> ``1``).
    """

    release: tuple[int, ...] = field(compare=False)
    prerelease: tuple[PrereleaseId, ...] = field(default=(), compare=False)
    original: str = field(default="", compare=False)
    _key: _Key = field(init=False, repr=False, compare=True)

    def __post_init__(self) -> None:
        """Validate and normalise the parts and compute the comparison key."""
        release = tuple(self.release)
        if not release:
            raise ValueError("a version needs at least one release part")
        for part in release:
            if isinstance(part, bool) or not isinstance(part, int) or part < 0:
                raise ValueError(f"release parts must be non-negative integers, got {part!r}")
        if len(release) < 3:
            release += (0,) * (3 - len(release))
        prerelease: list[PrereleaseId] = []
        for ident in self.prerelease:
            if isinstance(ident, bool):
                raise ValueError(f"invalid prerelease identifier {ident!r}")
            if isinstance(ident, int):
                if ident < 0:
                    raise ValueError(f"invalid prerelease identifier {ident!r}")
                prerelease.append(ident)
            elif isinstance(ident, str) and ident and all(c in _IDENT_CHARS for c in ident):
                prerelease.append(int(ident) if all(c in _DIGITS for c in ident) else ident)
            else:
                raise ValueError(f"invalid prerelease identifier {ident!r}")
        object.__setattr__(self, "release", release)
        object.__setattr__(self, "prerelease", tuple(prerelease))
        if not self.original:
            object.__setattr__(self, "original", str(self))
        significant = len(release)
        while significant and release[significant - 1] == 0:
            significant -= 1
        key: _Key = (
            release[:significant],  # trailing zeros removed: tuple order == zero-padded order
            0 if prerelease else 1,
            _prerelease_key(self.prerelease),
        )
        object.__setattr__(self, "_key", key)

    @property
    def major(self) -> int:
        """The first release part."""
        return self.release[0]

    @property
    def minor(self) -> int:
        """The second release part."""
        return self.release[1]

    @property
    def patch(self) -> int:
        """The third release part."""
        return self.release[2]

    @property
    def is_prerelease(self) -> bool:
        """Whether the version carries a prerelease tag (``1.0.0-beta.1``)."""
        return bool(self.prerelease)

    def __str__(self) -> str:
        """Return ``major.minor.patch[.build...][-prerelease]``."""
        text = ".".join(str(p) for p in self.release)
        if self.prerelease:
            text += "-" + ".".join(str(i) for i in self.prerelease)
        return text


def _scan_number(text: str, pos: int) -> int:
    """Return the index just past the run of ASCII digits starting at ``pos``."""
    end = pos
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    return end


def _scan_identifiers(text: str, pos: int, chars: frozenset[str]) -> list[str]:
    """Read dot-separated identifiers made of ``chars`` from ``pos``; stop at anything else."""
    idents: list[str] = []
    while True:
        end = pos
        while end < len(text) and text[end] in chars:
            end += 1
        if end == pos:
            break
        idents.append(text[pos:end])
        pos = end
        if pos + 1 < len(text) and text[pos] == "." and text[pos + 1] in chars:
            pos += 1
        else:
            break
    return idents


def _to_prerelease(idents: list[str]) -> tuple[PrereleaseId, ...] | None:
    out: list[PrereleaseId] = []
    for ident in idents:
        if all(c in _DIGITS for c in ident):
            if len(ident) > _MAX_DIGITS:
                return None
            out.append(int(ident))
        else:
            out.append(ident)
    return tuple(out)


# Words that mark a prerelease when they follow the numbers directly (``124.0b3``, ``2.0rc1``,
# ``1.0.dev2``) or after a hyphen. The one-letter ones only count when a number follows them,
# because a bare trailing letter is usually a *later* patch release (OpenSSL ``1.1.1w``).
_PRERELEASE_WORDS = frozenset(
    {"alpha", "beta", "rc", "pre", "preview", "dev", "snapshot", "nightly", "canary", "ea"}
)
_PRERELEASE_LETTERS = frozenset({"a", "b", "c"})
# Words that, after a hyphen, mean "this is a release" rather than a semver prerelease tag.
_RELEASE_WORDS = frozenset({"final", "ga", "release", "stable", "lts"})


def _leading_word(ident: str) -> tuple[str, bool]:
    """Return the leading letters of ``ident`` (lower-cased) and whether a digit follows them."""
    end = 0
    while end < len(ident) and ident[end] in _LETTERS:
        end += 1
    return ident[:end].lower(), end < len(ident) and ident[end] in _DIGITS


def _is_prerelease_word(ident: str) -> bool:
    word, digit_follows = _leading_word(ident)
    return word in _PRERELEASE_WORDS or (word in _PRERELEASE_LETTERS and digit_follows)


def parse_version(text: str) -> Version | None:
    """Parse a version string as found on a real machine, loosely; ``None`` if there is none.

    The text must start with a number (after surrounding whitespace and an optional ``v``/``V``);
    ``""``, ``"unknown"``, ``"latest"`` and ``"Firefox 124.0"`` give ``None``, as does text longer
    than :data:`MAX_VERSION_LENGTH` or a number with more than 32 digits. Then:

    * The leading run of dot-separated numbers is the release, padded to three parts and
      keeping any further parts: ``"14.6"`` -> 14.6.0, ``"12"`` -> 12.0.0,
      ``"10.0.19045.4894"`` stays four parts. Leading zeros are dropped (``"24.04"`` -> 24.4.0).
    * A Debian/Ubuntu epoch (``"1:"``) is dropped.
    * ``-`` followed by a digit is a package revision and is dropped with everything after it:
      ``"1:2.38.1-5+deb12u1"`` -> 2.38.1, RPM ``"3.6.1-2.fc41"`` -> 3.6.1, kernel
      ``"6.1.0-18-amd64"`` -> 6.1.0. (So a numeric-first semver prerelease such as
      ``"1.0.0-0.3.7"`` loses its tag; on machines such strings are almost always revisions.)
    * ``-`` followed by a letter is a semver prerelease and is kept: ``"1.2.3-beta.1"`` ->
      1.2.3-beta.1. Exception: ``-final``, ``-ga``, ``-release``, ``-stable`` and ``-lts`` are
      release markers and are dropped.
    * ``~`` is Debian's "sorts before" marker and becomes a prerelease, so ordering stays right:
      ``"2.0~rc1-1"`` -> 2.0.0-rc1, which is *below* 2.0.0 (Stethoscope dropped the ``~rc1``;
      we keep it because a release candidate is not the release).
    * Letters directly after the numbers (or after a ``.``) are a prerelease when they are a
      prerelease word -- ``alpha``, ``beta``, ``rc``, ``pre``, ``preview``, ``dev``, ``snapshot``,
      ``nightly``, ``canary``, ``ea``, or ``a``/``b``/``c`` followed by a number (``"124.0b3"``
      -> 124.0.0-b3, ``"1.0.0alpha1"``). Other letters are dropped (``"1.1.1w"`` -> 1.1.1,
      ``"9.6p1"`` -> 9.6.0), as is a ``+`` suffix (``"+dfsg"``, build metadata).
    * Anything else ends the version: ``"24.04.1 LTS"`` -> 24.4.1, ``"7.0.1 (build 123)"`` ->
      7.0.1, Java ``"1.8.0_392"`` -> 1.8.0.
    """
    if not isinstance(text, str):
        return None
    s = text.strip()
    if not s or len(s) > MAX_VERSION_LENGTH:
        return None
    pos = 1 if s[0] in "vV" else 0

    # Debian epoch: digits followed by a colon and another digit.
    end = _scan_number(s, pos)
    if end > pos and end + 1 < len(s) and s[end] == ":" and s[end + 1] in _DIGITS:
        pos = end + 1

    release: list[int] = []
    while True:
        end = _scan_number(s, pos)
        if end == pos:
            break
        if end - pos > _MAX_DIGITS:
            return None
        release.append(int(s[pos:end]))
        pos = end
        if pos + 1 < len(s) and s[pos] == "." and s[pos + 1] in _DIGITS:
            pos += 1
        else:
            break
    if not release:
        return None

    prerelease: tuple[PrereleaseId, ...] | None = ()
    rest = s[pos:]
    if rest.startswith("-") and len(rest) > 1 and rest[1] in _LETTERS:
        idents = _scan_identifiers(s, pos + 1, _IDENT_CHARS)
        if _leading_word(idents[0])[0] not in _RELEASE_WORDS:
            prerelease = _to_prerelease(idents)
    elif rest.startswith("~") and len(rest) > 1 and rest[1] in _ALNUM:
        prerelease = _to_prerelease(_scan_identifiers(s, pos + 1, _ALNUM))
    elif rest[:1] in _LETTERS or (rest.startswith(".") and rest[1:2] in _LETTERS):
        start = pos + 1 if rest.startswith(".") else pos
        idents = _scan_identifiers(s, start, _ALNUM)
        if _is_prerelease_word(idents[0]):
            prerelease = _to_prerelease(idents)
    if prerelease is None:
        return None
    return Version(tuple(release), prerelease, s)


def compare_versions(a: str, b: str) -> int:
    """Compare two version strings; return -1, 0 or 1.

    Both sides go through :func:`parse_version`, so ``"14.6" == "14.6.0"`` and
    ``"10.0.19045.4894" > "10.0.19045"``. Text that is not a version sorts before every version,
    and such texts compare among themselves as plain strings, which makes this a total order.
    """
    va, vb = parse_version(a), parse_version(b)
    if va is not None and vb is not None:
        return (va > vb) - (va < vb)
    if va is None and vb is None:
        sa, sb = str(a), str(b)
        return (sa > sb) - (sa < sb)
    return -1 if va is None else 1


# --------------------------------------------------------------------------------------------
# VersionRange
# --------------------------------------------------------------------------------------------


class VersionRangeError(ValueError):
    """A version range string is not valid node-semver range syntax."""


_Op: TypeAlias = Literal["<", "<=", ">", ">=", "="]
_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
}
# How the operator of a comparator with a full version reads as a primitive comparator.
_PRIMITIVE: dict[str, _Op] = {"": "=", "=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_OPERATORS: dict[str, str] = {
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "=": "=",
    "~": "~",
    "~>": "~",
    "^": "^",
}
_OPERATOR_CHARS = frozenset("<>=~^!")
_LOWEST_PRE: tuple[PrereleaseId, ...] = (0,)  # "-0": the lowest possible prerelease


def _quote(text: str, limit: int = 60) -> str:
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return '"' + text + '"'


@dataclass(frozen=True)
class _Pattern:
    """A possibly partial version in a range: ``1``, ``1.2.x``, ``1.2.3-beta.1``."""

    numbers: tuple[int, ...]  # the numeric parts before the first wildcard
    partial: bool  # fewer than three numeric parts, or a wildcard
    prerelease: tuple[PrereleaseId, ...]
    display: str  # as written, without "v", build metadata or trailing wildcards

    def version(self, prerelease: tuple[PrereleaseId, ...] | None = None) -> Version:
        pre = self.prerelease if prerelease is None else prerelease
        return Version(self.numbers, pre)

    def bumped(self, index: int) -> Version:
        """The lowest version above every version whose first ``index + 1`` parts match."""
        parts = (*self.numbers[:index], self.numbers[index] + 1)
        return Version(parts, _LOWEST_PRE)


@dataclass(frozen=True)
class _Comparator:
    op: _Op
    version: Version

    def test(self, v: Version) -> bool:
        return _TESTS[self.op](v, self.version)


_NOTHING = _Comparator("<", Version((0, 0, 0), _LOWEST_PRE))  # node-semver's "<0.0.0-0"


@dataclass(frozen=True)
class _Term:
    """One comparator as written: ``>=1.2``, ``~1.2.3``, ``^1``, ``1.x`` or ``1 - 2``."""

    kind: Literal["cmp", "tilde", "caret", "hyphen"]
    op: str  # for "cmp": "", "=", "<", "<=", ">", ">="
    pattern: _Pattern
    upper: _Pattern | None = None  # hyphen ranges only

    def comparators(self, include_prerelease: bool) -> list[_Comparator]:
        """Desugar into primitive comparators exactly as node-semver does."""
        p = self.pattern
        k = len(p.numbers)
        z: tuple[PrereleaseId, ...] = _LOWEST_PRE if include_prerelease else ()
        if self.kind == "hyphen":
            assert self.upper is not None
            out: list[_Comparator] = []
            if k:
                # node-semver: ">=1.2.3-0" with includePrerelease unless a tag is given.
                out.append(_Comparator(">=", p.version() if p.prerelease else p.version(z)))
            u = self.upper
            if u.numbers:
                if u.partial:
                    out.append(_Comparator("<", u.bumped(len(u.numbers) - 1)))
                else:
                    out.append(_Comparator("<=", u.version()))
            return out
        if k == 0:  # "*", "x", "" and friends
            return [_NOTHING] if self.kind == "cmp" and self.op in ("<", ">") else []
        if self.kind == "cmp":
            if not p.partial:
                return [_Comparator(_PRIMITIVE[self.op], p.version())]
            upper = p.bumped(k - 1)
            if self.op in ("", "="):
                return [_Comparator(">=", p.version(z)), _Comparator("<", upper)]
            if self.op == ">":
                return [_Comparator(">=", Version(upper.release, z))]
            if self.op == ">=":
                return [_Comparator(">=", p.version(z))]
            if self.op == "<":
                return [_Comparator("<", p.version(_LOWEST_PRE))]
            return [_Comparator("<", upper)]  # "<="
        lower = p.version(z) if p.partial else p.version()
        major = p.numbers[0]
        if k == 1:
            upper = p.bumped(0)
        elif self.kind == "tilde":
            upper = p.bumped(1)
        elif major != 0:
            upper = p.bumped(0)
        elif k == 2 or p.numbers[1] != 0:
            upper = p.bumped(1)
        else:
            upper = p.bumped(2)
        return [_Comparator(">=", lower), _Comparator("<", upper)]


def _parse_pattern(word: str, whole: str) -> _Pattern:
    """Parse ``[v]xr[.xr[.xr[.nr...]]][-pre][+build]``; raise :class:`VersionRangeError`."""

    def fail(reason: str = "") -> VersionRangeError:
        suffix = f" ({reason})" if reason else ""
        return VersionRangeError(f"{_quote(whole)}: invalid version {_quote(word)}{suffix}")

    text = word[1:] if word.startswith("v") else word
    build_at = text.find("+")
    if build_at >= 0:
        build = text[build_at + 1 :]
        text = text[:build_at]
        if not build or not all(
            ident and all(c in _IDENT_CHARS for c in ident) for ident in build.split(".")
        ):
            raise fail("invalid build metadata")
    pre_at = text.find("-")
    prerelease: tuple[PrereleaseId, ...] = ()
    pre_text = ""
    if pre_at >= 0:
        pre_text = text[pre_at + 1 :]
        text = text[:pre_at]
        idents = pre_text.split(".")
        if not pre_text or not all(i and all(c in _IDENT_CHARS for c in i) for i in idents):
            raise fail("invalid prerelease tag")
        converted = _to_prerelease(idents)
        if converted is None:
            raise fail("number too long")
        prerelease = converted
    if not text:
        raise fail()
    numbers: list[int] = []
    shown: list[str] = []
    wildcard = False
    for part in text.split("."):
        if part in ("x", "X", "*"):
            wildcard = True
        elif part and all(c in _DIGITS for c in part):
            if wildcard:
                raise fail("a wildcard can only be followed by wildcards")
            if len(part) > _MAX_DIGITS:
                raise fail("number too long")
            numbers.append(int(part))
            shown.append(part)
        elif not part:
            raise fail("empty part")
        else:
            raise fail()
    partial = wildcard or len(numbers) < 3
    if prerelease and partial:
        raise fail("a prerelease tag needs a full major.minor.patch version")
    display = ".".join(shown)
    if prerelease:
        display += "-" + pre_text
    return _Pattern(tuple(numbers), partial, prerelease, display)


def _split_operator(word: str, whole: str) -> tuple[str, str]:
    """Split ``>=1.2`` into ``(">=", "1.2")``; the operator may be empty."""
    end = 0
    while end < len(word) and word[end] in _OPERATOR_CHARS:
        end += 1
    op = word[:end]
    if op and op not in _OPERATORS:
        hint = ""
        if op in ("==", "!=", "~="):
            hint = '; node-semver ranges use "=", "<", "<=", ">", ">=", "~", "^"'
        elif op in ("=>", "=<"):
            hint = f'; did you mean "{op[::-1]}"?'
        raise VersionRangeError(f"{_quote(whole)}: unknown operator {_quote(op)}{hint}")
    return op, word[end:]


def _parse_alternative(part: str, whole: str) -> tuple[_Term, ...]:
    words = part.split(" ") if part else []
    if len(words) == 3 and words[1] == "-":
        lower = _parse_pattern(words[0], whole)
        upper = _parse_pattern(words[2], whole)
        return (_Term("hyphen", "", lower, upper),)
    terms: list[_Term] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "-":
            raise VersionRangeError(
                f'{_quote(whole)}: "-" must separate two versions, as in "1.2.3 - 2.3.4"'
            )
        if word in ("|", "&&", "&", ",") or word.startswith("|"):
            raise VersionRangeError(
                f"{_quote(whole)}: {_quote(word)} is not a comparator"
                ' (use "||" for "or" and a space for "and")'
            )
        op, rest = _split_operator(word, whole)
        if op and not rest:
            # Whitespace between an operator and its version is allowed: ">= 1.2.3".
            if i >= len(words) or words[i][:1] in _OPERATOR_CHARS or words[i] == "-":
                raise VersionRangeError(
                    f"{_quote(whole)}: operator {_quote(op)} is not followed by a version"
                )
            rest = words[i]
            i += 1
        pattern = _parse_pattern(rest, whole)
        kind = _OPERATORS.get(op, "")
        if kind == "~":
            terms.append(_Term("tilde", "", pattern))
        elif kind == "^":
            terms.append(_Term("caret", "", pattern))
        else:
            terms.append(_Term("cmp", op, pattern))
    return tuple(terms)


def _phrase(op: str, shown: str) -> str:
    return {
        ">=": f"at least {shown}",
        ">": f"later than {shown}",
        "<": f"below {shown}",
        "<=": f"at most {shown}",
    }[op]


_ZERO = Version((0, 0, 0))


def _node_default_sets(
    terms: tuple[tuple[_Term, ...], ...],
) -> tuple[tuple[_Comparator, ...], ...]:
    """Desugar for node-semver's default mode, including its simplifications.

    node-semver drops ">=0.0.0" comparators (they mean "any") and, when one ``||`` alternative
    matches any version, replaces the whole range by ``*``. Both change results for prerelease
    versions under node's default prerelease rule (``"* || ~1.2.3-beta"`` does not admit
    ``1.2.3-beta``), so they are reproduced here.
    """
    sets = tuple(
        tuple(
            c
            for t in alt
            for c in t.comparators(False)
            if not (c.op == ">=" and c.version == _ZERO)
        )
        for alt in terms
    )
    if len(sets) > 1 and not all(sets):
        return ((),)
    return sets


class VersionRange:
    """A node-semver version range, e.g. ``">=14.6"``, ``"^1.2.3 || >=2.5"``, ``"1.2 - 2"``.

    Construct with :meth:`parse` (or the constructor, which does the same). Instances are
    immutable, hashable, and equal when their texts are equal.
    """

    __slots__ = ("_sets", "_sets_pre", "_terms", "text")

    text: str
    _terms: tuple[tuple[_Term, ...], ...]
    _sets: tuple[tuple[_Comparator, ...], ...]
    _sets_pre: tuple[tuple[_Comparator, ...], ...]

    def __init__(self, text: str) -> None:
        """Parse ``text``; raise :class:`VersionRangeError` if it is not a valid range."""
        if not isinstance(text, str):
            raise VersionRangeError(
                f"a version range must be a string, not {type(text).__name__} {text!r}"
            )
        if len(text) > MAX_RANGE_LENGTH:
            raise VersionRangeError(
                f"{_quote(text)}: too long ({len(text)} characters; the limit is"
                f" {MAX_RANGE_LENGTH})"
            )
        normal = " ".join(text.split())
        parts = [p.strip() for p in normal.split("||")]
        if len(parts) > 1 and not all(parts):
            raise VersionRangeError(f'{_quote(text)}: empty alternative next to "||"')
        terms = tuple(_parse_alternative(p, text) for p in parts)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "_terms", terms)
        object.__setattr__(self, "_sets", _node_default_sets(terms))
        sets_pre = tuple(tuple(c for t in alt for c in t.comparators(True)) for alt in terms)
        object.__setattr__(self, "_sets_pre", sets_pre)

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Parse a node-semver range; raise :class:`VersionRangeError` if it is not valid."""
        return cls(text)

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse to change a parsed range."""
        raise AttributeError(f"VersionRange is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[type[VersionRange], tuple[str]]:
        """Pickle and copy by re-parsing the text."""
        return (VersionRange, (self.text,))

    def __str__(self) -> str:
        """Return the text the range was parsed from."""
        return self.text

    def __repr__(self) -> str:
        """Return ``VersionRange('>=1.2')``."""
        return f"VersionRange({self.text!r})"

    def __eq__(self, other: object) -> bool:
        """Ranges are equal when their texts are equal."""
        if not isinstance(other, VersionRange):
            return NotImplemented
        return self.text == other.text

    def __hash__(self) -> int:
        """Hash the text."""
        return hash(self.text)

    def satisfies(self, version: Version | str, *, include_prerelease: bool = True) -> bool:
        """Whether ``version`` is in the range. Strings go through :func:`parse_version`.

        A string that is not a version satisfies nothing. The range is satisfied when every
        comparator of at least one ``||`` alternative is.

        Prereleases: by default (``include_prerelease=True``, node-semver's
        ``includePrerelease``) a prerelease is just a version that sorts before its release, so
        Firefox ``125.0b3`` satisfies ``">=124"`` and ``2.0.0-rc1`` does not satisfy
        ``">=2.0.0"``. For versions found on a machine that is the right question ("is this at
        least that?"). With ``include_prerelease=False`` node-semver's default rule applies as
        well: a prerelease only satisfies an alternative if one of its comparators names a
        prerelease of the same release (``1.2.3-beta.4`` satisfies ``">=1.2.3-beta.2"`` but
        ``3.0.0-beta`` satisfies neither ``">=1.0.0"`` nor ``"*"``).
        """
        if not isinstance(version, Version):
            parsed = parse_version(version) if isinstance(version, str) else None
            if parsed is None:
                return False
            version = parsed
        sets = self._sets_pre if include_prerelease else self._sets
        return any(self._test_set(s, version, include_prerelease) for s in sets)

    @staticmethod
    def _test_set(
        comparators: tuple[_Comparator, ...], version: Version, include_prerelease: bool
    ) -> bool:
        if not all(c.test(version) for c in comparators):
            return False
        if include_prerelease or not version.prerelease:
            return True
        release = Version(version.release)
        return any(
            c.version.prerelease and Version(c.version.release) == release for c in comparators
        )

    def describe(self) -> str:
        """Describe the range for people: ``">=14.6"`` -> ``"14.6 or later"``.

        Single comparators, tilde, caret, x- and hyphen ranges and a lower bound with an upper
        bound (``">=1.2 <2"`` -> ``"at least 1.2 and below 2"``) get a phrase; anything more
        complex (``||``, more comparators) is returned as written.
        """
        raw = " ".join(self.text.split())
        if len(self._terms) != 1:
            return raw
        terms = self._terms[0]
        if not terms:
            return "any version"
        if len(terms) == 1:
            phrase = _describe_term(terms[0])
            if phrase is not None:
                return phrase
        elif len(terms) == 2 and all(t.kind == "cmp" and t.pattern.numbers for t in terms):
            low, high = sorted(terms, key=lambda t: not t.op.startswith(">"))
            if low.op.startswith(">") and high.op.startswith("<"):
                return (
                    f"{_phrase(low.op, low.pattern.display)} and"
                    f" {_phrase(high.op, high.pattern.display)}"
                )
        return raw


def _describe_term(term: _Term) -> str | None:
    p = term.pattern
    shown = p.display
    k = len(p.numbers)
    if term.kind == "hyphen":
        assert term.upper is not None
        if k and term.upper.numbers:
            return f"from {shown} to {term.upper.display}"
        return None
    if k == 0:
        return "no version" if term.kind == "cmp" and term.op in ("<", ">") else "any version"
    if term.kind == "cmp":
        if term.op in ("", "="):
            return f"any {shown}.x" if p.partial else f"exactly {shown}"
        return {
            ">=": f"{shown} or later",
            ">": f"later than {shown}",
            "<": f"earlier than {shown}",
            "<=": f"{shown} or earlier",
        }[term.op]
    major = p.numbers[0]
    if k == 1:
        return f"any {major}.x"
    if term.kind == "tilde":
        if p.partial:
            return f"any {major}.{p.numbers[1]}.x"
        return f"{shown} or a later {major}.{p.numbers[1]}.x"
    if major != 0:
        return f"{shown} or a later {major}.x"
    if k == 2:
        return f"any 0.{p.numbers[1]}.x"
    if p.numbers[1] != 0:
        return f"{shown} or a later 0.{p.numbers[1]}.x"
    return None


# --------------------------------------------------------------------------------------------
# NumericRange
# --------------------------------------------------------------------------------------------


class NumericRangeError(ValueError):
    """A numeric range (Stethoscope's ``screenIdle: "<=120"``) is not valid."""


_NUMBER_RE = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?", re.ASCII)


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


class NumericRange:
    """A numeric constraint: ``"<=120"``, ``">=60 <=600"``, ``"=0"``, ``"120"`` or ``120``.

    Comparators are separated by whitespace and must all hold (AND). A bare number -- as a
    string or as an ``int``/``float`` straight from YAML -- means *exactly* that number, like
    ``"=120"`` (it does not mean "at most"); write ``"<=120"`` for a limit. Numbers are decimal
    (``-5``, ``1.5``; no exponents, at most 15 digits on each side of the point). ``||`` is not
    supported.
    """

    __slots__ = ("comparators", "text")

    text: str
    comparators: tuple[tuple[_Op, float], ...]

    def __init__(self, text: str | float) -> None:
        """Parse ``text``; raise :class:`NumericRangeError` if it is not a valid range."""
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            raise NumericRangeError(
                f"a numeric range must be a string or a number, not {type(text).__name__} {text!r}"
            )
        if not isinstance(text, str):
            try:
                number = float(text)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise NumericRangeError(f"{text!r} is not a finite number")
            comparators: tuple[tuple[_Op, float], ...] = (("=", number),)
            object.__setattr__(self, "text", str(text))
            object.__setattr__(self, "comparators", comparators)
            return
        quoted = _quote(text)
        if len(text) > MAX_VERSION_LENGTH:
            raise NumericRangeError(f"{quoted}: too long ({len(text)} characters)")
        words = text.split()
        if not words:
            raise NumericRangeError(f"{quoted}: empty range; expected e.g. '<=120'")
        if "||" in text:
            raise NumericRangeError(f'{quoted}: "||" is not supported in a numeric range')
        parsed: list[tuple[_Op, float]] = []
        i = 0
        while i < len(words):
            word = words[i]
            i += 1
            end = 0
            while end < len(word) and word[end] in "<>=!~^|&":
                end += 1
            op_text, rest = word[:end], word[end:]
            if op_text not in _PRIMITIVE:
                raise NumericRangeError(f"{quoted}: unknown operator {_quote(op_text)}")
            if op_text and not rest:
                if i >= len(words):
                    raise NumericRangeError(
                        f"{quoted}: operator {_quote(op_text)} is not followed by a number"
                    )
                rest = words[i]
                i += 1
            if not _NUMBER_RE.fullmatch(rest):
                raise NumericRangeError(f"{quoted}: {_quote(rest)} is not a number")
            parsed.append((_PRIMITIVE[op_text], float(rest)))
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "comparators", tuple(parsed))

    @classmethod
    def parse(cls, text: str | float) -> NumericRange:
        """Parse a numeric range; raise :class:`NumericRangeError` if it is not valid."""
        return cls(text)

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse to change a parsed range."""
        raise AttributeError(f"NumericRange is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[type[NumericRange], tuple[str]]:
        """Pickle and copy by re-parsing the text."""
        return (NumericRange, (self.text,))

    def __str__(self) -> str:
        """Return the text the range was parsed from."""
        return self.text

    def __repr__(self) -> str:
        """Return ``NumericRange('<=120')``."""
        return f"NumericRange({self.text!r})"

    def __eq__(self, other: object) -> bool:
        """Ranges are equal when they have the same comparators."""
        if not isinstance(other, NumericRange):
            return NotImplemented
        return self.comparators == other.comparators

    def __hash__(self) -> int:
        """Hash the comparators."""
        return hash(self.comparators)

    def contains(self, value: float) -> bool:
        """Whether ``value`` satisfies every comparator (NaN satisfies nothing)."""
        if isinstance(value, float) and math.isnan(value):
            return False
        return all(_TESTS[op](value, bound) for op, bound in self.comparators)

    def describe(self) -> str:
        """Describe the range for people: ``"at most 120"``, ``"between 60 and 600"``."""
        phrases = {
            "<": "less than {}",
            "<=": "at most {}",
            ">": "more than {}",
            ">=": "at least {}",
            "=": "exactly {}",
        }
        comps = self.comparators
        if len(comps) == 2:
            ops = {comps[0][0]: comps[0][1], comps[1][0]: comps[1][1]}
            if ">=" in ops and "<=" in ops:
                return f"between {_format_number(ops['>='])} and {_format_number(ops['<='])}"
        return " and ".join(phrases[op].format(_format_number(n)) for op, n in comps)
