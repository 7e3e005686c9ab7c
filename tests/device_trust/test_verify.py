"""The login server's verifier: a valid token passes, and every kind of bad token is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.device_trust.jws import b64url_decode, b64url_encode, sign_compact
from stethoscope_desktop.device_trust.keys import SoftwareDeviceKey
from stethoscope_desktop.device_trust.verify import TokenRejected, load_jwk, verify_token

NONCE = "n0nce-from-the-login-server"
ORIGIN = "https://login.example.com"
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SoftwareDeviceKey, SoftwareDeviceKey]:
    folder = tmp_path_factory.mktemp("keys")
    return SoftwareDeviceKey.create(folder / "a.pem"), SoftwareDeviceKey.create(folder / "b.pem")


def _payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "nonce": NONCE,
        "aud": ORIGIN,
        "iat": NOW,
        "exp": NOW + 300,
        "status": "PASS",
    }
    payload.update(changes)
    return payload


def _token(key: SoftwareDeviceKey, **changes: Any) -> str:
    return sign_compact(_payload(**changes), key.kid, key.sign)


def _with_header(token: str, header: dict[str, Any], signature: str | None = None) -> str:
    _, payload, old_signature = token.split(".")
    encoded = b64url_encode(json.dumps(header).encode())
    return f"{encoded}.{payload}.{old_signature if signature is None else signature}"


def _rejected(token: str, jwk: dict[str, str], **options: Any) -> str:
    arguments: dict[str, Any] = {"nonce": NONCE, "origin": ORIGIN, "now": NOW + 10, **options}
    with pytest.raises(TokenRejected) as caught:
        verify_token(token, jwk, **arguments)
    return caught.value.check


def test_a_valid_token_returns_its_payload(keys: tuple[SoftwareDeviceKey, ...]) -> None:
    key = keys[0]
    payload = verify_token(_token(key), key.public_jwk, nonce=NONCE, origin=ORIGIN, now=NOW + 10)
    assert payload == _payload()
    # The origin compares in its serialisation: without case, trailing slash, default port.
    verify_token(
        _token(key), key.public_jwk, nonce=NONCE, origin="HTTPS://login.example.com:443/", now=NOW
    )


def test_another_keys_token_is_refused(keys: tuple[SoftwareDeviceKey, ...]) -> None:
    one, other = keys
    # Signed by the other key but claiming this key's kid: the signature check fails.
    forged = sign_compact(_payload(), one.kid, other.sign)
    assert _rejected(forged, one.public_jwk) == "signature"
    # Signed by the other key with its own kid: the kid check fails first.
    assert _rejected(_token(other), one.public_jwk) == "kid"


def test_an_edited_payload_is_refused(keys: tuple[SoftwareDeviceKey, ...]) -> None:
    key = keys[0]
    header, payload, signature = _token(key, status="FAIL").split(".")
    edited = json.loads(b64url_decode(payload))
    edited["status"] = "PASS"
    token = f"{header}.{b64url_encode(json.dumps(edited).encode())}.{signature}"
    assert _rejected(token, key.public_jwk) == "signature"


@pytest.mark.parametrize("alg", ["none", "HS256", "ES384", "RS256", None])
def test_any_algorithm_but_es256_is_refused(keys: tuple[SoftwareDeviceKey, ...], alg: Any) -> None:
    key = keys[0]
    header = {"alg": alg, "kid": key.kid}
    assert _rejected(_with_header(_token(key), header), key.public_jwk) == "alg"
    assert _rejected(_with_header(_token(key), header, signature=""), key.public_jwk) == "alg"


def test_an_hs256_token_keyed_with_the_public_key_is_refused(
    keys: tuple[SoftwareDeviceKey, ...],
) -> None:
    import hashlib
    import hmac

    key = keys[0]
    header = b64url_encode(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    body = b64url_encode(json.dumps(_payload()).encode())
    secret = json.dumps(key.public_jwk).encode()
    mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert _rejected(f"{header}.{body}.{b64url_encode(mac)}", key.public_jwk) == "alg"


def test_a_wrong_kid_is_refused(keys: tuple[SoftwareDeviceKey, ...]) -> None:
    key = keys[0]
    assert _rejected(sign_compact(_payload(), "another-kid", key.sign), key.public_jwk) == "kid"
    no_kid = _with_header(_token(key), {"alg": "ES256"})
    assert _rejected(no_kid, key.public_jwk) == "kid"


@pytest.mark.parametrize(
    ("changes", "options", "check"),
    [
        ({}, {"nonce": "another-nonce-0123456"}, "nonce"),
        ({"nonce": None}, {}, "nonce"),
        ({}, {"origin": "https://evil.example.com"}, "audience"),
        ({"aud": "https://login.example.com.evil.example"}, {}, "audience"),
        ({"aud": ["https://login.example.com"]}, {}, "audience"),
        ({}, {"now": NOW + 300 + 31}, "expired"),
        ({}, {"now": NOW + 10_000}, "expired"),
        ({"exp": NOW + 301}, {}, "lifetime"),
        ({"exp": NOW}, {}, "lifetime"),
        ({}, {"now": NOW - 31}, "not-yet-valid"),
        ({"iat": "now"}, {}, "malformed"),
        ({"exp": True}, {}, "malformed"),
    ],
)
def test_claims_are_checked(
    keys: tuple[SoftwareDeviceKey, ...],
    changes: dict[str, Any],
    options: dict[str, Any],
    check: str,
) -> None:
    key = keys[0]
    assert _rejected(_token(key, **changes), key.public_jwk, **options) == check


def test_clock_skew_within_the_leeway_is_allowed(keys: tuple[SoftwareDeviceKey, ...]) -> None:
    key = keys[0]
    for now in (NOW - 29, NOW + 300 + 29):
        verify_token(_token(key), key.public_jwk, nonce=NONCE, origin=ORIGIN, now=now)


@pytest.mark.parametrize(
    "mangle",
    [
        # The signature's first character (its last one carries 2 bits and 4 padding bits, so
        # A and B there can decode to the same bytes).
        lambda t: (
            t[: t.rindex(".") + 1]
            + ("A" if t[t.rindex(".") + 1] != "A" else "B")
            + t[t.rindex(".") + 2 :]
        ),
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t + ".",
        lambda t: "",
        lambda t: "!" + t,
        lambda t: t.rsplit(".", 1)[0] + "." + b64url_encode(b"\x01" * 63),
    ],
)
def test_malformed_tokens_are_refused(
    keys: tuple[SoftwareDeviceKey, ...], mangle: Callable[[str], str]
) -> None:
    key = keys[0]
    assert _rejected(mangle(_token(key)), key.public_jwk) in ("malformed", "signature")


def test_a_bad_key_is_refused(keys: tuple[SoftwareDeviceKey, ...]) -> None:
    key = keys[0]
    assert _rejected(_token(key), {"kty": "RSA", "n": "x", "e": "AQAB"}) == "key"


def test_load_jwk_reads_json_text_or_a_file(
    keys: tuple[SoftwareDeviceKey, ...], tmp_path: Path
) -> None:
    jwk = keys[0].public_jwk
    assert load_jwk(json.dumps(jwk)) == jwk
    (tmp_path / "key.jwk").write_text(json.dumps(jwk))
    assert load_jwk(str(tmp_path / "key.jwk")) == jwk
    with pytest.raises(ValueError, match=r"cannot read the key .*missing"):
        load_jwk(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="not JSON"):
        load_jwk("{not json")
