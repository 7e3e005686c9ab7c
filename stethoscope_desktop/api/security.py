"""The local API's security rules, each a pure function (or a small class with an injected clock).

Who may ask, and what they get:

- **Host (DNS rebinding).** The `Host` header must name this server by a loopback name and its
  port: `127.0.0.1:<port>`, `localhost:<port>` or `[::1]:<port>`. A page on `evil.example` whose
  name an attacker re-points at 127.0.0.1 sends `Host: evil.example:<port>` and is refused
  before anything else is looked at.
- **Origin.** A browser names the page's origin in `Origin` on every cross-origin `fetch()`. It
  is allowed when IT listed it exactly in `allowHosts`, or when it matches one of `hostLabels`'
  (and Stethoscope's `allowRegex`) patterns as a whole (anchored), over the origin or over its
  host and port. `null` (sandboxed frames, `file:` pages) and anything that is not a serialised
  origin are never allowed. A refused origin gets a 403 and no CORS headers, and CORS never
  answers with a wildcard.
- **No Origin.** A request without `Origin` comes from a program on this computer (curl, a native
  client, the user typing the URL): it is *local* and trusted like an allowed origin, including
  the device identifiers. Any process on the machine can read the same facts from the OS itself,
  and loopback is reachable only from this machine. A browser's cross-site subresource load
  (`<img src>`, `<script src>`) also comes without `Origin`, but modern browsers mark it with
  `Sec-Fetch-Site: cross-site` (or `same-site`), and older ones with a `Referer`: those are
  refused, so a foreign page cannot even start a scan that way.
- **Device identifiers** (hardware serial and UUID, MAC and IP addresses) are only for local
  programs and allowed origins that are secure contexts: `https://`, `http://` on a loopback
  name, or a scheme that is not fetched over the network (an app's `stethoscope://main`). An
  allowed plain `http://` intranet origin still gets its verdicts, but not the identifiers: a
  network attacker could inject script into such a page and read them (`may_see_identifiers`).
- **Sizes.** A body needs a `Content-Length` no larger than the limit (411, 400, 413); a GraphQL
  query has bounded length, nesting (before it is parsed), tokens, field depth and field count
  (after it is parsed, fragments expanded); JSON (a body, GET's `variables`) has bounded nesting
  before it is parsed.
- **Framing** (`frame_request`, before any body byte is awaited): one `Content-Length` (copies
  that differ are 400), no `Transfer-Encoding` in any spelling (501: bodies come with a length),
  no header line with a space before its colon or without a colon (400, as RFC 9112 asks).
- **Rate.** A token bucket per origin (all local programs share one): a burst, then a steady rate.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from stethoscope_desktop.core.config import AppConfig
from stethoscope_desktop.core.origins import serialize_origin

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
ALLOWED_METHODS = ("GET", "POST")
# The methods of the paths that only answer (the device's facts, the debug report).
READ_ONLY_METHODS = ("GET",)
ALLOWED_REQUEST_HEADERS = ("Content-Type", "Accept")
PREFLIGHT_MAX_AGE_SECONDS = 600
MAX_REQUEST_HEADERS = 20
# An HTTP header name (RFC 9110 token), at most 64 characters.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
LOCAL_LABEL = "a program on this computer"
# A serialised origin: scheme "://" host [":" port], nothing after it (RFC 6454).
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+", re.IGNORECASE)
# Fetch metadata a browser sends for a request that a page (not the user) started.
_PAGE_FETCH_SITES = frozenset({"cross-site", "same-site", "same-origin"})


@dataclass(frozen=True)
class Rejection:
    """A request refused: the HTTP status, a message for the caller, a short code for the log."""

    status: int
    message: str
    code: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Caller:
    """Who asks: an allowed web origin, or (origin None) a program on this computer."""

    origin: str | None
    label: str

    @property
    def is_local(self) -> bool:
        """Return True for a request without an Origin header (curl, a native client)."""
        return self.origin is None

    @property
    def rate_key(self) -> str:
        """Return the key the rate limit counts under: the origin, or `local`."""
        return self.origin if self.origin is not None else "local"


@dataclass(frozen=True)
class ApiLimits:
    """The bounds on requests. `debug()` raises the GraphQL ones for introspection."""

    max_body_bytes: int = 64 * 1024
    max_query_chars: int = 16 * 1024
    max_nesting: int = 32
    max_tokens: int = 4000
    max_depth: int = 8
    max_fields: int = 200
    max_policies_per_request: int = 2
    max_session_id_chars: int = 200
    rate_burst: int = 60
    rate_per_second: float = 2.0
    max_connections: int = 256
    max_handlers: int = 32
    max_json_nesting: int = 64
    # How long a connection has, from its accept, to send its whole request.
    request_deadline_s: float = 5.0

    def debug(self) -> ApiLimits:
        """Return limits that let GraphQL introspection through (deep, with many fields)."""
        return ApiLimits(
            max_body_bytes=self.max_body_bytes,
            max_query_chars=max(self.max_query_chars, 64 * 1024),
            max_nesting=max(self.max_nesting, 64),
            max_tokens=max(self.max_tokens, 40_000),
            max_depth=max(self.max_depth, 24),
            max_fields=max(self.max_fields, 5000),
            max_policies_per_request=self.max_policies_per_request,
            max_session_id_chars=self.max_session_id_chars,
            rate_burst=self.rate_burst,
            rate_per_second=self.rate_per_second,
            max_connections=self.max_connections,
            max_handlers=self.max_handlers,
            max_json_nesting=self.max_json_nesting,
            request_deadline_s=self.request_deadline_s,
        )


# -- Host ------------------------------------------------------------------------------------


def host_allowed(host_header: str | None, port: int) -> bool:
    """Return True if `Host` names this server by a loopback name and its port.

    The port may be left out only where it is the scheme's default (80), as clients do then.
    """
    if host_header is None:
        return False
    host = host_header.strip().lower()
    names = {f"{name}:{port}" for name in LOOPBACK_HOSTS}
    if port == 80:
        names |= set(LOOPBACK_HOSTS)
    return host in names


# -- Origin ----------------------------------------------------------------------------------


def is_serialized_origin(origin: str) -> bool:
    """Return True if `origin` has the shape a browser sends: scheme://host[:port]."""
    return origin != "null" and _ORIGIN.fullmatch(origin) is not None


