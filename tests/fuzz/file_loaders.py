"""The app's real loading paths, run on one generated file (`load_generated`).

What `scan`, the worker, `check-policy`, `convert-instructions` and `import-fleet` do with a file
of each format of `tests.fuzz.file_strategies`, in a folder of its own:

- IT's `config.yaml`, `policy.yaml`, `instructions.<lang>.yaml` and `checks.d/` files: loaded by
  `PracticesLoader` over the bundled practices (first with a valid file, then with the generated
  one, so that the last good version is in play), scanned by the worker's session on canned
  tables and its report sent through the tray protocol, printed as the terminal report and as
  JSON, and checked by `check-policy` (instructions also converted by `convert-instructions`);
- a Fleet file: read as `checks.d` reads it, and `import-fleet` (its options varying with the
  input), the converted file read back;
- our check definitions (`checks/*.yaml`): `load_checks` and `check-policy`;
- `state.json`: `StateStore` loads it, the notification state and the API port are read off it,
  and the next save keeps working;
- the policy server's cached policy, its metadata, and the policy the server answers with:
  `PolicyServerClient` on a cache folder, alone and under the loader.

Nothing here catches an exception: one that escapes is the finding. What the run returns is the
list of problems that are not clear: a problem that names no file it came from, or none at all.
Output goes through a strict UTF-8 stream, as a terminal's does, so a text that cannot be printed
(a lone surrogate) is found too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stethoscope_desktop.commands import (
    check_policy_command,
    convert_command,
    import_fleet_command,
)
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.custom_checks import CHECKS_FOLDER, read_checks_file
from stethoscope_desktop.core.notify import NotifyState
from stethoscope_desktop.core.policy_server import Answer, PolicyServerClient, PolicyServerError
from stethoscope_desktop.core.practices import Practices, PracticesFolder, PracticesLoader
from stethoscope_desktop.core.protocol import Event, Scan, ScanReported, decode, encode
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.state import StateStore
from stethoscope_desktop.core.yamlfile import Problem
from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.text_report import render_report
from stethoscope_desktop.worker import WorkerSession
from tests.canned import canned_linux
from tests.fuzz.file_strategies import FORMATS, POLICY_SERVER_URL, FuzzInput

# Where each format's file goes in IT's folder, and a valid one to load before it.
_IT_FILES = {
    "config": ("config.yaml", practices_dir() / "config.yaml"),
    "policy": ("policy.yaml", practices_dir() / "policy.yaml"),
    "instructions": ("instructions.de.yaml", practices_dir() / "instructions.de.yaml"),
    "checks.d": (f"{CHECKS_FOLDER}/it.yaml", FORMATS["checks.d"].seeds[0]),
}
# The app's state file and the API port it remembers there (`app.API_PORT_KEY`).
_NOTIFY_KEY = "notify"
_API_PORT_KEY = "api_port"


@dataclass
class Outcome:
    """What one run found that is not clear (empty: all clear)."""

    unclear: list[str] = field(default_factory=list)

    def check(self, problems: Iterable[Problem], allowed: Iterable[str], where: str) -> None:
        """Note each problem that names no file it came from, or says nothing."""
        names = set(allowed)
        for problem in problems:
            text = str(problem)
            if problem.file not in names:
                self.unclear.append(f"{where}: names {problem.file!r}, not the file: {text}")
            elif not problem.message.strip():
                self.unclear.append(f"{where}: an empty message: {text}")


def _unreachable(url: str, timeout: float, etag: str) -> Answer:
    raise PolicyServerError("the server cannot be reached (fuzzing: no network)", answered=False)


@contextlib.contextmanager
def _terminal() -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """Capture stdout and stderr as a terminal would take them: strict UTF-8."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err
    out.flush()
    err.flush()


