"""Benchmark: the original Stethoscope's Linux collectors and our full scan, side by side.

Issue 16's yardstick: our full default-policy scan must take at most a third of the time the
original Stethoscope app (github.com/Netflix-Skunkworks/stethoscope-app) takes to collect the same
machine's facts. Both run here, on this machine, in one run, alternating:

- the original: its own kmd scripts (`src/sources/linux/*.sh` and subfolders such as `ubuntu/`),
  read from the original's git directory at a commit (default HEAD) into a temporary folder, run
  by its interpreter, the `kmd-script` package (`src/lib/kmd.js` and `scripts.js` wrap it), at the
  versions its `package.json`/`yarn.lock` name, installed with npm into a cache folder
  (`~/.cache/stethoscope-bench/`, never into this repository). As its server's `/raw` did, one node
  process sets kmd's environment, compiles every script once, then each scan runs them all
  concurrently (`Promise.all`, a failing script counting as empty) and deep-merges the results.
  node times each scan itself;
- ours: the full default-policy scan on the built-in engine, in-process, set up as `bench_scan.py`
  does (its `default_policy_scanner`).

After one warm-up of each, N runs of each alternate (original, ours, original, ours...); it prints
the median, min and max of each, the ratio ours/original and whether the target (at most 0.33) is
met; `--json` prints the same figures as JSON. Where node or npm is missing, or the git directory
is not the original's, it says so and exits 2. Run:
`python tests/benchmarks/bench_original_collectors.py ORIGINAL_GIT_DIR [--scans N] [--json]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_scan import default_policy_scanner

TARGET_RATIO = 0.33
EXIT_UNAVAILABLE = 2
SOURCES = "src/sources/linux"
INTERPRETER = "kmd-script"
# What the original's server needs to run its collectors: the interpreter and `extend`, with which
# it deep-merges their results.
RUNTIME_PACKAGES = (INTERPRETER, "extend")
DEFAULT_CACHE = Path.home() / ".cache" / "stethoscope-bench"
SCAN_TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 600.0

# The node side: set kmd's environment as the original's server does, compile every script once,
# then answer each "scan" line on stdin with one JSON line (the scan's milliseconds measured by node,
# each script's milliseconds from the scan's start to its result, the scripts that failed, the
# merged facts' top-level keys). Of our own writing: nothing of the original is in it.
DRIVER_JS = r"""
'use strict'
const path = require('path')
const fs = require('fs')
const readline = require('readline')
const { performance } = require('perf_hooks')
const { createRequire } = require('module')

const [modulesDir, sourcesDir] = process.argv.slice(2)
const load = createRequire(path.join(modulesDir, 'package.json'))
const { compile, run, setKmdEnv } = load('kmd-script/src')
const extend = load('extend')

setKmdEnv({
  NODE_ENV: 'production',
  FILE_BASE_PATH: path.dirname(sourcesDir) + path.sep,
  NODE_PATH: process.execPath
})

function scripts (folder, prefix) {
  let found = []
  for (const entry of fs.readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1)) {
    const name = prefix + entry.name
    if (entry.isDirectory()) found = found.concat(scripts(path.join(folder, entry.name), name + '/'))
    else if (entry.name.endsWith('.sh')) found.push({ name, file: path.join(folder, entry.name) })
  }
  return found
}

const checks = scripts(sourcesDir, '').map(({ name, file }) => {
  try {
    return { name, fn: compile(fs.readFileSync(file, 'utf8')) }
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: `${name} does not compile: ${error.message}` }) + '\n')
    process.exit(1)
  }
})

async function scan () {
  const failed = []
  const scripts = {}
  const started = performance.now()
  const promises = checks.map(async ({ name, fn }) => {
    try {
      return await run(fn)
    } catch (error) {
      failed.push(`${name}: ${String(error.message).split('\n')[0]}`)
      return ''
    } finally {
      scripts[name] = performance.now() - started
    }
  })
  const checkData = await Promise.all(promises)
  const merged = extend(true, {}, ...checkData)
  const ms = performance.now() - started
  return { ms, scripts, failed, keys: Object.keys(merged).sort() }
}

process.stdout.write(JSON.stringify({ ready: checks.map(check => check.name) }) + '\n')
const lines = readline.createInterface({ input: process.stdin })
lines.on('line', async line => {
  if (line.trim() !== 'scan') return
  process.stdout.write(JSON.stringify(await scan()) + '\n')
})
lines.on('close', () => process.exit(0))
"""


class Unavailable(Exception):
    """The original cannot be run here; the message says why and what to do."""


@dataclass(frozen=True)
class Original:
    """The original's collectors and runtime versions, read from its git directory at a commit."""

    git_dir: Path
    commit: str
    commit_date: str
    scripts: dict[str, str]  # path under src/sources/linux/ -> the script's text
    runtime: dict[str, str]  # runtime package -> version (or range, without a yarn.lock entry)
    pins: dict[str, str] = field(default_factory=dict)  # their dependencies, from yarn.lock


