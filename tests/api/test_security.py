"""Every security rule of the local API, table-driven, without a server."""

from __future__ import annotations

import math

import pytest
from graphql import parse

from stethoscope_desktop.api.security import (
    LOCAL_LABEL,
    READ_ONLY_METHODS,
    ApiLimits,
    Caller,
    RateLimiter,
    Rejection,
    body_length,
    classify_caller,
    cors_headers,
    document_limits,
    host_allowed,
    is_serialized_origin,
    may_see_identifiers,
    origin_allowed,
    preflight,
    query_nesting,
    retry_after,
)
from stethoscope_desktop.core.config import AppConfig, HostLabel
from tests.api.helpers import FakeClock

CONFIG = AppConfig(
    allow_hosts=(
        "https://login.example.com",
        "HTTP://Portal.Example.com:8443/",
        "https://sso.example.com:443",  # written with its default port, which browsers leave out
        "*",
        "null",
    ),
    host_labels=(
        HostLabel(r"https://[a-z0-9-]+\.intranet\.example\.com", "Intranet"),
        HostLabel(r"https://login\.example\.com", "Example Login"),
        HostLabel(r"https://legacy\.example\.com", ""),  # Stethoscope's allowRegex: no name
        HostLabel(r"https://wiki\.example\.com(:\d+)?", "Wiki"),
        # Stethoscope's 2018 allowRegex, written for its search anywhere in the origin.
        HostLabel(r"(meechum|stethoscope)\.([^.]+\.)?netflix\.(com|net)$", "Meechum"),
    ),
)


@pytest.mark.parametrize(
    ("host", "port", "allowed"),
    [
        ("127.0.0.1:37370", 37370, True),
        ("localhost:37370", 37370, True),
        ("LOCALHOST:37370", 37370, True),
        ("[::1]:37370", 37370, True),
        (" 127.0.0.1:37370 ", 37370, True),
        ("127.0.0.1:37371", 37370, False),  # another port
        ("127.0.0.1", 37370, False),  # no port, and the port is not 80
        ("127.0.0.1", 80, True),  # the default port may be left out
        ("localhost", 80, True),
        ("evil.example:37370", 37370, False),  # DNS rebinding: the attacker's name
        ("localhost.:37370", 37370, False),  # the trailing-dot form of the name
        ("127.0.0.2:37370", 37370, False),
        ("0.0.0.0:37370", 37370, False),
        ("::1:37370", 37370, False),  # IPv6 without brackets
        ("[::ffff:127.0.0.1]:37370", 37370, False),
        ("127.0.0.1.nip.io:37370", 37370, False),
        ("", 37370, False),
        (None, 37370, False),
    ],
)
def test_host_must_be_a_loopback_name_with_our_port(
    host: str | None, port: int, allowed: bool
) -> None:
    assert host_allowed(host, port) is allowed


@pytest.mark.parametrize(
    ("origin", "label"),
    [
        ("https://login.example.com", "Example Login"),  # exact, and named by a pattern
        ("http://portal.example.com:8443", "portal.example.com"),  # exact, case, trailing /
        ("https://hr.intranet.example.com", "Intranet"),  # a pattern
        ("https://legacy.example.com", "legacy.example.com"),  # an unnamed pattern
        ("https://wiki.example.com:8080", "Wiki"),
        # Patterns are anchored: neither a prefix nor a suffix is enough.
        ("https://hr.intranet.example.com.evil.example", None),
        ("https://evil.example/https://hr.intranet.example.com", None),
        ("https://x.hr.intranet.example.com@evil.example", None),
        ("http://login.example.com", None),  # another scheme is another origin
        ("https://login.example.com:444", None),  # another port too
        ("https://sso.example.com", "sso.example.com"),  # the entry's :443 is the default port
        ("https://evil.example", None),
        ("null", None),  # sandboxed frames and file: pages, even though IT listed "null"
        ("*", None),  # a wildcard in allowHosts never matches anything
        ("", None),
        ("https://login.example.com/path", None),  # not a serialised origin
        # A pattern over the host and port alone (Stethoscope's) matches the whole host.
        ("https://meechum.netflix.com", "Meechum"),
        ("https://stethoscope.test.netflix.net", "Meechum"),
        ("https://meechum.netflix.com.evil.example", None),
        ("https://evilmeechum.netflix.com", None),
        ("https://meechum.netflix.com:8443", None),
    ],
)
def test_origins_allowed_by_exact_entry_or_whole_pattern(origin: str, label: str | None) -> None:
    assert origin_allowed(origin, CONFIG) == label


