"""The Linux package: built from IT's folder, installed with dpkg, run by a normal user.

`packaging/linux/build-deb.sh` builds the package from `tests/data/it_sample` (revision 1) and
from a changed copy (revision 2), once per module. The lifecycle test then does what a machine
goes through: `dpkg -i`, `stethoscope-desktop scan --json` as a freshly made non-root user with
IT's policy in force, a local edit of IT's policy kept across the upgrade to revision 2, `dpkg -r`
leaving IT's files, `dpkg -P` removing them. Revision 2 is built with --osquery-extension: the
upgrade adds the osquery extension to /etc/osquery/extensions.load (beside IT's own line there),
and `dpkg -r` takes it out again. Installing needs root and dpkg; building needs
dpkg-deb and a Python 3.11+ with pip. Installing runs only where CI=true (CI machines are made
for it). Each test skips and says why when something is missing, and nothing is done to a machine
that has a real stethoscope-desktop installed.

The TPM device key: where libtss2-dev is installed (`make test` installs it), the package
carries tpm2-pytss built against it and depends on the libtss2 packages it links to; the packed
app, run from the package's files against a software TPM (swtpm), makes a `tpm` key under
`deviceKey: auto`, and so does the installed command run by the user (with CI=true).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop import cli_docs
from stethoscope_desktop.autostart.linux import LinuxAutostart, read_desktop_entry

ROOT = Path(__file__).resolve().parents[2]
BUILD_DEB = ROOT / "packaging" / "linux" / "build-deb.sh"
SAMPLE = ROOT / "tests" / "data" / "it_sample"
PACKAGE = "stethoscope-desktop"
IT_FOLDER = Path("/etc/xdg/stethoscope")
PREFIX = Path("/opt/stethoscope-desktop")
USER = "stetho-test"
OSQUERY_AUTOLOAD = Path("/etc/osquery/extensions.load")
OSQUERY_LAUNCHER = PREFIX / "osquery" / "stethoscope_desktop.ext"
# Packages built here have a revision ending in this, so a leftover from an interrupted run can
# be told from a real installation.
TEST_REVISION = "+citest"
TIMINGS: dict[str, float] = {}


def _build_python() -> str:
    """Return the interpreter build-deb.sh builds for by default."""
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else "python3"


def _build_tools_missing() -> str | None:
    if not sys.platform.startswith("linux"):
        return "Debian packages are built on Linux"
    for tool in ("dpkg-deb", "dpkg"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    python = _build_python()
    probe = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"{python} has no pip to install the app into the package (apt install python3-pip)"
    return None


def _python_version() -> str:
    """Return the X.Y of the Python the package is built for, e.g. 3.11."""
    return subprocess.run(
        [_build_python(), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def _installed_version() -> str | None:
    query = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version} ${db:Status-Status}", PACKAGE],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if query.returncode != 0 or query.stdout.endswith("not-installed"):
        return None
    return query.stdout.split()[0]


def _install_tools_missing() -> str | None:
    if os.environ.get("CI") != "true":
        # It installs into this machine's /etc and /usr and adds a user: where other programs
        # (or other test runs) may be using the machine, never without being asked.
        return "installs the package into this machine: runs only where CI=true"
    if os.geteuid() != 0:
        return "installing with dpkg -i needs root"
    for tool in ("runuser", "useradd", "userdel", "dpkg-query"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    version = _installed_version()
    if version is not None and not version.endswith(TEST_REVISION):
        return f"{PACKAGE} {version} is installed on this machine; the test would replace it"
    if version is None and IT_FOLDER.exists():
        return f"{IT_FOLDER} exists and no package owns it; the test would change IT's files"
    return None


def _build(
    it_folder: Path, out_dir: Path, revision: str, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BUILD_DEB), "--compression", "zstd", "--revision", revision, *options,
         str(it_folder), str(out_dir)],
        capture_output=True, text=True, check=False, timeout=600,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip


def _built(it_folder: Path, out_dir: Path, revision: str, *options: str, **env: str) -> Path:
    started = time.monotonic()
    build = _build(it_folder, out_dir, revision, *options, env=env or None)
    TIMINGS[f"build {revision}"] = time.monotonic() - started
    assert build.returncode == 0, build.stderr
    deb = Path(build.stdout.strip().splitlines()[-1])
    assert deb.is_file() and deb.parent == out_dir, build.stdout
    return deb


@pytest.fixture(scope="module")
def it_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """IT's folder for revision 1 (the sample plus two checks to retire) and for revision 2."""
    base = tmp_path_factory.mktemp("it")
    first = base / "revision-1"
    shutil.copytree(SAMPLE, first)
    for name in ("retired-a", "retired-b"):
        (first / "checks.d" / f"{name}.yaml").write_text(
            f"- name: Example Corp {name}\n  query: SELECT 1 FROM os_version;\n"
            "  platform: linux\n  critical: false\n",
            encoding="utf-8",
        )
    second = base / "revision-2"
    shutil.copytree(SAMPLE, second)
    policy = second / "policy.yaml"
    policy.write_text(
        policy.read_text(encoding="utf-8").replace('screenIdle: "<=300"', 'screenIdle: "<=240"'),
        encoding="utf-8",
    )
    config = second / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "organization: Example Corp", "organization: Example Corp (revision 2)"
        ),
        encoding="utf-8",
    )
    return first, second


