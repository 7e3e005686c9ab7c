"""The device key on macOS: a P-256 key of the Secure Enclave, used through a small helper program.

The Secure Enclave is reached through Apple's CryptoKit, which only Swift can call; so the app
ships `stethoscope-secure-enclave` (source: packaging/macos/secure-enclave-key/main.swift,
compiled by packaging/build-frozen.sh into Stethoscope.app) and runs it for each operation:

    stethoscope-secure-enclave available   -> "ok yes" | "ok no"
    stethoscope-secure-enclave create      -> "ok BLOB PUBLIC"
    stethoscope-secure-enclave sign        stdin: BLOB, MESSAGE lines -> "ok DER-SIGNATURE"

(base64 fields; an error is "error KIND TEXT", KIND unavailable, refused, failed or input; the
Swift source describes the protocol in full). The key never leaves the Secure Enclave: BLOB is
the key wrapped so that only this Mac's Secure Enclave can use it. It is kept with the public
key in `secure-enclave-key.blob` in the device key folder (0600, never overwritten), so the key
needs no keychain item, entitlement or provisioning profile. A blob another Mac made, or a
corrupt one, is refused by the Secure Enclave: a DeviceKeyError naming the file (replaced only
by `device-key --new`). Opening the key has the Secure Enclave sign a probe, checked against the
public key in the file, so a key that cannot sign is reported when it is opened.

The helper is the file `STETHOSCOPE_SECURE_ENCLAVE_HELPER` names, else the one in the frozen
app (beside its binaries in Contents/Frameworks, or in Contents/MacOS). Each run is bounded: at
most `HELPER_TIMEOUT_SECONDS`, and `MAX_ANSWER_BYTES` of answer; a helper that hangs or talks
too much is killed and reported.

Tested against a stand-in helper (tests/device_trust/secure_enclave_standin.py) speaking the same
protocol with a software key bound to a fake enclave secret; the Swift helper itself has not run
here (no Mac): only its protocol is tested, not CryptoKit.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from stethoscope_desktop.device_trust.jws import ec_jwk, raw_signature_from_der
from stethoscope_desktop.device_trust.keys import (
    _REPLACE_HINT,
    DeviceKey,
    DeviceKeyError,
    read_private_file,
    write_new_file,
)

logger = logging.getLogger(__name__)

HELPER_NAME = "stethoscope-secure-enclave"
HELPER_VARIABLE = "STETHOSCOPE_SECURE_ENCLAVE_HELPER"
HELPER_TIMEOUT_SECONDS = 15.0
MAX_ANSWER_BYTES = 16_384
MAX_MESSAGE_BYTES = 1_048_576
KEY_FILE_HEADER = "stethoscope-desktop secure-enclave key 1"
# Signed when the key is opened: the Secure Enclave takes the blob, and it matches the public key.
_PROBE = b"stethoscope-desktop: does this Mac's Secure Enclave take the device key?"
_REINSTALL = (
    "reinstall Stethoscope; or set deviceKey: software in config.yaml (and replace a key that "
    "exists with stethoscope-desktop device-key --new)"
)


class EnclaveHelperFailed(DeviceKeyError):
    """The helper answered "error KIND TEXT"."""

    def __init__(self, kind: str, text: str, message: str) -> None:
        """Keep the helper's kind of error and text beside the message for the person."""
        super().__init__(message)
        self.kind = kind
        self.text = text


# --- finding and running the helper ---------------------------------------------------------------


def helper_places() -> list[Path]:
    """Return where the frozen app keeps the helper (none when the app is not frozen)."""
    if not getattr(sys, "frozen", False):
        return []
    folders: list[Path] = []
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        folders.append(Path(bundled))  # PyInstaller's binaries: Contents/Frameworks in the .app
    executable = Path(sys.executable).resolve().parent
    folders += [executable, executable.parent / "Frameworks"]
    unique = list(dict.fromkeys(folders))
    return [folder / HELPER_NAME for folder in unique]


def find_helper(environ: Mapping[str, str] | None = None) -> Path | None:
    """Return the helper to run: the one HELPER_VARIABLE names (existing or not), else the app's."""
    environ = os.environ if environ is None else environ
    named = environ.get(HELPER_VARIABLE, "").strip()
    if named:
        return Path(named)
    return next((place for place in helper_places() if place.is_file()), None)


