"""The device token's payload, the nonce rules, and one token per nonce and origin."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from stethoscope_desktop import __version__
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.device_trust.keys import SoftwareDeviceKey
from stethoscope_desktop.device_trust.token import (
    MAX_REMEMBERED,
    AttestationRefused,
    Attester,
    AudienceRefused,
    NonceLedger,
    canonical_policy,
    policy_files_version,
    policy_sha256,
    token_payload,
    validate_nonce,
)
from stethoscope_desktop.device_trust.verify import verify_token
from tests.ui.reports import mixed_report

NONCE = "0123456789abcdef-_.~"
ORIGIN = "https://login.example.com"
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def report() -> Report:
    return mixed_report()


@pytest.fixture
def key(tmp_path: Path) -> SoftwareDeviceKey:
    return SoftwareDeviceKey.create(tmp_path / "key.pem")


@pytest.mark.parametrize("nonce", ["a" * 16, "A-z_0.9~" * 2, "x" * 256])
def test_good_nonces(nonce: str) -> None:
    assert validate_nonce(nonce) == nonce


@pytest.mark.parametrize(
    "nonce",
    [
        "a" * 15,
        "x" * 257,
        "a" * 15 + "/",
        "é" * 16,
        "a b" * 8,
        12345678901234567,
        None,
        "a" * 16 + "\n",
    ],
)
def test_bad_nonces_are_refused(nonce: object) -> None:
    with pytest.raises(AttestationRefused, match="16 to 256 URL-safe characters"):
        validate_nonce(nonce)


def test_the_payload_holds_the_verdict_and_what_binds_it(report: Report) -> None:
    policy = {"osVersion": {"linux": {"ok": ">=22.4.0"}}, "firewall": "ALWAYS"}
    payload = token_payload(
        report,
        nonce=NONCE,
        audience=ORIGIN,
        key_protection="software",
        page_policy=policy,
        policy_version="sha256:abc",
        now=NOW + 0.7,
    )
    assert payload == {
        "nonce": NONCE,
        "aud": ORIGIN,
        "iat": NOW,
        "exp": NOW + 300,
        "status": str(report.status),
        "practices": {p.key: str(p.status) for p in report.practices},
        "policySha256": hashlib.sha256(
            b'{"firewall":"ALWAYS","osVersion":{"linux":{"ok":">=22.4.0"}}}'
        ).hexdigest(),
        "policyVersion": "sha256:abc",
        "appVersion": __version__,
        "keyProtection": "software",
    }
    assert payload["practices"] and set(payload["practices"].values()) > {"PASS"}


def test_no_page_policy_has_no_digest(report: Report) -> None:
    payload = token_payload(report, nonce=NONCE, audience="local", key_protection="tpm")
    assert payload["policySha256"] is None and policy_sha256(None) is None


def test_the_canonical_policy_is_what_javascript_writes() -> None:
    policy = {"b": [1.0, 2.5, 1e-7, 1e21, True, None], "a": 'é\n"', "c": {"z": 0, "y": -0.0001}}
    ours = canonical_policy(policy)
    assert (
        ours == '{"a":"é\\n\\"","b":[1,2.5,1e-7,1e+21,true,null],"c":{"y":-0.0001,"z":0}}'.encode()
    )
    try:
        subprocess.run(["node", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("node is not installed: the cross-check with JSON.stringify cannot run")
    script = """
const sorted = (v) => Array.isArray(v) ? v.map(sorted) : (v && typeof v === 'object')
  ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v;