@pytest.fixture(scope="module")
def debs(it_folders: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The packages of revisions 1 and 2, built once for the module."""
    reason = _build_tools_missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("debs")
    first, second = it_folders
    return [
        _built(first, out, f"1{TEST_REVISION}"),
        _built(second, out, f"2{TEST_REVISION}", "--osquery-extension"),
    ]


def _fields(deb: Path) -> dict[str, str]:
    text = subprocess.run(
        ["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    fields: dict[str, str] = {}
    for match in re.finditer(r"^(\S+): (.*(?:\n .*)*)", text, re.MULTILINE):
        fields[match.group(1)] = match.group(2)
    return fields


def _depends(deb: Path) -> set[str]:
    return {item.strip().split()[0] for item in _fields(deb)["Depends"].split(",")}


def test_the_package_holds_the_app_the_desktop_files_and_its_files_as_conffiles(
    debs: list[Path],
) -> None:
    deb = debs[0]
    fields = _fields(deb)
    assert fields["Package"] == PACKAGE
    assert fields["Version"].endswith(f"-1{TEST_REVISION}")
    assert (
        fields["Architecture"]
        == subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    version = _python_version()
    assert {f"python{version}", "libxcb-cursor0", "libxkbcommon-x11-0", "libegl1"} <= _depends(deb)
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    paths = {
        line.split(maxsplit=5)[5].split(" -> ")[0].lstrip(".") for line in listing.splitlines()
    }
    expected_files = {
        "/usr/bin/stethoscope-desktop",
        "/usr/share/applications/stethoscope-desktop.desktop",
        "/usr/share/icons/hicolor/scalable/apps/stethoscope-desktop.svg",
        "/usr/share/man/man1/stethoscope-desktop.1.gz",
        "/usr/share/bash-completion/completions/stethoscope-desktop",
        "/usr/share/zsh/vendor-completions/_stethoscope-desktop",
        "/usr/share/fish/vendor_completions.d/stethoscope-desktop.fish",
        "/etc/xdg/autostart/stethoscope-desktop.desktop",
        f"{PREFIX}/lib/stethoscope_desktop/cli.py",
        f"{PREFIX}/lib/stethoscope_desktop/__pycache__/cli.cpython-{version.replace('.', '')}.pyc",
        f"{PREFIX}/lib/stethoscope_desktop/_data/practices/policy.yaml",
        f"{PREFIX}/lib/stethoscope_desktop/_data/checks/firewall.yaml",
        f"{PREFIX}/lib/PySide6/QtWidgets.abi3.so",
        f"{PREFIX}/lib/apsw/ext.py",
    }
    assert expected_files <= paths, expected_files - paths
    assert not any(p.startswith(f"{PREFIX}/lib/bin/") for p in paths)
    conffiles = subprocess.run(
        ["dpkg-deb", "-I", str(deb), "conffiles"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(conffiles) == sorted(
        [
            "/etc/xdg/autostart/stethoscope-desktop.desktop",
            f"{IT_FOLDER}/policy.yaml",
            f"{IT_FOLDER}/config.yaml",
            f"{IT_FOLDER}/instructions.en.yaml",
            f"{IT_FOLDER}/checks.d/example-corp.yaml",
            f"{IT_FOLDER}/checks.d/retired-a.yaml",
            f"{IT_FOLDER}/checks.d/retired-b.yaml",
        ]
    )
    assert {p for p in paths if p.startswith("/etc/") and not p.endswith("/")} <= set(conffiles)


def _listing(deb: Path) -> dict[str, tuple[str, str]]:
    """Return each path of the package with its mode and owner, as dpkg-deb lists them."""
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    entries: dict[str, tuple[str, str]] = {}
    for line in listing.splitlines():
        mode, owner, _size, _date, _time, path = line.split(maxsplit=5)
        entries[path.split(" -> ")[0].lstrip(".").rstrip("/") or "/"] = (mode, owner)
    return entries


def test_the_osquery_extension_s_launcher_is_shipped_as_osquery_requires(
    debs: list[Path],
) -> None:
    """The launcher is root's, executable, not writable by others, in a plain folder.

    The file naming the autoload file is only in the package built with --osquery-extension.
    """
    without, with_option = (_listing(deb) for deb in debs)
    for entries in (without, with_option):
        assert entries[str(OSQUERY_LAUNCHER)] == ("-rwxr-xr-x", "root/root")
        assert entries[str(OSQUERY_LAUNCHER.parent)] == ("drwxr-xr-x", "root/root")
        assert entries[str(OSQUERY_LAUNCHER.parent / "autoload.sh")] == ("-rw-r--r--", "root/root")
    marker = str(OSQUERY_LAUNCHER.parent / "autoload-file")
    assert marker not in without and marker in with_option
    for deb in debs:
        scripts = subprocess.run(
            ["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True
        ).stdout
        assert all(name in scripts for name in ("postinst", "prerm", "postrm"))
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["dpkg-deb", "-x", str(debs[1]), folder], check=True)
        root = Path(folder)
        assert (root / marker.lstrip("/")).read_text(encoding="utf-8") == f"{OSQUERY_AUTOLOAD}\n"
        launcher = (root / str(OSQUERY_LAUNCHER).lstrip("/")).read_text(encoding="utf-8")
        assert launcher.startswith("#!/bin/sh\n")
        assert 'exec "/usr/bin/stethoscope-desktop" osquery-extension "$@"' in launcher


def test_dpkg_installs_the_autoload_entry_into_a_private_root(
    debs: list[Path], tmp_path: Path
) -> None:
    """dpkg itself installs, upgrades and removes the packages in a private root.

    `dpkg --root DIR --force-script-chrootless` runs the maintainer scripts on this machine with
    DPKG_ROOT=DIR (and its own database there), so nothing outside DIR changes: revision 1
    (built without the option) leaves IT's autoload file alone, revision 2 (--osquery-extension)
    adds our line to it once, `dpkg -r` takes it out.
    """
    if os.geteuid() != 0:
        pytest.skip("dpkg unpacks files as root (their owner is root)")
    root = tmp_path / "root"
    admin = root / "var" / "lib" / "dpkg"
    (admin / "info").mkdir(parents=True)
    (admin / "updates").mkdir()
    for name in ("status", "available"):
        (admin / name).touch()
    load = root / str(OSQUERY_AUTOLOAD).lstrip("/")
    load.parent.mkdir(parents=True)
    its = "# Example Corp's extensions\n/usr/lib/osquery/acme.ext\n"
    load.write_text(its, encoding="utf-8")
    load.chmod(0o640)
    private = ["--root", str(root), "--force-script-chrootless", "--force-depends"]
    machine_before = OSQUERY_AUTOLOAD.read_bytes() if OSQUERY_AUTOLOAD.exists() else None

    _dpkg(*private, "--install", str(debs[0]))
    assert load.read_text(encoding="utf-8") == its
    installed = root / str(OSQUERY_LAUNCHER).lstrip("/")
    assert installed.is_file() and _osquery_would_autoload(installed)
    upgrade = _dpkg(*private, "--install", str(debs[1]))
    assert load.read_text(encoding="utf-8") == f"{its}{OSQUERY_LAUNCHER}\n"
    assert stat.S_IMODE(load.stat().st_mode) == 0o640
    assert "osquery extension added to /etc/osquery/extensions.load" in upgrade.stdout
    _dpkg(*private, "--remove", PACKAGE)
    assert load.read_text(encoding="utf-8") == its
    assert not installed.exists()
    _dpkg(*private, "--purge", PACKAGE)
    assert load.read_text(encoding="utf-8") == its
    assert not (root / "etc" / "xdg" / "stethoscope").exists()
    # This machine's own autoload file was not touched.
    assert (OSQUERY_AUTOLOAD.read_bytes() if OSQUERY_AUTOLOAD.exists() else None) == machine_before


def _osquery_would_autoload(path: Path) -> bool:
    """Return whether osqueryd would start `path` from its autoload file, on POSIX.

    osquery's test (extensions.cpp isFileSafe, filesystem.cpp safePermissions): a file ending in
    .ext, owned by root, executable by its owner, not writable by others, in a folder without
    the sticky bit.
    """
    status = path.stat()
    return (
        path.suffix == ".ext"
        and path.is_file()
        and status.st_uid == 0
        and bool(status.st_mode & stat.S_IXUSR)
        and not status.st_mode & stat.S_IWOTH
        and not path.parent.stat().st_mode & stat.S_ISVTX
    )


def test_the_package_depends_on_every_system_library_the_bundled_qt_loads(
    debs: list[Path], tmp_path: Path
) -> None:
    """Each library the app's Qt modules, Qt's xcb plugin and apsw link to comes from a Depends."""
    if shutil.which("readelf") is None or shutil.which("ldd") is None:
        pytest.skip("readelf (binutils) or ldd is not installed")
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path)], check=True)
    lib = tmp_path / PREFIX.relative_to("/") / "lib"
    qt = lib / "PySide6" / "Qt"
    binaries = [
        *(lib / "PySide6" / f"{module}.abi3.so" for module in ("QtCore", "QtGui", "QtWidgets", "QtSvg", "QtNetwork", "QtDBus")),
        *(qt / "lib" / f"libQt6{name}.so.6" for name in ("Core", "Gui", "Widgets", "Svg", "Network", "DBus", "XcbQpa", "OpenGL")),
        qt / "plugins" / "platforms" / "libqxcb.so",
        *(qt / "plugins" / "xcbglintegrations").glob("*.so"),
        *(lib / "shiboken6").glob("*.so*"),
        *(lib / "apsw").glob("*.so"),
    ]  # fmt: skip
    depends = _depends(debs[0])
    outside: dict[str, str] = {}
    for binary in binaries:
        assert binary.is_file(), binary
        dynamic = subprocess.run(
            ["readelf", "-d", str(binary)], capture_output=True, text=True, check=True
        ).stdout
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))
        resolved = subprocess.run(
            ["ldd", str(binary)], capture_output=True, text=True, check=True
        ).stdout
        for name, where in re.findall(r"^\s*(\S+) => (.+?) \(", resolved, re.MULTILINE):
            if name in needed:
                assert where != "not found", f"{binary.name} needs {name}, which is missing"
                if not Path(where).resolve().is_relative_to(tmp_path):
                    outside[name] = str(Path(where).resolve())
    owners: dict[str, str] = {}
    for name, path in outside.items():
        candidates = [path, path.removeprefix("/usr")] if path.startswith("/usr/") else [path]
        for candidate in candidates:
            search = subprocess.run(
                ["dpkg", "-S", candidate], capture_output=True, text=True, check=False
            )
            if search.returncode == 0:
                owners[name] = search.stdout.split(":")[0]
                break
        else:
            owners[name] = f"(no package owns {path})"
    missing = {
        name: owner
        for name, owner in owners.items()
        if owner not in depends and not _provides(owner) & depends
    }
    assert not missing, f"add these packages to Depends: {missing}"


def _tss2_missing() -> str | None:
    """Say why the package cannot carry tpm2-pytss here (libtss2-dev or the tools missing)."""
    for tool in ("pkg-config", "readelf", "gcc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed, which building tpm2-pytss needs"
    probe = subprocess.run(
        ["pkg-config", "--exists", "tss2-esys", "tss2-tctildr"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "libtss2-dev is not installed (apt install libtss2-dev): no TPM in the package"
    return None


def _require_tss2() -> None:
    reason = _tss2_missing()
    if reason:
        # `make test` installs them on Debian as root: in CI on Linux a missing one is a failure.
        if os.environ.get("CI") == "true" and sys.platform.startswith("linux"):
            pytest.fail(reason)
        pytest.skip(reason)


def _tss2_binding(lib: Path) -> Path:
    found = sorted((lib / "tpm2_pytss").glob("_libtpm2_pytss*.so"))
    assert len(found) == 1, f"the package carries no compiled tpm2-pytss in {lib}: {found}"
    return found[0]


def _owner(soname: str) -> str:
    """Return the installed package that holds `soname` (for this machine's architecture)."""
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    search = subprocess.run(
        ["dpkg-query", "-S", f"*/{soname}"], capture_output=True, text=True, check=False
    )
    for line in search.stdout.splitlines():
        package = line.split(": ", 1)[0]
        if "," not in package and package.split(":")[-1] in (arch, package):
            return package.split(":")[0]
    raise AssertionError(f"no installed package holds {soname}: {search.stderr}")


def test_the_package_carries_tpm2_pytss_and_depends_on_the_libtss2_it_links(
    debs: list[Path], tmp_path: Path
) -> None:
    _require_tss2()
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path)], check=True)
    binding = _tss2_binding(tmp_path / PREFIX.relative_to("/") / "lib")
    dynamic = subprocess.run(
        ["readelf", "-d", str(binding)], capture_output=True, text=True, check=True
    ).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(libtss2-.+?)\]", dynamic))
    assert {"libtss2-esys.so.0", "libtss2-tctildr.so.0"} <= needed, needed
    # The TCTI of the kernel's TPM, which libtss2-tctildr loads at run time, too.
    owners = {_owner(soname) for soname in {*needed, "libtss2-tcti-device.so.0"}}
    assert owners <= _depends(debs[0]), owners - _depends(debs[0])


