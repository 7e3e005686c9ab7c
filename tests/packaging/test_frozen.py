"""The PyInstaller spec bundles what the app needs, and the frozen Linux app runs.

The spec is run with stand-ins for PyInstaller's classes (it uses only the names PyInstaller
gives it), once per OS it knows, to check what it would bundle: the data folders where
`stethoscope_desktop/resources.py` looks, every module of the app, IT's osqueryd where the osquery
engine looks, a tray-only app on macOS and a console twin on Windows. `packaging/build-frozen.sh`
builds the real thing and smoke-tests it; it runs here on Linux (about 40 s).
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from stethoscope_desktop import __version__
from stethoscope_desktop.device_trust.macos_enclave import HELPER_NAME
from stethoscope_desktop.engines.factory import BUNDLED_OSQUERYD

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "stethoscope-desktop.spec"
BUILD_FROZEN = ROOT / "packaging" / "build-frozen.sh"
MAIN_SCRIPT = ROOT / "stethoscope_desktop" / "__main__.py"


class _Recorded:
    """A stand-in for one of PyInstaller's spec classes: remembers what it was given."""

    calls: list[_Recorded]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.pure: list[Any] = []
        # As PyInstaller's Analysis lists the main script (runtime hooks would come first).
        self.scripts: list[Any] = [("__main__", str(MAIN_SCRIPT), "PYSOURCE")]
        self.binaries: list[Any] = []
        self.datas: list[Any] = []
        self.calls.append(self)


