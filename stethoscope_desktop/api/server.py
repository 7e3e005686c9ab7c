"""The local API's HTTP server: loopback only, in its own threads, Stethoscope's endpoints.

`GET /graphql?query=…&variables=…&sessionId=…` (variables as URL-encoded JSON) and
`POST /graphql` with a JSON body `{"query", "variables", "operationName", "sessionId"}` (a form
body works too, as it did in Stethoscope); `/scan` is the same endpoint under Stethoscope's
other name. `GET /raw` answers the device's facts (JSON) and `GET /debugger` a debug report
(text), as Stethoscope did (`debug.py`). `OPTIONS` answers CORS preflights. Bound to 127.0.0.1
and, where the machine has IPv6, to ::1 on the same port. Connections are accepted and read
whole, within a deadline per request, by one loop (`connections.py`: slow clients never hold a
thread or the accept loop); each connection carries one request, which the standard library's
`BaseHTTPRequestHandler` parses from the bytes read and answers on a handler thread.
`POST /attest` with a JSON body `{"nonce", "policy"}` answers `{"token", "keyProtection"}`, a
device token signed by the device key (`attest.py`; GraphQL's `attest` field, which it runs);
the key is used on the handler thread, never on the accept loop.

Every request passes the rules of `security.py` in this order, and every refusal is JSON
(`{"errors": [{"message", "extensions": {"code"}}]}`) with its status: Host (403) → Origin
(403, no CORS headers) → path (404) → method (405) → rate (429, with `Retry-After`) → URL
length (414) → body (411/400/413/415) → GraphQL (400 for anything that cannot run; 200 with
`data`, and field errors if any, for everything that ran). /raw and /debugger pass the same
rules up to the URL's length; the identifiers in them follow `may_see_identifiers`, the log in
/debugger is only for programs on this computer, and a failed gathering is 503. Each request is
logged at INFO with its origin and outcome (never its policy or answer).

With each answered check the server tells its `ApiObserver` (the scan worker) who asked and,
once per `sessionId`, that a page's check failed (`awareness.py`), just before the answer goes
out. Observers are called on a server thread and must return quickly: the worker writes an event
line for the tray. The server binds its own sockets (`serve`) or serves listening sockets bound
already (`sockets=`: the ones the tray holds and the worker inherits).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from stethoscope_desktop.api.attest import DeviceTrust
from stethoscope_desktop.api.awareness import SessionNotices
from stethoscope_desktop.api.connections import ConnectionLoop, Request
from stethoscope_desktop.api.debug import debug_text, log_tail, raw_facts
from stethoscope_desktop.api.listen import LOOPBACK_ADDRESSES, ApiServerError, bind_loopback
from stethoscope_desktop.api.network import NetworkFacts
from stethoscope_desktop.api.schema import (
    QueryOutcome,
    QueryRunner,
    RequestContext,
    build_api_schema,
    error_body,
    osquery_version,
)
from stethoscope_desktop.api.security import (
    ALLOWED_METHODS,
    READ_ONLY_METHODS,
    ApiLimits,
    Caller,
    RateLimiter,
    Rejection,
    body_length,
    classify_caller,
    cors_headers,
    host_allowed,
    json_nesting,
    may_see_identifiers,
    preflight,
    retry_after,
)
from stethoscope_desktop.api.service import ApiError, ApiService
from stethoscope_desktop.core.report import Report

log = logging.getLogger(__name__)

GRAPHQL_PATHS = ("/graphql", "/scan")
RAW_PATH = "/raw"
DEBUGGER_PATH = "/debugger"
ATTEST_PATH = "/attest"
# Each path and the methods it answers (OPTIONS preflights aside).
ENDPOINTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(GRAPHQL_PATHS, ALLOWED_METHODS),
    RAW_PATH: READ_ONLY_METHODS,
    DEBUGGER_PATH: READ_ONLY_METHODS,
    ATTEST_PATH: ("POST",),
}
# POST /attest runs this query with the body's nonce and policy as its variables.
ATTEST_QUERY = (
    "query Attest($nonce: String!, $policy: DevicePolicy) "
    "{ attest(nonce: $nonce, policy: $policy) { token keyProtection } }"
)
ATTEST_MEMBERS = frozenset({"nonce", "policy", "sessionId"})
# The HTTP status of POST /attest for each error code of the attest field.
ATTEST_STATUS = {
    "BAD_NONCE": 400,
    "INVALID_POLICY": 400,
    "BAD_REQUEST": 400,
    "DEVICE_KEY_UNUSABLE": 503,
    "ATTESTATION_UNAVAILABLE": 503,
    "SCAN_FAILED": 503,
    "STOPPING": 503,
}
# How long writing an answer may block on a client that does not read it.
WRITE_TIMEOUT_S = 5.0
_JSON_TYPES = ("application/json", "text/plain")
_FORM_TYPE = "application/x-www-form-urlencoded"
_GRAPHQL_TYPE = "application/graphql"
_MAX_FORM_FIELDS = 16
NO_OPERATION_NAME = "null"


class ApiObserver(Protocol):
    """What the tray app hears from the API. Called on a server thread, never raising into it."""

    def on_checked(self, label: str) -> None:
        """A web app's (or a local program's) policy check was answered: "Last checked by"."""
        ...

    def on_page_failed(self, session_id: str, label: str, report: Report) -> None:
        """A page's check failed; shown once per session id (the report has the reasons)."""
        ...


