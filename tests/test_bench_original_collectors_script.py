"""The benchmark against the original Stethoscope's collectors keeps working.

Its figures are read by people, not asserted here. The original is never needed: the test builds a
tiny fake "original" git repository (package.json, yarn.lock, src/lib/kmd.js, kmd scripts in
src/sources/linux/ and a subfolder) and a fake kmd runtime of its own writing in a node_modules
folder, which the benchmark runs with node instead of the real kmd-script.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.bench_original_collectors import (
    EXIT_UNAVAILABLE,
    Original,
    figures,
    print_figures,
    read_original,
    runtime_versions,
)

SCRIPT = Path(__file__).parent / "benchmarks" / "bench_original_collectors.py"

PACKAGE_JSON = {
    "name": "Stethoscope",
    "dependencies": {"kmd-script": "^0.0.11", "extend": "^3.0.2", "react": "^16.2.0"},
}

YARN_LOCK = """\
# yarn lockfile v1


"@scope/helper@^1.0.0":
  version "1.2.0"

extend@^3.0.0, extend@^3.0.2:
  version "3.0.2"
  resolved "https://registry.example/extend-3.0.2.tgz"

kmd-script@^0.0.11:
  version "0.0.11"
  dependencies:
    "@scope/helper" "^1.0.0"
    extend "^3.0.2"
    twice "^1.0.0"
    shelljs "^0.8.3"

react@^16.2.0:
  version "16.14.0"

shelljs@^0.8.3:
  version "0.8.5"
  dependencies:
    twice "^2.0.0"
  optionalDependencies:
    optional-one "~1.0.0"

optional-one@~1.0.0:
  version "1.0.4"

twice@^1.0.0:
  version "1.4.0"

twice@^2.0.0:
  version "2.1.0"
"""

# A fake kmd interpreter: `compile` turns a script's "save key=value" lines into an async function
# that returns {key: value}; a script with a line "fail" rejects when run, as a missing command does.
FAKE_KMD = r"""
'use strict'
const compile = source => {
  const lines = source.split('\n').map(line => line.trim()).filter(line => line && !line.startsWith('#'))
  return async () => {
    if (lines.includes('fail')) throw new Error('spawn nosuchcommand ENOENT')
    const facts = {}
    for (const line of lines) {
      const match = /^save (\w+)=(.*)$/.exec(line)
      if (match) facts[match[1]] = match[2]
    }
    return facts
  }
}
const run = async fn => fn()
const setKmdEnv = env => { for (const key in env) process.env[key] = env[key] }
module.exports = { compile, run, setKmdEnv }
"""

FAKE_EXTEND = """
'use strict'
module.exports = (deep, target, ...sources) => Object.assign(target, ...sources.filter(Boolean))
"""


def git(folder: Path, *args: str) -> None:
    """Run git in `folder` with a fixed identity."""
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


def fake_original(tmp_path: Path, *, with_kmd: bool = True) -> Path:
    """A tiny git repository shaped like the original Stethoscope app; its git directory."""
    repo = tmp_path / "original"
    files = {
        "package.json": json.dumps(PACKAGE_JSON),
        "yarn.lock": YARN_LOCK,
        "src/sources/linux/hostname.sh": "#!/usr/bin/env kmd\nsave hostname=fake-host\n",
        "src/sources/linux/firewall.sh": "#!/usr/bin/env kmd\nfail\n",
        "src/sources/linux/ubuntu/updates.sh": "#!/usr/bin/env kmd\nsave updates=on\n",
        "src/sources/darwin/os.sh": "#!/usr/bin/env kmd\nsave darwin=yes\n",
    }
    if with_kmd:
        files["src/lib/kmd.js"] = "// the fake original's kmd wrapper\n"
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "fake original")
    return repo / ".git"


def fake_node_modules(tmp_path: Path) -> Path:
    """A node_modules folder with the fake kmd interpreter and extend."""
    modules = tmp_path / "node_modules"
    (modules / "kmd-script" / "src").mkdir(parents=True)
    (modules / "kmd-script" / "package.json").write_text('{"name": "kmd-script"}')
    (modules / "kmd-script" / "src" / "index.js").write_text(FAKE_KMD)
    (modules / "extend").mkdir()
    (modules / "extend" / "index.js").write_text(FAKE_EXTEND)
    return modules


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )


def two_script_original() -> Original:
    """An original with two scripts, for the figures' own tests."""
    return Original(
        Path("/x"), "c" * 40, "2022-06-06", {"a.sh": "", "b.sh": ""}, {"kmd-script": "0"}
    )


