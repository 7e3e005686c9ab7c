"""The `stethoscope-desktop` command: the tray app, `scan`, `serve`, `check-policy`, converters.

The converters are `convert-instructions` (Stethoscope's texts) and `import-fleet` (Fleet
policies into checks for `checks.d/`). `serve` runs the local API for web apps without the tray
(for servers, tests and integration work) until Ctrl-C or SIGTERM. `scan` and the other
subcommands never import Qt.

Exit codes of `scan`: 0 PASS, 1 NUDGE, 2 FAIL, 3 could not scan (no engine, or not a single
practice could be read). `import-fleet` exits 0 when it wrote the converted checks (entries it
left out are listed on stderr with the reason) and 1 when it wrote nothing: the file could not
be read, no policy was left to convert, or the output exists already (it never overwrites).
`serve` exits 0 when stopped, 3 when it could not scan (no engine) and 4 when it could not listen
(the port is taken).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import yaml

from stethoscope_desktop import __version__
from stethoscope_desktop.core.checks import load_checks, parse_check
from stethoscope_desktop.core.config import parse_config
from stethoscope_desktop.core.custom_checks import (
    CHECKS_FOLDER,
    DESKTOP_PLATFORMS,
    checks_files,
    dump_checks,
    import_fleet,
    read_checks_file,
)
from stethoscope_desktop.core.instructions import convert_stethoscope, parse_instructions
from stethoscope_desktop.core.platforms import current_platform, running_as_admin
from stethoscope_desktop.core.policy import parse_policy
from stethoscope_desktop.core.policy_server import PolicyServerClient
from stethoscope_desktop.core.practices import PracticesLoader, practices_folders, system_language
from stethoscope_desktop.core.report import Report
from stethoscope_desktop.core.scanner import Scanner
from stethoscope_desktop.core.status import Status
from stethoscope_desktop.core.yamlfile import Problem, YamlFileError, load_yaml
from stethoscope_desktop.engines.factory import EngineUnavailable, create_engine
from stethoscope_desktop.resources import checks_dir, practices_dir
from stethoscope_desktop.text_report import render_report

EXIT_CODES = {Status.PASS: 0, Status.NUDGE: 1, Status.FAIL: 2, Status.UNKNOWN: 3}
EXIT_COULD_NOT_SCAN = 3
EXIT_COULD_NOT_LISTEN = 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stethoscope-desktop",
        description="A security checkup of this computer against your organization's practices.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    _scan_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    scan = commands.add_parser("scan", help="check this device once and print the ranked report")
    _scan_options(scan)
    scan.add_argument("--json", action="store_true", help="print the report as JSON")
    scan.add_argument("--no-color", action="store_true", help="never colour the output")
    serve = commands.add_parser(
        "serve", help="run the local API for web apps without the tray, until Ctrl-C"
    )
    _scan_options(serve)
    serve.add_argument(
        "--port",
        type=int,
        metavar="N",
        default=argparse.SUPPRESS,
        help="the port on 127.0.0.1 and ::1 (default: apiPort from config.yaml; 0 picks one)",
    )
    serve.add_argument(
        "--max-age",
        type=float,
        metavar="SECONDS",
        default=argparse.SUPPRESS,
        help="reuse a report younger than this (default: 10)",
    )
    serve.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="verbose logging, and GraphQL introspection",
    )
    check = commands.add_parser(
        "check-policy", help="validate policy, config, instructions and check files"
    )
    check.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="a file or a practices folder"
    )
    convert = commands.add_parser(
        "convert-instructions", help="convert Stethoscope's instructions file to this app's format"
    )
    convert.add_argument("source", type=Path, help="Stethoscope's instructions.<lang>.yaml")
    convert.add_argument("-o", "--output", type=Path, help="where to write (default: print)")
    fleet = commands.add_parser(
        "import-fleet", help="convert a Fleet policies file into checks for checks.d"
    )
    fleet.add_argument("source", type=Path, metavar="FILE", help="a Fleet policy YAML file")
    fleet.add_argument(
        "--platform",
        choices=(*DESKTOP_PLATFORMS, "all"),
        default="all",
        help="keep only the policies that run on this platform (default: all)",
    )
    fleet.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT",
        help="the file (or folder, such as checks.d) to write; default: print",
    )
    return parser


def _scan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--practices",
        type=Path,
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="a practices folder layered over the installed ones (also STETHOSCOPE_PRACTICES)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "embedded", "osquery"),
        default=argparse.SUPPRESS,
        help="which engine runs the checks (default: from config.yaml)",
    )
    parser.add_argument(
        "--lang", metavar="xx", default=argparse.SUPPRESS, help="language of the texts"
    )


def _practices_loader(args: argparse.Namespace, *, fetch_now: bool = False) -> PracticesLoader:
    """Return the loader; `fetch_now` waits for a due policy server fetch instead of starting it."""
    folders = practices_folders(practices_dir(), getattr(args, "practices", None))
    language = getattr(args, "lang", None) or system_language()
    client = PolicyServerClient(background=not fetch_now)
    return PracticesLoader(folders, language, policy_server=client)


def run_scan(args: argparse.Namespace) -> tuple[Report, PracticesLoader] | str:
    """Load practices and checks, scan once; return the report or why it could not scan."""
    loader = _practices_loader(args, fetch_now=True)
    practices = loader.load()
    platform = current_platform()
    choice = getattr(args, "engine", None) or practices.config.engine
    try:
        engine = create_engine(choice, platform, osquery_path=practices.config.osquery_path)
    except EngineUnavailable as error:
        return f"cannot use the {choice} engine: {error}"
    try:
        scanner = Scanner(
            engine,
            load_checks(checks_dir()),
            platform=platform,
            running_as_admin=running_as_admin(),
        )
        return scanner.scan(practices), loader
    finally:
        engine.close()


def _scan_command(args: argparse.Namespace, *, note: str = "") -> int:
    outcome = run_scan(args)
    if isinstance(outcome, str):
        print(f"stethoscope-desktop: {outcome}", file=sys.stderr)
        return EXIT_COULD_NOT_SCAN
    report, loader = outcome
    if getattr(args, "json", False):
        print(report.to_json())
    else:
        if note:
            print(note)
        colour = (
            sys.stdout.isatty()
            and not getattr(args, "no_color", False)
            and "NO_COLOR" not in os.environ
        )
        practices = loader.load()
        print(render_report(report, practices.instructions, colour=colour), end="")
    return EXIT_CODES[report.status]


def _serve_command(args: argparse.Namespace) -> int:
    """Run the local API headless until SIGINT or SIGTERM."""
    from stethoscope_desktop.api import (
        ApiServer,
        ApiServerError,
        ApiService,
        Freshness,
        ScannerReportSource,
    )
    from stethoscope_desktop.api.network import create_network_reader
    from stethoscope_desktop.tables.system import LocalSystem

    debug = bool(getattr(args, "debug", False))
    if not debug:
        logging.getLogger("stethoscope_desktop.api").setLevel(logging.INFO)
    practices = _practices_loader(args).load()
    for problem in practices.problems:
        print(f"stethoscope-desktop: {problem}", file=sys.stderr)
    platform = current_platform()
    choice = getattr(args, "engine", None) or practices.config.engine
    try:
        engine = create_engine(choice, platform, osquery_path=practices.config.osquery_path)
    except EngineUnavailable as error:
        print(f"stethoscope-desktop: cannot use the {choice} engine: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_SCAN
    try:
        scanner = Scanner(
            engine,
            load_checks(checks_dir()),
            platform=platform,
            running_as_admin=running_as_admin(),
        )
        freshness = Freshness()
        if getattr(args, "max_age", None) is not None:
            freshness = Freshness(max_report_age=max(0.0, args.max_age))
        service = ApiService(
            ScannerReportSource(scanner),
            lambda: practices,
            freshness=freshness,
            network=create_network_reader(platform, LocalSystem()),
        )
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
        engine.close()


def _check_file(path: Path) -> list[Problem]:
    if path.parent.name == CHECKS_FOLDER:
        return read_checks_file(path).problems
    try:
        doc = load_yaml(path)
    except YamlFileError as error:
        return [error.problem]
    name = path.name
    if name.startswith("instructions."):
        return parse_instructions(doc).problems
    if name == "config.yaml":
        return parse_config(doc).problems
    if path.parent.name == "checks" or (isinstance(doc.data, dict) and "sql" in doc.data):
        return parse_check(doc, path.stem)[1]
    return parse_policy(doc).problems


def _check_policy_command(paths: Sequence[Path]) -> int:
    problems: list[Problem] = []
    checked = 0
    for path in paths:
        if path.is_dir():
            files = [
                p
                for p in sorted(path.glob("*.yaml"))
                if p.name == "policy.yaml"
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
            checked += 1
            problems += _check_file(file)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return 1
    print(f"{checked} file(s) valid.")
    return 0


def _convert_command(source: Path, output: Path | None) -> int:
    try:
        doc = load_yaml(source)
    except YamlFileError as error:
        print(error.problem, file=sys.stderr)
        return 1
    if not isinstance(doc.data, dict):
        print(f"{source}: not an instructions file (expected a mapping)", file=sys.stderr)
        return 1
    converted = yaml.safe_dump(
        convert_stethoscope(doc.data), allow_unicode=True, sort_keys=False, width=100
    )
    if output is None:
        print(converted, end="")
        return 0
    if output.exists():
        print(f"{output}: exists already; not overwriting it", file=sys.stderr)
        return 1
    output.write_text(converted, encoding="utf-8")
    print(f"wrote {output}")
    return 0


def _import_fleet_command(source: Path, platform: str, output: Path | None) -> int:
    if not source.is_file():
        print(f"{source}: no such file", file=sys.stderr)
        return 1
    loaded = read_checks_file(source)
    result = import_fleet(loaded, platform)
    for skipped in result.skipped:
        print(f"skipped: {skipped}", file=sys.stderr)
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
    converted = dump_checks(result.checks, header)
    if output is None:
        print(converted, end="")
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
    print(f"wrote {count} check{'s' if count != 1 else ''} to {target}")
    return 0


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _print_instead_of_window(args: argparse.Namespace, note: str) -> int:
    """Print the report where the window cannot open; the app ran fine whatever it found."""
    code = _scan_command(args, note=note)
    return code if code == EXIT_COULD_NOT_SCAN else 0


def _app_command(args: argparse.Namespace) -> int:
    if not _has_display():
        return _print_instead_of_window(
            args, "No display found: printing the report instead of opening the window.\n"
        )
    try:
        from stethoscope_desktop.app import run_app  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        return _print_instead_of_window(
            args, f"The tray window cannot start here ({error}); printing the report instead.\n"
        )
    return int(run_app(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command == "scan":
        return _scan_command(args)
    if args.command == "serve":
        return _serve_command(args)
    if args.command == "check-policy":
        return _check_policy_command(args.paths)
    if args.command == "convert-instructions":
        return _convert_command(args.source, args.output)
    if args.command == "import-fleet":
        return _import_fleet_command(args.source, args.platform, args.output)
    return _app_command(args)