class FileLoading:
    """Runs the loading paths on generated files; keeps one scanner on canned tables."""

    def __init__(self) -> None:
        self._scanner: Scanner | None = None

    @property
    def scanner(self) -> Scanner:
        """Return the scanner the worker's session uses (made once: the engine is costly)."""
        if self._scanner is None:
            engine = EmbeddedEngine(canned_linux())
            self._scanner = Scanner(engine, load_checks(checks_dir()), platform="linux")
        return self._scanner

    def close(self) -> None:
        """Close the engine."""
        if self._scanner is not None:
            self._scanner.engine.close()
            self._scanner = None

    def run(self, generated: FuzzInput, folder: Path) -> Outcome:
        """Run `generated` through the loading paths of its format, in `folder` (made empty)."""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        runs: dict[str, Callable[[FuzzInput, Path], Outcome]] = {
            "config": self._it_file,
            "policy": self._it_file,
            "instructions": self._it_file,
            "checks.d": self._it_file,
            "fleet-import": self._fleet_import,
            "check-definition": self._check_definition,
            "state.json": self._state,
            "policy-server-cache": self._policy_server_cache,
            "policy-server-meta": self._policy_server_cache,
            "policy-server-answer": self._policy_server_answer,
        }
        return runs[generated.format](generated, folder)

    # -- IT's folder -------------------------------------------------------------------------

    def _loader(
        self, it: Path, cache: Path, opener: Callable[[str, float, str], Answer] = _unreachable
    ) -> PracticesLoader:
        client = PolicyServerClient(cache, opener=opener, background=False)
        folders = [PracticesFolder("bundled", practices_dir()), PracticesFolder("machine", it)]
        return PracticesLoader(folders, "de", policy_server=client)

    def _it_file(self, generated: FuzzInput, folder: Path) -> Outcome:
        outcome = Outcome()
        it = folder / "it"
        name, valid = _IT_FILES[generated.format]
        path = it / name
        path.parent.mkdir(parents=True)
        path.write_bytes(valid.read_bytes())
        loader = self._loader(it, folder / "cache")
        loader.load()  # the valid file: its last good version
        path.write_bytes(generated.data)
        allowed = [str(path), str(it), str(path.parent), POLICY_SERVER_URL]
        practices = self._scan_as_the_worker(loader, outcome, allowed)
        outcome.check(practices.problems, [*allowed, *_policy_server(practices)], "load")
        with _terminal():
            code = check_policy_command([it])
        if code not in (0, 1):
            outcome.unclear.append(f"check-policy exited {code}")
        if generated.format == "instructions":
            with _terminal():
                code = convert_command(path, folder / "converted.yaml")
            if code not in (0, 1):
                outcome.unclear.append(f"convert-instructions exited {code}")
        return outcome

    def _scan_as_the_worker(
        self, loader: PracticesLoader, outcome: Outcome, allowed: list[str]
    ) -> Practices:
        events: list[Event] = []
        session = WorkerSession(loader, self.scanner, events.append)
        session.handle(Scan(1))
        practices = session.practices()
        reported = [event for event in events if isinstance(event, ScanReported)]
        if not reported:
            outcome.unclear.append(f"the worker reported no scan: {events!r}")
            return practices
        # The tray reads the report off the protocol's line, and starts its timer (Qt's, which
        # counts at most 2**31 - 1 ms) for the next scan.
        line = encode(reported[0])
        assert isinstance(decode(line, Event), ScanReported)
        interval = reported[0].result.settings.scan_interval_minutes
        if not 0 < interval * 60_000 < 2**31:
            outcome.unclear.append(f"the tray's timer cannot wait {interval} minutes")
        report = reported[0].result.report
        with _terminal():
            print(render_report(report, practices.instructions, colour=True), end="")
            print(report.to_json())
        return practices

    # -- Fleet's file and our check definitions ---------------------------------------------

    def _fleet_import(self, generated: FuzzInput, folder: Path) -> Outcome:
        outcome = Outcome()
        source = folder / "fleet.yml"
        source.write_bytes(generated.data)
        loaded = read_checks_file(source)
        outcome.check(loaded.problems + loaded.passed_over + loaded.notes, [str(source)], "read")
        out = folder / "converted"
        out.mkdir()
        # The options vary with the input, so that every run stays one conversion.
        platform = ("all", "linux", "darwin", "windows")[len(generated.data) % 4]
        manual = ("keep", "skip")[len(generated.data) // 4 % 2]
        keep_queries = len(generated.data) // 8 % 2 == 1
        with _terminal():
            code = import_fleet_command(
                source, platform, out, manual=manual, keep_queries=keep_queries
            )
        written = out / "fleet.yaml"
        if code == 0:
            again = read_checks_file(written)
            if again.problems:
                outcome.unclear.append(
                    "import-fleet wrote a file the app does not load cleanly: "
                    + "; ".join(str(problem) for problem in again.problems)
                )
        elif written.exists():
            outcome.unclear.append(f"import-fleet exited {code} but wrote {written}")
        return outcome

    def _check_definition(self, generated: FuzzInput, folder: Path) -> Outcome:
        outcome = Outcome()
        checks = folder / "checks"
        checks.mkdir()
        path = checks / "firewall.yaml"
        path.write_bytes(generated.data)
        loaded = load_checks(checks)
        outcome.check(loaded.problems, [str(path)], "load_checks")
        with _terminal():
            code = check_policy_command([path])
        if code not in (0, 1):
            outcome.unclear.append(f"check-policy exited {code}")
        return outcome

    # -- the app's own files ----------------------------------------------------------------

    def _state(self, generated: FuzzInput, folder: Path) -> Outcome:
        outcome = Outcome()
        path = folder / "state" / "state.json"
        path.parent.mkdir()
        path.write_bytes(generated.data)
        store = StateStore(path)
        store.remove_stale_temporaries()
        data = store.load()
        state = NotifyState.from_json(data.get(_NOTIFY_KEY))
        port = data.get(_API_PORT_KEY)
        _ = port if isinstance(port, int) and 0 < port < 65536 else None
        if not store.update({_NOTIFY_KEY: state.to_json()}):
            outcome.unclear.append("the state could not be saved after loading it")
        elif store.load().get(_NOTIFY_KEY) != state.to_json():
            outcome.unclear.append("the saved state does not read back")
        return outcome

    def _policy_server_cache(self, generated: FuzzInput, folder: Path) -> Outcome:
        """A cached copy (or its metadata) as a crash, a disk error or another version left it."""
        outcome = Outcome()
        cache = folder / "cache"
        client = PolicyServerClient(cache, opener=_unreachable, background=False)
        body_path = client._body_path(POLICY_SERVER_URL)  # the cache's own names
        meta_path = client._meta_path(POLICY_SERVER_URL)
        cache.mkdir()
        if generated.format == "policy-server-cache":
            body = generated.data
            meta = FORMATS["policy-server-meta"].seeds[0].read_bytes()
        else:
            body = FORMATS["policy-server-cache"].seeds[0].read_bytes()
            meta = generated.data
        digest = hashlib.sha256(body).hexdigest().encode()
        body_path.write_bytes(body)
        meta_path.write_bytes(meta.replace(b"<sha256>", digest))
        remote = client.policy(POLICY_SERVER_URL, max_age=3600.0)
        outcome.check(remote.problems, [POLICY_SERVER_URL], "policy server cache")
        self._under_the_loader(folder, cache, outcome)
        return outcome

    def _policy_server_answer(self, generated: FuzzInput, folder: Path) -> Outcome:
        """The policy the server answers with: checked, cached when valid, then in force."""
        outcome = Outcome()
        cache = folder / "cache"

        def answer(url: str, timeout: float, etag: str) -> Answer:
            return Answer(generated.data, etag='"fuzz"')

        client = PolicyServerClient(cache, opener=answer, background=False)
        client.refresh(POLICY_SERVER_URL)
        remote = client.policy(POLICY_SERVER_URL, max_age=3600.0)
        outcome.check(remote.problems, [POLICY_SERVER_URL], "policy server answer")
        self._under_the_loader(folder, cache, outcome, answer)
        return outcome

    def _under_the_loader(
        self,
        folder: Path,
        cache: Path,
        outcome: Outcome,
        opener: Callable[[str, float, str], Answer] = _unreachable,
    ) -> None:
        it = folder / "it"
        it.mkdir()
        (it / "config.yaml").write_text(f"policyServer: {POLICY_SERVER_URL}\n", encoding="utf-8")
        loader = self._loader(it, cache, opener)
        allowed = [str(it / "config.yaml"), str(it / "policy.yaml"), str(it), POLICY_SERVER_URL]
        practices = self._scan_as_the_worker(loader, outcome, allowed)
        outcome.check(practices.problems, allowed, "load with the policy server")


def _policy_server(practices: Practices) -> list[str]:
    """Return the policy server's URL a generated config names (its problems name it)."""
    return [practices.config.policy_server] if practices.config.policy_server else []


def load_generated(
    generated: FuzzInput, folder: Path, loading: FileLoading | None = None
) -> list[str]:
    """Run one generated file through its loading paths; return what was not clear."""
    own = loading is None
    runner = FileLoading() if loading is None else loading
    try:
        return runner.run(generated, folder).unclear
    finally:
        if own:
            runner.close()


def replay(path: Path) -> list[str]:
    """Run a saved input again (`fuzz_files.py` saves them as JSON: format, kind, hex bytes)."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    generated = FuzzInput(saved["format"], saved["kind"], bytes.fromhex(saved["data"]))
    return load_generated(generated, path.parent / "replay")
