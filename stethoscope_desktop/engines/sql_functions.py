"""osquery's own SQL functions and collations, for the embedded engine's SQLite connection.

osquery adds functions to SQLite that Fleet-style queries use (`regex_match`, `split`,
`concat_ws`, `sha256`, `to_base64`, `in_cidr_block`, its math functions…) and the `version`
collations. The embedded engine registers the same names here so that the same SQL gives the same
answer on both engines. The semantics follow osquery's sources (`osquery/sql/sqlite_string.cpp`,
`sqlite_math.cpp`, `sqlite_hashing.cpp`, `sqlite_encoding.cpp`, `sqlite_network.cpp`,
`sqlite_collation.cpp`), including their corner cases:

- Text is handled as osquery's C++ handles it: as UTF-8 *bytes* (`split` splits on any byte of
  its tokens; `regex_*` run byte-wise, so `.` matches one byte), and a number argument is turned
  into text the way SQLite does (`1.0`, `1.0e+20`). A NULL argument gives NULL.
- An index (`split(…, 1)`, `regex_match(…, 2)`) is read as SQLite's `sqlite3_value_int` reads it
  (`'1'` is 1, `1.9` is 1); a negative or out-of-range index gives NULL.
- `split` drops empty pieces and trims whitespace from the rest; `regex_split` keeps empty pieces
  but drops an empty piece after the last match (`std::sregex_token_iterator`).
- `regex_match`/`regex_split` use ECMAScript regular expressions (`std::regex`): `$` is the end
  of the text only, `.` matches neither a line feed nor a carriage return, `[]` matches nothing,
  an escaped letter without a meaning is that letter; Python-only syntax (lookbehind, named
  groups `(?P…)`, inline flags, atomic groups, possessive quantifiers) is refused as "Invalid
  regex", as osquery would.
  Patterns longer than 256 bytes are refused, as osquery's `--regex_max_size` default does.
  Like `std::regex` they backtrack (Fleet's real checks use lookaheads such as
  `.*(?=.*Administrators)`, which a linear-time engine can't run), so they run on the `regex`
  module with a timeout: the query's own deadline (`query_deadline`). A pattern such as `(a|aa)+$`
  that would take hours on a long value stops the query at its time limit, like a query that
  runs too long, instead of holding the scan.
- `concat_ws` appends the separator after every non-NULL argument that is not the last one, so
  `concat_ws('-', 'a', NULL)` is `'a-'` (osquery's behaviour; SQLite's own `concat_ws` says `'a'`).
- `log` is the natural logarithm (SQLite's built-in `log(x)` is base 10), `ceil`/`floor` return
  integers, and a C math error (`sqrt(-1)`, `log(0)`) fails the query with the C library's
  message, as osquery's `errno` check does.
- `from_base64` ignores line breaks and trailing `=`, reads a `=` elsewhere as zero bits, and
  gives `''` for text that is not base64; bytes that are not UTF-8 come back with U+FFFD.
- `in_cidr_block` follows Boost's `network_v4::hosts()`: an IPv4 network's own address and its
  broadcast address are *not* in the block (a /31 holds no hosts); a /32 holds its one address.
- `version_compare(a, b[, 'ARCH'|'DPKG'|'RHEL'])` and the `version`, `version_arch`,
  `version_dpkg`, `version_rhel` collations compare versions osquery's way (segment by segment,
  character by character), which is not `core.versions.compare_versions` (that one reads
  `14.6` and `14.6.0` as equal; osquery says `14.6` is smaller). version_compare returns -1/0/1
  and wants two texts (a number or NULL is an error, as in osquery). Older osquery releases
  lack version_compare and the flavoured collations; a check using them is UNKNOWN there.

Not provided: `community_id_v1`, `carve`, `sleep`, and the file-system helpers
(`find_file_path_in_cmd`, `is_path_deterministic`, `parent_directory`). SQLite's other built-in
math functions (`ln`, `log2`, `pow`, `mod`…) are left as they are; osquery builds may lack them.
Results at the edges of floating point (underflow, `exp` near overflow) may differ from osquery,
whose answers there depend on the platform's C library.
"""

from __future__ import annotations

import base64
import errno
import functools
import ipaddress
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import apsw

if TYPE_CHECKING:
    import regex

