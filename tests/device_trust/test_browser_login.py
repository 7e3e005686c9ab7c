"""Device trust end to end in a real browser (issue 17, item 5), and what a login server refuses.

A login page served by the test login server (`LoginServer`) runs in headless Chromium: it
fetches a nonce from its server, asks the app's API (`POST /attest`, on another loopback port,
the login server's origin allowed) for a token, posts the token back, and writes the server's
outcome into the DOM, which the test reads with --dump-dom. The same page is then served while
another local program holds the app's port and answers first, with a token signed by a key of
its own or with Stethoscope's classic unauthenticated PASS: the server refuses both. Tokens the
app made but that must not log in (another key, a replay, another origin, expired, edited) are
posted from Python to the same servers.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from stethoscope_desktop.api.attest import DeviceTrust
from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.device_trust.keys import DeviceKey, SoftwareDeviceKey, open_device_key
from stethoscope_desktop.device_trust.token import Attester
from tests.api.helpers import CLASSIC_VARIABLES, app_practices, make_service
from tests.api.test_browser import CHROMIUM, dump_dom
from tests.device_trust.helpers import SoftwareTpm
from tests.device_trust.login_server import LoginServer
from tests.device_trust.test_login_server import _login, _nonce
from tests.ui.reports import passing_report

browser_needed = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs the Debian package chromium (.ci/install-debian-packages installs it as root)",
)

LOGIN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Log in</title></head>
<body>
<p id="outcome">waiting</p>
<script>
const app = "http://127.0.0.1:__PORT__/attest";
const policy = __POLICY__;
const show = text => { document.getElementById("outcome").textContent = text; };
const post = (url, data) => fetch(url, {
  method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(data),
});
(async () => {
  try {
    const {nonce} = await (await fetch("/nonce")).json();
    const answer = await (await post(app, {nonce, policy})).json();
    // Only the token counts: whatever else the answer says is not believed.
    const login = await (await post("/login", {nonce, token: answer.token ?? ""})).json();
    show(login.accepted
      ? `accepted status=${login.payload.status} protection=${login.payload.keyProtection}`
      : `refused check=${login.check}`);
  } catch (error) {
    show(`error ${error}`);
  }
})();
</script>
</body></html>
"""
POLICY: dict[str, Any] = CLASSIC_VARIABLES["policy"]


def login_page(port: int) -> str:
    return LOGIN_PAGE.replace("__PORT__", str(port)).replace("__POLICY__", json.dumps(POLICY))