def _normalized(origin: str) -> str:
    # One form for the allow-list and the device tokens' audience (core/origins.py); text that
    # is not an origin is compared as written, in lower case, as before.
    return serialize_origin(origin) or origin.strip().rstrip("/").lower()


def origin_allowed(origin: str, config: AppConfig) -> str | None:
    """Return the label to show for an allowed origin, or None if it is not allowed.

    Allowed: an exact `allowHosts` entry (compared in the origin's one form, core/origins.py:
    case, a default port and a trailing slash do not matter), or a whole match of a
    `hostLabels`/`allowRegex` pattern. The label is the first matching named pattern's name, else
    the origin's host name.
    """
    if not is_serialized_origin(origin):
        return None
    exact = any(_normalized(entry) == _normalized(origin) for entry in config.allow_hosts)
    matching = [label for label in config.host_labels if label.matches(origin)]
    if not exact and not matching:
        return None
    named = next((label.name for label in matching if label.name), None)
    if named is not None:
        return named
    return urlsplit(origin).hostname or origin


def classify_caller(
    origin: str | None,
    fetch_site: str | None,
    referer: str | None,
    config: AppConfig,
) -> Caller | Rejection:
    """Decide who is asking from `Origin`, `Sec-Fetch-Site` and `Referer` (see module docs)."""
    if origin is not None:
        label = origin_allowed(origin, config)
        if label is None:
            return Rejection(403, "this origin is not allowed to ask", "origin not allowed")
        return Caller(origin, label)
    site = (fetch_site or "").strip().lower()
    if site in _PAGE_FETCH_SITES:
        return Rejection(
            403, "a web page must ask with CORS (fetch), not as a subresource", "no origin"
        )
    if not site and referer:
        return Rejection(403, "a request from a web page must carry its Origin", "referer")
    return Caller(None, LOCAL_LABEL)


_NETWORK_SCHEMES = frozenset({"http", "ws", "ftp"})
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def is_secure_origin(origin: str) -> bool:
    """Return True for an origin a network attacker cannot inject script into.

    `https:` (and `wss:`), `http:` on a loopback name, and schemes that are not fetched over
    the network (an app's own, a browser extension's).
    """
    parts = urlsplit(origin)
    if parts.scheme.lower() not in _NETWORK_SCHEMES:
        return True
    host = (parts.hostname or "").lower()
    return host in _LOOPBACK_NAMES or host.endswith(".localhost")


def may_see_identifiers(caller: Caller | Rejection) -> bool:
    """Return True if the caller may see the serial number, UUID, MAC and IP addresses."""
    if isinstance(caller, Rejection):
        return False
    return caller.origin is None or is_secure_origin(caller.origin)