class NullObserver:
    """An observer that ignores everything (the headless server's)."""

    def on_checked(self, label: str) -> None:
        """Ignore."""

    def on_page_failed(self, session_id: str, label: str, report: Report) -> None:
        """Ignore."""


@dataclass(frozen=True)
class GraphQLParams:
    """The parameters of one GraphQL request."""

    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    session_id: str | None = None


@dataclass
class _Answer:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    outcome: str = ""
    caller: Caller | None = None
    context: RequestContext | None = None
    session_id: str | None = None
    # A plain-text answer (the debug report) instead of the JSON body.
    text: str | None = None


def _reject(rejection: Rejection, headers: Mapping[str, str] | None = None) -> _Answer:
    return _Answer(
        rejection.status,
        error_body(rejection.message, rejection.code.upper().replace(" ", "_")),
        {**dict(rejection.headers), **(headers or {})},
        rejection.code,
    )


def params_from(data: Mapping[str, Any], limits: ApiLimits) -> GraphQLParams | Rejection:
    """Read and check the GraphQL parameters of a request (query string, form or JSON)."""
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        return Rejection(400, "a GraphQL query is required (the query parameter)", "no query")
    variables = data.get("variables")
    if isinstance(variables, str):
        too_deep = _too_deep(variables, limits, "the variables' JSON")
        if too_deep is not None:
            return too_deep
        try:
            variables = json.loads(variables) if variables.strip() else None
        except (ValueError, RecursionError):
            return Rejection(400, "variables are not valid JSON", "bad variables")
    if variables is not None and not isinstance(variables, dict):
        return Rejection(400, "variables must be a JSON object", "bad variables")
    operation = data.get("operationName")
    if operation in ("", NO_OPERATION_NAME):
        # GraphiQL writes an anonymous query's missing name as "null" in its links.
        operation = None
    if operation is not None and not isinstance(operation, str):
        return Rejection(400, "operationName must be a string", "bad operation name")
    session = data.get("sessionId")
    if session in ("", None, False):
        session = None
    elif not isinstance(session, str) or len(session) > limits.max_session_id_chars:
        return Rejection(
            400,
            f"sessionId must be a string of at most {limits.max_session_id_chars} characters",
            "bad session id",
        )
    return GraphQLParams(query, variables, operation, session)


def _too_deep(text: str, limits: ApiLimits, what: str) -> Rejection | None:
    """Refuse JSON nested deeper than the limit, before the (recursive) parser sees it."""
    if json_nesting(text) > limits.max_json_nesting:
        return Rejection(
            400,
            f"{what} is nested deeper than {limits.max_json_nesting} levels",
            "json too deep",
        )
    return None


def _single_values(pairs: Mapping[str, list[str]]) -> dict[str, Any] | Rejection:
    single: dict[str, Any] = {}
    for key, values in pairs.items():
        if len(values) != 1:
            return Rejection(400, f"the parameter {key} is given more than once", "repeated")
        single[key] = values[0]
    return single


def _form(text: str) -> dict[str, Any] | Rejection:
    try:
        pairs = parse_qs(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=_MAX_FORM_FIELDS
        )
    except ValueError:
        return Rejection(400, "too many parameters", "too many parameters")
    return _single_values(pairs)


