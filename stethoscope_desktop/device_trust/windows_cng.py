"""The device key on Windows: a TPM key of CNG's Microsoft Platform Crypto Provider (ctypes).

The key is an ECDSA P-256 key persisted by the Platform Crypto Provider for the current user
(not a machine key), made with signing as its only use and not exportable: its private part is
wrapped by the TPM and never leaves it. Its name, `StethoscopeDesktop-DeviceKey-<random>`, is
kept in `cng-key.name` in the device key folder; `device-key --new` makes a key with a new name
and keeps the old one in the provider (its name file is renamed as the backup).

NCryptSignHash gives an ECDSA signature as r || s already (the JOSE form); NCryptExportKey's
ECCPUBLICBLOB is the BCRYPT_ECCKEY_BLOB header (magic ECS1, 32) and then X and Y.

Written against the Windows SDK's ncrypt.h and type-checked with `mypy --platform win32`; it
cannot run on the Linux machines this project is tested on: untested on Windows so far.
"""

from __future__ import annotations

import ctypes
import hashlib
import secrets
import struct
import sys
from pathlib import Path
from typing import Any

from stethoscope_desktop.device_trust.jws import ec_jwk
from stethoscope_desktop.device_trust.keys import (
    DeviceKey,
    DeviceKeyError,
    read_private_file,
    write_new_file,
)

PROVIDER = "Microsoft Platform Crypto Provider"
ALGORITHM = "ECDSA_P256"  # BCRYPT_ECDSA_P256_ALGORITHM
KEY_NAME_PREFIX = "StethoscopeDesktop-DeviceKey-"
_ECCPUBLICBLOB = "ECCPUBLICBLOB"  # BCRYPT_ECCPUBLIC_BLOB
_ECDSA_PUBLIC_P256_MAGIC = 0x31534345  # BCRYPT_ECDSA_PUBLIC_P256_MAGIC, "ECS1"
_KEY_USAGE_PROPERTY = "Key Usage"  # NCRYPT_KEY_USAGE_PROPERTY
_ALLOW_SIGNING_FLAG = 0x00000002  # NCRYPT_ALLOW_SIGNING_FLAG
_SILENT_FLAG = 0x00000040  # NCRYPT_SILENT_FLAG: fail rather than show a dialog
_NTE_BAD_KEYSET = 0x80090016
_NTE_EXISTS = 0x8009000F
_REPLACE_HINT = "stethoscope-desktop device-key --new makes a new one (the server must enroll it)"


def _ncrypt() -> Any:
    if sys.platform != "win32":
        raise DeviceKeyError("the Platform Crypto Provider exists on Windows only")
    try:
        library = ctypes.WinDLL("ncrypt.dll")
    except OSError as error:
        raise DeviceKeyError(f"ncrypt.dll cannot be loaded: {error}") from None
    handle = ctypes.c_size_t  # NCRYPT_HANDLE is a ULONG_PTR
    status = ctypes.c_long  # SECURITY_STATUS
    wide = ctypes.c_wchar_p
    dword = ctypes.c_uint32
    library.NCryptOpenStorageProvider.argtypes = [ctypes.POINTER(handle), wide, dword]
    library.NCryptOpenKey.argtypes = [handle, ctypes.POINTER(handle), wide, dword, dword]
    library.NCryptCreatePersistedKey.argtypes = [
        handle,
        ctypes.POINTER(handle),
        wide,
        wide,
        dword,
        dword,
    ]
    library.NCryptSetProperty.argtypes = [handle, wide, ctypes.c_void_p, dword, dword]
    library.NCryptFinalizeKey.argtypes = [handle, dword]
    library.NCryptExportKey.argtypes = [
        handle,
        handle,
        wide,
        ctypes.c_void_p,
        ctypes.c_void_p,
        dword,
        ctypes.POINTER(dword),
        dword,
    ]
    library.NCryptSignHash.argtypes = [
        handle,
        ctypes.c_void_p,
        ctypes.c_void_p,
        dword,
        ctypes.c_void_p,
        dword,
        ctypes.POINTER(dword),
        dword,
    ]
    library.NCryptFreeObject.argtypes = [handle]
    for function in (
        library.NCryptOpenStorageProvider,
        library.NCryptOpenKey,
        library.NCryptCreatePersistedKey,
        library.NCryptSetProperty,
        library.NCryptFinalizeKey,
        library.NCryptExportKey,
        library.NCryptSignHash,
        library.NCryptFreeObject,
    ):
        function.restype = status
    return library


def _check(status: int, what: str) -> None:
    if status != 0:
        raise _CngError(status & 0xFFFFFFFF, what)


class _CngError(DeviceKeyError):
    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"{what} failed (0x{code:08X})")
        self.code = code


