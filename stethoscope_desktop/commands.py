"""What the subcommands of `stethoscope-desktop` do.

`scan`, `serve`, `check-policy`, `convert-instructions`, `import-fleet`, `device-key`,
`verify-token`, and the report printed where the window cannot open.

`cli` parses the command line and imports this module only for these commands, so that the tray
app (no subcommand) starts without the YAML, policy and engine code it leaves to its scan worker.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stethoscope_desktop.core.checks import load_checks, parse_check
from stethoscope_desktop.core.config import parse_config
from stethoscope_desktop.core.custom_checks import (
    CHECKS_FOLDER,
    CustomCheck,
    checks_files,
    dump_checks,
    import_fleet,
    read_checks_file,
    scripts_not_run,
)
from stethoscope_desktop.core.instructions import file_language, parse_instructions
from stethoscope_desktop.core.platforms import current_platform, running_as_admin
from stethoscope_desktop.core.policy import CUSTOM_CHECKS_KEY, PolicyLayer, parse_policy
from stethoscope_desktop.core.policy_server import PolicyServerClient
from stethoscope_desktop.core.practices import (
    POLICY_FILE,
    Practices,
    PracticesLoader,
    practices_folders,
    system_language,
    with_folder_checks,
)
from stethoscope_desktop.core.query_corrections import CORRECTED_PREFIX
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.report_store import last_report_path, save_last_report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.stethoscope_instructions import ConversionNote, convert_stethoscope
from stethoscope_desktop.core.yamlfile import Problem, YamlFileError, load_yaml, parse_yaml
from stethoscope_desktop.engines.factory import EngineUnavailable, create_engine
from stethoscope_desktop.resources import checks_dir, practices_dir

EXIT_CODES = {Status.PASS: 0, Status.NUDGE: 1, Status.FAIL: 2, Status.UNKNOWN: 3}
EXIT_COULD_NOT_SCAN = 3
EXIT_COULD_NOT_LISTEN = 4


def practices_loader(args: argparse.Namespace, *, fetch_now: bool = False) -> PracticesLoader:
    """Return the loader; `fetch_now` waits for a due policy server fetch instead of starting it."""
    folders = practices_folders(practices_dir(), getattr(args, "practices", None))
    language = getattr(args, "lang", None) or system_language()
    client = PolicyServerClient(background=not fetch_now)
    return PracticesLoader(folders, language, policy_server=client)


def open_scanner(args: argparse.Namespace, practices: Practices) -> Scanner | str:
    """Return a scanner on the engine `--engine` or config.yaml chose, or why there is none.

    The caller closes `scanner.engine` when done.
    """
    platform = current_platform()
    choice = getattr(args, "engine", None) or practices.config.engine
    try:
        engine = create_engine(choice, platform, osquery_path=practices.config.osquery_path)
    except EngineUnavailable as error:
        return f"cannot use the {choice} engine: {error}"
    return Scanner(
        engine, load_checks(checks_dir()), platform=platform, running_as_admin=running_as_admin()
    )


def open_fake_root_scanner(args: argparse.Namespace) -> Scanner | str | None:
    """Return a scanner reading the fake root of `scan --root` or STETHOSCOPE_ROOT, if one is given.

    The Linux tables read the folder and its recorded commands (tables/recorded_root.py) on the
    built-in engine: osqueryd would read this machine. None when no fake root is given.
    """
    from stethoscope_desktop.engines.embedded import EmbeddedEngine
    from stethoscope_desktop.tables.catalog import builtin_tables
    from stethoscope_desktop.tables.recorded_root import (
        ROOT_ENV,
        RecordedRootError,
        load_recorded_root,
    )

    root = getattr(args, "root", None) or os.environ.get(ROOT_ENV)
    if not root:
        return None
    if getattr(args, "engine", None) == "osquery":
        return (
            f"a fake root ({root}) is read by the built-in engine only: osqueryd reads this machine"
        )
    try:
        system = load_recorded_root(root)
    except RecordedRootError as error:
        return f"cannot scan the fake root: {error}"
    engine = EmbeddedEngine(
        builtin_tables("linux", system), reason=f"the fake root {root}", platform="linux"
    )
    return Scanner(
        engine, load_checks(checks_dir()), platform="linux", running_as_admin=system.admin
    )


def run_scan(args: argparse.Namespace) -> tuple[Report, PracticesLoader] | str:
    """Load practices and checks, scan once; return the report or why it could not scan."""
    loader = practices_loader(args, fetch_now=True)
    practices = loader.load()
    scanner = open_fake_root_scanner(args)
    if scanner is None:
        scanner = open_scanner(args, practices)
    if isinstance(scanner, str):
        return scanner
    try:
        return scanner.scan(practices), loader
    finally:
        scanner.engine.close()


def scan_command(args: argparse.Namespace, *, note: str = "") -> int:
    outcome = run_scan(args)
    if isinstance(outcome, str):
        print(f"stethoscope-desktop: {outcome}", file=sys.stderr)
        return EXIT_COULD_NOT_SCAN
    report, loader = outcome
    if getattr(args, "save", False):
        # On stderr, so `scan --save --json` still prints JSON alone; a failure does not change
        # the exit status, which is the scan's verdict.
        saved = save_last_report(report)
        if saved is None:
            print(
                f"stethoscope-desktop: could not save the report to {last_report_path()} "
                "(the log says why)",
                file=sys.stderr,
            )
        else:
            print(f"stethoscope-desktop: saved the report to {saved}", file=sys.stderr)
    if getattr(args, "json", False):
        print(report.to_json())
    else:
        # Here, not at the top: the scan worker imports this module and prints no text.
        from stethoscope_desktop.terminal_text import colour_wanted
        from stethoscope_desktop.text_report import WIDTH, render_report

        if note:
            print(note)
        terminal = sys.stdout.isatty()
        choice = "never" if getattr(args, "no_color", False) else getattr(args, "color", "auto")
        colour = colour_wanted(choice, is_terminal=terminal, environ=os.environ)
        width = min(shutil.get_terminal_size((WIDTH, 24)).columns, WIDTH) if terminal else WIDTH
        practices = loader.load()
        details = bool(getattr(args, "details", False))
        text = render_report(
            report, practices.instructions, colour=colour, width=width, details=details
        )
        print(text, end="")
    return EXIT_CODES[report.status]


def serve_command(args: argparse.Namespace) -> int:
    """Run the local API headless until SIGINT or SIGTERM."""
    from stethoscope_desktop.api.listen import ApiServerError
    from stethoscope_desktop.api.server import ApiServer
    from stethoscope_desktop.api.service import Freshness, machine_api_service

    debug = bool(getattr(args, "debug", False))
    if not debug:
        logging.getLogger("stethoscope_desktop.api").setLevel(logging.INFO)
    practices = practices_loader(args).load()
    for problem in practices.problems:
        print(f"stethoscope-desktop: {problem}", file=sys.stderr)
    scanner = open_scanner(args, practices)
    if isinstance(scanner, str):
        print(f"stethoscope-desktop: {scanner}", file=sys.stderr)
        return EXIT_COULD_NOT_SCAN
    try:
        freshness = Freshness()
        if getattr(args, "max_age", None) is not None:
            freshness = Freshness(max_report_age=max(0.0, args.max_age))
        service = machine_api_service(scanner, lambda: practices, freshness=freshness)
        port = getattr(args, "port", None)
        server = ApiServer(
            service, port=practices.config.api_port if port is None else port, debug=debug
        )
        try:
            server.start()
        except ApiServerError as error:
            print(f"stethoscope-desktop: {error}", file=sys.stderr)
            return EXIT_COULD_NOT_LISTEN
        try:
            stop = threading.Event()
            previous = {
                number: signal.signal(number, lambda *_: stop.set())
                for number in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                print(f"Stethoscope API listening on {' and '.join(server.urls)}", flush=True)
                while not stop.wait(0.5):
                    pass
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)
        finally:
            server.stop()
        print("Stethoscope API stopped.", flush=True)
        return 0
    finally:
        scanner.engine.close()


@dataclass
class _CheckedFile:
    """What `check-policy` found in one file: its errors, IT's checks in it, and notes."""

    problems: list[Problem]
    checks: list[CustomCheck] = field(default_factory=list)
    # Valid content worth a word: Fleet's fix-it scripts (never run), documents passed over.
    notes: list[Problem] = field(default_factory=list)