class _Api:
    """The request logic behind the handler: rules, parameters, GraphQL, observer."""

    def __init__(
        self,
        service: ApiService,
        runner: QueryRunner,
        limits: ApiLimits,
        limiter: RateLimiter,
        observer: ApiObserver,
        device_trust: DeviceTrust,
    ) -> None:
        self.service = service
        self.device_trust = device_trust
        self.runner = runner
        self.limits = limits
        self.limiter = limiter
        self.observer = observer
        self.notices = SessionNotices()
        self.port = 0
        self.log_file: Path | None = None

    def respond(
        self, method: str, target: str, headers: Message, read: Callable[[int], bytes]
    ) -> _Answer:
        """Answer one request (see the module docstring for the order of the rules)."""
        hosts = headers.get_all("Host") or []
        if len(hosts) != 1 or not host_allowed(hosts[0], self.port):
            return _reject(Rejection(403, "this server answers only to a loopback Host", "host"))
        origins = headers.get_all("Origin") or []
        if len(origins) > 1:
            return _reject(Rejection(400, "more than one Origin header", "origins"))
        caller = classify_caller(
            origins[0] if origins else None,
            headers.get("Sec-Fetch-Site"),
            headers.get("Referer"),
            self.service.config(),
        )
        if isinstance(caller, Rejection):
            return _reject(caller)
        answer = self._respond(caller, method, target, headers, read)
        answer.caller = caller
        return answer

    def _respond(
        self,
        caller: Caller,
        method: str,
        target: str,
        headers: Message,
        read: Callable[[int], bytes],
    ) -> _Answer:
        cors = cors_headers(caller)
        split = urlsplit(target)
        methods = ENDPOINTS.get(split.path)
        if methods is None:
            return _reject(
                Rejection(
                    404, "not found; ask /graphql (or /attest, /raw, /debugger)", "not found"
                ),
                cors,
            )
        only = f"only {' and '.join(methods)} {'is' if len(methods) == 1 else 'are'} allowed"
        if method == "OPTIONS":
            status, preflight_headers = preflight(
                caller,
                headers.get("Access-Control-Request-Method"),
                headers.get("Access-Control-Request-Headers"),
                headers.get("Access-Control-Request-Private-Network"),
                methods,
            )
            if status != 204:
                return _reject(Rejection(status, only, "method"), preflight_headers)
            return _Answer(204, None, preflight_headers, "preflight")
        if method not in methods:
            allow = {"Allow": ", ".join((*methods, "OPTIONS"))}
            return _reject(Rejection(405, only, "method"), cors | allow)
        wait = self.limiter.acquire(caller.rate_key)
        if wait > 0:
            return _reject(
                Rejection(429, "too many requests; try again later", "rate limited"),
                cors | {"Retry-After": retry_after(wait)},
            )
        if method == "GET" and len(split.query) > self.limits.max_body_bytes:
            return _reject(
                Rejection(414, "the URL is too long; POST the query instead", "url too long"), cors
            )
        if split.path in (RAW_PATH, DEBUGGER_PATH):
            return self._device_data(split.path, caller, cors)
        if split.path == ATTEST_PATH:
            return self._attest(caller, headers, read, cors)
        params = (
            self._get_params(split.query) if method == "GET" else self._post_params(headers, read)
        )
        if isinstance(params, Rejection):
            return _reject(params, cors)
        context = self._context(caller)
        outcome = self.runner.run(params.query, params.variables, params.operation_name, context)
        return _Answer(
            outcome.status,
            outcome.body,
            cors,
            _describe(outcome, context),
            context=context,
            session_id=params.session_id,
        )

    def _context(self, caller: Caller) -> RequestContext:
        return RequestContext(
            self.service,
            caller,
            self.limits.max_policies_per_request,
            device_trust=self.device_trust,
        )

    def _attest(
        self,
        caller: Caller,
        headers: Message,
        read: Callable[[int], bytes],
        cors: dict[str, str],
    ) -> _Answer:
        """Answer POST /attest: `{nonce, policy?, sessionId?}` in, `{token, keyProtection}` out.

        The same as GraphQL's `attest` (it runs `ATTEST_QUERY`); an error is the API's usual
        `{"errors": [...]}` with 400 for what the caller sent, 503 for what the device could
        not do (its key, a scan).
        """
        data = self._json_body(headers, read)
        if isinstance(data, Rejection):
            return _reject(data, cors)
        unknown = sorted(set(data) - ATTEST_MEMBERS)
        if unknown:
            return _reject(
                Rejection(
                    400,
                    f"POST /attest takes nonce, policy and sessionId, not {', '.join(unknown)}",
                    "bad attest request",
                ),
                cors,
            )
        if not isinstance(data.get("nonce"), str):
            return _reject(
                Rejection(400, "POST /attest needs a nonce (a string)", "bad attest request"),
                cors,
            )
        # The query is ours; the sessionId is checked as GraphQL's is (for the failure notice).
        params = params_from(
            {"query": ATTEST_QUERY, "sessionId": data.get("sessionId")}, self.limits
        )
        if isinstance(params, Rejection):
            return _reject(params, cors)
        context = self._context(caller)
        variables = {"nonce": data["nonce"], "policy": data.get("policy")}
        outcome = self.runner.run(ATTEST_QUERY, variables, "Attest", context)
        described = _describe(outcome, context)
        attested = (outcome.body.get("data") or {}).get("attest") if outcome.ok else None
        if attested is not None:
            return _Answer(
                200, dict(attested), cors, described, context=context, session_id=params.session_id
            )
        errors = outcome.body.get("errors") or [{"message": "no token", "extensions": {}}]
        code = str((errors[0].get("extensions") or {}).get("code", ""))
        status = outcome.status if outcome.status != 200 else ATTEST_STATUS.get(code, 500)
        body = {
            "errors": [
                {key: e[key] for key in ("message", "extensions") if key in e} for e in errors
            ]
        }
        return _Answer(status, body, cors, described, context=context)

    def _device_data(self, path: str, caller: Caller, cors: dict[str, str]) -> _Answer:
        """Answer /raw (the device's facts, JSON) or /debugger (the debug report, text)."""
        try:
            facts = self.service.device_facts()
        except ApiError as error:
            return _Answer(
                503, error_body(str(error), error.code), cors, f"refused: {str(error)[:100]}"
            )
        raw = raw_facts(
            facts,
            self.service.network() if may_see_identifiers(caller) else NetworkFacts(),
            identifiers=may_see_identifiers(caller),
            osquery_version=osquery_version(facts.engine),
        )
        if path == RAW_PATH:
            return _Answer(200, raw, cors, "answered the device's facts")
        practices = self.service.app_practices()
        text = debug_text(
            app_version=facts.device.app_version,
            raw=raw,
            policy_files=practices.files,
            problems=[str(problem) for problem in practices.problems],
            log=log_tail(self.log_file) if caller.is_local else None,
        )
        return _Answer(200, None, cors, "answered the debug report", text=text)

    def _get_params(self, query_string: str) -> GraphQLParams | Rejection:
        data = _form(query_string)
        return data if isinstance(data, Rejection) else params_from(data, self.limits)

    def _json_object(self, text: str) -> dict[str, Any] | Rejection:
        too_deep = _too_deep(text, self.limits, "the body's JSON")
        if too_deep is not None:
            return too_deep
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return Rejection(400, "the body is not valid JSON", "bad json")
        if not isinstance(data, dict):
            return Rejection(400, "the body must be one JSON object", "bad json")
        return data

    def _json_body(
        self, headers: Message, read: Callable[[int], bytes]
    ) -> dict[str, Any] | Rejection:
        """Read a body that must be one JSON object (application/json or text/plain)."""
        text = self._body_text(headers, read)
        if isinstance(text, Rejection):
            return text
        kind = headers.get_content_type() if headers.get("Content-Type") else "text/plain"
        if kind not in _JSON_TYPES and not kind.endswith("+json"):
            return Rejection(415, f"send the body as application/json, not {kind}", "media type")
        return self._json_object(text)

    def _body_text(self, headers: Message, read: Callable[[int], bytes]) -> str | Rejection:
        length = body_length(
            headers.get("Content-Length"),
            headers.get("Transfer-Encoding"),
            self.limits.max_body_bytes,
        )
        if isinstance(length, Rejection):
            return length
        raw = read(length) if length else b""
        if len(raw) != length:
            return Rejection(400, "the body ended early", "short body")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return Rejection(400, "the body is not UTF-8", "encoding")

    def _post_params(
        self, headers: Message, read: Callable[[int], bytes]
    ) -> GraphQLParams | Rejection:
        text = self._body_text(headers, read)
        if isinstance(text, Rejection):
            return text
        kind = headers.get_content_type() if headers.get("Content-Type") else "text/plain"
        if kind in _JSON_TYPES or kind.endswith("+json"):
            data = self._json_object(text)
            return data if isinstance(data, Rejection) else params_from(data, self.limits)
        if kind == _FORM_TYPE:
            form = _form(text)
            return form if isinstance(form, Rejection) else params_from(form, self.limits)
        if kind == _GRAPHQL_TYPE:
            return params_from({"query": text}, self.limits)
        return Rejection(415, f"send the body as application/json, not {kind}", "media type")

    def after(self, answer: _Answer) -> None:
        """Tell the observer about an answered check (observers must return quickly)."""
        context = answer.context
        if answer.status != 200 or context is None or not context.evaluations:
            return
        label = context.caller.label
        try:
            self.observer.on_checked(label)
            for evaluation in context.evaluations:
                report = evaluation.report
                if self.notices.claim(answer.session_id, report.status):
                    assert answer.session_id is not None
                    self.observer.on_page_failed(answer.session_id, label, report)
        except Exception:
            log.exception("the API observer failed")