class _Provider:
    """The Platform Crypto Provider, open for the life of a `with` block."""

    def __init__(self) -> None:
        self.library = _ncrypt()
        self.handle = ctypes.c_size_t(0)

    def __enter__(self) -> _Provider:
        try:
            _check(
                self.library.NCryptOpenStorageProvider(ctypes.byref(self.handle), PROVIDER, 0),
                "opening the Platform Crypto Provider",
            )
        except DeviceKeyError as error:
            raise DeviceKeyError(f"no TPM: {error} (is the TPM on and ready?)") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.library.NCryptFreeObject(self.handle)

    def open_key(self, name: str, path: Path) -> ctypes.c_size_t:
        key = ctypes.c_size_t(0)
        try:
            _check(
                self.library.NCryptOpenKey(self.handle, ctypes.byref(key), name, 0, _SILENT_FLAG),
                f"opening the key {name}",
            )
        except _CngError as error:
            if error.code == _NTE_BAD_KEYSET:
                raise DeviceKeyError(
                    f"the device key named in {path} ({name}) is no longer in the Platform Crypto "
                    f"Provider (the TPM was cleared?); {_REPLACE_HINT}"
                ) from None
            raise DeviceKeyError(f"the device key {path}: {error}; {_REPLACE_HINT}") from None
        return key

    def public_point(self, key: ctypes.c_size_t) -> tuple[bytes, bytes]:
        size = ctypes.c_uint32(0)
        _check(
            self.library.NCryptExportKey(
                key, 0, _ECCPUBLICBLOB, None, None, 0, ctypes.byref(size), 0
            ),
            "reading the public key's size",
        )
        blob = ctypes.create_string_buffer(size.value)
        _check(
            self.library.NCryptExportKey(
                key, 0, _ECCPUBLICBLOB, None, blob, size, ctypes.byref(size), 0
            ),
            "reading the public key",
        )
        data = blob.raw[: size.value]
        magic, length = struct.unpack_from("<II", data)
        if magic != _ECDSA_PUBLIC_P256_MAGIC or length != 32 or len(data) != 8 + 64:
            raise DeviceKeyError("the Platform Crypto Provider's key is not ECDSA P-256")
        return data[8:40], data[40:72]

    def free(self, key: ctypes.c_size_t) -> None:
        self.library.NCryptFreeObject(key)


class CngDeviceKey(DeviceKey):
    """A Platform Crypto Provider key (in the TPM), named in the file `path`."""

    protection = "tpm"

    def __init__(self, path: Path, name: str, x: bytes, y: bytes) -> None:
        """Wrap a key known by name and public point; use `load` or `create`."""
        self.path = path
        self.name = name
        self._jwk = ec_jwk(x, y)

    @classmethod
    def load(cls, path: Path) -> CngDeviceKey:
        """Open the key named in `path`; DeviceKeyError if the provider no longer has it."""
        name = read_private_file(path).decode("utf-8", "replace").strip()
        if not name.startswith(KEY_NAME_PREFIX) or len(name) > 200:
            raise DeviceKeyError(f"the device key {path} is corrupt (no key name); {_REPLACE_HINT}")
        with _Provider() as provider:
            key = provider.open_key(name, path)
            try:
                x, y = provider.public_point(key)
            finally:
                provider.free(key)
        return cls(path, name, x, y)

    @classmethod
    def create(cls, path: Path) -> CngDeviceKey:
        """Make a non-exportable signing key in the provider and write its name to `path`."""
        name = KEY_NAME_PREFIX + secrets.token_hex(8)
        with _Provider() as provider:
            library = provider.library
            key = ctypes.c_size_t(0)
            _check(
                library.NCryptCreatePersistedKey(
                    provider.handle, ctypes.byref(key), ALGORITHM, name, 0, 0
                ),
                "making a key in the Platform Crypto Provider",
            )
            try:
                usage = ctypes.c_uint32(_ALLOW_SIGNING_FLAG)
                _check(
                    library.NCryptSetProperty(key, _KEY_USAGE_PROPERTY, ctypes.byref(usage), 4, 0),
                    "limiting the key to signing",
                )
                _check(library.NCryptFinalizeKey(key, _SILENT_FLAG), "finishing the key")
                x, y = provider.public_point(key)
            finally:
                provider.free(key)
        if not write_new_file(path, name.encode("utf-8")):
            return cls.load(path)  # another process made the key first; ours stays unused
        return cls(path, name, x, y)

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK with its kid."""
        return dict(self._jwk)

    def sign(self, data: bytes) -> bytes:
        """Have the TPM sign the SHA-256 of `data`; r || s as CNG gives it."""
        digest = hashlib.sha256(data).digest()
        with _Provider() as provider:
            key = provider.open_key(self.name, self.path)
            try:
                signature = ctypes.create_string_buffer(64)
                size = ctypes.c_uint32(0)
                _check(
                    provider.library.NCryptSignHash(
                        key, None, digest, len(digest), signature, 64, ctypes.byref(size),
                        _SILENT_FLAG,
                    ),
                    f"signing with the device key {self.path}",
                )  # fmt: skip
            finally:
                provider.free(key)
        if size.value != 64:
            raise DeviceKeyError(f"the TPM gave a {size.value}-byte signature, not 64")
        return signature.raw