SqlValue = int | float | str | bytes | None

REGEX_MAX_SIZE = 256
# A regular expression run outside any query's deadline (a direct call, as in a test) stops after
# this long.
REGEX_TIME_LIMIT_S = 5.0
_WHITESPACE = b" \t\n\v\f\r"
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# Boost reads a network as ADDRESS/PREFIX-LENGTH, never with a netmask.
_CIDR_PREFIX = re.compile(r"/[0-9]{1,3}$")


def _error(message: str) -> apsw.SQLError:
    """Return the error that fails the query with `message`, as `sqlite3_result_error` does."""
    return apsw.SQLError(message)


# -- SQLite's conversions ---------------------------------------------------------------------


@functools.cache
def _converter() -> tuple[apsw.Connection, threading.Lock]:
    """Return a private SQLite connection (and its lock) that converts values SQLite's way."""
    return apsw.Connection(":memory:"), threading.Lock()


def _sqlite_cast(value: SqlValue, type_name: str) -> SqlValue:
    connection, lock = _converter()
    with lock:
        row = connection.execute(f"SELECT CAST(? AS {type_name})", (value,)).fetchone()
    return None if row is None else row[0]


def real_text(value: float) -> str:
    """Return a REAL as this SQLite writes it as text (`1.0`, `0.1`, `1.0e+20`, `Inf`)."""
    text = _sqlite_cast(value, "TEXT")
    return text if isinstance(text, str) else ""


def text_bytes(value: SqlValue) -> bytes:
    """Return a value as `sqlite3_value_text` gives it: UTF-8 bytes (a BLOB's bytes unchanged)."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, float):
        return real_text(value).encode("ascii")
    return str(value).encode("ascii")


def _c_string(value: SqlValue) -> bytes:
    """Return the text of a value up to its first NUL, as a C string sees it."""
    return text_bytes(value).split(b"\0", 1)[0]


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _clamp_int64(number: int) -> int:
    return max(_INT64_MIN, min(_INT64_MAX, number))


def sqlite_int(value: SqlValue) -> int:
    """Return a value as `sqlite3_value_int` reads it: a C int from SQLite's conversion rules.

    Text is read by SQLite itself (its longest leading integer, `'1.9'` is 1, `'x'` is 0).
    """
    if value is None:
        number = 0
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = 0 if math.isnan(value) else _clamp_int64(int(max(min(value, 9.3e18), -9.3e18)))
    else:
        converted = _sqlite_cast(value, "INTEGER")
        number = converted if isinstance(converted, int) else 0
    # sqlite3_value_int truncates the 64-bit value to a C int.
    return ((number + 2**31) % 2**32) - 2**31


def sqlite_double(value: SqlValue) -> float:
    """Return a value as `sqlite3_value_double` reads it (text: its leading number, else 0.0)."""
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    converted = _sqlite_cast(value, "REAL")
    return float(converted) if isinstance(converted, int | float) else 0.0


# -- string functions (sqlite_string.cpp) -----------------------------------------------------


def _split_args(value: SqlValue, token: SqlValue, index: SqlValue) -> tuple[bytes, bytes, int]:
    data, tokens, position = text_bytes(value), _c_string(token), sqlite_int(index)
    if not tokens:
        raise _error("Invalid input to split function")
    return data, tokens, position


def _pick(pieces: list[bytes], index: int) -> str | None:
    # static_cast<size_t>(index): a negative index is a huge one, out of range.
    return _decode(pieces[index]) if 0 <= index < len(pieces) else None


def split(value: SqlValue, tokens: SqlValue, index: SqlValue) -> str | None:
    """`split(text, tokens, index)`: split on any byte of `tokens`; drop empty pieces, trim."""
    if value is None or tokens is None or index is None:
        return None
    data, separators, position = _split_args(value, tokens, index)
    pattern = b"[" + b"".join(re.escape(bytes([byte])) for byte in separators) + b"]"
    pieces = [piece.strip(_WHITESPACE) for piece in re.split(pattern, data) if piece]
    return _pick(pieces, position)


def regex_split(value: SqlValue, pattern: SqlValue, index: SqlValue) -> str | None:
    """`regex_split(text, pattern, index)`: the pieces between the pattern's matches."""
    if value is None or pattern is None or index is None:
        return None
    data, source, position = _split_args(value, pattern, index)
    if len(source) > REGEX_MAX_SIZE:
        raise _error("Invalid regex")
    compiled = _compiled(source)
    pieces: list[bytes] = []
    start = 0
    matched = False
    for match in _within_deadline(lambda: list(compiled.finditer(data, timeout=_regex_timeout()))):
        pieces.append(data[start : match.start()])
        start = match.end()
        matched = True
    if not matched:
        pieces = [data]
    elif start < len(data):
        pieces.append(data[start:])
    return _pick(pieces, position)


