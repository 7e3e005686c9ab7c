"""The device key: an ES256 (P-256) key per user and device, non-exportable where possible.

Kinds, each a `DeviceKey` that signs bytes and gives its public JWK:

- `tpm` (Linux): a TPM 2.0 ECC P-256 signing key (fixedTPM, fixedParent: it never leaves the
  TPM) under the owner hierarchy's primary storage key, made again from the TPM's seed at each
  use. Its public and private (TPM-encrypted) blobs are in one file, `tpm-key.blob`; each
  signature loads them into the TPM. The TPM is the one the TCTI in TPM2TOOLS_TCTI or TSS2_TCTI
  names (e.g. `swtpm:host=127.0.0.1,port=2321`), else the kernel's resource manager
  `/dev/tpmrm0`. Needs `tpm2-pytss`.
- `tpm` (Windows): a persisted key of CNG's Platform Crypto Provider (`windows_cng.py`), named in
  `cng-key.name`.
- `secure-enclave` (macOS): a P-256 key of the Secure Enclave, through the app's helper program
  (`macos_enclave.py`); the key wrapped for this Mac's Secure Enclave alone is in
  `secure-enclave-key.blob`.
- `software`: a P-256 private key in `software-key.pem` (PKCS#8), readable by the user alone
  (0600).

The files are in `device_key_folder()`: `device-key/` in the user's data folder
(`platformdirs.user_data_dir("stethoscope")`, e.g. ~/.local/share/stethoscope/device-key). A key
file is written atomically and never overwritten: two processes creating the key at once end with
one key. `deviceKey` in config.yaml chooses the kind of a new key: `auto` (a TPM, or on macOS the
Secure Enclave, where one answers, else software), `tpm` (hardware: the TPM, or on macOS the
Secure Enclave), `secure-enclave` (macOS only) or `software`. A key that exists is used whatever
`auto` would pick now; one that cannot be used (TPM gone, blob refused by the Secure Enclave,
file corrupt, permissions too open, another kind than config.yaml asks) raises DeviceKeyError
naming the file, and is never replaced silently: only `replace_device_key` (`stethoscope-desktop
device-key --new`) replaces it, keeping the old files under a dated name (they still sign:
`replaced_key_notice` says so, and how to delete them). With `auto`, a TPM that does not answer
when the first key is made gives a software key that stays until `--new`: a warning where a TPM
was expected (`tpm_expected`: a TCTI variable set, or /dev/tpmrm0 there).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stethoscope_desktop.core.files import make_private_folder, sync_directory
from stethoscope_desktop.device_trust.jws import ec_jwk, jwk_from_public_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

logger = logging.getLogger(__name__)

# config.yaml's deviceKey (described there, core/config.py).
KEY_CHOICES = ("auto", "tpm", "secure-enclave", "software")
PROTECTIONS = ("tpm", "secure-enclave", "software")
SOFTWARE_KEY_FILE = "software-key.pem"
TPM_KEY_FILE = "tpm-key.blob"
CNG_KEY_FILE = "cng-key.name"
SECURE_ENCLAVE_KEY_FILE = "secure-enclave-key.blob"
KEY_FILES = (SOFTWARE_KEY_FILE, TPM_KEY_FILE, CNG_KEY_FILE, SECURE_ENCLAVE_KEY_FILE)
DEFAULT_TCTI = "device:/dev/tpmrm0"
TCTI_VARIABLES = ("TPM2TOOLS_TCTI", "TSS2_TCTI")
_TPM_BLOB_MAGIC = b"stethoscope-desktop tpm2 key 1\n"
_MAX_KEY_FILE_BYTES = 16_384
_REPLACE_HINT = "stethoscope-desktop device-key --new makes a new one (the server must enroll it)"
# What to do when no TPM answers (the key may be fine: the TPM is off, or another one is named).
_TPM_UNREACHABLE_HINT = (
    "start the TPM (or the TPM simulator TPM2TOOLS_TCTI or TSS2_TCTI names; check that variable), "
    "or ask IT; if this TPM is gone for good, " + _REPLACE_HINT
)


class DeviceKeyError(Exception):
    """The device key cannot be made or used; the message names the file and what to do."""


class DeviceKey(ABC):
    """A P-256 signing key of this device."""

    protection: str
    """How the private key is kept: "tpm", "secure-enclave" or "software"."""
    path: Path
    """The file that holds or names the key."""

    @property
    @abstractmethod
    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK: kty, crv, x, y and kid (its RFC 7638 thumbprint)."""

    @property
    def kid(self) -> str:
        """The key's RFC 7638 thumbprint."""
        return self.public_jwk["kid"]

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """Return the ES256 signature of `data` (SHA-256 inside) as raw r || s, 64 bytes."""

    def public_key(self) -> Any:
        """Return the public key as a `cryptography` EllipticCurvePublicKey."""
        from stethoscope_desktop.device_trust.jws import public_key_from_jwk

        return public_key_from_jwk(self.public_jwk)