def _check_file(path: Path) -> _CheckedFile:
    if path.parent.name == CHECKS_FOLDER:
        loaded = read_checks_file(path)
        return _CheckedFile(loaded.problems, loaded.checks, loaded.passed_over + loaded.notes)
    try:
        doc = load_yaml(path)
    except YamlFileError as error:
        return _CheckedFile([error.problem])
    name = path.name
    if name.startswith("instructions."):
        return _CheckedFile(parse_instructions(doc).problems)
    if name == "config.yaml":
        return _CheckedFile(parse_config(doc).problems)
    if path.parent.name == "checks" or (isinstance(doc.data, dict) and "sql" in doc.data):
        return _CheckedFile(parse_check(doc, path.stem)[1])
    layer = parse_policy(doc)
    if path.name != POLICY_FILE:
        return _CheckedFile(layer.problems)
    checks = layer.values.get(CUSTOM_CHECKS_KEY, [])
    entries = doc.data.get(CUSTOM_CHECKS_KEY) if isinstance(doc.data, dict) else None
    return _CheckedFile(
        layer.problems,
        [check for check in checks if isinstance(check, CustomCheck)],
        scripts_not_run(doc, entries, (CUSTOM_CHECKS_KEY,)),
    )


def query_warnings(checks: Sequence[CustomCheck], platform: str = "all") -> list[str]:
    """Warn about IT's checks whose query osquery could not run either, naming each and the fix.

    The SQL is prepared against osquery's tables and ours (never run): a table or column that
    is no osquery's (`sysctl`, `systemd_units.name`), fleetd's, or another platform's.
    """
    from stethoscope_desktop.engines.osquery_schema import query_mistakes

    warnings: list[str] = []
    for check in checks:
        platforms = check.platforms if platform == "all" else (platform,)
        for mistake in query_mistakes(check.query, platforms):
            warnings.append(f"warning: {check.problem(f'{check.name!r}: {mistake}')}")
    return warnings