# -- CORS ------------------------------------------------------------------------------------


def cors_headers(caller: Caller) -> dict[str, str]:
    """Return the CORS headers of an answer: the caller's own origin, never a wildcard."""
    if caller.origin is None:
        return {}
    return {
        "Access-Control-Allow-Origin": caller.origin,
        "Access-Control-Expose-Headers": "Retry-After",
    }


def allowed_request_headers(requested: str | None) -> str:
    """Return `Access-Control-Allow-Headers`: the headers the page asked for, if well formed.

    Stethoscope allowed whatever headers a page sent, and pages rely on that (an
    `Authorization` their framework adds); the headers mean nothing to this API, so naming them
    grants nothing. A malformed or overlong list gets only `Content-Type` and `Accept`.
    """
    names = [name.strip() for name in (requested or "").split(",") if name.strip()]
    if (
        names
        and len(names) <= MAX_REQUEST_HEADERS
        and all(_HEADER_NAME.fullmatch(name) for name in names)
    ):
        return ", ".join(dict.fromkeys([*ALLOWED_REQUEST_HEADERS, *names]))
    return ", ".join(ALLOWED_REQUEST_HEADERS)


def preflight(
    caller: Caller,
    request_method: str | None,
    request_headers: str | None = None,
    private_network: str | None = None,
    methods: tuple[str, ...] = ALLOWED_METHODS,
) -> tuple[int, dict[str, str]]:
    """Answer an OPTIONS request: (status, headers).

    Only the path's `methods` (GET and POST, or GET alone) are allowed; the requested headers
    are allowed when well formed. A page on a public address asking for the private network
    (Chrome's Private Network Access) is told yes, as it is an allowed origin.
    """
    allow = ", ".join((*methods, "OPTIONS"))
    if request_method is None:
        return 204, {"Allow": allow, **cors_headers(caller)}
    if request_method.strip().upper() not in methods:
        return 405, {"Allow": allow}
    headers = {
        **cors_headers(caller),
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Allow-Headers": allowed_request_headers(request_headers),
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }
    if caller.origin is not None and (private_network or "").strip().lower() == "true":
        headers["Access-Control-Allow-Private-Network"] = "true"
    return 204, headers


# -- sizes -----------------------------------------------------------------------------------


def body_length(
    content_length: str | None, transfer_encoding: str | None, limit: int
) -> int | Rejection:
    """Return how many body bytes to read, or why the body is refused (411, 400, 413)."""
    if transfer_encoding is not None and transfer_encoding.strip().lower() != "identity":
        return Rejection(411, "send the body with a Content-Length", "chunked body")
    if content_length is None:
        return Rejection(411, "a POST needs a Content-Length", "no length")
    text = content_length.strip()
    if not text.isdigit() or len(text) > 18:
        return Rejection(400, "Content-Length is not a number", "bad length")
    length = int(text)
    if length > limit:
        return Rejection(413, f"the body is larger than {limit} bytes", "body too large")
    return length


@dataclass(frozen=True)
class Framing:
    """Where a request's body ends: its length, and whether the client waits for `100 Continue`."""

    body_length: int
    expects_continue: bool = False


def frame_request(head: bytes, limit: int) -> Framing | Rejection:
    """Return the framing of a request from its header section (request line included).

    Refuses what would let two readers disagree on where the body ends: `Content-Length`
    copies that differ or that are not a number (400), any `Transfer-Encoding` (501), a header
    line with white space before its colon or without one (400), and a body over `limit` (413).
    """
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")[1:]
    lengths: list[str] = []
    expects_continue = False
    for line in lines:
        if not line:
            continue
        if line[0] in " \t":
            return Rejection(400, "folded header lines are not accepted", "bad header")
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            return Rejection(400, f"malformed header line: {line[:64]!r}", "bad header")
        lowered = name.lower()
        if lowered == "transfer-encoding":
            return Rejection(
                501,
                "Transfer-Encoding is not implemented; send the body with a Content-Length",
                "transfer encoding",
            )
        if lowered == "content-length":
            lengths.extend(part.strip() for part in value.split(","))
        elif lowered == "expect" and value.strip().lower() == "100-continue":
            expects_continue = True
    if not lengths:
        return Framing(0)
    if len(set(lengths)) != 1:
        return Rejection(400, "Content-Length is given more than once, differently", "bad length")
    text = lengths[0]
    if not text.isdigit() or len(text) > 18:
        return Rejection(400, "Content-Length is not a number", "bad length")
    length = int(text)
    if length > limit:
        return Rejection(413, f"the body is larger than {limit} bytes", "body too large")
    return Framing(length, expects_continue)