def test_the_packed_app_makes_a_tpm_key_under_auto(debs: list[Path], tmp_path: Path) -> None:
    """The package's own files and interpreter (-ISB, as its launcher), against swtpm."""
    _require_tss2()
    from tests.device_trust.helpers import SoftwareTpm

    tpm = SoftwareTpm(tmp_path / "tpm-state")
    tpm.start()
    try:
        unpacked = tmp_path / "deb"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
        lib = unpacked / PREFIX.relative_to("/") / "lib"
        home = tmp_path / "home"
        (home / "config-dirs").mkdir(parents=True)
        run = subprocess.run(
            ["env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
             f"XDG_CONFIG_DIRS={home / 'config-dirs'}", f"TSS2_TCTI={tpm.tcti}",
             f"/usr/bin/python{_python_version()}", "-ISB", "-c",
             "import sys; sys.path.insert(0, sys.argv.pop(1));"
             "from stethoscope_desktop.cli import main; sys.exit(main())",
             str(lib), "device-key", "--csr"],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
    finally:
        tpm.stop()
    assert run.returncode == 0, run.stderr
    key_file = home / ".local" / "share" / "stethoscope" / "device-key" / "tpm-key.blob"
    assert f"a tpm key: {key_file}" in run.stderr, run.stderr
    from cryptography import x509

    request = x509.load_pem_x509_csr(run.stdout.encode())
    assert request.is_signature_valid  # signed in the TPM by the packed tpm2-pytss


def test_the_build_without_libtss2_warns_or_fails_as_asked(
    debs: list[Path], tmp_path: Path
) -> None:
    """--tpm yes fails where tpm2-pytss cannot be built; auto packs no TPM and says so."""
    no_tss2 = {"PKG_CONFIG_LIBDIR": str(tmp_path / "nothing"), "PKG_CONFIG_PATH": ""}
    refused = _build(SAMPLE, tmp_path / "yes", "1", "--tpm", "yes", env=no_tss2)
    assert refused.returncode == 1
    assert "libtss2-dev (or pkg-config) is missing" in refused.stderr, refused.stderr
    assert not list((tmp_path / "yes").glob("*.deb"))
    built = _build(SAMPLE, tmp_path / "auto", f"3{TEST_REVISION}", env=no_tss2)
    assert built.returncode == 0, built.stderr
    assert "users of this package get software device keys" in built.stderr
    deb = Path(built.stdout.strip().splitlines()[-1])
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert "/tpm2_pytss/" not in listing
    assert not {name for name in _depends(deb) if name.startswith("libtss2")}


def _provides(package: str) -> set[str]:
    """Return the names `package` also provides (libglib2.0-0t64 provides libglib2.0-0)."""
    query = subprocess.run(
        ["dpkg-query", "-W", "-f=${Provides}", package], capture_output=True, text=True, check=False
    )
    return {item.strip().split()[0] for item in query.stdout.split(",") if item.strip()}


def test_the_build_refuses_it_files_with_problems(tmp_path: Path) -> None:
    reason = _build_tools_missing()
    if reason:
        pytest.skip(reason)
    broken = tmp_path / "it"
    shutil.copytree(SAMPLE, broken)
    (broken / "policy.yaml").write_text("firewall: SOMETIMES\n", encoding="utf-8")
    (broken / "notes.txt").write_text("not one of IT's files\n", encoding="utf-8")
    build = _build(broken, tmp_path / "out", "1")
    assert build.returncode == 1
    assert "notes.txt is not one of IT's files" in build.stderr
    assert f"{IT_FOLDER}/policy.yaml:1" in build.stderr
    assert "SOMETIMES" in build.stderr
    assert not list((tmp_path / "out").glob("*.deb"))


def _dpkg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["dpkg", *args], capture_output=True, text=True, check=True, timeout=300,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )  # fmt: skip