def device_key_folder() -> Path:
    """Return the folder of the device key files in the user's data folder."""
    import platformdirs

    return Path(platformdirs.user_data_dir("stethoscope", appauthor=False)) / "device-key"


def tpm_tcti(environ: Mapping[str, str] | None = None) -> str:
    """Return the TCTI of the TPM to use: TPM2TOOLS_TCTI, TSS2_TCTI, else /dev/tpmrm0's."""
    environ = os.environ if environ is None else environ
    for name in TCTI_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return value
    return DEFAULT_TCTI


# --- files ----------------------------------------------------------------------------------------


def write_new_file(path: Path, data: bytes) -> bool:
    """Write `path` (mode 0600) atomically unless it exists; return False if it already did.

    The data goes to a temporary file in the same folder, is fsynced, then hard-linked to its
    name, which fails if the name exists: a key file is never overwritten, nor seen half-written.
    """
    folder = path.parent
    make_private_folder(folder)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            if sys.platform != "win32":
                os.fchmod(file.fileno(), 0o600)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    sync_directory(folder)  # the new name survives a power cut
    return True


def read_private_file(path: Path) -> bytes:
    """Return a key file's bytes; DeviceKeyError if others may read it or it cannot be read."""
    try:
        # Non-blocking: a FIFO put in the key's place must not hang the app.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise DeviceKeyError(f"the device key {path} is not a regular file")
            if sys.platform != "win32":
                if info.st_mode & 0o077:
                    raise DeviceKeyError(
                        f"the device key {path} has mode {stat.S_IMODE(info.st_mode):04o}: others "
                        f"may read it, so it is not used (chmod 600 {path} if only you did this, "
                        f"else {_REPLACE_HINT})"
                    )
                if info.st_uid != os.getuid():
                    raise DeviceKeyError(
                        f"the device key {path} belongs to user {info.st_uid}, not to you"
                    )
            data = file.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        raise DeviceKeyError(f"cannot read the device key {path}: {error.strerror}") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise DeviceKeyError(f"the device key {path} is corrupt (too large); {_REPLACE_HINT}")
    return data


# --- software -------------------------------------------------------------------------------------