@contextmanager
def app_api(
    origin: str, folder: Path, *, port: int = 0, clock: Any = time.time
) -> Iterator[ApiServer]:
    """The app's API allowing `origin`, signing with the software key of `folder`."""
    service, _source = make_service(practices=app_practices(allow_hosts=(origin,), host_labels=()))
    server = ApiServer(
        service,
        port=port,
        addresses=("127.0.0.1",),
        device_trust=DeviceTrust(lambda: "auto", folder=folder, clock=clock),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def login_server(jwk: dict[str, str]) -> Iterator[LoginServer]:
    server = LoginServer(jwk)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def outcome_in(dom: str) -> str:
    start = dom.index('id="outcome">') + len('id="outcome">')
    return dom[start : dom.index("</p>", start)]


@pytest.fixture(params=["software", "tpm"])
def device_key(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DeviceKey]:
    folder = tmp_path / "device-key"
    if request.param == "software":
        yield open_device_key("software", folder)
        return
    tpm = SoftwareTpm(tmp_path / "tpm-state")
    tpm.start()
    monkeypatch.delenv("TPM2TOOLS_TCTI", raising=False)
    monkeypatch.setenv("TSS2_TCTI", tpm.tcti)
    try:
        yield open_device_key("tpm", folder)
    finally:
        tpm.stop()


@browser_needed
def test_a_login_page_in_chromium_logs_in_with_the_apps_token(device_key: DeviceKey) -> None:
    with login_server(device_key.public_jwk) as server:
        origin = server.origin
        with app_api(origin, device_key.path.parent) as api:
            server.page = login_page(api.port)
            dom = dump_dom(origin + "/")
    # The classic policy names only darwin and win32 OS versions: this Linux device fails.
    assert outcome_in(dom) == f"accepted status=FAIL protection={device_key.protection}", dom
    [attempt] = server.attempts
    assert attempt["payload"]["aud"] == origin
    assert attempt["payload"]["practices"]["firewall"] == "PASS"


class ImpostorHandler(BaseHTTPRequestHandler):
    """Another local program on the app's port: CORS for anyone, and a token of its own key."""

    key: DeviceKey
    classic: bool = False

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Access-Control-Allow-Private-Network", "true")

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._headers()
        self.end_headers()

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if self.classic:
            answer: dict[str, Any] = {"data": {"policy": {"validate": {"status": "PASS"}}}}
        else:
            # The best it can do: the right nonce and origin, a PASS, its own key.
            token = Attester(self.key).attest(
                passing_report(), nonce=request["nonce"], audience=self.headers["Origin"]
            )
            answer = {"token": token.token, "keyProtection": "tpm"}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self._headers()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def impostor(port: int, key: DeviceKey, *, classic: bool) -> Iterator[None]:
    handler = type("Impostor", (ImpostorHandler,), {"key": key, "classic": classic})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@browser_needed
def test_a_program_answering_first_on_the_apps_port_cannot_log_in(tmp_path: Path) -> None:
    device = open_device_key("software", tmp_path / "device-key")
    impostor_key = SoftwareDeviceKey.create(tmp_path / "impostor.pem")
    with login_server(device.public_jwk) as server:
        with app_api(server.origin, device.path.parent) as api:
            port = api.port
            server.page = login_page(port)
            assert outcome_in(dump_dom(server.origin + "/")).startswith("accepted")
        # The app is gone; another program holds its port and answers the same page.
        with impostor(port, impostor_key, classic=False):
            signed_by_another = outcome_in(dump_dom(server.origin + "/"))
        with impostor(port, impostor_key, classic=True):
            classic_pass = outcome_in(dump_dom(server.origin + "/"))
    assert signed_by_another == "refused check=kid"
    assert classic_pass == "refused check=malformed"
    assert [attempt["accepted"] for attempt in server.attempts] == [True, False, False]


def _attest(api: ApiServer, nonce: str, origin: str) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{api.port}/attest",
        data=json.dumps({"nonce": nonce, "policy": POLICY}).encode(),
        headers={"Content-Type": "application/json", "Origin": origin},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(json.loads(response.read())["token"])


def test_the_login_server_refuses_app_tokens_that_must_not_log_in(tmp_path: Path) -> None:
    device = open_device_key("software", tmp_path / "device-key")
    another = open_device_key("software", tmp_path / "another-device")
    other_origin = "https://other.example.com"
    with login_server(device.public_jwk) as server:
        allowed = (server.origin, other_origin)
        service, _ = make_service(practices=app_practices(allow_hosts=allowed, host_labels=()))
        skew = [0.0]
        trusts = {
            "device": DeviceTrust(
                lambda: "auto", folder=device.path.parent, clock=lambda: time.time() + skew[0]
            ),
            "another": DeviceTrust(lambda: "auto", folder=another.path.parent),
        }
        servers = {
            name: ApiServer(service, port=0, addresses=("127.0.0.1",), device_trust=trust)
            for name, trust in trusts.items()
        }
        for api in servers.values():
            api.start()
        try:
            app, other_device = servers["device"], servers["another"]
            nonce = _nonce(server)
            token = _attest(app, nonce, server.origin)
            assert _login(server, nonce, token)[1]["accepted"]
            replayed = _login(server, nonce, token)[1]["check"]
            nonce = _nonce(server)
            by_another_device = _login(server, nonce, _attest(other_device, nonce, server.origin))[
                1
            ]
            nonce = _nonce(server)
            for_another_origin = _login(server, nonce, _attest(app, nonce, other_origin))[1]
            nonce = _nonce(server)
            skew[0] = -400.0  # the app's clock says 400 s ago: a token expired by now
            expired = _login(server, nonce, _attest(app, nonce, server.origin))[1]
            skew[0] = 0.0
            nonce = _nonce(server)
            header, payload, signature = _attest(app, nonce, server.origin).split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            assert claims["status"] == "FAIL"
            claims["status"] = "PASS"
            edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            edited_outcome = _login(server, nonce, f"{header}.{edited}.{signature}")[1]
        finally:
            for api in servers.values():
                api.stop()
    assert replayed == "nonce-unknown"
    assert by_another_device["check"] == "kid"
    assert for_another_origin["check"] == "audience"
    assert expired["check"] == "expired"
    assert edited_outcome["check"] == "signature"
    assert [attempt["accepted"] for attempt in server.attempts] == [True] + [False] * 5
