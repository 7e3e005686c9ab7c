"""osquery's SQL functions on the embedded engine give osquery's answers.

The expected values are osquery's own: the examples in its documentation
(`docs/wiki/introduction/sql.md`) and the cases of its test suite (`osquery/sql/tests/sql.cpp`),
plus the corner cases its sources decide (NULLs, out-of-range indexes, errors). osquery's tests
print NULL as an empty string; here NULL is None. Every query runs through a real
`EmbeddedEngine`, so the functions are also proven to be registered there.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import apsw
import pytest

from stethoscope_desktop.engines.base import QueryError, ScanSession
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.engines.sql_functions import (
    COLLATIONS,
    REGEX_MAX_SIZE,
    SCALAR_FUNCTIONS,
    real_text,
    register_osquery_functions,
    translate_ecmascript,
)
from stethoscope_desktop.tables.base import Value

EDOM = os.strerror(errno.EDOM)
ERANGE = os.strerror(errno.ERANGE)


@pytest.fixture(scope="module")
def session() -> Iterator[ScanSession]:
    engine = EmbeddedEngine([])
    scan = engine.begin_scan()
    try:
        yield scan
    finally:
        scan.close()
        engine.close()


def value(session: ScanSession, expression: str) -> Value:
    """Return the one value `SELECT <expression>` gives."""
    rows = session.query(f"SELECT {expression} AS v").rows
    assert len(rows) == 1
    return rows[0]["v"]


def case(expression: str, expected: Value, id: str) -> object:
    return pytest.param(expression, expected, id=id)


STRING_CASES = [
    # regex_match: osquery's documentation and tests.
    case(r"regex_match('hello world. Goodbye', '(\w+) \w+', 0)", "hello world", "match-doc-0"),
    case(r"regex_match('hello world. Goodbye', '(\w+) \w+', 1)", "hello", "match-doc-1"),
    case("regex_match('hello world', '(l)(o).*', 0)", "lo world", "match-multiple-0"),
    case("regex_match('hello world', '(l)(o).*', 1)", "l", "match-multiple-1"),
    case("regex_match('hello world', '(l)(o).*', 2)", "o", "match-multiple-2"),
    case("regex_match('hello world', '(l)(o).*', 3)", None, "match-group-out-of-range"),
    case(r"regex_match('hello world', '(\w+) .*(or|ld)', 0)", "hello world", "match-complex-0"),
    case(r"regex_match('hello world', '(\w+) .*(or|ld)', 1)", "hello", "match-complex-1"),
    case(r"regex_match('hello world', '(\w+) .*(or|ld)', 2)", "ld", "match-complex-2"),
    case(
        "regex_match('/filesystem/path/download.extension.zip', '.+/([^./]+)', 1)",
        "download",
        "match-file-extract",
    ),
    case("regex_match('hello world', '', 0)", "", "match-empty-pattern"),
    case("regex_match('foo/bar', '|', 0)", "", "match-bare-or"),
    case("regex_match('hello world', 'no match', 0)", None, "match-none"),
    # regex_match: NULLs, indexes read as sqlite3_value_int reads them, unmatched groups.
    case("regex_match(NULL, 'a', 0)", None, "match-null-text"),
    case("regex_match('a', NULL, 0)", None, "match-null-pattern"),
    case("regex_match('a', 'a', NULL)", None, "match-null-index"),
    case("regex_match('ab', '(a)(b)', '2')", "b", "match-index-as-text"),
    case("regex_match('ab', '(a)(b)', 1.9)", "a", "match-index-truncated"),
    case("regex_match('ab', '(a)(b)', -1)", None, "match-negative-index"),
    case("regex_match('a-b', '(x)?-', 1)", "", "match-unmatched-group-is-empty"),
    case("regex_match(12345, '3(4)', 1)", "4", "match-number-as-text"),
    # ECMAScript, not Python: $ is the very end, . stops at line breaks, bytes not characters.
    case("regex_match('abc' || char(10), 'abc$', 0)", None, "match-dollar-is-end-only"),
    case("regex_match('a' || char(10) || 'b', 'a.b', 0)", None, "match-dot-not-newline"),
    case("regex_match('a' || char(13) || 'b', 'a.b', 0)", None, "match-dot-not-return"),
    case(r"regex_match('xZy', '\Z', 0)", "Z", "match-identity-escape"),
    case(r"regex_match('a b', '\s', 0)", " ", "match-class-escape"),
    case("regex_match('é', '^.$', 0)", None, "match-dot-is-one-byte"),
    case("regex_match('é', '^..$', 0)", "é", "match-two-bytes"),
    case("regex_match('ab', '[]a', 0)", None, "match-empty-class"),
    case("regex_match('ab', '[^]b', 0)", "ab", "match-any-class"),
    case(r"regex_match('a]b', '[]]', 0)", None, "match-bracket-after-empty-class"),
    case("regex_match('a[b', '[[]', 0)", "[", "match-bracket-in-class"),
    case(r"regex_match('tab' || char(9), '\cI', 0)", "\t", "match-control-escape"),
    case(r"regex_match('Ab', '\x41', 0)", "A", "match-hex-escape"),
    case(r"regex_match('é', '\u00e9', 0)", "é", "match-unicode-escape"),
    case("regex_match('aaa', 'a*?', 0)", "", "match-lazy"),
    case("regex_match('aaa', 'a{2}', 0)", "aa", "match-braces"),
    case("regex_match('x-y', '(?:x)-(?=y)', 0)", "x-", "match-noncapturing-lookahead"),
    case(f"regex_match('a', '{'a?' * (REGEX_MAX_SIZE // 2)}', 0)", "a", "match-256-bytes-is-fine"),
    # split: any one of the tokens; empty pieces dropped; the rest trimmed.
    case("split('/foo/bar', '/', 0)", "foo", "split-slash-0"),
    case("split('/foo/bar', '/', 1)", "bar", "split-slash-1"),
    case("split('/foo/bar', '/', 2)", None, "split-slash-2"),
    case("split('foo;;bar', ';;', 0)", "foo", "split-double-0"),
    case("split('foo;;bar', ';;', 1)", "bar", "split-double-1"),
    case("split('foo;;bar', ';;', 2)", None, "split-double-2"),
    case("split(1001, 1, 0)", "00", "split-doc-uid-1001"),
    case("split(500, 1, 0)", "500", "split-doc-uid-500"),
    case("split('192.168.0.1', '.', 1)", "168", "split-source-example"),
    case("split('192.168.0.1', '.0', 0)", "192", "split-any-of-tokens"),
    case("split(' a , b ', ',', 1)", "b", "split-trims"),
    case("split('a, ,b', ',', 1)", "", "split-blank-piece-trimmed-not-dropped"),
    case("split('a,b', ',', -1)", None, "split-negative-index"),
    case("split('a,b', ',', '1')", "b", "split-index-as-text"),
    case("split(NULL, ',', 0)", None, "split-null"),
    case("split('a,b', NULL, 0)", None, "split-null-tokens"),
    case("split('aéb', 'é', 1)", "b", "split-on-bytes"),
    # regex_split: empty pieces kept, an empty piece after the last match dropped.
    case("regex_split('/foo/bar', '/', 0)", "", "rsplit-slash-0"),
    case("regex_split('/foo/bar', '/', 1)", "foo", "rsplit-slash-1"),
    case("regex_split('/foo/bar', '/', 2)", "bar", "rsplit-slash-2"),
    case("regex_split('/foo/bar', '/', 3)", None, "rsplit-slash-3"),
    case("regex_split('foo;;bar', ';;', 0)", "foo", "rsplit-double-0"),
    case("regex_split('foo;;bar', ';;', 1)", "bar", "rsplit-double-1"),
    case("regex_split('foo;;bar', ';;', 2)", None, "rsplit-double-2"),
    case("regex_split('foo;bar//qux', '(;|/)+', 0)", "foo", "rsplit-options-0"),
    case("regex_split('foo;bar//qux', '(;|/)+', 1)", "bar", "rsplit-options-1"),
    case("regex_split('foo;bar//qux', '(;|/)+', 2)", "qux", "rsplit-options-2"),
    case("regex_split('foo;bar//qux', '(;|/)+', 3)", None, "rsplit-options-3"),
    case(
        "regex_split('/filesystem/path/download.extension.zip', '(.*/)|(.extension.zip)', 1)",
        "download",
        "rsplit-file-extract",
    ),
    case(r"regex_split('192.168.0.1', '\.', 1)", "168", "rsplit-source-example"),
    case(r"regex_split('192.168.0.1', '\.0', 0)", "192.168", "rsplit-multi-char"),
    case("regex_split('foo/bar', '|', 0)", "", "rsplit-bare-or"),
    case("regex_split('a,,b', ',', 1)", "", "rsplit-keeps-empty-pieces"),
    case("regex_split('a,', ',', 1)", None, "rsplit-drops-trailing-empty"),
    case("regex_split('abc', 'x', 0)", "abc", "rsplit-no-match"),
    case("regex_split('', 'x', 0)", "", "rsplit-empty-text"),
    case("regex_split(NULL, 'x', 0)", None, "rsplit-null"),
    # concat and concat_ws: osquery's tests and documentation.
    case("concat()", None, "concat-nothing"),
    case("concat('hello')", "hello", "concat-one"),
    case("concat('hello', 'world')", "helloworld", "concat-two"),
    case("concat('hello', NULL, 'world')", "helloworld", "concat-null"),
    case("concat(1, 2, 3, 'go')", "123go", "concat-numbers"),
    case("concat('')", "", "concat-empty"),
    case("concat('hello', NULL, ' ', 'world')", "hello world", "concat-doc"),
    case("concat(1.5, 2.0)", "1.52.0", "concat-reals-as-sqlite-writes-them"),
    case("concat_ws('')", None, "concat-ws-separator-only"),
    case("concat_ws(NULL)", None, "concat-ws-null-separator-only"),
    case("concat_ws(', ', 'hello', 'world', 1, 2, 3)", "hello, world, 1, 2, 3", "concat-ws"),
    case("concat_ws('', 'hello', 'world', 1, 2, 3)", "helloworld123", "concat-ws-empty-sep"),
    case("concat_ws(NULL, 'hello', 'world', 1, 2, 3)", "helloworld123", "concat-ws-null-sep"),
    case("concat_ws(' ', 'hello', NULL, 'world')", "hello world", "concat-ws-doc"),
    case("concat_ws('x', 'hello')", "hello", "concat-ws-one"),
    case("concat_ws('x', '', '')", "x", "concat-ws-empty-texts"),
    case("concat_ws('-', 'a', NULL)", "a-", "concat-ws-trailing-null-keeps-separator"),
    # inet_aton
    case("inet_aton('1.0.1.5')", 16777477, "inet-aton-doc"),
    case("inet_aton('::1')", None, "inet-aton-ipv6"),
    case("inet_aton('256.1.1.1')", None, "inet-aton-invalid"),
    case("inet_aton(NULL)", None, "inet-aton-null"),
    # in_cidr_block: the documentation, and Boost's hosts() range.
    case("in_cidr_block('10.0.0.0/26', '10.0.0.24')", 1, "cidr-doc-v4"),
    case("in_cidr_block('2001:db8::/48', '2001:db8:0:ffff:ffff:ffff:ffff:ffff')", 1, "cidr-doc-v6"),
    case("in_cidr_block('10.0.0.0/24', '10.0.1.1')", 0, "cidr-outside"),
    case("in_cidr_block('10.0.0.0/24', '10.0.0.0')", 0, "cidr-network-address-is-no-host"),
    case("in_cidr_block('10.0.0.0/24', '10.0.0.255')", 0, "cidr-broadcast-is-no-host"),
    case("in_cidr_block('10.0.0.0/31', '10.0.0.1')", 0, "cidr-31-has-no-hosts"),
    case("in_cidr_block('10.0.0.7/32', '10.0.0.7')", 1, "cidr-32-is-its-address"),
    case("in_cidr_block('10.0.0.9/24', '10.0.0.1')", 1, "cidr-host-bits-allowed"),
    case("in_cidr_block('2001:db8::/64', '2001:db8::')", 1, "cidr-v6-includes-network"),
    # hashes: osquery's tests and documentation.
    case("md5('test')", "098f6bcd4621d373cade4e832627b4f6", "md5"),
    case("sha1('test')", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", "sha1"),
    case(
        "sha256('test')",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "sha256",
    ),
    case("sha1('Guest')", "face83ee3014bdc8f98203cc94e2e89222452e90", "sha1-doc"),
    case("sha1(5)", "ac3478d69a3c81fa62e60f5c3696165a4e5e6ac4", "sha1-number-as-text"),
    case("md5(NULL)", None, "md5-null"),
    # base64: osquery's tests and documentation.
    case("to_base64('test')", "dGVzdA==", "to-base64"),
    case("from_base64('dGVzdA==')", "test", "from-base64"),
    case("to_base64('CPU0')", "Q1BVMA==", "to-base64-doc"),
    case("from_base64(to_base64('CPU0'))", "CPU0", "base64-round-trip"),
    case("conditional_to_base64('test')", "test", "conditional-printable"),
    case("conditional_to_base64('悪因悪果')", "5oKq5Zug5oKq5p6c", "conditional-non-ascii"),
    case("conditional_to_base64('a' || char(9))", "YQk=", "conditional-control-character"),
    case("from_base64('dGVzdA')", "test", "from-base64-without-padding"),
    case("from_base64('dGVz' || char(10) || 'dA==')", "test", "from-base64-line-break"),
    case("from_base64('not base64!')", "", "from-base64-invalid"),
    case("from_base64('Zm9vY')", "", "from-base64-one-char-too-many"),
    case("to_base64('')", "", "to-base64-empty"),
    case("to_base64(NULL)", None, "to-base64-null"),
]


@pytest.mark.parametrize(("expression", "expected"), STRING_CASES)
def test_string_network_hash_and_encoding_functions(
    session: ScanSession, expression: str, expected: Value
) -> None:
    assert value(session, expression) == expected


def approx(number: float) -> object:
    # osquery's documentation prints 15 significant digits.
    return pytest.approx(number, rel=1e-13)


MATH_CASES = [
    case("sqrt(107372805120)", approx(327677.898430761), "sqrt-doc"),
    case("log(107372805120)", approx(25.3995727757846), "log-is-natural-doc"),
    case("log10(107372805120)", approx(11.0308942992233), "log10-doc"),
    case("ceil(107372805120)", 107372805120, "ceil-doc"),
    case("floor(107372805120)", 107372805120, "floor-doc"),
    case("pi() * 107372805120", approx(337321615760.32), "pi-doc"),
    case("sin(30)", approx(-0.988031624092862), "sin-doc"),
    case("cos(30)", approx(0.154251449887584), "cos-doc"),
    case("tan(30)", approx(-6.40533119664628), "tan-doc"),
    case("cot(30)", approx(-0.156119952161659), "cot-doc"),
    case("asin(.5)", approx(0.523598775598299), "asin-doc"),
    case("acos(.5)", approx(1.0471975511966), "acos-doc"),
    case("atan(.5)", approx(0.463647609000806), "atan-doc"),
    case("radians(60)", approx(1.0471975511966), "radians-doc"),
    case("degrees(1.3)", approx(74.484513367007), "degrees-doc"),
    case("ceil(1.2)", 2, "ceil-is-an-integer"),
    case("floor(-1.5)", -2, "floor-negative"),
    case("ceil('1.5')", 2, "ceil-of-text"),
    case("typeof(ceil(1.2))", "integer", "ceil-type"),
    case("exp(0)", 1.0, "exp"),
    case("power(2, 10)", 1024.0, "power"),
    case("log(NULL)", None, "math-null"),
    case("sqrt('16 apples')", 4.0, "math-leading-number-of-text"),
    case("cot(0)", float("inf"), "cot-zero-is-infinite"),
]


@pytest.mark.parametrize(("expression", "expected"), MATH_CASES)
def test_math_functions(session: ScanSession, expression: str, expected: Value) -> None:
    assert value(session, expression) == expected


VERSION_COMPARE_CASES = [
    # osquery's test_version_compare, t0 … t10.
    case("version_compare('1.0', '1.0')", 0, "t0"),
    case("version_compare('1:2.0-10', '1:2.0-10', 'DPKG')", 0, "t1"),
    case("version_compare('4:1.1.0', '4:1.1.0-3', 'arCH')", 0, "t2"),
    case("version_compare('50.4.1b', '50.4.1c')", -1, "t3"),
    case("version_compare('1.0.8-4', '1.0.8-6', 'arch')", -1, "t4"),
    case("version_compare('1.0.0~rc2^2021', '1.0.0', 'RHEL')", -1, "t5"),
    case("version_compare('1.1.0~BETA2^1', '1.1.0~CR1', 'RhEl')", -1, "t6"),
    case("version_compare('1.0.1.1', '1.0.1^2021', 'rhel')", 1, "t7"),
    case("version_compare('1.9.9-1ubuntu2.4', '1.9.9-1ubuntu2.3', 'dpkg')", 1, "t8"),
    case("version_compare('1:1.2.13-2', '4.2.1', 'ARCH')", 1, "t9"),
    case("version_compare('106.32.1', '106:32.1')", 0, "t10"),
    # What Fleet-style policies compare.
    case("version_compare('14.10', '14.9')", 1, "longer-segment-is-greater"),
    case("version_compare('14.6', '14.6.0')", -1, "fewer-segments-is-smaller"),
    case("version_compare('', '1')", -1, "empty-is-smallest"),
]


@pytest.mark.parametrize(("expression", "expected"), VERSION_COMPARE_CASES)
def test_version_compare_gives_osquerys_answers(
    session: ScanSession, expression: str, expected: int
) -> None:
    assert value(session, expression) == expected


# osquery's test_collate_version_* cases: (left, operator, right, collation); each is true.
COLLATION_CASES = [
    ("1.0", "=", "1.0", "version"),
    ("1:0.0", "=", "1.0.0", "version"),
    ("2.50^1a", "=", "2.50~1a", "version"),
    ("1.0", "<", "1.1", "version"),
    ("1.1", "<", "1.a", "version"),
    ("50.4.1b", "<", "50.4.1c", "version"),
    ("1.0.0", "<", "1.0.0-2", "version"),
    ("1.0.0-2", "<", "1:0.0.3", "version"),
    ("1.12.1", "<", "1.13", "version"),
    ("1.1", ">", "1.0", "version"),
    ("190.10a", ">", "20.10a", "version"),
    ("20.10a", ">", "20.102", "version"),
    ("57:4", ">", "6.87.5", "version"),
    ("98.100.21-1b", ">", "98.100.21-1a", "version"),
    ("8.11", ">", "8.10.24", "version"),
    ("1.0", "=", "1.0", "version_arch"),
    ("1.0", "=", "1.0-4", "version_arch"),
    ("4:2", "=", "4:2-1", "version_arch"),
    ("1.0", "<", "1.1", "version_arch"),
    ("1.6.1-9", "<", "1.6.1-10", "version_arch"),
    ("20220713-1", "<", "20221123-1", "version_arch"),
    ("2-2pre", "<", "2-2rc", "version_arch"),
    ("2.38-6", "<", "2.39-4", "version_arch"),
    ("1.0.8-4", "<", "1.0.8-5", "version_arch"),
    ("20210603-1", "<", "20220905-1", "version_arch"),
    ("41.1-2", "<", "43alpha+r8+g1de47dbc-1", "version_arch"),
    ("9.1-1", "<", "9.1-3", "version_arch"),
    ("1:42.3.1-1", "<", "1:43.2-1", "version_arch"),
    ("42.3-1", "<", "43.2-1", "version_arch"),
    ("1.1", ">", "1.0", "version_arch"),
    ("3.46.7-1", ">", "3.44.1-1", "version_arch"),
    ("6.0.12.arch1-1", ">", "5.18.14.arch1-1", "version_arch"),
    ("5.6.0-2", ">", "5.3.0-2", "version_arch"),
    ("6.0.2-5", ">", "6.0.1-5", "version_arch"),
    ("3:0.164.r3095.baee400-4", ">", "3:0.164.r3081.19856cc-2", "version_arch"),
    ("2022.2-1", ">", "2022.1-1", "version_arch"),
    ("5.2.9-1", ">", "5.2.5-3", "version_arch"),
    ("42.2-1", ">", "42.1-2", "version_arch"),
    ("0.23.90-1", ">", "0.23.1-9", "version_arch"),
    ("1:1.2.13-2", ">", "4.2.1", "version_arch"),
    ("1.0", "=", "1.0", "version_dpkg"),
    ("1.0-0", "=", "1.0-0", "version_dpkg"),
    ("1:2.0-10", "=", "1:2.0-10", "version_dpkg"),
    ("1.0", "<", "1.1", "version_dpkg"),
    ("22.07.5-2ubuntu1.3", "<", "22.07.5-2ubuntu1.4", "version_dpkg"),
    ("12ubuntu4.2", "<", "12ubuntu4.3", "version_dpkg"),
    ("2.38-4ubuntu2.1", "<", "2.38-4ubuntu2.2", "version_dpkg"),
    ("1.19.2-2ubuntu0.1", "<", "1.19.2-2ubuntu0.2", "version_dpkg"),
    ("2.5.13+dfsg-0ubuntu0.22.04.1", "<", "2.5.14+dfsg-0ubuntu0.22.04.2", "version_dpkg"),
    ("1.1", ">", "1.0", "version_dpkg"),
    ("1.21.1ubuntu2.2", ">", "1.21.1ubuntu2.1", "version_dpkg"),
    ("3.0.2-0ubuntu1.10", ">", "3.0.2-0ubuntu1.8", "version_dpkg"),
    ("5.34.0-3ubuntu1.2", ">", "5.34.0-3ubuntu1.1", "version_dpkg"),
    ("1.9.9-1ubuntu2.4", ">", "1.9.9-1ubuntu2.3", "version_dpkg"),
    ("2:8.2.3995-1ubuntu2.9", ">", "2:8.2.3995-1ubuntu2.3", "version_dpkg"),
    ("1.0", "=", "1.0", "version_rhel"),
    ("0.5.0~rc1^202", "=", "0.5.0~rc1^202", "version_rhel"),
    ("1:1.0.0~rc2", "=", "1:1.0.0~rc2", "version_rhel"),
    ("1.0", "<", "1.1", "version_rhel"),
    ("1.0.0~rc2^2021", "<", "1.0.0", "version_rhel"),
    ("1.0.0", "<", "1.0.1", "version_rhel"),
    ("1.0.1", "<", "1.0.1^2021", "version_rhel"),
    ("1.0.1^2021", "<", "1.0.1.security1", "version_rhel"),
    ("1.0.1", "<", "pkg-1.0.1.security1", "version_rhel"),
    ("1.1.0~BETA2", "<", "1.1.0~CR1", "version_rhel"),
    ("1.1.0.2021.SP1", "<", "1.1.0.2021.SP1_CP1", "version_rhel"),
    ("9.11.4-26.P2.el7_9.10", "<", "32:9.11.4-26.P2.el7_9.13", "version_rhel"),
    ("1:1.8.0.352.b08-2.el7_9", "<", "1:1.8.0.372.b07-1.el7_9", "version_rhel"),
    ("5.6.0-1.linux", "<", "5.9.1-1.linux", "version_rhel"),
    ("1.1", ">", "1.0", "version_rhel"),
    ("1.0.0~rc2", ">", "1.0.0~rc1", "version_rhel"),
    ("1.0.0", ">", "1.0.0~rc2", "version_rhel"),
    ("1.0.1.security1", ">", "1.0.0~rc2", "version_rhel"),
    ("1.1.0~BETA", ">", "1.0.1.security1", "version_rhel"),
    ("1.1.0~CR1", ">", "1.1.0~BETA", "version_rhel"),
    ("1.1.0.20201001.GA1", ">", "1.1.0~CR1", "version_rhel"),
    ("1.0.0~rc2^20210101gf00fabd", ">", "1.0.0~rc2", "version_rhel"),
    ("1.0.0", ">", "1.0.0~rc2^20210101gf00fabd", "version_rhel"),
    ("1.0.1^20210203gbbbccc0", ">", "1.0.1", "version_rhel"),
    ("1.0.1.security1", ">", "1.0.1^20210203gbbbccc0", "version_rhel"),
]


@pytest.mark.parametrize(
    ("left", "operator", "right", "collation"),
    COLLATION_CASES,
    ids=[f"{c[3]}:{c[0]}{c[1]}{c[2]}" for c in COLLATION_CASES],
)
def test_version_collations_give_osquerys_answers(
    session: ScanSession, left: str, operator: str, right: str, collation: str
) -> None:
    assert value(session, f"'{left}' {operator} '{right}' COLLATE {collation}") == 1


def test_the_version_collation_sorts_a_column(session: ScanSession) -> None:
    rows = session.query(
        "SELECT v FROM (SELECT '14.10' AS v UNION ALL SELECT '14.9' UNION ALL SELECT '9.1' "
        "UNION ALL SELECT '14.10.1') ORDER BY v COLLATE version"
    ).rows
    assert [row["v"] for row in rows] == ["9.1", "14.9", "14.10", "14.10.1"]


ERROR_CASES = [
    case("regex_match('foo/bar', '(/', 0)", "Invalid regex", "match-unclosed-group"),
    case("regex_match('foo/bar', '+', 0)", "Invalid regex", "match-nothing-to-repeat"),
    case(
        f"regex_match('foo/bar', '{'|' * 1000}', 0)",
        f"Invalid regex: too big, max size is {REGEX_MAX_SIZE} bytes",
        "match-too-big",
    ),
    case("regex_match('ab', '(?<=a)b', 0)", "Invalid regex", "match-python-lookbehind"),
    case("regex_match('ab', '(?P<x>a)', 0)", "Invalid regex", "match-python-named-group"),
    case("regex_match('ab', '(?i)A', 0)", "Invalid regex", "match-python-inline-flag"),
    case("regex_match('ab', '(?>a)', 0)", "Invalid regex", "match-python-atomic-group"),
    case("regex_match('aa', 'a++', 0)", "Invalid regex", "match-python-possessive"),
    case("regex_match('ab', '[a', 0)", "Invalid regex", "match-unclosed-class"),
    case("regex_split('foo/bar', '(/', 0)", "Invalid regex", "rsplit-unclosed-group"),
    case("regex_split('foo/bar', '+', 0)", "Invalid regex", "rsplit-nothing-to-repeat"),
    case(f"regex_split('foo/bar', '{'|' * 1000}', 0)", "Invalid regex", "rsplit-too-big"),
    case(
        f"regex_match('a', '{'a' * (REGEX_MAX_SIZE + 1)}', 0)",
        "Invalid regex: too big",
        "match-257-bytes",
    ),
    case("regex_split('foo/bar', '', 0)", "Invalid input to split function", "rsplit-empty"),
    case("split('foo;;bar', '', 0)", "Invalid input to split function", "split-empty"),
    case("concat_ws()", "Missing separator to concat_ws", "concat-ws-nothing"),
    case("in_cidr_block(1, '1.2.3.4')", "CIDR must be a string", "cidr-not-text"),
    case("in_cidr_block('10.0.0.0/8', 5)", "IP address must be a string", "cidr-ip-not-text"),
    case("in_cidr_block('10.0.0.0/8', 'x')", "IP address cannot be parsed", "cidr-bad-ip"),
    case(
        "in_cidr_block('10.0.0.0', '10.0.0.1')",
        "CIDR for IP address v4 cannot be parsed",
        "cidr-no-prefix",
    ),
    case(
        "in_cidr_block('10.0.0.0/255.0.0.0', '10.0.0.1')",
        "CIDR for IP address v4 cannot be parsed",
        "cidr-netmask",
    ),
    case(
        "in_cidr_block('10.0.0.0/8', '::1')", "CIDR for IP address v6 cannot be parsed", "cidr-v6"
    ),
    case("sqrt(-1)", EDOM, "sqrt-domain"),
    case("log(0)", ERANGE, "log-pole"),
    case("log(-1)", EDOM, "log-domain"),
    case("log10(0)", ERANGE, "log10-pole"),
    case("acos(2)", EDOM, "acos-domain"),
    case("power(0, -1)", ERANGE, "power-pole"),
    case("power(-8, 1.0 / 3)", EDOM, "power-domain"),
    case("exp(1000)", ERANGE, "exp-overflow"),
    case("version_compare('1')", "Must provide two version strings to compare.", "version-one-arg"),
    case(
        "version_compare(1, '2')", "Must provide two version strings to compare.", "version-number"
    ),
    case(
        "version_compare(NULL, '2')", "Must provide two version strings to compare.", "version-null"
    ),
    case(
        "version_compare('1', '2', 3)",
        "The optional third parameter is not a string.",
        "version-flavor-number",
    ),
    case(
        "version_compare('1', '2', 'deb')",
        "The optional third parameter does not match one of: (ARCH, DPKG, RHEL).",
        "version-flavor-unknown",
    ),
]


@pytest.mark.parametrize(("expression", "message"), ERROR_CASES)
def test_errors_fail_the_query_with_osquerys_message(
    session: ScanSession, expression: str, message: str
) -> None:
    with pytest.raises(QueryError) as raised:
        value(session, expression)
    assert message in raised.value.message


def test_an_error_does_not_break_the_next_query(session: ScanSession) -> None:
    with pytest.raises(QueryError):
        value(session, "sqrt(-1)")
    assert value(session, "split('a,b', ',', 1)") == "b"


@pytest.mark.parametrize(
    "number", [1.0, 0.1, 1e20, 1e-5, -2.5, 1 / 3, 3.0e15, 2.0**60, float("inf")]
)
def test_reals_become_text_as_sqlite_writes_them(number: float) -> None:
    connection = apsw.Connection(":memory:")
    (expected,) = connection.execute("SELECT CAST(? AS TEXT)", (number,)).fetchone()
    assert real_text(number) == expected


@pytest.mark.parametrize(
    ("pattern", "translated"),
    [
        ("a.b", "a[^\\n\\r]b"),
        ("^a$", "^a\\Z"),
        ("[a-z]+", "[a-z]+"),
        ("\\q", "q"),
        ("[[&|~]", "[\\[\\&\\|\\~]"),
        ("(?:a)(?=b)(?!c)", "(?:a)(?=b)(?!c)"),
    ],
)
def test_ecmascript_patterns_translate_to_python(pattern: str, translated: str) -> None:
    assert translate_ecmascript(pattern) == translated


def test_the_functions_are_registered_on_any_apsw_connection() -> None:
    connection = apsw.Connection(":memory:")
    register_osquery_functions(connection)
    assert connection.execute("SELECT concat_ws('-', 'a', 'b')").fetchone() == ("a-b",)
    assert {"regex_match", "split", "concat_ws", "version_compare", "sha256"} <= set(
        SCALAR_FUNCTIONS
    )
    assert set(COLLATIONS) == {"version", "version_arch", "version_dpkg", "version_rhel"}
