"""The test login server accepts a fresh token of the enrolled key once, and refuses the rest."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.core.report import Report
from stethoscope_desktop.device_trust.keys import SoftwareDeviceKey
from stethoscope_desktop.device_trust.token import Attester
from tests.device_trust.login_server import LoginServer
from tests.ui.reports import mixed_report


@pytest.fixture(scope="module")
def report() -> Report:
    return mixed_report()


@pytest.fixture
def device_key(tmp_path: Path) -> SoftwareDeviceKey:
    return SoftwareDeviceKey.create(tmp_path / "device.pem")


@pytest.fixture
def server(device_key: SoftwareDeviceKey) -> Iterator[LoginServer]:
    login_server = LoginServer(device_key.public_jwk, page="<!doctype html><title>Login</title>")
    login_server.start()
    try:
        yield login_server
    finally:
        login_server.stop()


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def _login(server: LoginServer, nonce: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{server.origin}/login",
        data=json.dumps({"nonce": nonce, "token": token}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _nonce(server: LoginServer) -> str:
    status, body = _get(f"{server.origin}/nonce")
    assert status == 200
    return str(json.loads(body)["nonce"])


def test_a_fresh_token_of_the_enrolled_key_logs_in_once(
    server: LoginServer, device_key: SoftwareDeviceKey, report: Report
) -> None:
    assert _get(server.origin + "/")[1].startswith(b"<!doctype html>")
    nonce = _nonce(server)
    token = Attester(device_key).attest(report, nonce=nonce, audience=server.origin).token
    status, outcome = _login(server, nonce, token)
    assert status == 200 and outcome["accepted"]
    assert outcome["payload"]["status"] == str(report.status)
    assert outcome["payload"]["keyProtection"] == "software"
    # The same token again: a replay, refused.
    status, outcome = _login(server, nonce, token)
    assert status == 403 and outcome["check"] == "nonce-unknown"


def test_the_server_refuses_what_it_must(
    server: LoginServer, device_key: SoftwareDeviceKey, report: Report, tmp_path: Path
) -> None:
    other_key = SoftwareDeviceKey.create(tmp_path / "other.pem")

    def attempt(key: SoftwareDeviceKey, audience: str, **options: Any) -> str:
        nonce = _nonce(server)
        token = Attester(key).attest(report, nonce=nonce, audience=audience, **options).token
        status, outcome = _login(server, nonce, token)
        assert status == 403
        return str(outcome["check"])

    assert attempt(other_key, server.origin) == "kid"
    assert attempt(device_key, "https://another.example.com") == "audience"
    assert attempt(device_key, "local") == "audience"
    assert attempt(device_key, server.origin, now=1_700_000_000) == "expired"
    # A payload edited to say PASS: the signature no longer verifies.
    nonce = _nonce(server)
    token = Attester(device_key).attest(report, nonce=nonce, audience=server.origin).token
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["status"] = "PASS" if claims["status"] != "PASS" else "FAIL"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _login(server, nonce, f"{header}.{edited}.{signature}")[1]["check"] == "signature"
    # A token for a nonce this server never issued.
    made_up = "made-up-nonce-0123456789"
    token = Attester(device_key).attest(report, nonce=made_up, audience=server.origin).token
    assert _login(server, made_up, token)[1]["check"] == "nonce-unknown"
    # A token for another nonce than the one presented.
    first, second = _nonce(server), _nonce(server)
    token = Attester(device_key).attest(report, nonce=first, audience=server.origin).token
    assert _login(server, second, token)[1]["check"] == "nonce"
    assert not any(attempt["accepted"] for attempt in server.attempts)