def json_nesting(text: str) -> int:
    """Return the deepest nesting of arrays and objects in JSON text, strings skipped.

    Runs before `json.loads`, whose recursion a deeply nested document would exhaust.
    """
    depth = deepest = 0
    in_string = False
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
        index += 1
    return deepest


def query_nesting(text: str) -> int:
    """Return the deepest nesting of braces, brackets and parentheses in GraphQL text.

    Strings, block strings and comments are skipped. This runs before parsing, so that a
    pathologically nested document never reaches the (recursive) parser.
    """
    depth = deepest = 0
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "#":
            newline = text.find("\n", index)
            index = length if newline < 0 else newline + 1
            continue
        if text.startswith('"""', index):
            index += 3
            while index < length and not text.startswith('"""', index):
                index += 4 if text.startswith('\\"""', index) else 1
            index += 3
            continue
        if char == '"':
            index += 1
            while index < length and text[index] not in '"\n':
                index += 2 if text[index] == "\\" else 1
            index += 1
            continue
        if char in "{[(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}])":
            depth = max(0, depth - 1)
        index += 1
    return deepest


class _TooLarge(Exception):
    pass


# Fragments spreading fragments: a chain this long is refused (it only hides depth).
MAX_FRAGMENT_CHAIN = 16


def document_limits(document: DocumentNode, max_depth: int, max_fields: int) -> str | None:
    """Return why a parsed document is too deep or has too many fields, or None.

    Depth counts nested fields; fields count every field once per place it is used, with
    fragments expanded (a fragment used twice counts twice). Fragment cycles are refused here
    already (validation would refuse them too, after more work).
    """
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    measured: dict[str, tuple[int, int]] = {}
    active: list[str] = []

    def measure(selection_set: SelectionSetNode | None) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        depth = fields = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner_depth, inner_fields = measure(selection.selection_set)
                depth = max(depth, inner_depth + 1)
                fields += inner_fields + 1
            elif isinstance(selection, InlineFragmentNode):
                inner_depth, inner_fields = measure(selection.selection_set)
                depth = max(depth, inner_depth)
                fields += inner_fields
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in active:
                    raise _TooLarge(f"the fragment {name} spreads itself")
                if len(active) >= MAX_FRAGMENT_CHAIN:
                    raise _TooLarge("fragments are nested too deeply")
                if name not in measured:
                    definition = fragments.get(name)
                    active.append(name)
                    measured[name] = (
                        measure(definition.selection_set) if definition is not None else (0, 0)
                    )
                    active.pop()
                inner_depth, inner_fields = measured[name]
                depth = max(depth, inner_depth)
                fields += inner_fields
            if depth > max_depth:
                raise _TooLarge(f"the query is nested deeper than {max_depth} fields")
            if fields > max_fields:
                raise _TooLarge(f"the query asks for more than {max_fields} fields")
        return depth, fields

    try:
        for node in document.definitions:
            if isinstance(node, OperationDefinitionNode):
                measure(node.selection_set)
    except _TooLarge as error:
        return str(error)
    return None


# -- rate ------------------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per key: `burst` requests at once, then `per_second` on average.

    Thread-safe; the clock is injected. Beyond `max_keys` keys the least recently used is
    forgotten (only allowed origins and `local` reach the limiter, so there are few).
    """

    def __init__(
        self,
        burst: int,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1024,
    ) -> None:
        self._burst = float(burst)
        self._rate = per_second
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one token for `key`: return 0.0 if allowed, else seconds until one is free."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.pop(key, (self._burst, now))
            tokens = min(self._burst, tokens + max(0.0, now - then) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                self._trim()
                return 0.0
            self._buckets[key] = (tokens, now)
            if self._rate <= 0:
                return math.inf
            return (1.0 - tokens) / self._rate

    def _trim(self) -> None:
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    def tracked(self) -> Mapping[str, float]:
        """Return the tokens left per key (for tests and logs)."""
        with self._lock:
            return {key: tokens for key, (tokens, _) in self._buckets.items()}


def retry_after(seconds: float) -> str:
    """Return a Retry-After value: whole seconds, at least 1."""
    if math.isinf(seconds):
        return "3600"
    return str(max(1, math.ceil(seconds)))
