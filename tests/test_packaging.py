"""The wheel carries checks/, practices/ and resources/, and the app finds them there."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_data_and_scans_from_it(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # setuptools' warnings (the build backend's output, shown by --verbose): a deprecated
    # declaration, a data folder "absent from the packages configuration".
    warnings = re.findall(
        r"^.*(?:Setuptools\w*Warning|BuildBackendWarning|would be ignored).*$",
        build.stdout + build.stderr,
        re.MULTILINE,
    )
    assert not warnings, "\n".join(warnings)
    (wheel,) = (tmp_path / "dist").glob("stethoscope_desktop-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("checks", "practices", "resources"):
        for source in (ROOT / folder).rglob("*"):
            if source.is_file():
                assert f"stethoscope_desktop/_data/{source.relative_to(ROOT)}" in names
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    code = (
        "from stethoscope_desktop.resources import checks_dir, practices_dir, resources_dir;"
        "print(checks_dir()); print(practices_dir()); print(resources_dir())"
    )
    where = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=tmp_path, env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
    ).stdout.split()  # fmt: skip
    assert where == [
        str(installed / "stethoscope_desktop" / "_data" / f)
        for f in ("checks", "practices", "resources")
    ]
    scan = subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", "scan", "--json", "--engine", "embedded"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
             # No IT folder of this machine's (/etc/xdg/stethoscope where the app is installed).
             "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"), "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )  # fmt: skip
    assert scan.returncode in (0, 1, 2), scan.stderr
    assert all(str(installed) in f for f in json.loads(scan.stdout)["policy_files"])