def usable_helper(environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """Return (the helper, "") where there is one, else (None, why not: for a message)."""
    environ = os.environ if environ is None else environ
    helper = find_helper(environ)
    if helper is not None and helper.is_file():
        return helper, ""
    if helper is not None:
        return None, f"{HELPER_VARIABLE} names {helper}, which is not a file"
    places = helper_places()
    if not places:
        return None, (
            f"the Secure Enclave helper {HELPER_NAME} comes with the app built for macOS "
            f"(packaging/build-frozen.sh), and {HELPER_VARIABLE} names none"
        )
    return (
        None,
        f"the app's Secure Enclave helper is missing (not in {', '.join(map(str, places))})",
    )


def _exchange(helper: Path, command: str, data: bytes) -> tuple[bytes, int]:
    """Run the helper with `command` and `data` on stdin; return its answer and exit status.

    DeviceKeyError if it cannot be started, takes longer than HELPER_TIMEOUT_SECONDS, or prints
    more than MAX_ANSWER_BYTES; it is killed then.
    """
    try:
        process = subprocess.Popen(
            [str(helper), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError as error:
        raise DeviceKeyError(
            f"the Secure Enclave helper {helper} cannot be run: {error.strerror or error}; "
            f"{_REINSTALL}"
        ) from None
    stdin, stdout = process.stdin, process.stdout
    assert stdin is not None and stdout is not None
    answer: list[bytes] = []
    writer = threading.Thread(target=_write_all, args=(stdin, data), daemon=True)
    reader = threading.Thread(
        target=lambda: answer.append(_read_at_most(stdout, MAX_ANSWER_BYTES + 1)), daemon=True
    )
    deadline = time.monotonic() + HELPER_TIMEOUT_SECONDS
    writer.start()
    reader.start()
    try:
        reader.join(HELPER_TIMEOUT_SECONDS)
        if reader.is_alive():
            raise DeviceKeyError(
                f"the Secure Enclave helper {helper} did not answer {command} within "
                f"{HELPER_TIMEOUT_SECONDS:g} s; it was stopped"
            )
        if len(answer[0]) > MAX_ANSWER_BYTES:
            raise DeviceKeyError(
                f"the Secure Enclave helper {helper} answered {command} with more than "
                f"{MAX_ANSWER_BYTES} bytes; it was stopped: {_REINSTALL}"
            )
        try:
            status = process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise DeviceKeyError(
                f"the Secure Enclave helper {helper} did not end within "
                f"{HELPER_TIMEOUT_SECONDS:g} s after answering {command}; it was stopped"
            ) from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(1)
        writer.join(1)
        if not reader.is_alive():
            stdout.close()
    return answer[0], status


def _write_all(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except OSError:
        pass  # the helper ended without reading it all; its answer says why


def _read_at_most(pipe: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = pipe.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def run_helper(helper: Path, command: str, data: bytes = b"", *, key_path: Path) -> list[str]:
    """Run one helper command; return the fields of its "ok" answer.

    EnclaveHelperFailed for an "error" answer (its message names `key_path` and what to do),
    DeviceKeyError for anything else that is not the protocol.
    """
    output, status = _exchange(helper, command, data)
    try:
        text = output.decode("ascii")
    except UnicodeDecodeError:
        text = "\0"  # not the protocol
    line = text.removesuffix("\n")
    words = line.split(" ")
    if "\n" not in line and "\0" not in line:
        if words[0] == "ok" and status == 0:
            return words[1:]
        if words[0] == "error" and len(words) >= 2 and status != 0:
            kind, detail = words[1], " ".join(words[2:])
            raise EnclaveHelperFailed(kind, detail, _failure_message(kind, detail, key_path))
    shown = output[:200].decode("utf-8", "replace").strip() or "nothing"
    raise DeviceKeyError(
        f"the Secure Enclave helper {helper} gave no answer the app understands to {command} "
        f"(exit status {status}, printed {shown!r}) for the device key {key_path}; {_REINSTALL}"
    )


def _failure_message(kind: str, detail: str, key_path: Path) -> str:
    if kind == "refused":
        return (
            f"this Mac's Secure Enclave refuses the device key {key_path} (made on another Mac, "
            f"or the file is corrupt: {detail}); {_REPLACE_HINT}"
        )
    if kind == "unavailable":
        return f"no Secure Enclave for the device key {key_path}: {detail}"
    if kind == "failed":
        return f"the Secure Enclave failed with the device key {key_path}: {detail}"
    return (
        f"the Secure Enclave helper does not understand the app ({kind}: {detail}) for the "
        f"device key {key_path}: the two do not match; {_REINSTALL}"
    )


def enclave_available(helper: Path, key_path: Path) -> bool:
    """Return whether the helper finds a Secure Enclave on this Mac; DeviceKeyError if it fails."""
    fields = run_helper(helper, "available", key_path=key_path)
    if fields not in (["yes"], ["no"]):
        raise DeviceKeyError(
            f"the Secure Enclave helper {helper} answered available with {' '.join(fields)!r}, "
            f"not yes or no; {_REINSTALL}"
        )
    return fields == ["yes"]


# --- the key --------------------------------------------------------------------------------------


def _decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _check_point(point: bytes) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec

    if len(point) != 65 or point[0] != 4:
        return False
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return False
    return True


class SecureEnclaveDeviceKey(DeviceKey):
    """A Secure Enclave P-256 key, its wrapped blob and public key in the file `path`."""

    protection = "secure-enclave"

    def __init__(self, path: Path, helper: Path, blob: bytes, public_point: bytes) -> None:
        """Wrap a key's blob and X9.63 public point; use `load` or `create`."""
        self.path = path
        self.helper = helper
        self._blob = blob
        self._public_point = public_point
        self._jwk = ec_jwk(public_point[1:33], public_point[33:65])

    @staticmethod
    def file_text(blob: bytes, public_point: bytes) -> bytes:
        """Return the key file's bytes: a header line, the blob and the public key in base64."""
        lines = [
            KEY_FILE_HEADER,
            "blob " + base64.b64encode(blob).decode("ascii"),
            "public " + base64.b64encode(public_point).decode("ascii"),
        ]
        return ("\n".join(lines) + "\n").encode("ascii")

    @classmethod
    def parse(cls, path: Path, data: bytes) -> tuple[bytes, bytes]:
        """Return the blob and public point of a key file's bytes; DeviceKeyError if corrupt."""
        corrupt = (
            f"the device key {path} is corrupt (not a Secure Enclave key file); {_REPLACE_HINT}"
        )
        try:
            header, blob_line, public_line, end = data.decode("ascii").split("\n")
            blob_name, blob_text = blob_line.split(" ")
            public_name, public_text = public_line.split(" ")
            if (header, blob_name, public_name, end) != (KEY_FILE_HEADER, "blob", "public", ""):
                raise ValueError(header)
            blob, public = _decode(blob_text), _decode(public_text)
        except ValueError:  # also UnicodeDecodeError and binascii.Error
            raise DeviceKeyError(corrupt) from None
        if not blob or not _check_point(public):
            raise DeviceKeyError(corrupt)
        return blob, public

    @classmethod
    def load(cls, path: Path, helper: Path | None = None) -> SecureEnclaveDeviceKey:
        """Load the key of `path`, have the Secure Enclave sign with it; DeviceKeyError if not."""
        blob, public = cls.parse(path, read_private_file(path))
        if helper is None:
            helper, missing = usable_helper()
            if helper is None:
                raise DeviceKeyError(
                    f"the device key {path} is in the Secure Enclave, but {missing}; {_REINSTALL}"
                )
        key = cls(path, helper, blob, public)
        key.sign(_PROBE)
        return key

    @classmethod
    def create(cls, path: Path, helper: Path) -> SecureEnclaveDeviceKey:
        """Have the Secure Enclave make a key; save it in `path` (or load the one saved first)."""
        fields = run_helper(helper, "create", key_path=path)
        blob = public = b""
        if len(fields) == 2:
            try:
                blob, public = _decode(fields[0]), _decode(fields[1])
            except ValueError:
                blob = public = b""
        if not blob or not _check_point(public):
            raise DeviceKeyError(
                f"the Secure Enclave helper {helper} answered create with no key (a blob and a "
                f"P-256 public key in base64) for {path}; {_REINSTALL}"
            )
        if not write_new_file(path, cls.file_text(blob, public)):
            return cls.load(path, helper)
        return cls(path, helper, blob, public)

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK with its kid."""
        return dict(self._jwk)

    def sign(self, data: bytes) -> bytes:
        """Have the Secure Enclave sign `data` (ES256); check the signature; raw r || s."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if len(data) > MAX_MESSAGE_BYTES:
            raise DeviceKeyError(
                f"{len(data)} bytes to sign with the device key {self.path}: more than "
                f"{MAX_MESSAGE_BYTES}"
            )
        request = base64.b64encode(self._blob) + b"\n" + base64.b64encode(data) + b"\n"
        fields = run_helper(self.helper, "sign", request, key_path=self.path)
        try:
            if len(fields) != 1:
                raise ValueError(fields)
            der = _decode(fields[0])
            raw = raw_signature_from_der(der)
        except ValueError:
            raise DeviceKeyError(
                f"the Secure Enclave helper {self.helper} answered sign with no DER signature "
                f"for the device key {self.path}; {_REINSTALL}"
            ) from None
        public: Any = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), self._public_point
        )
        try:
            public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise DeviceKeyError(
                f"the Secure Enclave's signature does not match the public key in {self.path}: "
                f"the file is corrupt; {_REPLACE_HINT}"
            ) from None
        return raw


def make_enclave_key(path: Path, choice: str) -> SecureEnclaveDeviceKey | None:
    """Make the Secure Enclave key `deviceKey: choice` asks for on a Mac, in `path`.

    With "auto", None where there is no helper or the helper finds no Secure Enclave (the caller
    makes a software key); with "tpm" or "secure-enclave", DeviceKeyError then. A helper that
    fails is a DeviceKeyError whatever the choice.
    """
    asks = (
        "deviceKey: tpm asks for a hardware key: on a Mac, the Secure Enclave (Macs have no TPM)"
        if choice == "tpm"
        else f"deviceKey: {choice} asks for a key in the Secure Enclave"
    )
    helper, missing = usable_helper()
    if helper is None:
        if choice == "auto":
            logger.info("no Secure Enclave helper, making a software device key: %s", missing)
            return None
        raise DeviceKeyError(f"{asks}, but {missing}; {_REINSTALL}")
    if not enclave_available(helper, path):
        if choice == "auto":
            logger.info("this Mac has no Secure Enclave, making a software device key")
            return None
        raise DeviceKeyError(
            f"{asks}, but this Mac has none (Macs with Apple silicon or a T2 chip have one); "
            "deviceKey: software makes a software key"
        )
    return SecureEnclaveDeviceKey.create(path, helper)