def _describe(outcome: QueryOutcome, context: RequestContext) -> str:
    if outcome.status != 200:
        errors = outcome.body.get("errors") or [{}]
        return f"refused: {str(errors[0].get('message', ''))[:100]}"
    verdicts = ", ".join(
        f"{'page' if e.from_page else 'app'} policy {e.report.status.value}"
        for e in context.evaluations
    )
    errors = outcome.body.get("errors")
    parts = ["answered", verdicts, f"{len(errors)} field error(s)" if errors else ""]
    return " ".join(part for part in parts if part)


class _Handler(BaseHTTPRequestHandler):
    """One request read whole already (`connections.Request`); decided by `_Api.respond`."""

    server: _HandlerHost  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"
    server_version = "stethoscope-desktop"
    sys_version = ""

    def __init__(self, request: Request, api: _Api) -> None:
        self._request = request
        super().__init__(request.connection, request.address, _HandlerHost(api))  # type: ignore[arg-type]

    def setup(self) -> None:
        """Read the request from the bytes read already; write the answer to the socket."""
        self.connection = self._request.connection
        self.connection.setblocking(True)
        self.connection.settimeout(WRITE_TIMEOUT_S)
        self.rfile = io.BytesIO(self._request.data)
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]

    def handle(self) -> None:
        """Answer a refused framing at once, else parse and answer the one request."""
        refusal = self._request.refusal
        if refusal is None:
            self.handle_one_request()
            return
        self.command, self.request_version = "", "HTTP/1.1"
        log.info("refused a request's framing: %d %s", refusal.status, refusal.message)
        with contextlib.suppress(OSError):
            self._send(_reject(refusal))

    def handle_expect_100(self) -> bool:
        """`100 Continue` was sent (if at all) while the request was read: nothing to do."""
        return True

    def _handle(self) -> None:
        started = time.perf_counter()
        api = self.server.api
        try:
            answer = api.respond(self.command, self.path, self.headers, self.rfile.read)
        except Exception:
            log.exception("the local API failed on %s %s", self.command, urlsplit(self.path).path)
            answer = _Answer(
                500, error_body("internal error", "INTERNAL"), outcome="internal error"
            )
        origin = self.headers.get("Origin") or "no origin"
        label = answer.caller.label if answer.caller is not None else "refused"
        log.info(
            "%s %s from %s (%s) -> %d %s in %.1f ms",
            self.command,
            urlsplit(self.path).path,
            origin,
            label,
            answer.status,
            answer.outcome,
            (time.perf_counter() - started) * 1000,
        )
        # Logged and told before the answer leaves: whoever reads the answer sees both done.
        api.after(answer)
        self._send(answer)

    do_GET = do_POST = do_OPTIONS = do_HEAD = _handle
    do_PUT = do_DELETE = do_PATCH = do_TRACE = do_CONNECT = _handle

    def _send(self, answer: _Answer) -> None:
        """Write the whole answer in one write (one loopback round, no Nagle delay)."""
        body = b""
        content_type = "application/json; charset=utf-8"
        if answer.text is not None:
            body = answer.text.encode("utf-8")
            content_type = "text/plain; charset=utf-8"
        elif answer.body is not None:
            body = json.dumps(answer.body, ensure_ascii=False, separators=(",", ":")).encode()
        phrase = self.responses.get(answer.status, ("",))[0]
        headers = {
            "Server": self.version_string(),
            "Date": self.date_time_string(),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Vary": "Origin",
            **answer.headers,
            "Connection": "close",
        }
        if answer.status != 204:
            headers["Content-Type"] = content_type
            headers["Content-Length"] = str(len(body))
        head = f"HTTP/1.1 {answer.status} {phrase}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        if self.command == "HEAD" or answer.status == 204:
            body = b""
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)
        self.close_connection = True

    def version_string(self) -> str:
        """Name the server without Python's version."""
        return self.server_version

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer the standard library's own refusals (bad request line, 414, 501) in JSON."""
        text = message or self.responses.get(code, ("error",))[0]
        log.info("refused a malformed request: %d %s", code, text)
        answer = _Answer(code, error_body(text, "BAD_HTTP"), outcome=text)
        with contextlib.suppress(OSError):
            self._send(answer)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged by `_handle`, with their origin and outcome."""

    def log_message(self, format: str, *args: Any) -> None:
        """Send the standard library's messages to our log, at debug level."""
        log.debug("http: " + format, *args)