def _duplicates_across_files(checked: Mapping[Path, _CheckedFile]) -> list[Problem]:
    """Return the checks a scan ignores because a check of another file has their key.

    The files are merged as the loader merges a practices folder (`with_folder_checks`): its
    `policy.yaml` checks first, then its `checks.d` files in name order.
    """
    folders: dict[Path, tuple[list[CustomCheck], dict[str, list[CustomCheck]]]] = {}
    for path, result in checked.items():
        in_checks_d = path.parent.name == CHECKS_FOLDER
        if not in_checks_d and path.name != POLICY_FILE:
            continue
        folder = (path.parent.parent if in_checks_d else path.parent).resolve()
        policy_checks, checks_d = folders.setdefault(folder, ([], {}))
        if in_checks_d:
            checks_d[path.name] = result.checks
        else:
            policy_checks += result.checks
    problems: list[Problem] = []
    for policy_checks, checks_d in folders.values():
        layer = PolicyLayer(POLICY_FILE, values={CUSTOM_CHECKS_KEY: policy_checks})
        later = [check for name in sorted(checks_d) for check in checks_d[name]]
        with_folder_checks(layer, later, problems)
    return problems


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def check_policy_command(paths: Sequence[Path], *, strict: bool = False) -> int:
    """Check IT's files as the app will load them; exit 1 on a problem (with `strict`: warning).

    Problems are what the app would report and leave out (a check whose key a check of another
    file has included). Warnings are valid checks whose query osquery could not run either;
    notes, what is valid but worth knowing (a fix-it script that is never run).
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    notes: list[Problem] = []
    checked: dict[Path, _CheckedFile] = {}
    for path in paths:
        if path.is_dir():
            files = [
                p
                for p in sorted(path.glob("*.yaml"))
                if p.name == POLICY_FILE
                or p.name == "config.yaml"
                or p.name.startswith("instructions.")
            ]
            if (path / CHECKS_FOLDER).is_dir():
                found, folder_problems = checks_files(path / CHECKS_FOLDER)
                files += found
                problems += folder_problems
            if not files:
                problems.append(
                    Problem(str(path), "no policy.yaml, config.yaml or instructions.*.yaml here")
                )
        elif path.exists():
            files = [path]
        else:
            problems.append(Problem(str(path), "no such file or folder"))
            files = []
        for file in files:
            result = checked[file] = _check_file(file)
            problems += result.problems
            notes += result.notes
            warnings += query_warnings(result.checks)
    problems += _duplicates_across_files(checked)
    for problem in problems:
        print(problem)
    for note in notes:
        print(f"note: {note}")
    for warning in warnings:
        print(warning)
    counted = f"; {_count(len(warnings), 'warning')}" if warnings else ""
    if problems:
        print(f"{_count(len(problems), 'problem')} found{counted}.", file=sys.stderr)
        return 1
    if strict and warnings:
        print(
            f"{_count(len(checked), 'file')} valid{counted} (--strict fails on them).",
            file=sys.stderr,
        )
        return 1
    print(f"{_count(len(checked), 'file')} valid{counted}.")
    return 0


def convert_command(source: Path, output: Path | None) -> int:
    """Convert Stethoscope's instructions file into ours, print or write it, and check it.

    What the conversion left out or changed is listed on stderr, and so is anything the app
    would not accept in the result. Exit 0 when the result is valid; 1 when the source cannot be
    read, the output exists already (it never overwrites), or the source or the result has
    problems (a text Handlebars refused, an unknown placeholder).
    """
    try:
        doc = load_yaml(source)
    except YamlFileError as error:
        print(error.problem, file=sys.stderr)
        return 1
    if not isinstance(doc.data, dict):
        print(f"{source}: not an instructions file (expected a mapping)", file=sys.stderr)
        return 1
    if output is not None and output.exists():
        print(f"{output}: exists already; not overwriting it", file=sys.stderr)
        return 1
    notes: list[ConversionNote] = []
    converted = convert_stethoscope(doc.data, notes, language=file_language(source.name))
    text = dump_instructions(converted)
    for note in notes:
        print(f"{source}: {note}", file=sys.stderr)
    target = output or Path(source.name)
    problems = parse_instructions(parse_yaml(text, str(target))).problems
    for problem in problems:
        print(problem, file=sys.stderr)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    return 1 if problems or any(note.problem for note in notes) else 0


def dump_instructions(data: dict[str, object]) -> str:
    """Return instructions data as YAML, with texts of several lines as literal blocks."""

    class _Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value.rstrip("\n") or value.endswith("\n") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def import_fleet_command(
    source: Path,
    platform: str,
    output: Path | None,
    *,
    manual: str = "keep",
    keep_queries: bool = False,
) -> int:
    if not os.path.lexists(source):
        print(f"{source}: no such file", file=sys.stderr)
        return 1
    loaded = read_checks_file(source)
    result = import_fleet(loaded, platform, manual, correct=not keep_queries)
    for skipped in result.skipped:
        print(f"skipped: {skipped}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    corrections = dict(result.corrected)
    for check in result.checks:
        if check.key in corrections:
            changes = corrections[check.key].removeprefix(CORRECTED_PREFIX)
            print(
                f"corrected for osquery: {check.problem(f'{check.name!r}: {changes}')}",
                file=sys.stderr,
            )
    manual_line = _manual_checks_line(result.manual_kept, result.manual_skipped)
    manual_line += _corrected_line(len(result.corrected))
    for warning in query_warnings(result.checks, platform):
        print(warning, file=sys.stderr)
    if not result.checks:
        print(f"{source}: no policy to convert for platform {platform}", file=sys.stderr)
        return 1
    header = (
        f"Stethoscope Desktop checks converted from {source.name}\n"
        f"by `stethoscope-desktop import-fleet` (platform: {platform}).\n"
        "A query that returns rows passes; one that returns none fails (critical: true makes\n"
        f"that a critical finding). Install this file into the {CHECKS_FOLDER}/ folder beside\n"
        "IT's policy.yaml."
    )
    if result.manual_kept:
        header += (
            "\nA query that never returns rows (SELECT 1 WHERE 0) is a check done by hand: the\n"
            "app lists it apart, with its resolution, and never runs it."
        )
    if result.corrected:
        header += (
            '\nA query marked "corrected for osquery" named a table or column osquery does not\n'
            "have; it now names osquery's (import-fleet --keep-queries keeps them as written)."
        )
    converted = dump_checks(result.checks, header, corrections)
    if output is None:
        print(converted, end="")
        if manual_line:
            print(manual_line.strip("; "), file=sys.stderr)
        return 0
    target = output / f"{source.stem}.yaml" if output.is_dir() else output
    if target.exists() or target.is_symlink():
        print(f"{target}: exists already; not overwriting it", file=sys.stderr)
        return 1
    try:
        with target.open("x", encoding="utf-8") as handle:
            handle.write(converted)
    except OSError as error:
        print(f"{target}: cannot write: {error.strerror or error}", file=sys.stderr)
        return 1
    count = len(result.checks)
    print(f"wrote {count} check{'s' if count != 1 else ''} to {target}{manual_line}")
    return 0


def _corrected_line(corrected: int) -> str:
    """Say how many queries import-fleet corrected for osquery (empty: none)."""
    if not corrected:
        return ""
    queries = f"{corrected} quer{'ies' if corrected != 1 else 'y'}"
    return f"; {queries} corrected for osquery (--keep-queries keeps them as written)"


def _manual_checks_line(kept: int, skipped: int) -> str:
    """Say how many of Fleet's manual checks import-fleet kept or skipped (empty: none)."""

    def checks(count: int) -> str:
        return f"{count} manual check{'s' if count != 1 else ''}"

    if skipped:
        return f"; {checks(skipped)} skipped (--manual skip)"
    if kept:
        return f"; {checks(kept)} kept as checks by hand, shown apart and never run"
    return ""