def _run_spec(
    monkeypatch: pytest.MonkeyPatch, platform: str, osquery_dir: Path | None = None
) -> dict[str, list[_Recorded]]:
    recorded: dict[str, list[_Recorded]] = {}
    stand_ins: dict[str, Any] = {"SPECPATH": str(SPEC.parent)}
    for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        recorded[name] = []
        stand_ins[name] = type(name, (_Recorded,), {"calls": recorded[name]})
    if osquery_dir is None:
        monkeypatch.setenv("STETHOSCOPE_OSQUERY_DIR", str(ROOT / "no-such-folder"))
    else:
        monkeypatch.setenv("STETHOSCOPE_OSQUERY_DIR", str(osquery_dir))
    monkeypatch.delenv("STETHOSCOPE_ICON", raising=False)
    with monkeypatch.context() as patch:
        patch.setattr(sys, "platform", platform)
        runpy.run_path(str(SPEC), init_globals=stand_ins)
    return recorded


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_the_spec_bundles_the_data_folders_where_the_app_looks(
    monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    recorded = _run_spec(monkeypatch, platform)
    (analysis,) = recorded["Analysis"]
    (script,) = analysis.args[0]
    assert Path(script) == ROOT / "stethoscope_desktop" / "__main__.py"
    datas = analysis.kwargs["datas"]
    assert datas == [
        (str(ROOT / name), f"stethoscope_desktop/_data/{name}")
        for name in ("checks", "practices", "resources")
    ]
    # resources.py looks for <package>/_data/<name>.
    source = (ROOT / "stethoscope_desktop" / "resources.py").read_text(encoding="utf-8")
    assert '_PACKAGE_DIR / "_data" / name' in source
    hidden = set(analysis.kwargs["hiddenimports"])
    assert {
        "stethoscope_desktop.cli",
        "stethoscope_desktop.app",
        "stethoscope_desktop.api.server",
        "stethoscope_desktop.engines.osquery",
        "stethoscope_desktop.tables.linux",
        "stethoscope_desktop.tables.darwin",
        "stethoscope_desktop.tables.windows",
        "stethoscope_desktop.autostart.windows",
    } <= hidden
    assert not any("_data" in name or name.endswith("__init__") for name in hidden)


def test_the_linux_build_is_one_console_program(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = _run_spec(monkeypatch, "linux")
    (exe,) = recorded["EXE"]
    assert exe.kwargs["name"] == "stethoscope-desktop"
    assert exe.kwargs["console"] is True
    (collect,) = recorded["COLLECT"]
    assert collect.kwargs["name"] == "stethoscope-desktop"
    assert recorded["BUNDLE"] == []


def test_the_macos_build_is_a_tray_only_app_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = _run_spec(monkeypatch, "darwin")
    (exe,) = recorded["EXE"]
    assert exe.kwargs["console"] is False
    (bundle,) = recorded["BUNDLE"]
    assert bundle.kwargs["name"] == "Stethoscope.app"
    assert bundle.kwargs["bundle_identifier"] == "com.stethoscope.desktop"
    plist = bundle.kwargs["info_plist"]
    assert plist["LSUIElement"] is True  # no Dock icon
    assert plist["CFBundleShortVersionString"] == __version__


def test_the_windows_build_has_a_windowed_and_a_console_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded = _run_spec(monkeypatch, "win32")
    programs = {exe.kwargs["name"]: exe.kwargs["console"] for exe in recorded["EXE"]}
    assert programs == {
        "stethoscope-desktop": False,
        "stethoscope-desktop-cli": True,
        # The osquery extension: osqueryd autoloads only .exe files on Windows.
        "stethoscope_desktop.ext.exe": True,
    }
    (collect,) = recorded["COLLECT"]
    assert len([a for a in collect.args if isinstance(a, _Recorded)]) == 3


def test_the_windows_osquery_extension_runs_its_own_main_script(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The extension's program has the app's runtime hooks, and its own main script instead."""
    stand_ins: dict[str, Any] = {"SPECPATH": str(SPEC.parent)}
    hook = ("pyi_rth_example", "/hooks/pyi_rth_example.py", "PYSOURCE")
    main = ("__main__", str(MAIN_SCRIPT), "PYSOURCE")

    class Analysis(_Recorded):
        calls: list[_Recorded] = []

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.scripts = [hook, main]

    executables: list[_Recorded] = []
    stand_ins["Analysis"] = Analysis
    stand_ins["EXE"] = type("EXE", (_Recorded,), {"calls": executables})
    for name in ("PYZ", "COLLECT", "BUNDLE"):
        stand_ins[name] = type(name, (_Recorded,), {"calls": []})
    with monkeypatch.context() as patch:
        patch.setattr(sys, "platform", "win32")
        runpy.run_path(str(SPEC), init_globals=stand_ins)
    scripts = {exe.kwargs["name"]: exe.args[1] for exe in executables}
    assert scripts["stethoscope-desktop-cli"] == [hook, main]
    extension_main = ROOT / "packaging" / "windows" / "osquery_extension_main.py"
    assert scripts["stethoscope_desktop.ext.exe"] == [
        hook,
        ("osquery_extension_main", str(extension_main), "PYSOURCE"),
    ]
    assert extension_main.is_file()


def test_the_spec_refuses_an_analysis_without_the_main_script_to_replace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were PyInstaller to name the main script otherwise, the extension would run the app."""
    monkeypatch.setattr(_Recorded, "__init__", _recorded_without_main)
    with pytest.raises(SystemExit, match="no script __main__"):
        _run_spec(monkeypatch, "win32")


def _recorded_without_main(self: _Recorded, *args: Any, **kwargs: Any) -> None:
    self.args = args
    self.kwargs = kwargs
    self.pure = []
    self.scripts = [("stethoscope_desktop_main", str(MAIN_SCRIPT), "PYSOURCE")]
    self.binaries = []
    self.datas = []
    self.calls.append(self)


@pytest.mark.parametrize(
    ("platform", "key"), [("linux", "linux"), ("darwin", "darwin"), ("win32", "windows")]
)
def test_an_osqueryd_it_drops_in_is_bundled_where_the_engine_looks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str, key: str
) -> None:
    parts = BUNDLED_OSQUERYD[key]
    assert parts[0] == "osquery"
    binary = tmp_path.joinpath(*parts[1:])
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_bytes(b"osqueryd")
    (analysis,) = _run_spec(monkeypatch, platform, tmp_path)["Analysis"]
    assert analysis.kwargs["datas"][-1] == (
        str(tmp_path),
        "stethoscope_desktop/_data/resources/osquery",
    )
    # Another OS's binary is not picked up.
    other = "win32" if platform != "win32" else "linux"
    (analysis,) = _run_spec(monkeypatch, other, tmp_path)["Analysis"]
    assert len(analysis.kwargs["datas"]) == 3


def test_the_macos_build_bundles_the_secure_enclave_helper_where_the_app_looks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    helper = tmp_path / HELPER_NAME
    helper.write_bytes(b"a Mach-O executable")
    monkeypatch.setenv("STETHOSCOPE_SECURE_ENCLAVE_BINARY", str(helper))
    (analysis,) = _run_spec(monkeypatch, "darwin")["Analysis"]
    # Among the binaries at the top of the bundle: sys._MEIPASS, where macos_enclave looks.
    assert analysis.kwargs["binaries"] == [(str(helper), ".")]
    for platform in ("linux", "win32"):
        (analysis,) = _run_spec(monkeypatch, platform)["Analysis"]
        assert analysis.kwargs["binaries"] == []
    monkeypatch.setenv("STETHOSCOPE_SECURE_ENCLAVE_BINARY", str(tmp_path / "missing"))
    with pytest.raises(SystemExit, match="is not a file named stethoscope-secure-enclave"):
        _run_spec(monkeypatch, "darwin")
    monkeypatch.delenv("STETHOSCOPE_SECURE_ENCLAVE_BINARY")
    (analysis,) = _run_spec(monkeypatch, "darwin")["Analysis"]
    assert analysis.kwargs["binaries"] == []
    # build-frozen.sh compiles the Swift source and hands the result to the spec.
    script = BUILD_FROZEN.read_text(encoding="utf-8")
    assert '"$HERE/macos/secure-enclave-key/main.swift"' in script
    assert 'STETHOSCOPE_SECURE_ENCLAVE_BINARY="$enclave_helper"' in script
    assert (ROOT / "packaging" / "macos" / "secure-enclave-key" / "main.swift").is_file()


def test_the_macos_build_is_signed_with_the_identity_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STETHOSCOPE_CODESIGN_IDENTITY", raising=False)
    monkeypatch.delenv("STETHOSCOPE_ENTITLEMENTS", raising=False)
    (exe,) = _run_spec(monkeypatch, "darwin")["EXE"]
    assert exe.kwargs["codesign_identity"] is None  # ad hoc
    monkeypatch.setenv("STETHOSCOPE_CODESIGN_IDENTITY", "Developer ID Application: Example (TEAM)")
    monkeypatch.setenv("STETHOSCOPE_ENTITLEMENTS", "/path/entitlements.plist")
    (exe,) = _run_spec(monkeypatch, "darwin")["EXE"]
    assert exe.kwargs["codesign_identity"] == "Developer ID Application: Example (TEAM)"
    assert exe.kwargs["entitlements_file"] == "/path/entitlements.plist"
    assert "codesign_identity" not in _run_spec(monkeypatch, "linux")["EXE"][0].kwargs


def test_the_frozen_linux_app_runs(tmp_path: Path) -> None:
    """build-frozen.sh builds the app, and its --version, scan --json and tray app work."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the frozen build is smoke-tested here on Linux only")
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        pytest.skip(f"PyInstaller needs a Python with libpython; {sys.executable} has none")
    build = subprocess.run(
        ["bash", str(BUILD_FROZEN), str(tmp_path / "dist")],
        capture_output=True, text=True, check=False, timeout=600,
        env={**os.environ, "PYTHON": sys.executable, "BUILD_DIR": str(tmp_path / "build")},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-4000:]
    exe = Path(build.stdout.strip().splitlines()[-1])
    assert exe == tmp_path / "dist" / "stethoscope-desktop" / "stethoscope-desktop"
    assert "scan OK" in build.stderr
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"stethoscope-desktop {__version__}"
    report = subprocess.run(
        [str(exe), "scan", "--json", "--engine", "embedded"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             # No IT folder of this machine's (/etc/xdg/stethoscope where the app is installed).
             "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"), "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )  # fmt: skip
    assert report.returncode in (0, 1, 2), report.stderr
    files = json.loads(report.stdout)["policy_files"]
    assert files[0].startswith(str(exe.parent / "_internal" / "stethoscope_desktop" / "_data"))