@dataclass(frozen=True)
class _HandlerHost:
    """What a handler sees as its server: the API it answers with."""

    api: _Api


class ApiServer:
    """The local API server: start, its port and URL, stop. Not restartable."""

    def __init__(
        self,
        service: ApiService,
        *,
        port: int,
        observer: ApiObserver | None = None,
        debug: bool = False,
        limits: ApiLimits | None = None,
        rate_limiter: RateLimiter | None = None,
        addresses: tuple[str, ...] = LOOPBACK_ADDRESSES,
        sockets: list[socket.socket] | None = None,
        log_file: Path | None = None,
        device_trust: DeviceTrust | None = None,
    ) -> None:
        """Prepare the server; `start` listens.

        `sockets`: listening sockets bound already (by `listen.bind_loopback`, perhaps in
        another process) to serve instead of binding `port` on `addresses`. `log_file`: the
        app's log, whose end `/debugger` shows to programs on this computer. `device_trust`:
        the device key that signs `attest`'s tokens (default: config.yaml's `deviceKey` in the
        user's data folder, opened at the first token asked for).
        """
        base = limits or ApiLimits()
        self.limits = base.debug() if debug else base
        self._requested_port = port
        self._addresses = addresses
        self._api = _Api(
            service,
            QueryRunner(build_api_schema(), self.limits, introspection=debug),
            self.limits,
            rate_limiter or RateLimiter(self.limits.rate_burst, self.limits.rate_per_second),
            observer or NullObserver(),
            device_trust or DeviceTrust(lambda: service.config().device_key),
        )
        self._api.log_file = log_file
        self._sockets = sockets
        self._listening: list[socket.socket] = []
        self._loop: ConnectionLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        """Return the port listened on (the chosen one when started with port 0)."""
        return self._api.port

    @property
    def urls(self) -> list[str]:
        """Return the GraphQL URL on each address listened on."""
        return [
            f"http://{'[' + host + ']' if ':' in host else host}:{self.port}/graphql"
            for host in (str(listening.getsockname()[0]) for listening in self._listening)
        ]

    @property
    def url(self) -> str:
        """Return the GraphQL URL on 127.0.0.1."""
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def device_trust(self) -> DeviceTrust:
        """Return the holder of the device key that signs the tokens."""
        return self._api.device_trust

    @property
    def observer(self) -> ApiObserver:
        """Return the observer told about answered checks."""
        return self._api.observer

    @observer.setter
    def observer(self, observer: ApiObserver) -> None:
        self._api.observer = observer

    def start(self) -> None:
        """Listen and serve in a background thread; raise PortInUseError or ApiServerError."""
        if self._listening or self._stopped:
            raise ApiServerError("the server was started already")
        if self._sockets is None:
            sockets = bind_loopback(self._requested_port, self._addresses)
        else:
            sockets, self._sockets = self._sockets, None
        self._listening = sockets
        self._api.port = int(sockets[0].getsockname()[1])
        self._loop = ConnectionLoop(
            sockets,
            self._answer,
            max_connections=self.limits.max_connections,
            max_handlers=self.limits.max_handlers,
            max_body_bytes=self.limits.max_body_bytes,
            deadline_s=self.limits.request_deadline_s,
        )
        self._thread = threading.Thread(target=self._loop.run, name="api-server", daemon=True)
        self._thread.start()
        log.info("local API listening on %s", ", ".join(self.urls))

    def _answer(self, request: Request) -> None:
        """Answer one request read whole (on a handler thread)."""
        _Handler(request, self._api)

    def busy(self) -> bool:
        """Return True while a connection is being read or answered."""
        return self._loop is not None and self._loop.busy()

    def stop(self) -> None:
        """Stop accepting, finish the requests under way, close the sockets; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._api.service.stop()  # requests waiting for a scan end now, not one scan each
        if self._loop is not None:
            self._loop.stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._loop is not None:
            self._loop.wait_for_handlers()
            self._loop = None
        for listening in self._listening:
            listening.close()
        self._listening = []

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
