"""The local API signs device tokens: GraphQL's `attest` and `POST /attest` (issue 17, item 3)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.api.attest import DeviceTrust
from stethoscope_desktop.api.server import ApiServer
from stethoscope_desktop.device_trust.keys import (
    SOFTWARE_KEY_FILE,
    DeviceKey,
    SoftwareDeviceKey,
    open_device_key,
)
from stethoscope_desktop.device_trust.public_key import read_public_key_info
from stethoscope_desktop.device_trust.token import canonical_policy
from stethoscope_desktop.device_trust.verify import TokenRejected, verify_token
from tests.api.helpers import (
    ALLOWED_ORIGIN,
    CLASSIC_VARIABLES,
    FOREIGN_ORIGIN,
    CountingSource,
    RecordingObserver,
    app_practices,
    make_service,
    post_json,
    request,
)

NONCE = "n0nce-from-the-login-server_0123456789"
POLICY: dict[str, Any] = CLASSIC_VARIABLES["policy"]
ATTEST_GRAPHQL = (
    "query($nonce: String!, $policy: DevicePolicy) "
    "{ attest(nonce: $nonce, policy: $policy) { token keyProtection } }"
)


@contextmanager
def attesting_server(
    folder: Path,
    *,
    observer: RecordingObserver | None = None,
    trust: DeviceTrust | None = None,
    allow_hosts: tuple[str, ...] = (ALLOWED_ORIGIN,),
) -> Iterator[tuple[ApiServer, CountingSource]]:
    service, source = make_service(practices=app_practices(allow_hosts=allow_hosts))
    server = ApiServer(
        service,
        port=0,
        observer=observer,
        device_trust=trust or DeviceTrust(lambda: "software", folder=folder),
    )
    server.start()
    try:
        yield server, source
    finally:
        server.stop()


def post_attest(
    port: int, body: Any, origin: str | None = ALLOWED_ORIGIN, kind: str = "application/json"
) -> Any:
    headers = {"Content-Type": kind}
    if origin is not None:
        headers["Origin"] = origin
    return request(port, "POST", "/attest", headers=headers, body=json.dumps(body).encode())


def enrolled(folder: Path) -> dict[str, str]:
    return open_device_key("software", folder).public_jwk


def test_post_attest_signs_the_verdict_validate_gives_for_the_page_policy(tmp_path: Path) -> None:
    observer = RecordingObserver()
    with attesting_server(tmp_path, observer=observer) as (server, source):
        validated = post_json(
            server.port,
            {
                "query": "query($policy: DevicePolicy) { policy { validate(policy: $policy) "
                "{ status osVersion firewall diskEncryption remoteLogin } } }",
                "variables": {"policy": POLICY},
            },
            headers={"Origin": ALLOWED_ORIGIN},
        )
        answer = post_attest(server.port, {"nonce": NONCE, "policy": POLICY})
        scans = source.count
    assert answer.status == 200, answer.body
    assert answer.header("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert set(answer.body) == {"token", "keyProtection"}
    assert answer.body["keyProtection"] == "software"
    payload = verify_token(
        answer.body["token"], enrolled(tmp_path), nonce=NONCE, origin=ALLOWED_ORIGIN
    )
    verdict = validated.body["data"]["policy"]["validate"]
    assert payload["status"] == verdict["status"]
    for practice in ("osVersion", "firewall", "diskEncryption", "remoteLogin"):
        assert payload["practices"][practice] == verdict[practice]
    assert payload["aud"] == ALLOWED_ORIGIN
    assert payload["policySha256"] == hashlib.sha256(canonical_policy(POLICY)).hexdigest()
    assert payload["policyVersion"].startswith("sha256:")
    assert payload["exp"] - payload["iat"] == 300
    # The same report as validate's: one scan for both (the service's cache).
    assert scans == 1
    assert observer.checked == ["Example Login", "Example Login"]


def test_graphql_attest_from_a_local_program_has_the_local_audience(tmp_path: Path) -> None:
    with attesting_server(tmp_path) as (server, _source):
        answer = post_json(server.port, {"query": ATTEST_GRAPHQL, "variables": {"nonce": NONCE}})
    assert answer.status == 200, answer.body
    attested = answer.body["data"]["attest"]
    assert attested["keyProtection"] == "software"
    payload = verify_token(attested["token"], enrolled(tmp_path), nonce=NONCE, origin="local")
    assert payload["aud"] == "local"
    assert payload["policySha256"] is None


def test_a_nonce_gets_one_token_per_origin(tmp_path: Path) -> None:
    with attesting_server(tmp_path) as (server, _source):
        first = post_attest(server.port, {"nonce": NONCE})
        again = post_attest(server.port, {"nonce": NONCE})
        other = post_attest(server.port, {"nonce": NONCE}, origin="https://x.intranet.example.com")
    assert first.status == again.status == other.status == 200
    assert again.body["token"] == first.body["token"]
    assert other.body["token"] != first.body["token"]
    key = enrolled(tmp_path)
    with pytest.raises(TokenRejected, match="audience"):
        verify_token(other.body["token"], key, nonce=NONCE, origin=ALLOWED_ORIGIN)


@pytest.mark.parametrize(
    "spelling",
    ["HTTPS://LOGIN.EXAMPLE.COM", "https://Login.Example.com", "https://login.example.com:443"],
)
def test_another_spelling_of_the_origin_gets_the_same_token_never_a_second(
    tmp_path: Path, spelling: str
) -> None:
    # The app allows the origin in any case; the port 443 spelled out is allowed here too.
    allowed = (ALLOWED_ORIGIN, "https://login.example.com:443")
    with attesting_server(tmp_path, allow_hosts=allowed) as (server, _source):
        first = post_attest(server.port, {"nonce": NONCE})
        again = post_attest(server.port, {"nonce": NONCE}, origin=spelling)
    assert first.status == again.status == 200, again.body
    assert again.body["token"] == first.body["token"]
    payload = verify_token(
        first.body["token"], enrolled(tmp_path), nonce=NONCE, origin=ALLOWED_ORIGIN
    )
    assert payload["aud"] == ALLOWED_ORIGIN == "https://login.example.com"


@pytest.mark.parametrize("nonce", ["short", "x" * 257, "has space in it 123456", 12345678901234567])
def test_a_bad_nonce_is_refused_clearly_before_any_scan(tmp_path: Path, nonce: object) -> None:
    with attesting_server(tmp_path) as (server, source):
        answer = post_attest(server.port, {"nonce": nonce})
        graphql = post_json(
            server.port,
            {
                "query": ATTEST_GRAPHQL,
                "variables": {"nonce": nonce if isinstance(nonce, str) else "?"},
            },
            headers={"Origin": ALLOWED_ORIGIN},
        )
        scans = source.count
    assert answer.status == 400
    [error] = answer.body["errors"]
    if isinstance(nonce, str):
        assert error["extensions"]["code"] == "BAD_NONCE"
        assert "16 to 256 URL-safe characters" in error["message"]
    else:
        assert "nonce" in error["message"]
    assert graphql.status == 200
    assert graphql.body["data"]["attest"] is None
    assert graphql.body["errors"][0]["extensions"]["code"] == "BAD_NONCE"
    assert scans == 0
    assert not (tmp_path / SOFTWARE_KEY_FILE).exists()


def test_an_origin_not_allowed_gets_no_token(tmp_path: Path) -> None:
    with attesting_server(tmp_path) as (server, source):
        answer = post_attest(server.port, {"nonce": NONCE}, origin=FOREIGN_ORIGIN)
        scans = source.count
    assert answer.status == 403
    assert "token" not in json.dumps(answer.body)
    assert answer.header("Access-Control-Allow-Origin") is None
    assert scans == 0


@pytest.mark.allow_warnings
def test_an_unusable_key_is_a_clear_error_and_is_not_replaced(tmp_path: Path) -> None:
    key_file = tmp_path / SOFTWARE_KEY_FILE
    key_file.write_bytes(b"not a key")
    os.chmod(key_file, 0o600)
    with attesting_server(tmp_path) as (server, _source):
        answer = post_attest(server.port, {"nonce": NONCE})
        local = post_attest(server.port, {"nonce": NONCE}, origin=None)
        graphql = post_json(server.port, {"query": ATTEST_GRAPHQL, "variables": {"nonce": NONCE}})
        graphql_page = post_json(
            server.port,
            {"query": ATTEST_GRAPHQL, "variables": {"nonce": NONCE}},
            headers={"Origin": ALLOWED_ORIGIN},
        )
    # A local program reads the key file and what to do.
    assert local.status == 503
    [error] = local.body["errors"]
    assert error["extensions"]["code"] == "DEVICE_KEY_UNUSABLE"
    assert str(key_file) in error["message"]
    assert "device-key --new" in error["message"]
    assert str(key_file) in graphql.body["errors"][0]["message"]
    # A web page reads what is wrong and what to do, but no path of the user's home folder.
    assert answer.status == 503
    for page_error in (answer.body["errors"][0], graphql_page.body["errors"][0]):
        assert page_error["extensions"]["code"] == "DEVICE_KEY_UNUSABLE"
        assert str(tmp_path) not in page_error["message"] and "/" not in page_error["message"]
        assert "`stethoscope-desktop device-key` on this device" in page_error["message"]
    assert key_file.read_bytes() == b"not a key"
    assert sorted(p.name for p in tmp_path.iterdir()) == [SOFTWARE_KEY_FILE]


@pytest.mark.parametrize(
    ("body", "kind", "status", "words"),
    [
        ({"nonce": NONCE, "extra": 1}, "application/json", 400, "not extra"),
        ({"nonce": NONCE, "sessionId": 7}, "application/json", 400, "sessionId must be a string"),
        ({"policy": POLICY}, "application/json", 400, "needs a nonce"),
        ([NONCE], "application/json", 400, "one JSON object"),
        ({"nonce": NONCE}, "application/x-www-form-urlencoded", 415, "application/json"),
        ({"nonce": NONCE, "policy": {"firewall": "MAYBE"}}, "application/json", 400, "firewall"),
    ],
)
def test_a_malformed_request_is_refused(
    tmp_path: Path, body: Any, kind: str, status: int, words: str
) -> None:
    with attesting_server(tmp_path) as (server, _source):
        answer = post_attest(server.port, body, kind=kind)
    assert answer.status == status, answer.body
    assert words in answer.body["errors"][0]["message"]


def test_attest_answers_only_post(tmp_path: Path) -> None:
    with attesting_server(tmp_path) as (server, _source):
        answer = request(server.port, "GET", "/attest", headers={"Origin": ALLOWED_ORIGIN})
        preflight = request(
            server.port,
            "OPTIONS",
            "/attest",
            headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
    assert answer.status == 405
    assert preflight.status == 204
    assert preflight.header("Access-Control-Allow-Methods") == "POST"


class GatedKey(DeviceKey):
    """A software key whose signing waits for the test (a slow TPM)."""

    protection = "software"

    def __init__(self, key: SoftwareDeviceKey) -> None:
        self.path = key.path
        self._key = key
        self.signing = threading.Event()
        self.gate = threading.Event()

    @property
    def public_jwk(self) -> dict[str, str]:
        return self._key.public_jwk

    def sign(self, data: bytes) -> bytes:
        self.signing.set()
        assert self.gate.wait(30)
        return self._key.sign(data)


def test_signing_runs_off_the_accept_loop_and_the_key_is_opened_once(tmp_path: Path) -> None:
    key = GatedKey(SoftwareDeviceKey.create(tmp_path / SOFTWARE_KEY_FILE))
    opened: list[str] = []

    def open_key(choice: str, folder: Path | None) -> DeviceKey:
        opened.append(choice)
        return key

    trust = DeviceTrust(lambda: "auto", folder=tmp_path, open_key=open_key)
    with attesting_server(tmp_path, trust=trust) as (server, _source):
        answers: list[Any] = []
        slow = threading.Thread(
            target=lambda: answers.append(post_attest(server.port, {"nonce": NONCE}))
        )
        slow.start()
        assert key.signing.wait(30)
        # The API answers others while a signature is under way.
        status = post_json(server.port, {"query": "{ status }"})
        key.gate.set()
        slow.join(30)
        second = post_attest(server.port, {"nonce": NONCE + "2"})
    assert status.body == {"data": {"status": "ok"}}
    assert answers[0].status == 200 and second.status == 200
    assert opened == ["auto"]


def test_the_window_can_read_the_kid_kept_beside_the_key(tmp_path: Path) -> None:
    assert read_public_key_info(tmp_path) is None
    with attesting_server(tmp_path) as (server, _source):
        post_attest(server.port, {"nonce": NONCE})
    info = read_public_key_info(tmp_path)
    assert info is not None
    assert info.kid == enrolled(tmp_path)["kid"]
    assert info.protection == "software"
    (tmp_path / SOFTWARE_KEY_FILE).unlink()
    assert read_public_key_info(tmp_path) is None  # the key it names is gone


def test_the_worker_stays_while_a_nonce_is_remembered_in_memory_only(tmp_path: Path) -> None:
    from stethoscope_desktop.device_trust.token import NonceLedger
    from tests.ui.reports import mixed_report

    now = [1_000_000.0]
    trust = DeviceTrust(
        lambda: "software", folder=tmp_path, clock=lambda: now[0], ledger=NonceLedger()
    )
    assert not trust.remembering()
    trust.attest(mixed_report(), nonce=NONCE, audience="local", page_policy=None, policy_version="")
    now[0] += 359
    assert trust.remembering()
    now[0] += 2
    assert not trust.remembering()
    # The default ledger is a file that outlives the worker: it need not stay.
    on_file = DeviceTrust(lambda: "software", folder=tmp_path, clock=lambda: now[0])
    on_file.attest(
        mixed_report(), nonce=NONCE, audience="local", page_policy=None, policy_version=""
    )
    assert not on_file.remembering()


@pytest.mark.allow_warnings
def test_a_key_folder_that_cannot_be_made_is_a_clear_error_not_a_500(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the key's folder should be")
    with attesting_server(blocker / "device-key") as (server, _source):
        answer = post_attest(server.port, {"nonce": NONCE}, origin=None)
        page = post_attest(server.port, {"nonce": NONCE})
    assert answer.status == page.status == 503, answer.body
    [error] = answer.body["errors"]
    assert error["extensions"]["code"] == "DEVICE_KEY_UNUSABLE"
    assert str(blocker / "device-key") in error["message"]
    assert page.body["errors"][0]["extensions"]["code"] == "DEVICE_KEY_UNUSABLE"
    assert str(blocker) not in page.body["errors"][0]["message"]


def test_a_failing_device_is_told_once_per_session_as_with_validate(tmp_path: Path) -> None:
    observer = RecordingObserver()
    with attesting_server(tmp_path, observer=observer) as (server, _source):
        for nonce in (NONCE, NONCE + "-again"):
            answer = post_attest(
                server.port, {"nonce": nonce, "policy": POLICY, "sessionId": "login-1"}
            )
            assert answer.status == 200, answer.body
    # The classic policy fails this Linux device (its osVersion names darwin and win32 only).
    assert [(session, label) for session, label, _ in observer.failed] == [
        ("login-1", "Example Login")
    ]