def print_instead_of_window(args: argparse.Namespace, note: str) -> int:
    """Print the report where the window cannot open; the app ran fine whatever it found."""
    code = scan_command(args, note=note)
    return code if code == EXIT_COULD_NOT_SCAN else 0


def device_key_command(args: argparse.Namespace, *, csr: bool = False, new: bool = False) -> int:
    """Print the device key's public JWK (or a PEM certificate request); `new` replaces the key."""
    from stethoscope_desktop.device_trust.csr import certificate_request_pem
    from stethoscope_desktop.device_trust.keys import (
        DeviceKeyError,
        open_device_key,
        replace_device_key,
        replaced_key_notice,
    )
    from stethoscope_desktop.device_trust.public_key import remember_public_key

    choice = practices_loader(args).load().config.device_key
    try:
        if new:
            key, backups = replace_device_key(choice)
            for backup in backups:
                print(replaced_key_notice(backup), file=sys.stderr)
        else:
            key = open_device_key(choice)
        remember_public_key(key)  # the window's About reads the kid from it
        text = certificate_request_pem(key) if csr else json.dumps(key.public_jwk, indent=2) + "\n"
        print(f"a {key.protection} key: {key.path}", file=sys.stderr)
    except (DeviceKeyError, OSError) as error:
        print(f"stethoscope-desktop: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def verify_token_command(token: str, key: str, nonce: str, origin: str) -> int:
    """Verify a device token; print its payload (exit 0) or the check that failed (exit 1)."""
    from stethoscope_desktop.device_trust.verify import TokenRejected, load_jwk, verify_token

    try:
        payload = verify_token(token, load_jwk(key), nonce=nonce, origin=origin)
    except TokenRejected as error:
        print(f"stethoscope-desktop: token refused: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"stethoscope-desktop: {error}", file=sys.stderr)
        return 1
    print(json.dumps(payload, indent=2, ensure_ascii=False))
    return 0
