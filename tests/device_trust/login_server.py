"""A test login server: it issues nonces and accepts a device token once per nonce.

    server = LoginServer(enrolled_jwk, page_html)   # page_html: served at / (optional)
    server.start()          # on 127.0.0.1, a free port; server.origin is the page's origin
    GET  /nonce             -> {"nonce": "..."} (single use, valid NONCE_SECONDS)
    POST /login {"nonce", "token"}
                            -> 200 {"accepted": true, "payload": {...}}
                            -> 403 {"accepted": false, "check": "...", "message": "..."}
    server.stop()

A nonce is removed from the store as soon as a login names it, accepted or not, so a replayed
token finds none (check "nonce-unknown": never issued, already used or too old). The token is
verified with the Python verifier against the enrolled key, the nonce and the server's origin.
`server.attempts` records every login's outcome, for the tests to read.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stethoscope_desktop.device_trust.verify import TokenRejected, verify_token

NONCE_SECONDS = 120.0
_MAX_BODY = 65_536


class LoginServer:
    """Issues nonces, verifies device tokens against one enrolled key."""

    def __init__(self, enrolled_jwk: Mapping[str, Any], page: str = "") -> None:
        """Accept tokens of `enrolled_jwk`; serve `page` (HTML) at /."""
        self.enrolled_jwk = dict(enrolled_jwk)
        self.page = page
        self.nonces: dict[str, float] = {}
        self.attempts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        """The origin of the server's pages, as a browser sends it."""
        assert self._http is not None, "start() first"
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> None:
        """Listen on 127.0.0.1 on a free port, in a thread."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/nonce":
                    self._send(200, {"nonce": server.issue_nonce()})
                elif self.path == "/" and server.page:
                    self._send_bytes(200, server.page.encode(), "text/html; charset=utf-8")
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                if self.path != "/login":
                    self._send(404, {"error": "not found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(min(length, _MAX_BODY)))
                    nonce, token = str(body["nonce"]), str(body["token"])
                except (ValueError, KeyError, TypeError):
                    self._send(400, {"accepted": False, "check": "request"})
                    return
                outcome = server.login(nonce, token)
                self._send(200 if outcome["accepted"] else 403, outcome)

            def _send(self, code: int, data: Mapping[str, Any]) -> None:
                self._send_bytes(code, json.dumps(data).encode(), "application/json")

            def _send_bytes(self, code: int, data: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def issue_nonce(self, now: float | None = None) -> str:
        """Return a new single-use nonce (43 URL-safe characters)."""
        nonce = secrets.token_urlsafe(32)
        with self._lock:
            self.nonces[nonce] = time.time() if now is None else now
        return nonce

    def login(self, nonce: str, token: str, now: float | None = None) -> dict[str, Any]:
        """Verify a login; the nonce is used up whatever the outcome."""
        now = time.time() if now is None else now
        with self._lock:
            issued = self.nonces.pop(nonce, None)
        if issued is None or now - issued > NONCE_SECONDS:
            outcome: dict[str, Any] = {
                "accepted": False,
                "check": "nonce-unknown",
                "message": "this nonce was never issued, was already used, or is too old",
            }
        else:
            try:
                payload = verify_token(
                    token, self.enrolled_jwk, nonce=nonce, origin=self.origin, now=now
                )
                outcome = {"accepted": True, "payload": payload}
            except TokenRejected as error:
                outcome = {"accepted": False, "check": error.check, "message": error.message}
        self.attempts.append(outcome)
        return outcome