process.stdout.write(JSON.stringify(sorted(JSON.parse(process.argv[1]))));
"""
    written = subprocess.run(
        ["node", "-e", script, "--", json.dumps(policy)], check=True, capture_output=True
    ).stdout
    assert written == ours


def test_a_policy_number_json_cannot_write_is_refused() -> None:
    with pytest.raises(AttestationRefused, match="NaN"):
        canonical_policy({"x": float("nan")})


def test_the_policy_files_version_changes_with_their_contents(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("firewall: ALWAYS\n")
    first = policy_files_version([policy])
    assert first.startswith("sha256:") and first == policy_files_version([str(policy)])
    policy.write_text("firewall: NEVER\n")
    assert policy_files_version([policy]) != first
    assert policy_files_version([tmp_path / "gone"]).startswith("sha256:")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_the_policy_files_version_never_waits_on_a_named_pipe(tmp_path: Path) -> None:
    # A policy file swapped for a FIFO must not hold a login page's attest request for ever.
    pipe = tmp_path / "policy.yaml"
    os.mkfifo(pipe)
    answer: list[str] = []
    reader = threading.Thread(target=lambda: answer.append(policy_files_version([pipe])))
    reader.start()
    reader.join(30)
    if reader.is_alive():  # unblock the reader so the test run can end, then fail
        with open(pipe, "wb"):
            pass
        reader.join()
        pytest.fail("policy_files_version waited on a named pipe")
    assert answer[0].startswith("sha256:")


def test_an_attestation_verifies_and_a_nonce_gets_one_token(
    report: Report, key: SoftwareDeviceKey
) -> None:
    attester = Attester(key)
    first = attester.attest(report, nonce=NONCE, audience=ORIGIN, now=NOW)
    assert first.key_protection == "software"
    payload = verify_token(first.token, key.public_jwk, nonce=NONCE, origin=ORIGIN, now=NOW + 1)
    assert payload["keyProtection"] == "software"
    # Asked again, later and with another policy: the same token, never a second one.
    again = attester.attest(report, nonce=NONCE, audience=ORIGIN, page_policy={"a": 1}, now=NOW + 5)
    assert again.token == first.token
    # The same nonce for another origin is that origin's own token.
    other = attester.attest(report, nonce=NONCE, audience="local", now=NOW + 5)
    assert other.token != first.token
    assert verify_token(other.token, key.public_jwk, nonce=NONCE, origin="local", now=NOW + 6)


def test_requests_at_once_with_one_nonce_get_one_token(
    report: Report, key: SoftwareDeviceKey
) -> None:
    attester = Attester(key)
    tokens: list[str] = []
    start = threading.Barrier(6)

    def ask() -> None:
        start.wait()
        tokens.append(attester.attest(report, nonce=NONCE, audience=ORIGIN).token)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 6 and len(set(tokens)) == 1


def test_the_ledger_forgets_after_the_lifetime_and_is_bounded() -> None:
    ledger = NonceLedger(keep_seconds=360, max_remembered=3)
    for index in range(3):
        assert (
            ledger.record(ORIGIN, f"nonce-{index:012d}", f"token-{index}", now=NOW)
            == f"token-{index}"
        )
    assert ledger.record(ORIGIN, "nonce-000000000000", "other", now=NOW + 1) == "token-0"
    with pytest.raises(AttestationRefused, match="more than 3 tokens"):
        ledger.record(ORIGIN, "nonce-999999999999", "token", now=NOW + 359)
    assert ledger.token_for(ORIGIN, "nonce-000000000001", now=NOW + 359) == "token-1"
    assert ledger.token_for(ORIGIN, "nonce-000000000001", now=NOW + 360) is None
    assert len(ledger) == 0
    assert ledger.record(ORIGIN, "nonce-999999999999", "token", now=NOW + 360) == "token"
    assert MAX_REMEMBERED >= 1000


def test_a_bad_nonce_is_refused_before_signing(report: Report, key: SoftwareDeviceKey) -> None:
    attester = Attester(key)
    with pytest.raises(AttestationRefused):
        attester.attest(report, nonce="short", audience=ORIGIN)
    assert len(attester.ledger) == 0


@pytest.mark.parametrize(
    "spelling",
    [
        "HTTPS://LOGIN.EXAMPLE.COM",
        "https://Login.Example.Com/",
        "https://login.example.com:443",
        " https://login.example.com",
    ],
)
def test_one_origin_spelled_otherwise_gets_the_same_token(
    report: Report, key: SoftwareDeviceKey, spelling: str
) -> None:
    attester = Attester(key)
    first = attester.attest(report, nonce=NONCE, audience=ORIGIN, now=NOW)
    again = attester.attest(report, nonce=NONCE, audience=spelling, now=NOW + 1)
    assert again.token == first.token
    assert len(attester.ledger) == 1
    # Asked first in the other spelling, the aud is still the serialised origin.
    fresh = Attester(key).attest(report, nonce=NONCE, audience=spelling, now=NOW)
    payload = verify_token(fresh.token, key.public_jwk, nonce=NONCE, origin=ORIGIN, now=NOW + 1)
    assert payload["aud"] == "https://login.example.com"


@pytest.mark.parametrize(
    "audience", ["https://login.example.com/login", "https://u@login.example.com", "null", ""]
)
def test_an_audience_that_is_no_origin_gets_no_token(
    report: Report, key: SoftwareDeviceKey, audience: str
) -> None:
    attester = Attester(key)
    with pytest.raises(AudienceRefused, match="is not an origin"):
        attester.attest(report, nonce=NONCE, audience=audience, now=NOW)
    assert len(attester.ledger) == 0