def _purge_and_remove_user() -> None:
    import pwd

    if _installed_version() is not None:
        _dpkg("--purge", PACKAGE)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return
    subprocess.run(["userdel", "--remove", USER], capture_output=True, check=False)


@pytest.fixture
def machine() -> Iterator[Path]:
    """A machine with no stethoscope-desktop and a normal user; cleaned up after, whatever happens."""
    reason = _install_tools_missing()
    if reason:
        pytest.skip(reason)
    import pwd

    _purge_and_remove_user()
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    try:
        yield Path(pwd.getpwnam(USER).pw_dir)
    finally:
        _purge_and_remove_user()


def _as_user(home: Path, *argv: str, env: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run argv as the test user, with the environment a login gives and nothing of ours."""
    clean = (f"HOME={home}", f"USER={USER}", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8")
    return subprocess.run(
        ["runuser", "-u", USER, "--", "env", "-i", *clean, *env, *argv],
        capture_output=True, text=True, check=False, timeout=120, cwd="/",
    )  # fmt: skip


def _scan(home: Path, *options: str) -> dict[str, Any]:
    started = time.monotonic()
    scan = _as_user(home, "stethoscope-desktop", "scan", "--json", *options)
    TIMINGS.setdefault("scan as the user", time.monotonic() - started)
    assert scan.returncode in (0, 1, 2), scan.stderr
    assert "Traceback" not in scan.stderr, scan.stderr
    report: dict[str, Any] = json.loads(scan.stdout)
    return report


def _requirements(report: dict[str, Any]) -> dict[str, str]:
    return {practice["key"]: practice["requirement"] for practice in report["practices"]}


@pytest.fixture
def osquery_autoload() -> Iterator[Path]:
    """osquery's autoload file with a line of IT's own; as it was before, after."""
    before = OSQUERY_AUTOLOAD.read_bytes() if OSQUERY_AUTOLOAD.exists() else None
    folder_existed = OSQUERY_AUTOLOAD.parent.exists()
    OSQUERY_AUTOLOAD.parent.mkdir(parents=True, exist_ok=True)
    OSQUERY_AUTOLOAD.write_text("# Example Corp's extensions\n/usr/lib/osquery/acme.ext\n")
    OSQUERY_AUTOLOAD.chmod(0o640)
    try:
        yield OSQUERY_AUTOLOAD
    finally:
        if before is not None:
            OSQUERY_AUTOLOAD.write_bytes(before)
        else:
            OSQUERY_AUTOLOAD.unlink(missing_ok=True)
            if not folder_existed:
                shutil.rmtree(OSQUERY_AUTOLOAD.parent, ignore_errors=True)


def test_install_scan_as_a_user_upgrade_remove_purge(
    debs: list[Path], it_folders: tuple[Path, Path], machine: Path, osquery_autoload: Path
) -> None:
    home = machine
    its_autoload = osquery_autoload.read_text(encoding="utf-8")
    started = time.monotonic()
    _dpkg("--install", str(debs[0]))
    TIMINGS["dpkg -i"] = time.monotonic() - started
    assert (IT_FOLDER / "policy.yaml").read_bytes() == (it_folders[0] / "policy.yaml").read_bytes()
    # Built without --osquery-extension: osquery's autoload file is left alone.
    assert osquery_autoload.read_text(encoding="utf-8") == its_autoload
    assert _osquery_would_autoload(OSQUERY_LAUNCHER)

    # The installed command, run by a normal user with no display: IT's policy is in force.
    report = _scan(home)
    # IT's policy.yaml is the whole policy: the bundled one is not in force beside it.
    bundled = f"{PREFIX}/lib/stethoscope_desktop/_data/practices"
    assert report["policy_files"][:2] == [f"{bundled}/config.yaml", f"{IT_FOLDER}/policy.yaml"]
    assert f"{IT_FOLDER}/checks.d/example-corp.yaml" in report["policy_files"]
    assert f"{IT_FOLDER}/instructions.en.yaml" in report["policy_files"]
    assert report["policy_problems"] == []
    assert report["organization"] == "Example Corp"
    requirements = _requirements(report)
    assert requirements["screenIdle"] == "<=300"  # the bundled default is <=900
    assert requirements["automaticUpdates"] == "ALWAYS"  # the bundled default is SUGGESTED
    assert "applications/transmission" in requirements
    assert "custom/example-corp-device-inventory-readable" in requirements
    screen_idle = next(p for p in report["practices"] if p["key"] == "screenIdle")
    assert screen_idle["description"].startswith("Example Corp requires")

    # The user cannot weaken it with a folder of their own.
    mine = home / "mine"
    mine.mkdir()
    (mine / "policy.yaml").write_text('screenIdle: "<=3600"\n', encoding="utf-8")
    shutil.chown(mine, USER)
    weakened = _scan(home, "--practices", str(mine))
    assert _requirements(weakened)["screenIdle"] == "<=300"
    assert any("IT's policy sets this" in problem for problem in weakened["policy_problems"])

    # The version and the bundled Qt, as the user: the tray app's libraries load.
    version = _as_user(home, "stethoscope-desktop", "--version")
    assert version.returncode == 0 and version.stdout.startswith("stethoscope-desktop "), version
    qt = _as_user(
        home, f"/usr/bin/python{_python_version()}", "-ISB", "-c",
        f"import sys; sys.path.insert(0, '{PREFIX}/lib');"
        "from PySide6.QtWidgets import QApplication; from PySide6 import QtSvg, QtNetwork;"
        "app = QApplication([]); print(app.platformName())",
        env=("QT_QPA_PLATFORM=offscreen",),
    )  # fmt: skip
    assert qt.returncode == 0 and qt.stdout.strip() == "offscreen", qt.stderr

    # The tray's scan worker, started the way the tray starts it from the installed launcher's
    # interpreter (-ISB, the package's library folder): it finds its code and answers a scan.
    worker = _as_user(
        home, f"/usr/bin/python{_python_version()}", "-ISB", "-c",
        f"import subprocess, sys; sys.path.insert(0, '{PREFIX}/lib');"
        "from stethoscope_desktop.ui.worker_client import worker_command;"
        "from stethoscope_desktop.core.protocol import Event, Scan, decode, encode;"
        "done = subprocess.run(worker_command(['--idle-seconds', '5']), capture_output=True,"
        " input=encode(Scan(1)).encode(), timeout=60);"
        "sys.stderr.write(done.stderr.decode()); event = decode(done.stdout, Event);"
        "print(type(event).__name__, event.id);"
        "sys.exit(done.returncode)",
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.strip() == "ScanReported 1", worker.stdout

    # The device key, as the user, with a TPM (swtpm): `deviceKey: auto` makes a tpm key, and
    # the installed app writes its public part where the window reads it.
    _require_tss2()
    from tests.device_trust.helpers import SoftwareTpm

    tpm = SoftwareTpm(home.parent / f"{USER}-tpm-state")
    tpm.start()
    try:
        device_key = _as_user(
            home, "stethoscope-desktop", "device-key", env=(f"TSS2_TCTI={tpm.tcti}",)
        )
    finally:
        tpm.stop()
        shutil.rmtree(tpm.state, ignore_errors=True)
    key_folder = home / ".local" / "share" / "stethoscope" / "device-key"
    assert device_key.returncode == 0, device_key.stderr
    assert f"a tpm key: {key_folder / 'tpm-key.blob'}" in device_key.stderr, device_key.stderr
    public = json.loads((key_folder / "public-key.json").read_text(encoding="utf-8"))
    assert public["keyProtection"] == "tpm"
    assert public["jwk"] == json.loads(device_key.stdout)

    # IT's policy edited on this machine, then revision 2 (which changes policy.yaml and
    # config.yaml, and no longer ships the retired checks) installed over it.
    policy = IT_FOLDER / "policy.yaml"
    edited = policy.read_text(encoding="utf-8").replace('"<=300"', '"<=120"')
    policy.write_text(edited, encoding="utf-8")
    retired_b = IT_FOLDER / "checks.d" / "retired-b.yaml"
    retired_b.write_text(retired_b.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    started = time.monotonic()
    upgrade = _dpkg("--install", "--force-confold", str(debs[1]))
    TIMINGS["dpkg -i (upgrade)"] = time.monotonic() - started
    assert _installed_version() == _fields(debs[1])["Version"]
    # Revision 2 was built with --osquery-extension: its line is added once, beside IT's, and
    # the file keeps its mode.
    assert osquery_autoload.read_text(encoding="utf-8") == f"{its_autoload}{OSQUERY_LAUNCHER}\n"
    assert stat.S_IMODE(osquery_autoload.stat().st_mode) == 0o640
    assert "osquery extension added to /etc/osquery/extensions.load" in upgrade.stdout
    assert policy.read_text(encoding="utf-8") == edited  # the local edit stays in force
    new_policy = (it_folders[1] / "policy.yaml").read_text(encoding="utf-8")
    assert Path(f"{policy}.dpkg-dist").read_text(encoding="utf-8") == new_policy
    config = (IT_FOLDER / "config.yaml").read_text(encoding="utf-8")
    assert config == (it_folders[1] / "config.yaml").read_text(encoding="utf-8")  # not edited
    assert not (IT_FOLDER / "checks.d" / "retired-a.yaml").exists()  # retired, as shipped
    assert not retired_b.exists() and Path(f"{retired_b}.dpkg-bak").exists(), upgrade.stderr
    report = _scan(home)
    assert _requirements(report)["screenIdle"] == "<=120"
    assert report["organization"] == "Example Corp (revision 2)"
    assert not any("retired" in key for key in _requirements(report))

    # Removal leaves IT's files (edited or not) as dpkg does, and takes the app, and our line
    # out of osquery's autoload file.
    _dpkg("--remove", PACKAGE)
    assert osquery_autoload.read_text(encoding="utf-8") == its_autoload
    assert not Path("/var/lib/stethoscope-desktop").exists()
    assert not Path("/usr/bin/stethoscope-desktop").exists()
    assert not PREFIX.exists()
    assert policy.read_text(encoding="utf-8") == edited
    assert (IT_FOLDER / "config.yaml").is_file()
    assert Path("/etc/xdg/autostart/stethoscope-desktop.desktop").is_file()

    # Purge removes them, with dpkg's copies and ours.
    _dpkg("--purge", PACKAGE)
    assert _installed_version() is None
    assert not IT_FOLDER.exists()
    assert not Path("/etc/xdg/autostart/stethoscope-desktop.desktop").exists()
    print("timings:", {name: f"{seconds:.1f} s" for name, seconds in TIMINGS.items()})


def test_the_shipped_autostart_entry_starts_the_app_and_a_user_can_switch_it_off(
    tmp_path: Path,
) -> None:
    system = ROOT / "packaging" / "linux" / "xdg"
    autostart = LinuxAutostart(
        ["/usr/bin/stethoscope-desktop"], config_home=tmp_path, system_dirs=[system]
    )
    assert autostart.is_enabled()
    autostart.disable()
    override = read_desktop_entry(autostart.path.read_text(encoding="utf-8"))
    assert override["Hidden"] == "true"
    assert not autostart.is_enabled()
    autostart.enable()
    assert not autostart.path.exists() and autostart.is_enabled()


@pytest.mark.parametrize(
    "entry",
    ["packaging/linux/stethoscope-desktop.desktop", "packaging/linux/xdg/autostart/stethoscope-desktop.desktop"],
)  # fmt: skip
def test_the_desktop_entries_run_the_installed_command_with_the_icon(entry: str) -> None:
    path = ROOT / entry
    keys = read_desktop_entry(path.read_text(encoding="utf-8"))
    assert keys["Type"] == "Application"
    assert keys["Exec"] == "/usr/bin/stethoscope-desktop"
    assert keys["Icon"] == "stethoscope-desktop"
    assert (ROOT / "resources" / "icons" / f"{keys['Icon']}.svg").is_file()


@pytest.mark.parametrize(
    "entry",
    ["packaging/linux/stethoscope-desktop.desktop", "packaging/linux/xdg/autostart/stethoscope-desktop.desktop", "written: on", "written: off"],
)  # fmt: skip
def test_desktop_file_validate_accepts_every_entry_shipped_or_written(
    entry: str, tmp_path: Path
) -> None:
    """Debian's validator (desktop-file-utils; `make test` installs it) takes each entry."""
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        message = "desktop-file-validate is not installed (apt install desktop-file-utils)"
        if os.environ.get("CI") == "true" and sys.platform.startswith("linux"):
            pytest.fail(message)
        pytest.skip(message)
    if entry.startswith("written"):  # the user's own autostart entry, as the tray writes it
        autostart = LinuxAutostart(["/usr/bin/stethoscope-desktop"], config_home=tmp_path)
        path = tmp_path / "stethoscope-desktop.desktop"
        path.write_text(autostart.render(hidden=entry.endswith("off")), encoding="utf-8")
    else:
        path = ROOT / entry
    check = subprocess.run([validator, str(path)], capture_output=True, text=True, check=False)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr


def test_the_package_ships_the_man_page_and_completions_of_its_parser(
    debs: list[Path], tmp_path: Path
) -> None:
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path)], check=True)
    share = tmp_path / "usr" / "share"
    man = gzip.decompress((share / "man" / "man1" / f"{PACKAGE}.1.gz").read_bytes())
    assert man.decode("ascii") == cli_docs.man_page()
    shipped = {
        "bash": share / "bash-completion" / "completions" / PACKAGE,
        "zsh": share / "zsh" / "vendor-completions" / f"_{PACKAGE}",
        "fish": share / "fish" / "vendor_completions.d" / f"{PACKAGE}.fish",
    }
    for kind, path in shipped.items():
        assert path.read_text(encoding="utf-8") == cli_docs.WRITERS[kind](), kind


