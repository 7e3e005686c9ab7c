"""The Node.js verifier for login servers (docs/device-trust/verify-device-token.js).

It must accept and refuse exactly what the Python verifier does, naming the same check: every
case here goes through both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop.device_trust.jws import b64url_decode, b64url_encode, sign_compact
from stethoscope_desktop.device_trust.keys import SoftwareDeviceKey
from stethoscope_desktop.device_trust.verify import TokenRejected, serialize_origin, verify_token

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = ROOT / "docs" / "device-trust" / "verify-device-token.js"
NONCE = "nonce-from-the-login-server"
ORIGIN = "https://login.example.com"
NOW = 1_800_000_000

RUNNER = """
const { verifyDeviceToken } = require(process.argv[1]);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const results = cases.map((c) => {
  try {
    verifyDeviceToken(c.token, c.jwk, { nonce: c.nonce, origin: c.origin, now: c.now });
    return 'valid';
  } catch (error) {
    if (!error.check) throw error;
    return error.check;
  }
});
process.stdout.write(JSON.stringify(results));
"""


def _with_spare_bit(text: str) -> str:
    """Return `text` (base64url) with a bit set in its last character that encodes nothing."""
    assert len(text) % 4 in (2, 3), "only such a length has spare bits"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]


def _signed_as_written(header: str, body: str, key: SoftwareDeviceKey) -> str:
    """Return a token whose header and payload are these texts, signed by `key` as written."""
    return f"{header}.{body}.{b64url_encode(key.sign(f'{header}.{body}'.encode()))}"


def _cases(tmp_path: Path) -> list[dict[str, Any]]:
    key = SoftwareDeviceKey.create(tmp_path / "a.pem")
    other = SoftwareDeviceKey.create(tmp_path / "b.pem")
    jwk = key.public_jwk

    def payload(**changes: Any) -> dict[str, Any]:
        return {"nonce": NONCE, "aud": ORIGIN, "iat": NOW, "exp": NOW + 300, **changes}

    good = sign_compact(payload(), key.kid, key.sign)
    header, body, signature = good.split(".")
    edited = json.loads(b64url_decode(body))
    edited["status"] = "PASS"
    hs_header = b64url_encode(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    mac = hmac.new(json.dumps(jwk).encode(), f"{hs_header}.{body}".encode(), hashlib.sha256)
    none_header = b64url_encode(json.dumps({"alg": "none", "kid": key.kid}).encode())
    odd_header = _odd_length(lambda pad: {"alg": "ES256", "kid": key.kid, "x": pad})
    odd_body = _odd_length(lambda pad: payload(pad=pad))

    def case(token: str, **options: Any) -> dict[str, Any]:
        defaults = {"jwk": jwk, "nonce": NONCE, "origin": ORIGIN, "now": NOW + 10}
        return {"token": token, **defaults, **options}

    return [
        case(good),
        case(good, origin="https://LOGIN.example.com/"),
        case(sign_compact(payload(), key.kid, other.sign)),
        case(sign_compact(payload(), other.kid, other.sign)),
        case(f"{header}.{b64url_encode(json.dumps(edited).encode())}.{signature}"),
        case(f"{hs_header}.{body}.{b64url_encode(mac.digest())}"),
        case(f"{none_header}.{body}."),
        case(good, nonce="another-nonce-123456"),
        case(good, origin="https://evil.example.com"),
        case(good, now=NOW + 331),
        case(good, now=NOW - 31),
        case(sign_compact(payload(exp=NOW + 301), key.kid, key.sign)),
        case(sign_compact(payload(iat="now"), key.kid, key.sign)),
        case(good.rsplit(".", 1)[0]),
        case("!" + good),
        case(good, jwk={"kty": "RSA", "n": "x", "e": "AQAB"}),
        # Non-canonical base64url: the signature's last character with a spare bit set (the
        # same signature bytes, another token text), or padded; a header and a payload so
        # written and signed as written; a payload that is not UTF-8; a JWK's x so written.
        case(f"{header}.{body}.{_with_spare_bit(signature)}"),
        case(f"{good}=="),
        case(_signed_as_written(_with_spare_bit(odd_header), body, key)),
        case(_signed_as_written(header, _with_spare_bit(odd_body), key)),
        case(_signed_as_written(header, f"{body}=", key)),
        case(_signed_as_written(header, b64url_encode(b'{"nonce":"\xff"}'), key)),
        case(good, jwk={**jwk, "x": _with_spare_bit(jwk["x"])}),
        case(good, jwk={**jwk, "y": f"{jwk['y']}="}),
        # The audience in its RFC 6454 serialisation, on both sides: spellings of one origin are
        # one origin; another port, a path or a user name are not it.
        case(sign_compact(payload(aud="HTTPS://LOGIN.EXAMPLE.COM:443"), key.kid, key.sign)),
        case(good, origin="https://login.example.com:443"),
        case(sign_compact(payload(aud="https://login.example.com:8443"), key.kid, key.sign)),
        case(sign_compact(payload(aud="https://login.example.com/login"), key.kid, key.sign)),
        case(sign_compact(payload(aud="https://u@login.example.com"), key.kid, key.sign)),
        case(sign_compact(payload(aud="local"), key.kid, key.sign), origin="local"),
        case(sign_compact(payload(aud="LOCAL"), key.kid, key.sign), origin="local"),
    ]


def _odd_length(document: Callable[[str], dict[str, Any]]) -> str:
    """Return base64url of the first `document(padding)` whose text has spare bits at its end."""
    for size in range(3):
        text = b64url_encode(json.dumps(document("x" * size)).encode())
        if len(text) % 4:
            return text
    raise AssertionError("one of three lengths in a row is not a multiple of 3 bytes")


def _python(case: dict[str, Any]) -> str:
    try:
        verify_token(
            case["token"], case["jwk"], nonce=case["nonce"], origin=case["origin"], now=case["now"]
        )
    except TokenRejected as error:
        return error.check
    return "valid"


def _node(script: str, data: Any) -> Any:
    """Run `script` on node with the snippet's path as its argument and `data` as JSON input."""
    try:
        subprocess.run(["node", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("node is not installed: the Node.js verifier cannot run")
    node = subprocess.run(
        ["node", "-e", script, "--", str(SNIPPET)],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(node.stdout)


def test_node_verifier_agrees_with_the_python_one(tmp_path: Path) -> None:
    cases = _cases(tmp_path)
    results = _node(RUNNER, cases)
    expected = [
        "valid",
        "valid",
        "signature",
        "kid",
        "signature",
        "alg",
        "alg",
        "nonce",
        "audience",
        "expired",
        "not-yet-valid",
        "lifetime",
        "malformed",
        "malformed",
        "malformed",
        "key",
        "malformed",
        "malformed",
        "malformed",
        "malformed",
        "malformed",
        "malformed",
        "key",
        "key",
        "valid",
        "valid",
        "audience",
        "audience",
        "audience",
        "valid",
        "audience",
    ]
    assert [_python(case) for case in cases] == expected
    assert results == expected


SERIALIZE_RUNNER = """
const { serializeOrigin } = require(process.argv[1]);
const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(texts.map((text) => serializeOrigin(text))));
"""

ORIGIN_SPELLINGS = [
    "https://login.example.com",
    "HTTPS://LOGIN.EXAMPLE.COM",
    "https://login.example.com/",
    " https://login.example.com\t",
    "https://login.example.com:443",
    "https://login.example.com:0443",
    "https://login.example.com:8443",
    "http://intranet.example.com:80",
    "http://intranet.example.com:443",
    "WSS://Chat.Example.com:443",
    "ftp://files.example.com:21",
    "http://[::1]:37370",
    "http://[FE80::1]",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
    "Tauri://LocalHost:443",
    "local",
    "LOCAL",
    "https://login.example.com//",
    "https://login.example.com/login",
    "https://login.example.com?x=1",
    "https://user@login.example.com",
    "https://login.example.com:65536",
    "https://login.example.com:",
    "https://xn--bcher-kva.example",
    "https://bücher.example",
    "login.example.com",
    "null",
    "",
]


def test_node_and_python_serialise_origins_alike() -> None:
    node = _node(SERIALIZE_RUNNER, ORIGIN_SPELLINGS)
    python = [serialize_origin(text) for text in ORIGIN_SPELLINGS]
    assert node == python
    assert python[:6] == ["https://login.example.com"] * 6
    assert python[6:16] == [
        "https://login.example.com:8443",
        "http://intranet.example.com",
        "http://intranet.example.com:443",
        "wss://chat.example.com",
        "ftp://files.example.com",
        "http://[::1]:37370",
        "http://[fe80::1]",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        "tauri://localhost:443",
        "local",
    ]
    assert python[16:] == [None] * 7 + ["https://xn--bcher-kva.example", None, None, None, None]


def test_an_origin_argument_that_is_no_origin_is_the_servers_mistake_in_both(
    tmp_path: Path,
) -> None:
    key = SoftwareDeviceKey.create(tmp_path / "a.pem")
    token = sign_compact(
        {"nonce": NONCE, "aud": ORIGIN, "iat": NOW, "exp": NOW + 300}, key.kid, key.sign
    )
    with pytest.raises(ValueError, match="is not an origin") as raised:
        verify_token(token, key.public_jwk, nonce=NONCE, origin=ORIGIN + "/login", now=NOW)
    assert not isinstance(raised.value, TokenRejected)
    lenient = RUNNER.replace(
        "if (!error.check) throw error;", "if (!error.check) return error.message;"
    )
    case = {"token": token, "jwk": key.public_jwk, "nonce": NONCE, "now": NOW}
    [result] = _node(lenient, [{**case, "origin": ORIGIN + "/login"}])
    assert "is not an origin" in result