def test_runtime_versions_follow_the_originals_yarn_lock() -> None:
    runtime, pins = runtime_versions(PACKAGE_JSON, YARN_LOCK)
    assert runtime == {"kmd-script": "0.0.11", "extend": "3.0.2"}
    # the runtime's dependencies at their locked versions; one locked at two versions is npm's to
    # choose, and what the runtime does not need (react) is not installed
    assert pins == {"@scope/helper": "1.2.0", "optional-one": "1.0.4", "shelljs": "0.8.5"}


def test_without_a_yarn_lock_the_package_json_ranges_are_kept() -> None:
    runtime, pins = runtime_versions(PACKAGE_JSON, None)
    assert runtime == {"kmd-script": "^0.0.11", "extend": "^3.0.2"}
    assert pins == {}


def test_the_originals_linux_scripts_are_read_from_git_with_their_subfolders(
    tmp_path: Path,
) -> None:
    original = read_original(fake_original(tmp_path), "HEAD")
    assert sorted(original.scripts) == ["firewall.sh", "hostname.sh", "ubuntu/updates.sh"]
    assert "save hostname=fake-host" in original.scripts["hostname.sh"]
    assert len(original.commit) == 40


def test_a_git_directory_that_is_not_the_originals_is_refused_clearly(tmp_path: Path) -> None:
    result = run_script(str(fake_original(tmp_path, with_kmd=False)), "--scans", "1")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "is not the original Stethoscope app" in result.stderr
    assert "src/lib/kmd.js" in result.stderr


def test_a_folder_that_is_no_git_directory_is_refused_clearly(tmp_path: Path) -> None:
    result = run_script(str(tmp_path), "--scans", "1")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "is not a git directory" in result.stderr


def test_a_missing_commit_is_refused_clearly(tmp_path: Path) -> None:
    result = run_script(str(fake_original(tmp_path)), "--commit", "no-such-commit")
    assert result.returncode == EXIT_UNAVAILABLE
    assert "has no commit 'no-such-commit'" in result.stderr


def test_without_node_it_says_so(tmp_path: Path) -> None:
    git_dir = fake_original(tmp_path)
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    git_program = shutil.which("git")
    assert git_program is not None
    (bin_folder / "git").symlink_to(git_program)
    result = run_script(str(git_dir), env={**os.environ, "PATH": str(bin_folder)})
    assert result.returncode == EXIT_UNAVAILABLE
    assert "node is not installed" in result.stderr


def test_the_figures_are_printed_with_ratio_and_target(capsys: pytest.CaptureFixture[str]) -> None:
    original_runs = [
        {"ms": ms, "scripts": {"a.sh": ms - 1, "b.sh": 1.0}, "failed": [], "keys": ["a"]}
        for ms in (40.0, 60.0, 50.0)
    ]
    result = figures(
        two_script_original(), "v20", original_runs, [10.0, 20.0, 15.0], (0.5, 0.4, 0.3), (0.6,) * 3
    )
    assert result["original"]["median_ms"] == 50.0
    assert result["ours"]["median_ms"] == 15.0
    assert result["ratio"] == pytest.approx(0.3)
    assert result["target_met"] is True
    print_figures(result)
    out = capsys.readouterr().out
    assert "original  median   50.0 ms   min   40.0 ms   max   60.0 ms" in out
    assert "ours      median   15.0 ms   min   10.0 ms   max   20.0 ms" in out
    assert "ratio ours/original (medians): 0.30" in out
    assert "target: at most 0.33 -> met" in out
    assert "load average before: 0.50 0.40 0.30" in out


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the original's collectors")
def test_the_benchmark_runs_the_fake_original_and_our_scan_side_by_side(tmp_path: Path) -> None:
    git_dir = fake_original(tmp_path)
    modules = fake_node_modules(tmp_path)
    result = run_script(str(git_dir), "--scans", "2", "--node-modules", str(modules), "--json")
    assert result.returncode == 0, result.stderr
    figures_json = json.loads(result.stdout)
    original = figures_json["original"]
    assert figures_json["scans"] == 2
    assert original["scripts"] == 3
    assert original["facts"] == ["hostname", "updates"]  # both scripts ran and were merged
    assert original["failed_scripts"] == ["firewall.sh: spawn nosuchcommand ENOENT"]
    assert set(original["per_script_median_ms"]) == {
        "firewall.sh",
        "hostname.sh",
        "ubuntu/updates.sh",
    }
    assert original["runtime"] == {"kmd-script": "0.0.11", "extend": "3.0.2"}
    assert figures_json["ours"]["median_ms"] > 0
    assert figures_json["target_met"] == (figures_json["ratio"] <= 0.33)

    printed = run_script(str(git_dir), "--scans", "1", "--node-modules", str(modules))
    assert printed.returncode == 0, printed.stderr
    assert "ratio ours/original (medians)" in printed.stdout
    assert "3 kmd scripts compiled once" in printed.stdout