@pytest.mark.parametrize(
    ("origin", "valid"),
    [
        ("https://a.example", True),
        ("http://127.0.0.1:8080", True),
        ("stethoscope://main", True),
        ("null", False),
        ("https://a.example/", False),
        ("https://a.example?x", False),
        ("https://user@a.example", False),
        ("a.example", False),
        ("https:// a.example", False),
    ],
)
def test_what_counts_as_a_serialized_origin(origin: str, valid: bool) -> None:
    assert is_serialized_origin(origin) is valid


@pytest.mark.parametrize(
    ("origin", "fetch_site", "referer", "expected"),
    [
        # An allowed page asking with fetch().
        (
            "https://login.example.com",
            "cross-site",
            None,
            Caller("https://login.example.com", "Example Login"),
        ),
        # A foreign page.
        ("https://evil.example", "cross-site", None, 403),
        ("null", None, None, 403),
        # No Origin: curl, a native client, the user typing the URL: local and trusted.
        (None, None, None, Caller(None, LOCAL_LABEL)),
        (None, "none", None, Caller(None, LOCAL_LABEL)),
        # No Origin, but a page started it (an <img> or <script> on a foreign page).
        (None, "cross-site", None, 403),
        (None, "same-site", None, 403),
        (None, "same-origin", None, 403),
        # An older browser without fetch metadata gives itself away by its Referer.
        (None, None, "https://evil.example/page", 403),
    ],
)
def test_callers_are_classified_from_origin_and_fetch_metadata(
    origin: str | None, fetch_site: str | None, referer: str | None, expected: Caller | int
) -> None:
    result = classify_caller(origin, fetch_site, referer, CONFIG)
    if isinstance(expected, int):
        assert isinstance(result, Rejection) and result.status == expected
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("caller", "sees"),
    [
        (Caller("https://login.example.com", "Example Login"), True),
        (Caller(None, LOCAL_LABEL), True),
        (Caller("http://127.0.0.1:8000", "dev"), True),  # loopback: a secure context
        (Caller("http://localhost:3000", "dev"), True),
        (Caller("http://app.localhost:3000", "dev"), True),
        (Caller("http://[::1]:3000", "dev"), True),
        (Caller("stethoscope://main", "app"), True),  # not fetched over the network
        (Caller("chrome-extension://abcdef", "extension"), True),
        # Allowed, but plain http on the network: script could be injected on the way.
        (Caller("http://intranet.example.com", "Intranet"), False),
        (Caller("http://10.0.0.5:8080", "Intranet"), False),
        (Rejection(403, "no", "origin not allowed"), False),
    ],
)
def test_device_identifiers_only_for_local_programs_and_secure_allowed_origins(
    caller: Caller | Rejection, sees: bool
) -> None:
    assert may_see_identifiers(caller) is sees


def test_cors_names_the_callers_own_origin_and_never_a_wildcard() -> None:
    web = cors_headers(Caller("https://login.example.com", "Example Login"))
    assert web["Access-Control-Allow-Origin"] == "https://login.example.com"
    assert "Access-Control-Allow-Credentials" not in web
    assert cors_headers(Caller(None, LOCAL_LABEL)) == {}
    for origin in ("https://login.example.com", "https://hr.intranet.example.com"):
        caller = classify_caller(origin, None, None, CONFIG)
        assert isinstance(caller, Caller)
        assert "*" not in cors_headers(caller).values()


WEB = Caller("https://login.example.com", "Example Login")