def regex_match(value: SqlValue, pattern: SqlValue, index: SqlValue) -> str | None:
    """`regex_match(text, pattern, index)`: group `index` of the first match (0: all of it)."""
    if value is None or pattern is None or index is None:
        return None
    source = _c_string(pattern)
    if len(source) > REGEX_MAX_SIZE:
        raise _error(f"Invalid regex: too big, max size is {REGEX_MAX_SIZE} bytes")
    compiled = _compiled(source)
    data = text_bytes(value)
    match = _within_deadline(lambda: compiled.search(data, timeout=_regex_timeout()))
    position = sqlite_int(index)
    if match is None or not 0 <= position <= (match.re.groups or 0):
        return None
    # A group that took no part in the match is an empty string in std::smatch.
    return _decode(match.group(position) or b"")


def concat(*values: SqlValue) -> str | None:
    """`concat(a, b, …)`: the arguments' text joined, NULLs left out; no arguments: NULL."""
    if not values:
        return None
    return _decode(b"".join(_c_string(value) for value in values if value is not None))


def concat_ws(*values: SqlValue) -> str | None:
    """`concat_ws(separator, a, b, …)`: joined with the separator after each non-NULL but last."""
    if not values:
        raise _error("Missing separator to concat_ws")
    separator = _c_string(values[0])
    if len(values) == 1:
        return None
    output = bytearray()
    for position in range(1, len(values)):
        if values[position] is None:
            continue
        output += _c_string(values[position])
        if separator and position + 1 < len(values):
            output += separator
    return _decode(bytes(output))


def inet_aton(value: SqlValue) -> int | None:
    """`inet_aton(ip)`: an IPv4 address as an integer; NULL for anything else."""
    if value is None:
        return None
    text = _decode(_c_string(value))
    if ":" in text:
        return None
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        return None


# -- network functions (sqlite_network.cpp) ---------------------------------------------------


def in_cidr_block(cidr: SqlValue, address: SqlValue) -> int:
    """`in_cidr_block(cidr, ip)`: 1 if `ip` is one of the block's hosts (Boost's rule), else 0."""
    if not isinstance(cidr, str):
        raise _error("CIDR must be a string")
    if not isinstance(address, str):
        raise _error("IP address must be a string")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as failure:
        raise _error("IP address cannot be parsed") from failure
    if isinstance(ip, ipaddress.IPv4Address):
        try:
            if not _CIDR_PREFIX.search(cidr):
                raise ValueError(cidr)
            network4 = ipaddress.IPv4Network(cidr, strict=False)
        except ValueError as failure:
            raise _error("CIDR for IP address v4 cannot be parsed") from failure
        if network4.prefixlen == 32:
            return int(ip == ipaddress.IPv4Interface(cidr).ip)
        first = int(network4.network_address) + 1
        return int(first <= int(ip) < int(network4.broadcast_address))
    try:
        if not _CIDR_PREFIX.search(cidr):
            raise ValueError(cidr)
        network6 = ipaddress.IPv6Network(cidr, strict=False)
    except ValueError as failure:
        raise _error("CIDR for IP address v6 cannot be parsed") from failure
    return int(ipaddress.IPv6Address(int(ip)) in network6)


# -- hashing and encoding (sqlite_hashing.cpp, sqlite_encoding.cpp) ---------------------------


def _hasher(name: str) -> Callable[[SqlValue], str | None]:
    def digest(value: SqlValue) -> str | None:
        if value is None:
            return None
        import hashlib  # on first use: it loads OpenSSL's libcrypto, which a scan rarely needs

        return hashlib.new(name, _c_string(value), usedforsecurity=False).hexdigest()

    digest.__name__ = name
    digest.__doc__ = f"`{name}(text)`: the lower-case hex {name} of the text (up to a NUL)."
    return digest


