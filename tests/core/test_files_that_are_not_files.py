"""IT's files that are not regular files (a named pipe, a folder, a broken link) are reported.

A named pipe with no writer blocks `open` and a read forever: `check-policy`, `scan` and
`import-fleet` hung on one. Each is now named as what it is and not read; the rest applies.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stethoscope_desktop.core.practices import PracticesFolder, PracticesLoader
from stethoscope_desktop.core.yamlfile import YamlFileError, load_yaml
from stethoscope_desktop.resources import practices_dir

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # A generous limit: before the fix these never ended.
    return subprocess.run(
        [sys.executable, "-m", "stethoscope_desktop", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})},
    )


def test_a_named_pipe_is_refused_without_reading(tmp_path: Path) -> None:
    pipe = tmp_path / "policy.yaml"
    os.mkfifo(pipe)
    with pytest.raises(YamlFileError) as raised:
        load_yaml(pipe)
    assert (
        str(raised.value.problem) == f"{pipe}: cannot read: it is a named pipe, not a regular file"
    )


def test_a_folder_named_as_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").mkdir()
    with pytest.raises(YamlFileError, match="cannot read: it is a folder, not a regular file"):
        load_yaml(tmp_path / "config.yaml")


def test_the_loader_reports_a_pipe_and_a_broken_link_instead_of_ignoring_them(
    tmp_path: Path,
) -> None:
    it = tmp_path / "it"
    it.mkdir()
    os.mkfifo(it / "policy.yaml")
    (it / "instructions.en.yaml").symlink_to(tmp_path / "gone.yaml")
    loader = PracticesLoader(
        [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", it)]
    )
    problems = [str(problem) for problem in loader.load().problems]
    assert f"{it / 'policy.yaml'}: cannot read: it is a named pipe, not a regular file" in problems
    assert any(p.startswith(f"{it / 'instructions.en.yaml'}: cannot read") for p in problems)


def test_check_policy_scan_and_import_fleet_end_on_a_named_pipe(tmp_path: Path) -> None:
    folder = tmp_path / "it" / "stethoscope"
    (folder / "checks.d").mkdir(parents=True)
    os.mkfifo(folder / "policy.yaml")
    os.mkfifo(folder / "checks.d" / "pipe.yaml")
    os.mkfifo(tmp_path / "fleet.yml")

    checked = _run("check-policy", str(folder))
    assert checked.returncode == 1
    assert "policy.yaml: cannot read: it is a named pipe, not a regular file" in checked.stdout
    assert "pipe.yaml: cannot read: it is a named pipe, not a regular file" in checked.stdout

    scanned = _run("scan", "--json", env={"XDG_CONFIG_DIRS": str(tmp_path / "it")})
    assert "policy.yaml: cannot read: it is a named pipe" in scanned.stdout, scanned.stderr[-2000:]

    imported = _run("import-fleet", str(tmp_path / "fleet.yml"))
    assert imported.returncode == 1
    assert "fleet.yml: cannot read: it is a named pipe, not a regular file" in imported.stderr
    assert "no such file" not in imported.stderr