@pytest.mark.parametrize(
    ("caller", "method", "private_network", "status", "expected"),
    [
        (
            WEB,
            "POST",
            None,
            204,
            {
                "Access-Control-Allow-Origin": "https://login.example.com",
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Content-Type, Accept",
                "Access-Control-Max-Age": "600",
            },
        ),
        (WEB, "get", None, 204, {"Access-Control-Allow-Methods": "GET, POST"}),
        (WEB, "POST", "true", 204, {"Access-Control-Allow-Private-Network": "true"}),
        (WEB, "PUT", None, 405, {"Allow": "GET, POST, OPTIONS"}),
        (WEB, "DELETE", None, 405, {}),
        (WEB, None, None, 204, {"Allow": "GET, POST, OPTIONS"}),  # a plain OPTIONS
        (Caller(None, LOCAL_LABEL), "POST", "true", 204, {"Access-Control-Max-Age": "600"}),
    ],
)
def test_preflight(
    caller: Caller,
    method: str | None,
    private_network: str | None,
    status: int,
    expected: dict[str, str],
) -> None:
    got_status, headers = preflight(caller, method, None, private_network)
    assert got_status == status
    assert expected.items() <= headers.items()
    if status != 204:
        assert "Access-Control-Allow-Origin" not in headers
    if caller.origin is None:
        assert "Access-Control-Allow-Origin" not in headers
        assert "Access-Control-Allow-Private-Network" not in headers


@pytest.mark.parametrize(
    ("method", "status", "allow"),
    [
        ("GET", 204, "GET"),
        ("get", 204, "GET"),
        ("POST", 405, "GET, OPTIONS"),
        ("PUT", 405, "GET, OPTIONS"),
    ],
)
def test_preflight_of_a_read_only_path(method: str, status: int, allow: str) -> None:
    """/raw and /debugger answer GET alone; a page is told so before it sends anything."""
    got_status, headers = preflight(WEB, method, None, None, READ_ONLY_METHODS)
    assert got_status == status
    if status == 204:
        assert headers["Access-Control-Allow-Methods"] == allow
        assert headers["Access-Control-Allow-Origin"] == WEB.origin
    else:
        assert headers == {"Allow": allow}


@pytest.mark.parametrize(
    ("requested", "allowed"),
    [
        (None, "Content-Type, Accept"),
        ("content-type", "Content-Type, Accept, content-type"),
        (
            "Authorization, X-Requested-With",
            "Content-Type, Accept, Authorization, X-Requested-With",
        ),
        ("bad header", "Content-Type, Accept"),  # not a header name: only ours
        ("x\r\nSet-Cookie: a=b", "Content-Type, Accept"),
        (",".join(f"x-{i}" for i in range(21)), "Content-Type, Accept"),  # too many
        ("x" * 65, "Content-Type, Accept"),
    ],
)
def test_preflight_allows_the_well_formed_headers_a_page_asks_for(
    requested: str | None, allowed: str
) -> None:
    status, headers = preflight(WEB, "POST", requested)
    assert status == 204 and headers["Access-Control-Allow-Headers"] == allowed