md5 = _hasher("md5")
sha1 = _hasher("sha1")
sha256 = _hasher("sha256")


def to_base64(value: SqlValue) -> str | None:
    """`to_base64(text)`: the text's bytes in base64 (with `=` padding)."""
    if value is None:
        return None
    return base64.b64encode(text_bytes(value)).decode("ascii")


def conditional_to_base64(value: SqlValue) -> str | None:
    """`conditional_to_base64(text)`: the text itself if all printable ASCII, else base64."""
    if value is None:
        return None
    data = text_bytes(value)
    if all(0x20 <= byte < 0x7F for byte in data):
        return data.decode("ascii")
    return base64.b64encode(data).decode("ascii")


_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def from_base64(value: SqlValue) -> str | None:
    """`from_base64(text)`: the decoded text; `''` where the text is not base64."""
    if value is None:
        return None
    data = text_bytes(value).replace(b"\r\n", b"").replace(b"\n", b"").rstrip(b"=")
    if not data or len(data) % 4 == 1 or not set(data) <= _BASE64_ALPHABET:
        return ""
    # Boost's decoder reads a `=` inside the text as zero bits and keeps only whole bytes.
    padded = data.replace(b"=", b"A") + b"A" * (-len(data) % 4)
    decoded = base64.b64decode(padded)[: len(data) * 6 // 8]
    return _decode(decoded)


# -- math functions (sqlite_math.cpp) ---------------------------------------------------------


def _domain_error() -> apsw.SQLError:
    return _error(os.strerror(errno.EDOM))


def _range_error() -> apsw.SQLError:
    return _error(os.strerror(errno.ERANGE))


def _c_math(function: Callable[[float], float]) -> Callable[[float], float]:
    """Call a math function, turning Python's errors into C's `errno` errors."""

    def call(x: float) -> float:
        try:
            return function(x)
        except ValueError as failure:
            raise _domain_error() from failure
        except OverflowError as failure:
            raise _range_error() from failure

    return call


def _log(base_log: Callable[[float], float]) -> Callable[[float], float]:
    def call(x: float) -> float:
        if x == 0:
            raise _range_error()  # a pole error: -inf with ERANGE
        if x < 0:
            raise _domain_error()
        return base_log(x)

    return call


def _cot(x: float) -> float:
    tangent = _c_math(math.tan)(x)
    if tangent == 0:
        return math.copysign(math.inf, tangent)
    return 1.0 / tangent


def _double_function(name: str, function: Callable[[float], float]) -> Callable[[SqlValue], Any]:
    def call(value: SqlValue) -> float | None:
        if value is None:
            return None
        return function(sqlite_double(value))

    call.__name__ = name
    call.__doc__ = f"osquery's `{name}(x)`."
    return call


def _integer_function(name: str, function: Callable[[float], float]) -> Callable[[SqlValue], Any]:
    def call(value: SqlValue) -> int | None:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        x = sqlite_double(value)
        if not math.isfinite(x) or not _INT64_MIN <= x < _INT64_MAX:
            return _INT64_MIN  # what the undefined (int64_t) cast gives on x86-64
        return int(function(x))

    call.__name__ = name
    call.__doc__ = f"osquery's `{name}(x)`: an integer (an integer argument is returned as is)."
    return call


def power(base: SqlValue, exponent: SqlValue) -> float | None:
    """`power(x, y)`: x to the power y; C's domain and range errors fail the query."""
    if base is None or exponent is None:
        return None
    x, y = sqlite_double(base), sqlite_double(exponent)
    if x == 0 and y < 0:
        raise _range_error()  # a pole error in C; Python calls it a domain error
    return _c_math(lambda a: math.pow(a, y))(x)


def pi() -> float:
    """`pi()`: π."""
    return math.pi


MATH_FUNCTIONS: Mapping[str, Callable[[SqlValue], Any]] = {
    "sqrt": _double_function("sqrt", _c_math(math.sqrt)),
    "acos": _double_function("acos", _c_math(math.acos)),
    "asin": _double_function("asin", _c_math(math.asin)),
    "atan": _double_function("atan", _c_math(math.atan)),
    "cos": _double_function("cos", _c_math(math.cos)),
    "sin": _double_function("sin", _c_math(math.sin)),
    "tan": _double_function("tan", _c_math(math.tan)),
    "cot": _double_function("cot", _cot),
    "exp": _double_function("exp", _c_math(math.exp)),
    "log": _double_function("log", _log(math.log)),
    "log10": _double_function("log10", _log(math.log10)),
    "degrees": _double_function("degrees", math.degrees),
    "radians": _double_function("radians", math.radians),
    "ceil": _integer_function("ceil", math.ceil),
    "floor": _integer_function("floor", math.floor),
}


# -- regular expressions: std::regex's ECMAScript grammar on the `regex` module ---------------

_Result = TypeVar("_Result")
_query_deadline: ContextVar[float | None] = ContextVar("query_deadline", default=None)


@contextmanager
def query_deadline(deadline: float) -> Iterator[None]:
    """Within this block, regular expressions stop at `deadline` (a `time.monotonic()` value)."""
    token = _query_deadline.set(deadline)
    try:
        yield
    finally:
        _query_deadline.reset(token)


def _regex_timeout() -> float:
    deadline = _query_deadline.get()
    if deadline is None:
        return REGEX_TIME_LIMIT_S
    # The regex module reads 0 as "no time at all", so the pattern stops at its first check.
    return max(deadline - time.monotonic(), 0.0)


def _within_deadline(run: Callable[[], _Result]) -> _Result:
    """Return `run()`; a regular expression past its deadline interrupts the query."""
    try:
        return run()
    except TimeoutError as timeout:
        raise apsw.InterruptError(
            "a regular expression (regex_match or regex_split) ran past the query's time limit"
        ) from timeout


_KNOWN_ESCAPES = frozenset("bBdDsSwWfnrtv0123456789")
_QUANTIFIERS = frozenset("*+?")


def _translate_escape(pattern: str, position: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape at `pattern[position]` (a backslash); return it and the next index."""
    if position + 1 >= len(pattern):
        raise ValueError("a pattern cannot end in a backslash")
    char = pattern[position + 1]
    if char in _KNOWN_ESCAPES:
        if in_class and char in "bB0123456789":
            # [\b] is a backspace in ECMAScript; other escapes in a class keep their meaning.
            return ("\\x08" if char == "b" else "\\" + char), position + 2
        return "\\" + char, position + 2
    if char == "x":
        digits = pattern[position + 2 : position + 4]
        if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError("\\x needs two hex digits")
        return "\\x" + digits, position + 4
    if char == "c":
        letter = pattern[position + 2 : position + 3]
        if not letter.isascii() or not letter.isalpha():
            raise ValueError("\\c needs a letter")
        return f"\\x{ord(letter) % 32:02x}", position + 3
    if char == "u":
        digits = pattern[position + 2 : position + 6]
        if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError("\\u needs four hex digits")
        encoded = chr(int(digits, 16)).encode("utf-8", "surrogatepass")
        return "".join(f"\\x{byte:02x}" for byte in encoded), position + 6
    # Any other escaped character stands for itself (an identity escape).
    return re.escape(char), position + 2


def _translate_class(pattern: str, position: int) -> tuple[str, int]:
    """Translate the character class starting at `pattern[position]` (a `[`)."""
    position += 1
    negated = pattern.startswith("^", position)
    if negated:
        position += 1
    if pattern.startswith("]", position):
        # ECMAScript: [] matches nothing, [^] matches anything.
        return ("[\\s\\S]" if negated else "(?!)"), position + 1
    parts = ["[^" if negated else "["]
    previous = ""
    while position < len(pattern) and pattern[position] != "]":
        char = pattern[position]
        if char == "\\":
            text, position = _translate_escape(pattern, position, in_class=True)
            parts.append(text)
            previous = ""
            continue
        # Escape what Python would read as set syntax ([[, &&, ~~, ||, --).
        parts.append("\\" + char if char in "[&~|" or (char == "-" and previous == "-") else char)
        previous = char
        position += 1
    if position >= len(pattern):
        raise ValueError("an unclosed character class")
    parts.append("]")
    return "".join(parts), position + 1


def translate_ecmascript(pattern: str) -> str:
    """Return a Python `re` pattern (for bytes) meaning what `pattern` means to `std::regex`.

    Raises ValueError for syntax `std::regex` refuses (or that only Python would accept).
    """
    out: list[str] = []
    position = 0
    after_quantifier = False
    while position < len(pattern):
        char = pattern[position]
        quantifier = False
        if char == "\\":
            text, position = _translate_escape(pattern, position, in_class=False)
            out.append(text)
        elif char == "[":
            text, position = _translate_class(pattern, position)
            out.append(text)
        elif char == "(":
            if pattern.startswith("(?", position):
                if pattern[position : position + 3] not in ("(?:", "(?=", "(?!"):
                    raise ValueError(f"{pattern[position : position + 3]!r} is not ECMAScript")
                out.append(pattern[position : position + 3])
                position += 3
            else:
                out.append("(")
                position += 1
        elif char == ".":
            out.append("[^\\n\\r]")
            position += 1
        elif char == "$":
            out.append("\\Z")
            position += 1
        elif char in _QUANTIFIERS or char == "}":
            if after_quantifier and char == "+":
                raise ValueError("a possessive quantifier is not ECMAScript")
            out.append(char)
            position += 1
            # `*?` is a lazy quantifier; the `?` ends it.
            quantifier = not (char == "?" and after_quantifier)
        else:
            out.append(char)
            position += 1
        after_quantifier = quantifier
    return "".join(out)


@functools.lru_cache(maxsize=256)
def _compiled(source: bytes) -> regex.Pattern[bytes]:
    import regex  # on first use: few scans run a regular expression

    try:
        translated = translate_ecmascript(source.decode("utf-8", "surrogateescape"))
        return regex.compile(translated.encode("utf-8", "surrogateescape"), regex.VERSION0)
    except (ValueError, regex.error, RecursionError, OverflowError) as failure:
        raise _error("Invalid regex") from failure


# -- version_compare and the version collations (sqlite_collation.cpp) ------------------------

_DELIMITER_PRECEDENCE = {ord("~"): 1, ord("-"): 2, ord("^"): 3, ord("."): 4, ord(":"): 5}
_TILDE, _HYPHEN, _CARET, _COLON = ord("~"), ord("-"), ord("^"), ord(":")
# version_compare's third argument → (epoch, delimiter precedence, compare remaining,
# remainder precedence), as osquery sets them.
VERSION_FLAVORS: Mapping[str, tuple[bool, bool, bool, bool]] = {
    "": (False, False, False, False),
    "ARCH": (True, False, True, True),
    "DPKG": (True, True, False, False),
    "RHEL": (True, True, True, False),
}


def _signed_bytes(text: str | bytes) -> list[int]:
    # C's `char` is signed on x86-64 and on Apple's arm64: bytes above 127 are negative.
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return [byte - 256 if byte > 127 else byte for byte in data]


def _is_digit(char: int) -> bool:
    return ord("0") <= char <= ord("9")


def _compare_epoch(left: list[int], right: list[int]) -> int:
    left_epoch = left.index(_COLON) if _COLON in left else -1
    right_epoch = right.index(_COLON) if _COLON in right else -1
    if left_epoch >= 0 and right_epoch >= 0:
        return left_epoch - right_epoch
    if left_epoch >= 0:
        return 1
    if right_epoch >= 0:
        return -1
    return 0


def _compare_remainder(
    left: list[int],
    right: list[int],
    position: int,
    difference: int,
    compare_remaining: bool,
    remainder_precedence: bool,
) -> int:
    # Linux package versions: after the common part a `~` sorts before, `^` after, `-` equal.
    order = {_TILDE: 1, _HYPHEN: 0, _CARET: -1}
    for shorter, longer, sign in ((left, right, 1), (right, left, -1)):
        if len(shorter) != position:
            continue
        following = longer[position]
        if compare_remaining:
            if following in order:
                return sign * order[following]
            if difference and (not remainder_precedence or not _is_digit(shorter[position - 1])):
                return difference
        elif difference and following in _DELIMITER_PRECEDENCE:
            return difference
    return len(left) - len(right)


def version_compare_osquery(
    left: str | bytes,
    right: str | bytes,
    *,
    epoch: bool = False,
    delimiter_precedence: bool = False,
    compare_remaining: bool = False,
    remainder_precedence: bool = False,
) -> int:
    """Compare two versions as osquery's `versionCompare` does (negative, 0 or positive).

    Segments are compared character by character until a delimiter (`~ - ^ . :`); a segment
    that ends first is the smaller. The flags are osquery's, for Linux package versions.
    """
    lv, rv = _signed_bytes(left), _signed_bytes(right)
    if not lv or not rv:
        return (len(lv) > 0) - (len(rv) > 0)
    if lv == rv:
        return 0
    if epoch and (difference := _compare_epoch(lv, rv)) != 0:
        return difference
    first_difference = 0
    shortest = min(len(lv), len(rv))
    for position in range(shortest):
        lc, rc = lv[position], rv[position]
        left_delimiter = _DELIMITER_PRECEDENCE.get(lc, 0)
        right_delimiter = _DELIMITER_PRECEDENCE.get(rc, 0)
        if not left_delimiter and not right_delimiter:
            first_difference = first_difference or lc - rc
            continue
        if not left_delimiter:
            return 1
        if not right_delimiter:
            return -1
        if first_difference:
            return first_difference
        if delimiter_precedence and left_delimiter != right_delimiter:
            return left_delimiter - right_delimiter
    if len(lv) == len(rv):
        return first_difference
    return _compare_remainder(
        lv, rv, shortest, first_difference, compare_remaining, remainder_precedence
    )


def version_compare(*values: SqlValue) -> int:
    """`version_compare(a, b[, 'ARCH'|'DPKG'|'RHEL'])`: -1, 0 or 1."""
    if len(values) < 2 or not isinstance(values[0], str) or not isinstance(values[1], str):
        raise _error("Must provide two version strings to compare.")
    flavor = ""
    if len(values) > 2:
        if not isinstance(values[2], str):
            raise _error("The optional third parameter is not a string.")
        flavor = values[2].upper()
        if flavor not in VERSION_FLAVORS or not flavor:
            raise _error("The optional third parameter does not match one of: (ARCH, DPKG, RHEL).")
    epoch, delimiters, remaining, precedence = VERSION_FLAVORS[flavor]
    result = version_compare_osquery(
        _c_string(values[0]),
        _c_string(values[1]),
        epoch=epoch,
        delimiter_precedence=delimiters,
        compare_remaining=remaining,
        remainder_precedence=precedence,
    )
    return max(-1, min(1, result))


def _collation(flavor: str) -> Callable[[str, str], int]:
    epoch, delimiters, remaining, precedence = VERSION_FLAVORS[flavor]

    def collate(left: str, right: str) -> int:
        return version_compare_osquery(
            left,
            right,
            epoch=epoch,
            delimiter_precedence=delimiters,
            compare_remaining=remaining,
            remainder_precedence=precedence,
        )

    return collate


COLLATIONS: Mapping[str, Callable[[str, str], int]] = {
    "version": _collation(""),
    "version_arch": _collation("ARCH"),
    "version_dpkg": _collation("DPKG"),
    "version_rhel": _collation("RHEL"),
}

# name → (function, number of arguments; -1 for any)
SCALAR_FUNCTIONS: Mapping[str, tuple[Callable[..., Any], int]] = {
    "split": (split, 3),
    "regex_split": (regex_split, 3),
    "regex_match": (regex_match, 3),
    "concat": (concat, -1),
    "concat_ws": (concat_ws, -1),
    "inet_aton": (inet_aton, 1),
    "in_cidr_block": (in_cidr_block, 2),
    "md5": (md5, 1),
    "sha1": (sha1, 1),
    "sha256": (sha256, 1),
    "to_base64": (to_base64, 1),
    "from_base64": (from_base64, 1),
    "conditional_to_base64": (conditional_to_base64, 1),
    **{name: (function, 1) for name, function in MATH_FUNCTIONS.items()},
    "power": (power, 2),
    "pi": (pi, 0),
    "version_compare": (version_compare, -1),
}


def register_osquery_functions(connection: apsw.Connection) -> None:
    """Add osquery's SQL functions and version collations to an APSW connection."""
    for name, (function, arguments) in SCALAR_FUNCTIONS.items():
        connection.create_scalar_function(name, function, arguments, deterministic=True)
    for name, collation in COLLATIONS.items():
        connection.create_collation(name, collation)