def git(git_dir: Path, *args: str) -> str:
    """Run git on `git_dir` and return its output; Unavailable when git fails."""
    try:
        result = subprocess.run(
            ["git", f"--git-dir={git_dir}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError as error:
        raise Unavailable("git is not installed: it reads the original's files") from error
    if result.returncode != 0:
        raise Unavailable(
            f"git --git-dir={git_dir} {' '.join(args)} failed: {result.stderr.strip()}"
        )
    return result.stdout


def not_original(git_dir: Path, commit: str, what: str) -> Unavailable:
    """The error for a git directory that is not the original Stethoscope app's."""
    return Unavailable(
        f"{git_dir} at {commit} is not the original Stethoscope app "
        f"(github.com/Netflix-Skunkworks/stethoscope-app): {what}. Give the git directory of a "
        "clone of it (a bare clone, or a clone's .git folder)."
    )


def parse_yarn_lock(text: str) -> dict[str, tuple[str, dict[str, str]]]:
    """A yarn v1 lock file as {"name@range": (version, {dependency: range})}."""
    entries: dict[str, tuple[str, dict[str, str]]] = {}
    specs: list[str] = []
    version = ""
    dependencies: dict[str, str] = {}
    section = ""

    def close() -> None:
        for spec in specs:
            entries[spec] = (version, dict(dependencies))

    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if indent == 0:
            close()
            specs = [part.strip().strip('"') for part in stripped.rstrip(":").split(",")]
            version, dependencies, section = "", {}, ""
        elif indent == 2:
            key, _, value = stripped.partition(" ")
            section = key.rstrip(":") if stripped.endswith(":") else ""
            if key == "version":
                version = value.strip('"')
        elif indent == 4 and section in ("dependencies", "optionalDependencies"):
            name, _, wanted = stripped.partition(" ")
            dependencies[name.strip('"')] = wanted.strip('"')
    close()
    return entries


def runtime_versions(
    package_json: dict[str, Any], yarn_lock: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The runtime packages' versions and their dependencies' pins, as the original locked them.

    Without a yarn.lock entry a package keeps package.json's range. A dependency locked at more than
    one version within the runtime's tree is left to npm (within its ranges).
    """
    wanted = package_json.get("dependencies", {})
    entries = parse_yarn_lock(yarn_lock) if yarn_lock else {}
    runtime: dict[str, str] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    visited: set[str] = set()
    pending: list[str] = []
    for name in RUNTIME_PACKAGES:
        spec = f"{name}@{wanted[name]}"
        runtime[name] = entries[spec][0] if spec in entries else str(wanted[name])
        pending.append(spec)
    while pending:
        spec = pending.pop()
        if spec in visited or spec not in entries:
            continue
        visited.add(spec)
        version, dependencies = entries[spec]
        seen[spec.rsplit("@", 1)[0]].add(version)
        pending.extend(f"{name}@{wanted_range}" for name, wanted_range in dependencies.items())
    pins = {
        name: next(iter(versions))
        for name, versions in sorted(seen.items())
        if len(versions) == 1 and name not in RUNTIME_PACKAGES
    }
    return runtime, pins


def read_original(git_dir: Path, commit: str) -> Original:
    """Read the original's Linux collectors and runtime versions at `commit`."""
    if not git_dir.exists():
        raise Unavailable(f"{git_dir} does not exist: give the original's git directory")
    if (git_dir / ".git").exists():  # a clone's working folder: its git directory
        git_dir = git_dir / ".git"
    try:
        git(git_dir, "rev-parse", "--git-dir")
    except Unavailable as error:
        raise Unavailable(
            f"{git_dir} is not a git directory: give the git directory of a clone of "
            "github.com/Netflix-Skunkworks/stethoscope-app"
        ) from error
    try:
        resolved = git(git_dir, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    except Unavailable as error:
        raise Unavailable(f"{git_dir} has no commit {commit!r}") from error
    resolved = resolved.strip()
    names = git(git_dir, "ls-tree", "-r", "--name-only", resolved).splitlines()
    if "src/lib/kmd.js" not in names:
        raise not_original(git_dir, resolved[:12], "it has no src/lib/kmd.js")
    if "package.json" not in names:
        raise not_original(git_dir, resolved[:12], "it has no package.json")
    try:
        package_json = json.loads(git(git_dir, "show", f"{resolved}:package.json"))
    except json.JSONDecodeError as error:
        raise not_original(
            git_dir, resolved[:12], f"its package.json is not JSON ({error})"
        ) from error
    if not isinstance(package_json, dict) or not isinstance(
        package_json.get("dependencies", {}), dict
    ):
        raise not_original(git_dir, resolved[:12], "its package.json has no dependencies object")
    missing = [
        name for name in RUNTIME_PACKAGES if name not in package_json.get("dependencies", {})
    ]
    if missing:
        raise not_original(
            git_dir, resolved[:12], f"its package.json does not depend on {', '.join(missing)}"
        )
    scripts = {
        str(PurePosixPath(name).relative_to(SOURCES)): git(git_dir, "show", f"{resolved}:{name}")
        for name in names
        if name.startswith(SOURCES + "/") and name.endswith(".sh")
    }
    if not scripts:
        raise not_original(git_dir, resolved[:12], f"it has no {SOURCES}/*.sh")
    yarn_lock = git(git_dir, "show", f"{resolved}:yarn.lock") if "yarn.lock" in names else None
    runtime, pins = runtime_versions(package_json, yarn_lock)
    commit_date = git(git_dir, "show", "-s", "--format=%cs", resolved).strip()
    return Original(git_dir, resolved, commit_date, scripts, runtime, pins)


def install_runtime(original: Original, cache: Path) -> Path:
    """Install the original's runtime with npm into a folder of `cache` (once); its node_modules."""
    recipe = json.dumps({"runtime": original.runtime, "pins": original.pins}, sort_keys=True)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    folder = cache / f"{INTERPRETER}-{original.runtime[INTERPRETER]}-{digest}"
    modules = folder / "node_modules"
    if (modules / INTERPRETER / "package.json").is_file() and (folder / "installed").is_file():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable(
            "npm is not installed: it installs the original's interpreter (kmd-script) into "
            f"{cache}. Install npm (Debian: apt-get install npm), or give --node-modules."
        )
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "stethoscope-bench-original",
        "private": True,
        "description": "The original Stethoscope's kmd runtime, for bench_original_collectors.py",
        "dependencies": original.runtime,
        "overrides": original.pins,
    }
    (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    command = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev"]
    try:
        result = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise Unavailable(f"npm install in {folder} took over {INSTALL_TIMEOUT_S:.0f} s") from error
    if result.returncode != 0 or not (modules / INTERPRETER / "package.json").is_file():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise Unavailable(f"npm install in {folder} failed:\n{tail}")
    (folder / "installed").write_text(recipe + "\n", encoding="utf-8")
    return modules


class OriginalCollectors:
    """One node process that compiled the original's scripts once and runs them on request."""

    def __init__(self, node: str, modules: Path, scripts: dict[str, str], folder: Path) -> None:
        sources = folder / "sources" / "linux"
        for name, text in scripts.items():
            path = sources / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        driver = folder / "driver.js"
        driver.write_text(DRIVER_JS, encoding="utf-8")
        self._process = subprocess.Popen(
            [node, str(driver), str(modules.resolve()), str(sources)],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ready = self._answer()
        if "ready" not in ready:
            self.close()
            raise RuntimeError(f"the original's scripts did not start: {ready.get('error', ready)}")
        self.scripts: list[str] = ready["ready"]

    def _answer(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        readable, _, _ = select.select([self._process.stdout], [], [], SCAN_TIMEOUT_S)
        line = self._process.stdout.readline() if readable else ""
        if not line:
            code = self._process.poll()
            raise RuntimeError(
                f"node gave no answer within {SCAN_TIMEOUT_S:.0f} s"
                if code is None
                else f"node left with exit code {code}"
            )
        answer: dict[str, Any] = json.loads(line)
        return answer

    def scan(self) -> dict[str, Any]:
        """Run every script concurrently once; node's figures for that scan."""
        assert self._process.stdin is not None
        self._process.stdin.write("scan\n")
        self._process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        """Stop the node process."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def spread(durations: list[float]) -> dict[str, float]:
    """Median, min and max of `durations` (milliseconds)."""
    return {
        "median_ms": statistics.median(durations),
        "min_ms": min(durations),
        "max_ms": max(durations),
    }


def figures(
    original: Original,
    node_version: str,
    original_runs: list[dict[str, Any]],
    our_runs: list[float],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    """The benchmark's figures (what both outputs show)."""
    theirs = spread([run["ms"] for run in original_runs])
    ours = spread(our_runs)
    per_script: dict[str, list[float]] = defaultdict(list)
    failed: set[str] = set()
    for run in original_runs:
        for name, ms in run["scripts"].items():
            per_script[name].append(ms)
        failed.update(run["failed"])
    ratio = ours["median_ms"] / theirs["median_ms"] if theirs["median_ms"] > 0 else float("inf")
    return {
        "scans": len(our_runs),
        "original": {
            "repository": "github.com/Netflix-Skunkworks/stethoscope-app",
            "commit": original.commit,
            "commit_date": original.commit_date,
            "scripts": len(original.scripts),
            "runtime": original.runtime,
            "node": node_version,
            **theirs,
            "per_script_median_ms": {
                name: statistics.median(times) for name, times in sorted(per_script.items())
            },
            "failed_scripts": sorted(failed),
            "facts": original_runs[-1]["keys"],
        },
        "ours": {"scan": "full default-policy scan, embedded engine, in-process", **ours},
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
        "load_average": {"before": list(load_before), "after": list(load_after)},
    }


def print_figures(result: dict[str, Any]) -> None:
    """Print the figures for a person."""
    original = result["original"]
    runtime = ", ".join(f"{name} {version}" for name, version in original["runtime"].items())
    print(
        f"the original Stethoscope's Linux collectors against our full default-policy scan, "
        f"{result['scans']} runs each, alternating"
    )
    print(
        f"  original: {original['repository']} at {original['commit'][:12]} "
        f"({original['commit_date']}), {original['scripts']} kmd scripts compiled once, run "
        f"concurrently in one node process ({original['node']}; {runtime})"
    )
    for label, key in (("original", "original"), ("ours    ", "ours")):
        figure = result[key]
        print(
            f"  {label}  median {figure['median_ms']:6.1f} ms   min {figure['min_ms']:6.1f} ms   "
            f"max {figure['max_ms']:6.1f} ms"
        )
    print(f"  ratio ours/original (medians): {result['ratio']:.2f}")
    print(
        f"  target: at most {result['target_ratio']:.2f} -> "
        f"{'met' if result['target_met'] else 'NOT met'}"
    )
    print("  original per script (median ms from the scan's start to its result):")
    for name, ms in sorted(original["per_script_median_ms"].items(), key=lambda item: -item[1]):
        print(f"    {name:<32} {ms:7.2f}")
    print(f"  the original's facts (merged, top level): {', '.join(original['facts'])}")
    if original["failed_scripts"]:
        print("  original scripts that failed here (its server counts them as empty):")
        for failure in original["failed_scripts"]:
            print(f"    {failure}")
    before, after = result["load_average"]["before"], result["load_average"]["after"]
    print(
        "  load average before: "
        + " ".join(f"{value:.2f}" for value in before)
        + "   after: "
        + " ".join(f"{value:.2f}" for value in after)
    )


def measure(original: Original, node: str, modules: Path, scans: int) -> dict[str, Any]:
    """Warm both up, then alternate `scans` runs of each; the figures."""
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    scanner, practices = default_policy_scanner()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="stethoscope-original-") as folder:
        collectors = OriginalCollectors(node, modules, original.scripts, Path(folder))
        try:
            collectors.scan()  # warm-up: node's JIT, the commands' first runs
            scanner.scan(practices)  # warm-up: imports, first file reads
            original_runs: list[dict[str, Any]] = []
            our_runs: list[float] = []
            for _ in range(scans):
                original_runs.append(collectors.scan())
                started = time.perf_counter()
                scanner.scan(practices)
                our_runs.append((time.perf_counter() - started) * 1000)
        finally:
            collectors.close()
    return figures(original, version, original_runs, our_runs, load_before, os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("git_dir", type=Path, help="the original stethoscope-app's git directory")
    parser.add_argument("--commit", default="HEAD", help="the original's commit (default HEAD)")
    parser.add_argument("--scans", type=int, default=30, help="runs of each (default 30)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"where npm installs the original's interpreter (default {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--node-modules",
        type=Path,
        help="a node_modules folder that already has kmd-script and extend (no npm install)",
    )
    args = parser.parse_args(argv)
    if args.scans < 1:
        parser.error("--scans must be at least 1")
    try:
        node = shutil.which("node")
        if node is None:
            raise Unavailable(
                "node is not installed: it runs the original's collectors. Install Node.js "
                "(Debian: apt-get install nodejs npm)."
            )
        original = read_original(args.git_dir, args.commit)
        if args.node_modules is not None:
            if not (args.node_modules / INTERPRETER).is_dir():
                raise Unavailable(f"{args.node_modules} has no {INTERPRETER} folder")
            modules = args.node_modules
        else:
            modules = install_runtime(original, args.cache)
    except Unavailable as error:
        print(f"bench_original_collectors: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    result = measure(original, node, modules, args.scans)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_figures(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