@pytest.mark.parametrize(
    ("length", "encoding", "expected"),
    [
        ("0", None, 0),
        ("100", None, 100),
        ("1024", None, 1024),
        ("1025", None, 413),
        ("99999999999999999999999", None, 400),
        ("-1", None, 400),
        ("ten", None, 400),
        (None, None, 411),
        ("10", "chunked", 411),
        (None, "chunked", 411),
        ("10", "identity", 10),
    ],
)
def test_body_size(length: str | None, encoding: str | None, expected: int) -> None:
    result = body_length(length, encoding, 1024)
    got = result.status if isinstance(result, Rejection) else result
    assert got == expected


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{ device { deviceName } }", 2),
        ("{ policy { validate(policy: {firewall: ALWAYS}) { status } } }", 4),
        ('{ a(x: "{{{{{{") }', 2),  # braces in strings do not count
        ('{ a(x: """{{{ \\""" {{{""") }', 2),  # nor in block strings
        ("# {{{{{{{\n{ a }", 1),  # nor in comments
        ("{" * 50 + "}" * 50, 50),
        ("[[[[", 4),
        ("", 0),
    ],
)
def test_query_nesting_is_measured_before_parsing(text: str, depth: int) -> None:
    assert query_nesting(text) == depth


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("{ device { deviceName security { firewall } } }", None),
        ("{ a { b { c { d } } } }", None),  # depth 4 is fine
        ("{ a { b { c { d { e } } } } }", "nested deeper than 4"),
        ("{ " + " ".join(f"f{i}: a" for i in range(10)) + " }", None),
        ("{ " + " ".join(f"f{i}: a" for i in range(11)) + " }", "more than 10 fields"),
        # Fragments are expanded: depth and fields count where they are used.
        ("query { a { ...F } } fragment F on T { b { c { d { e } } } }", "nested deeper than 4"),
        (
            "query { x: a { ...F } y: a { ...F } } fragment F on T { b c d e }",
            None,  # 2 + 2 * 4 = 10 fields
        ),
        (
            "query { x: a { ...F } y: a { ...F } z: a { ...F } } fragment F on T { b c d e }",
            "more than 10 fields",
        ),
        # Each level doubles: the count, not the text, is what is bounded.
        (
            "query { ...A } fragment A on Q { ...B ...B } fragment B on Q { ...C ...C }"
            " fragment C on Q { ...D ...D } fragment D on Q { a b c }",
            "more than 10 fields",
        ),
        ("query { ...A } fragment A on Q { a ...B } fragment B on Q { ...A }", "spreads itself"),
        ("query { a { ... on T { b { c } } } }", None),
        ("query { ...Missing }", None),  # left to validation
    ],
)
def test_document_depth_and_field_count(query: str, problem: str | None) -> None:
    found = document_limits(parse(query), max_depth=4, max_fields=10)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_a_long_chain_of_fragments_is_refused() -> None:
    names = [f"F{i}" for i in range(40)]
    chain = " ".join(
        f"fragment {name} on Q {{ ...{names[i + 1]} }}" for i, name in enumerate(names[:-1])
    )
    query = f"query {{ ...F0 }} {chain} fragment {names[-1]} on Q {{ a }}"
    found = document_limits(parse(query), max_depth=8, max_fields=200)
    assert found is not None and "fragments are nested too deeply" in found


def test_rate_limit_allows_a_burst_then_the_steady_rate_per_key() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 0.5, clock=clock)
    assert [limiter.acquire("https://a.example") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("https://a.example") == pytest.approx(2.0)  # a token every 2 s
    assert limiter.acquire("local") == 0.0  # another key has its own bucket
    clock.advance(1.0)
    assert limiter.acquire("https://a.example") == pytest.approx(1.0)
    clock.advance(1.0)
    assert limiter.acquire("https://a.example") == 0.0
    assert limiter.acquire("https://a.example") == pytest.approx(2.0)
    clock.advance(3600)
    assert [limiter.acquire("https://a.example") for _ in range(4)][-1] > 0  # burst, not more


def test_rate_limit_forgets_the_least_recently_used_keys() -> None:
    limiter = RateLimiter(1, 0.0, clock=FakeClock(), max_keys=2)
    for key in ("a", "b", "c"):
        assert limiter.acquire(key) == 0.0
    assert set(limiter.tracked()) == {"b", "c"}
    assert math.isinf(limiter.acquire("c"))  # no refill at all


@pytest.mark.parametrize(
    ("seconds", "header"), [(0.2, "1"), (1.0, "1"), (1.01, "2"), (math.inf, "3600")]
)
def test_retry_after_is_whole_seconds(seconds: float, header: str) -> None:
    assert retry_after(seconds) == header


def test_debug_limits_let_introspection_through_and_keep_the_rest() -> None:
    limits = ApiLimits(max_body_bytes=1000, rate_burst=5)
    debug = limits.debug()
    assert debug.max_depth > limits.max_depth and debug.max_fields > limits.max_fields
    assert (debug.max_body_bytes, debug.rate_burst) == (1000, 5)