class SoftwareDeviceKey(DeviceKey):
    """A P-256 private key in a PKCS#8 PEM file only the user can read."""

    protection = "software"

    def __init__(self, path: Path, private_key: EllipticCurvePrivateKey) -> None:
        """Wrap a loaded key; use `load` or `create`."""
        self.path = path
        self._private_key = private_key
        self._jwk = jwk_from_public_key(private_key.public_key())

    @classmethod
    def load(cls, path: Path) -> SoftwareDeviceKey:
        """Load the key of `path`; DeviceKeyError if it cannot be used."""
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        data = read_private_file(path)
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise DeviceKeyError(
                f"the device key {path} is corrupt (not a PEM private key); {_REPLACE_HINT}"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise DeviceKeyError(f"the device key {path} is not a P-256 key; {_REPLACE_HINT}")
        return cls(path, key)

    @classmethod
    def create(cls, path: Path) -> SoftwareDeviceKey:
        """Make a key in `path`; if another process made one there first, load that one."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if not write_new_file(path, pem):
            return cls.load(path)
        return cls(path, key)

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK with its kid."""
        return dict(self._jwk)

    def sign(self, data: bytes) -> bytes:
        """Return the raw ES256 signature of `data`."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        from stethoscope_desktop.device_trust.jws import raw_signature_from_der

        return raw_signature_from_der(self._private_key.sign(data, ec.ECDSA(hashes.SHA256())))


# --- TPM 2.0 (Linux) ------------------------------------------------------------------------------


DEB_LIB = "/opt/stethoscope-desktop/lib"  # where the .deb puts the app (build-deb.sh)
TPM_GROUP = "tss"  # the group of /dev/tpmrm0 on Debian and Ubuntu (tpm-udev), and Fedora


def tpm2_pytss_missing(error: ImportError, app_file: str = __file__) -> str:
    """Say that tpm2-pytss is missing and how this installation of the app gets it.

    The .deb packs it (build-deb.sh --tpm, unless it could not be built there); an app
    installed with pip gets it with its `tpm` extra.
    """
    said = f"tpm2-pytss is not installed ({error}), so the device key cannot be kept in the TPM"
    if Path(app_file).resolve().is_relative_to(DEB_LIB):
        return (
            f"{said}: this .deb was built without it (build-deb.sh --tpm yes packs it, and "
            "needs libtss2-dev where it builds); ask IT for a package built with it"
        )
    return (
        f"{said}: pip install 'stethoscope-desktop[tpm]' adds it (it builds against "
        "libtss2-dev: sudo apt install libtss2-dev on Debian and Ubuntu)"
    )


def tpm_device_denied(device: str, key_path: Path, user: str | None = None) -> str:
    """Say that this user may not open the TPM at `device`, and how IT lets them."""
    import getpass

    group = TPM_GROUP
    if sys.platform != "win32":
        import grp

        with contextlib.suppress(KeyError, OSError):
            group = grp.getgrgid(os.stat(device).st_gid).gr_name
    if group == "root":  # no udev rule gave the TPM to a group: tpm-udev's is tss
        group = TPM_GROUP
    user = user or getpass.getuser()
    return (
        f"no permission to use the TPM at {device}, so the device key {key_path} cannot be kept "
        f"there: the TPM is open to the members of the group {group} (on Debian and Ubuntu the "
        f"tss group, from the tpm-udev package). IT adds this user to it with "
        f"`sudo usermod -aG {group} {user}`; it counts from the next login"
    )


def _tpm2() -> Any:
    # The TSS library logs its errors on stderr; ours say the same with the file to act on.
    # TSS2_LOG set by the user is kept.
    os.environ.setdefault("TSS2_LOG", "all+NONE")
    try:
        import tpm2_pytss
    except ImportError as error:
        raise DeviceKeyError(tpm2_pytss_missing(error)) from None
    return tpm2_pytss


class TpmDeviceKey(DeviceKey):
    """An ECC P-256 signing key that never leaves a TPM 2.0; its blobs are in `path`."""

    protection = "tpm"

    def __init__(self, path: Path, tcti: str, private_blob: bytes, public_blob: bytes) -> None:
        """Wrap a key's blobs; use `load` or `create`. Parses the public blob for the JWK."""
        tpm2 = _tpm2()
        self.path = path
        self.tcti = tcti
        self._private_blob = private_blob
        self._public_blob = public_blob
        try:
            public, _ = tpm2.TPM2B_PUBLIC.unmarshal(public_blob)
            ecc = public.publicArea.unique.ecc
            self._jwk = ec_jwk(bytes(ecc.x), bytes(ecc.y))
        except Exception as error:  # tpm2-pytss raises several kinds for bad bytes
            raise DeviceKeyError(
                f"the device key {path} is corrupt (its public part: {error}); {_REPLACE_HINT}"
            ) from None

    @classmethod
    def load(cls, path: Path, tcti: str | None = None) -> TpmDeviceKey:
        """Load the blobs of `path` and check that the TPM takes them; DeviceKeyError if not."""
        tpm2 = _tpm2()
        data = read_private_file(path)
        corrupt = f"the device key {path} is corrupt (not a TPM key file); {_REPLACE_HINT}"
        if not data.startswith(_TPM_BLOB_MAGIC):
            raise DeviceKeyError(corrupt)
        blobs = data[len(_TPM_BLOB_MAGIC) :]
        try:
            _private, private_end = tpm2.TPM2B_PRIVATE.unmarshal(blobs)
            _public, public_size = tpm2.TPM2B_PUBLIC.unmarshal(blobs[private_end:])
        except Exception:
            raise DeviceKeyError(corrupt) from None
        if private_end + public_size != len(blobs):
            raise DeviceKeyError(corrupt)
        key = cls(path, tcti or tpm_tcti(), blobs[:private_end], blobs[private_end:])
        with key._loaded():
            pass
        return key

    @classmethod
    def create(cls, path: Path, tcti: str | None = None) -> TpmDeviceKey:
        """Make a key in the TPM and save its blobs in `path` (or load the one saved first)."""
        tpm2 = _tpm2()
        from tpm2_pytss.constants import TPMA_OBJECT

        tcti = tcti or tpm_tcti()
        attributes = (
            TPMA_OBJECT.SIGN_ENCRYPT
            | TPMA_OBJECT.USERWITHAUTH
            | TPMA_OBJECT.FIXEDTPM
            | TPMA_OBJECT.FIXEDPARENT
            | TPMA_OBJECT.SENSITIVEDATAORIGIN
        )
        template = tpm2.TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256", objectAttributes=attributes)
        with _esapi(tcti, path) as ctx:
            primary = _primary(ctx, tcti, path)
            try:
                private, public, *_ = ctx.create(primary, tpm2.TPM2B_SENSITIVE_CREATE(), template)
            except tpm2.TSS2_Exception as error:
                raise DeviceKeyError(f"the TPM ({tcti}) did not make a key: {error}") from None
            finally:
                ctx.flush_context(primary)
        private_blob, public_blob = bytes(private.marshal()), bytes(public.marshal())
        if not write_new_file(path, _TPM_BLOB_MAGIC + private_blob + public_blob):
            return cls.load(path, tcti)
        return cls(path, tcti, private_blob, public_blob)

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK with its kid."""
        return dict(self._jwk)

    def sign(self, data: bytes) -> bytes:
        """Load the key into the TPM and have it sign the SHA-256 of `data`."""
        tpm2 = _tpm2()
        from tpm2_pytss.constants import TPM2_ALG, TPM2_RH, TPM2_ST

        scheme = tpm2.TPMT_SIG_SCHEME(scheme=TPM2_ALG.ECDSA)
        scheme.details.any.hashAlg = TPM2_ALG.SHA256
        ticket = tpm2.TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)
        digest = hashlib.sha256(data).digest()
        with self._loaded() as (ctx, handle):
            try:
                signature = ctx.sign(handle, digest, scheme, ticket)
            except tpm2.TSS2_Exception as error:
                raise DeviceKeyError(
                    f"the TPM ({self.tcti}) did not sign with the device key {self.path}: {error}"
                ) from None
        ecdsa = signature.signature.ecdsa
        r, s = bytes(ecdsa.signatureR), bytes(ecdsa.signatureS)
        return r.rjust(32, b"\0") + s.rjust(32, b"\0")

    @contextlib.contextmanager
    def _loaded(self) -> Iterator[tuple[Any, Any]]:
        tpm2 = _tpm2()
        private, _ = tpm2.TPM2B_PRIVATE.unmarshal(self._private_blob)
        public, _ = tpm2.TPM2B_PUBLIC.unmarshal(self._public_blob)
        with _esapi(self.tcti, self.path) as ctx:
            primary = _primary(ctx, self.tcti, self.path)
            try:
                handle = ctx.load(primary, private, public)
            except tpm2.TSS2_Exception as error:
                raise DeviceKeyError(
                    f"the TPM ({self.tcti}) refuses the device key {self.path} (made by another "
                    f"TPM, this one was cleared, or the file is corrupt): {error}; {_REPLACE_HINT}"
                ) from None
            finally:
                ctx.flush_context(primary)
            try:
                yield ctx, handle
            finally:
                ctx.flush_context(handle)


@contextlib.contextmanager
def _esapi(tcti: str, path: Path) -> Iterator[Any]:
    tpm2 = _tpm2()
    device = tcti.removeprefix("device:")
    if tcti.startswith("device:") and not os.path.exists(device):
        raise DeviceKeyError(
            f"no TPM: {device} does not exist (TPM2TOOLS_TCTI or TSS2_TCTI can name another), so "
            f"the device key {path} cannot be used: enable the TPM in the firmware settings, "
            f"or ask IT; if this TPM is gone for good, {_REPLACE_HINT}"
        )
    if tcti.startswith("device:") and not os.access(device, os.R_OK | os.W_OK):
        raise DeviceKeyError(tpm_device_denied(device, path))
    try:
        ctx = tpm2.ESAPI(tcti)
    except Exception as error:  # TSS2_Exception, or the TCTI library missing
        raise DeviceKeyError(
            f"no TPM answers at {tcti} (TPM2TOOLS_TCTI or TSS2_TCTI name another), so the device "
            f"key {path} cannot be used: {error}; {_TPM_UNREACHABLE_HINT}"
        ) from None
    try:
        yield ctx
    finally:
        ctx.close()


def _primary(ctx: Any, tcti: str, path: Path) -> Any:
    """Make the owner hierarchy's ECC P-256 storage primary (the same from the same seed)."""
    tpm2 = _tpm2()
    from tpm2_pytss.constants import ESYS_TR, TPMA_OBJECT

    attributes = (
        TPMA_OBJECT.FIXEDTPM
        | TPMA_OBJECT.FIXEDPARENT
        | TPMA_OBJECT.SENSITIVEDATAORIGIN
        | TPMA_OBJECT.USERWITHAUTH
        | TPMA_OBJECT.NODA
        | TPMA_OBJECT.RESTRICTED
        | TPMA_OBJECT.DECRYPT
    )
    template = tpm2.TPM2B_PUBLIC.parse("ecc256:aes128cfb", objectAttributes=attributes)
    try:
        handle, *_ = ctx.create_primary(tpm2.TPM2B_SENSITIVE_CREATE(), template, ESYS_TR.OWNER)
    except tpm2.TSS2_Exception as error:
        raise DeviceKeyError(
            f"the TPM ({tcti}) did not make its owner primary key for the device key {path} "
            f"(an owner password set?): {error}"
        ) from None
    return handle


# --- choosing, opening, replacing -----------------------------------------------------------------


def existing_key_files(folder: Path) -> list[Path]:
    """Return the device key files in `folder` (normally one, or none)."""
    return [folder / name for name in KEY_FILES if (folder / name).exists()]


def open_device_key(choice: str = "auto", folder: Path | None = None) -> DeviceKey:
    """Return the device key, making one of the kind `choice` asks if there is none.

    DeviceKeyError (naming the file) if the existing key cannot be used or is of another kind
    than `choice`, or if `choice` is "tpm" and no TPM answers. Never replaces a key.
    """
    if choice not in KEY_CHOICES:
        raise DeviceKeyError(f"deviceKey must be one of {', '.join(KEY_CHOICES)}, not {choice!r}")
    folder = device_key_folder() if folder is None else folder
    existing = load_existing_key(folder)
    if existing is not None:
        wanted = existing.protection if choice == "auto" else _protection_of(choice)
        if existing.protection != wanted:
            raise DeviceKeyError(
                f"config.yaml asks for deviceKey: {choice}, but the device key {existing.path} "
                f"is a {existing.protection} key; {_REPLACE_HINT}"
            )
        return existing
    return _create(choice, folder)


def load_existing_key(folder: Path) -> DeviceKey | None:
    """Return the key whose files are in `folder`, None if there is none; DeviceKeyError."""
    found = existing_key_files(folder)
    if len(found) > 1:
        names = ", ".join(str(path) for path in found)
        raise DeviceKeyError(
            f"there are several device keys ({names}); keep one, or {_REPLACE_HINT}"
        )
    if not found:
        return None
    path = found[0]
    if path.name == SOFTWARE_KEY_FILE:
        return SoftwareDeviceKey.load(path)
    if path.name == TPM_KEY_FILE:
        return TpmDeviceKey.load(path)
    if path.name == SECURE_ENCLAVE_KEY_FILE:
        from stethoscope_desktop.device_trust.macos_enclave import SecureEnclaveDeviceKey

        return SecureEnclaveDeviceKey.load(path)
    return _cng_key(path)


def _protection_of(choice: str) -> str:
    """Return the protection a key made for `choice` (not "auto") has on this OS."""
    if choice == "tpm" and sys.platform == "darwin":
        return "secure-enclave"  # a Mac's hardware key store
    return choice


def _create(choice: str, folder: Path) -> DeviceKey:
    if choice == "secure-enclave" and sys.platform != "darwin":
        raise DeviceKeyError(
            "deviceKey: secure-enclave, but the Secure Enclave is on Macs only (deviceKey: tpm "
            "keeps the key in the TPM on Linux and Windows)"
        )
    if sys.platform == "darwin" and choice != "software":
        from stethoscope_desktop.device_trust.macos_enclave import make_enclave_key

        enclave_key = make_enclave_key(folder / SECURE_ENCLAVE_KEY_FILE, choice)
        if enclave_key is not None:
            return enclave_key
    elif choice in ("auto", "tpm") and sys.platform in ("linux", "win32"):
        try:
            if sys.platform == "win32":
                from stethoscope_desktop.device_trust.windows_cng import CngDeviceKey

                return CngDeviceKey.create(folder / CNG_KEY_FILE)
            return TpmDeviceKey.create(folder / TPM_KEY_FILE)
        except DeviceKeyError as error:
            if choice == "tpm":
                raise
            _log_software_fallback(error)
    elif choice == "tpm":
        raise DeviceKeyError(
            f"deviceKey: tpm, but this version keeps keys in hardware on Linux and Windows (a "
            f"TPM) and macOS (the Secure Enclave) only, not on {sys.platform}"
        )
    return SoftwareDeviceKey.create(folder / SOFTWARE_KEY_FILE)


def tpm_expected(environ: Mapping[str, str] | None = None) -> bool:
    """Return True where a TPM should answer on Linux: a TCTI variable is set or /dev/tpmrm0 is."""
    environ = os.environ if environ is None else environ
    named = any(environ.get(name, "").strip() for name in TCTI_VARIABLES)
    return named or os.path.exists(DEFAULT_TCTI.removeprefix("device:"))


def _log_software_fallback(error: DeviceKeyError) -> None:
    """Log why `auto` made a software key: a warning where a TPM should have answered.

    The software key stays until `device-key --new` (an existing key is never replaced), so a
    TPM that was only busy or not yet started at the first key's creation costs this device
    its hardware key; the log (and device-key's stderr) says so.
    """
    if sys.platform == "linux" and tpm_expected():
        logger.warning(
            "a TPM seems to be here (%s) but did not make the device key, so it is a software "
            "key, kept until `stethoscope-desktop device-key --new` makes another (in the TPM, "
            "once it answers): %s",
            tpm_tcti(),
            error,
        )
    else:
        logger.info("no TPM for the device key, making a software key: %s", error)


def _cng_key(path: Path) -> DeviceKey:
    if sys.platform != "win32":
        raise DeviceKeyError(f"the device key {path} is a Windows CNG key; it cannot be used here")
    from stethoscope_desktop.device_trust.windows_cng import CngDeviceKey

    return CngDeviceKey.load(path)


def replace_device_key(
    choice: str = "auto", folder: Path | None = None, *, now: float | None = None
) -> tuple[DeviceKey, list[Path]]:
    """Make a new device key; the old key's files are renamed `<name>.replaced-<UTC time>`.

    Return the new key and the backups. If no new key can be made, the old files are put back
    and DeviceKeyError says why. A Windows CNG key stays in its provider (its name file is kept
    as the backup), so the old key can still be deleted by hand.
    """
    if choice not in KEY_CHOICES:
        raise DeviceKeyError(f"deviceKey must be one of {', '.join(KEY_CHOICES)}, not {choice!r}")
    folder = device_key_folder() if folder is None else folder
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    moved: list[tuple[Path, Path]] = []
    for path in existing_key_files(folder):
        backup = path.with_name(f"{path.name}.replaced-{stamp}")
        counter = 1
        while backup.exists():
            counter += 1
            backup = path.with_name(f"{path.name}.replaced-{stamp}-{counter}")
        os.rename(path, backup)
        moved.append((path, backup))
    try:
        key = _create(choice, folder)
    except BaseException:
        # No new key (deviceKey: tpm and no TPM answers, say): the old one stays in force.
        for path, backup in moved:
            with contextlib.suppress(OSError):
                os.rename(backup, path)
        raise
    return key, [backup for _, backup in moved]


def replaced_key_notice(backup: Path) -> str:
    """Say what the old key kept as `backup` by `replace_device_key` still does, and how to end it.

    The backup is kept (a key IT has not enrolled yet must not cost the person their logins),
    but it is still a private key (or, for a TPM or Secure Enclave key, the blob its hardware
    signs with): any login server that enrolled it still accepts what it signs, so it is deleted
    once IT has the new key.
    """
    if backup.name.startswith(CNG_KEY_FILE):
        deletion = (
            "delete the key it names from the Platform Crypto Provider (certutil -csp "
            '"Microsoft Platform Crypto Provider" -delkey <name>), then this file'
        )
    elif sys.platform == "win32":
        deletion = f'delete it (del "{backup}")'
    else:
        import shlex

        deletion = f"delete it (rm {shlex.quote(str(backup))})"
    return (
        f"the old device key is kept as {backup}: it can still sign device tokens, which login "
        f"servers that enrolled the old key accept; once IT has enrolled the new key, {deletion}"
    )
