"""A stand-in for the Secure Enclave helper (packaging/macos/secure-enclave-key/main.swift).

It speaks the helper's protocol (`available`, `create`, `sign`; "ok ..." or "error KIND TEXT"
on one line; exit 0, 1 or 2) with a software P-256 key. Its "blob" is the private key sealed
(AES-GCM) with a key derived from a fake enclave secret, STANDIN_ENCLAVE_SECRET: a blob sealed
under another secret (another Mac) or changed (corrupt) is refused, as a Secure Enclave refuses
it. STANDIN_BEHAVIOUR makes it misbehave: `unavailable` (a Mac without a Secure Enclave),
`hang`, `flood` (prints without end), `garbage` (an answer outside the protocol), `crash`
(exits with no answer), `refuse-create` (the Secure Enclave makes no key), `wrong-signature`
(signs with another key). STANDIN_LOG, if set, gets one line per command run.

Run as `python secure_enclave_standin.py COMMAND`; the tests wrap it in an executable script.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import time
from typing import NoReturn

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_MAX_INPUT = 1_048_576 + 4_096
_SEAL = b"standin enclave key 1"


def _answer(*fields: str) -> NoReturn:
    sys.stdout.write(" ".join(("ok", *fields)) + "\n")
    sys.exit(0)


def _fail(kind: str, text: str, status: int = 1) -> NoReturn:
    sys.stdout.write(f"error {kind} {text}\n")
    sys.exit(status)


def _sealing_key() -> bytes:
    secret = os.environ.get("STANDIN_ENCLAVE_SECRET", "this Mac")
    return hashlib.sha256(b"standin enclave: " + secret.encode()).digest()


def _seal(key: ec.EllipticCurvePrivateKey) -> bytes:
    nonce = os.urandom(12)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return _SEAL + nonce + AESGCM(_sealing_key()).encrypt(nonce, scalar, _SEAL)


def _unseal(blob: bytes) -> ec.EllipticCurvePrivateKey:
    if not blob.startswith(_SEAL):
        raise ValueError("not a key of this enclave")
    nonce, sealed = blob[len(_SEAL) : len(_SEAL) + 12], blob[len(_SEAL) + 12 :]
    scalar = AESGCM(_sealing_key()).decrypt(nonce, sealed, _SEAL)
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def _public(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.b64encode(point).decode()


def main(arguments: list[str]) -> None:
    """Answer one command as the Swift helper does."""
    behaviour = os.environ.get("STANDIN_BEHAVIOUR", "")
    log = os.environ.get("STANDIN_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(" ".join(arguments) + "\n")
    if behaviour == "hang":
        time.sleep(3600)
    if behaviour == "flood":
        while True:
            sys.stdout.write("ok " + "A" * 65_536)
    if behaviour == "garbage":
        sys.stdout.write("Segmentation fault? no: just not the protocol\n")
        sys.exit(0)
    if behaviour == "crash":
        sys.exit(134)
    if len(arguments) != 1:
        _fail("input", "usage: stethoscope-secure-enclave available|create|sign", 2)
    command = arguments[0]
    available = behaviour != "unavailable"
    if command == "available":
        _answer("yes" if available else "no")
    if command not in ("create", "sign"):
        _fail("input", f"unknown command {command}: available, create or sign", 2)
    data = sys.stdin.buffer.read(_MAX_INPUT + 1)
    if len(data) > _MAX_INPUT:
        _fail("input", f"more than {_MAX_INPUT} bytes on standard input")
    if not available:
        _fail("unavailable", "this Mac has no Secure Enclave")
    if command == "create":
        if behaviour == "refuse-create":
            _fail(
                "failed", "the Secure Enclave made no key: CryptoKitError.underlyingCoreCryptoError"
            )
        key = ec.generate_private_key(ec.SECP256R1())
        _answer(base64.b64encode(_seal(key)).decode(), _public(key))
    lines = data.decode().split("\n")
    if len(lines) < 2 or any(lines[2:]):
        _fail("input", "sign reads two lines: the key's blob and the message, in base64")
    try:
        blob = base64.b64decode(lines[0], validate=True)
        message = base64.b64decode(lines[1], validate=True)
    except ValueError:
        _fail("input", "the key's blob or the message is not base64")
    try:
        key = _unseal(blob)
    except Exception as error:  # InvalidTag, ValueError: another enclave's blob, or corrupt
        _fail("refused", f"the Secure Enclave does not take this key: {type(error).__name__}")
    if behaviour == "wrong-signature":
        key = ec.generate_private_key(ec.SECP256R1())
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    _answer(base64.b64encode(signature).decode())


if __name__ == "__main__":
    main(sys.argv[1:])
