"""The Windows CNG key's logic against a stand-in for ncrypt.dll (the real one is Windows only).

The stand-in keeps P-256 keys by name as the Platform Crypto Provider would and answers the
NCrypt calls the module makes, through the same ctypes arguments (handles, byref outputs, string
buffers). What Windows itself does is not tested here: the module is type-checked with
`mypy --platform win32` and has not run on Windows.
"""

from __future__ import annotations

import ctypes
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from stethoscope_desktop.device_trust import windows_cng
from stethoscope_desktop.device_trust.keys import DeviceKeyError
from stethoscope_desktop.device_trust.token import sign_token
from stethoscope_desktop.device_trust.verify import verify_token


class FakeNcrypt:
    """Answers the NCrypt functions windows_cng calls, keys held in memory by name."""

    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.handles: dict[int, str] = {}
        self.usage: dict[str, int] = {}
        self.open_handles = 0
        self.provider_available = True

    def _handle(self, name: str) -> int:
        number = len(self.handles) + 100
        self.handles[number] = name
        self.open_handles += 1
        return number

    def NCryptOpenStorageProvider(self, out: Any, provider: str, flags: int) -> int:
        if not self.provider_available or provider != windows_cng.PROVIDER:
            return -2146893802  # 0x80090016 as a LONG
        out._obj.value = self._handle("<provider>")
        return 0

    def NCryptOpenKey(self, provider: Any, out: Any, name: str, spec: int, flags: int) -> int:
        if name not in self.keys:
            return 0x80090016 - (1 << 32)  # NTE_BAD_KEYSET
        out._obj.value = self._handle(name)
        return 0

    def NCryptCreatePersistedKey(
        self, provider: Any, out: Any, algorithm: str, name: str, spec: int, flags: int
    ) -> int:
        assert algorithm == "ECDSA_P256"
        self.keys[name] = ec.generate_private_key(ec.SECP256R1())
        out._obj.value = self._handle(name)
        return 0

    def NCryptSetProperty(self, key: Any, name: str, value: Any, size: int, flags: int) -> int:
        assert name == "Key Usage" and size == 4
        self.usage[self.handles[key.value]] = value._obj.value
        return 0

    def NCryptFinalizeKey(self, key: Any, flags: int) -> int:
        return 0

    def NCryptExportKey(
        self,
        key: Any,
        export_key: int,
        blob_type: str,
        parameters: None,
        output: Any,
        size: Any,
        result: Any,
        flags: int,
    ) -> int:
        assert blob_type == "ECCPUBLICBLOB"
        numbers = self.keys[self.handles[key.value]].public_key().public_numbers()
        blob = struct.pack("<II", 0x31534345, 32)
        blob += numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
        result._obj.value = len(blob)
        if output is not None:
            ctypes.memmove(output, blob, len(blob))
        return 0

    def NCryptSignHash(
        self,
        key: Any,
        padding: None,
        digest: bytes,
        digest_size: int,
        output: Any,
        size: int,
        result: Any,
        flags: int,
    ) -> int:
        private = self.keys[self.handles[key.value]]
        der = private.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        r, s = utils.decode_dss_signature(der)
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        ctypes.memmove(output, raw, 64)
        result._obj.value = 64
        return 0

    def NCryptFreeObject(self, handle: Any) -> int:
        self.open_handles -= 1
        return 0


@pytest.fixture
def ncrypt(monkeypatch: pytest.MonkeyPatch) -> FakeNcrypt:
    fake = FakeNcrypt()
    monkeypatch.setattr(windows_cng, "_ncrypt", lambda: fake)
    return fake


def test_a_key_is_made_named_in_its_file_and_signs(ncrypt: FakeNcrypt, tmp_path: Path) -> None:
    path = tmp_path / "cng-key.name"
    key = windows_cng.CngDeviceKey.create(path)
    assert key.protection == "tpm"
    name = path.read_text()
    assert name.startswith("StethoscopeDesktop-DeviceKey-") and name in ncrypt.keys
    assert ncrypt.usage[name] == 2  # signing only
    token = sign_token(key, {"nonce": "n" * 16, "aud": "local", "iat": 1, "exp": 2})
    assert verify_token(token, key.public_jwk, nonce="n" * 16, origin="local", now=1)
    again = windows_cng.CngDeviceKey.load(path)
    assert again.public_jwk == key.public_jwk
    assert ncrypt.open_handles == 0


def test_a_key_the_provider_lost_is_a_clear_error(ncrypt: FakeNcrypt, tmp_path: Path) -> None:
    path = tmp_path / "cng-key.name"
    key = windows_cng.CngDeviceKey.create(path)
    ncrypt.keys.clear()
    with pytest.raises(DeviceKeyError, match=rf"named in {path}.*no longer.*--new"):
        windows_cng.CngDeviceKey.load(path)
    with pytest.raises(DeviceKeyError, match="no longer"):
        key.sign(b"data")


def test_no_provider_is_a_clear_error(ncrypt: FakeNcrypt, tmp_path: Path) -> None:
    ncrypt.provider_available = False
    with pytest.raises(DeviceKeyError, match=r"no TPM: opening the Platform Crypto Provider"):
        windows_cng.CngDeviceKey.create(tmp_path / "cng-key.name")
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_name_file_is_an_error(ncrypt: FakeNcrypt, tmp_path: Path) -> None:
    path = tmp_path / "cng-key.name"
    path.write_bytes(b"\xff\xfe garbage")
    path.chmod(0o600)
    with pytest.raises(DeviceKeyError, match="corrupt"):
        windows_cng.CngDeviceKey.load(path)


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows, ncrypt.dll is there")
def test_the_module_says_it_is_for_windows_only_elsewhere() -> None:
    with pytest.raises(DeviceKeyError, match="Windows only"):
        windows_cng._ncrypt()