# A practices folder as an organisation running Netflix's Stethoscope has it (our own files in the
# shapes of its last release): the installer builds with it unchanged.
STETHOSCOPE_POLICY = """\
osVersion:
  darwin:
    ok: ">=14.6.0"
    nudge: ">=13.6.0"
  win32:
    ok: ">=10.0.22631"
  awsWorkspace:
    ok: ">=10.0.14393"
  ubuntu:
    ok: ">=22.04.4"
  linux:
    ok: ">=22.04.4"
    nudge: ">=20.04.6"
firewall: ALWAYS
diskEncryption: ALWAYS
automaticUpdates: SUGGESTED
screenLock: IF_SUPPORTED
screenIdle: "<=300"
remoteLogin: NEVER
openWifiConnections: SUGGESTED
"""
STETHOSCOPE_CONFIG = """\
allowHosts:
  - "stethoscope://main"
hostLabels:
  - pattern: "^https://login\\\\.example\\\\.com$"
    name: Example Login
policyServer:
testHosts:
  - url: "https://login.example.com"
    label: Example Login
deprecationNotice:
  heading: >
    This checkup app is being replaced.
  subHeading:
  linkUrl:
  linkText:
"""


def test_the_build_takes_a_stethoscope_practices_folder_unchanged(tmp_path: Path) -> None:
    reason = _build_tools_missing()
    if reason:
        pytest.skip(reason)
    it = tmp_path / "it"
    it.mkdir()
    files = {
        "policy.yaml": STETHOSCOPE_POLICY,
        "config.yaml": STETHOSCOPE_CONFIG,
        "instructions.en.yaml": (ROOT / "tests/data/stethoscope/instructions-v3.en.yaml").read_text(
            encoding="utf-8"
        ),
    }
    for name, text in files.items():
        (it / name).write_text(text, encoding="utf-8")
    deb = _built(it, tmp_path / "out", "1+stethoscope")
    listing = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True, timeout=300
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(listing)) as archive:
        for name, text in files.items():
            member = archive.extractfile(f"./etc/xdg/stethoscope/{name}")
            assert member is not None and member.read().decode("utf-8") == text, name
