"""The `stethoscope-desktop` command: the tray app, `scan`, `serve`, `check-policy`, converters.

`device-key` prints the device key's public JWK (or a certificate request, or replaces the key)
and `verify-token` checks a device token as a login server does.

The converters are `convert-instructions` (Stethoscope's texts) and `import-fleet` (Fleet
policies into checks for `checks.d/`). `serve` runs the local API for web apps without the tray
(for servers, tests and integration work) until Ctrl-C or SIGTERM. `scan` and the other
subcommands never import Qt. `worker` (not listed in the help) is the
scan worker process the tray app starts; see `stethoscope_desktop.worker`.

Every exit code is in `EXIT_STATUS` (shown by `--help` and the man page). `scan` keeps
Stethoscope's order of verdicts: 0 PASS, 1 NUDGE, 2 FAIL, 3 could not scan. A usage error (an
unknown command or option, a bad value) exits 64, EX_USAGE of sysexits.h, which no verdict uses;
argparse's own 2 would read as "critical findings". `import-fleet` lists the entries it left out
on stderr with the reason, and `convert-instructions` what it left out or changed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from stethoscope_desktop import __version__
from stethoscope_desktop.core.platforms import DESKTOP_PLATFORMS
from stethoscope_desktop.core.protocol import DEFAULT_IDLE_SECONDS

PROG = "stethoscope-desktop"
EXIT_USAGE = 64
# Every exit code, by command ("" is the app itself, no command); EXIT_USAGE is every command's.
EXIT_STATUS: dict[str, tuple[tuple[int, str], ...]] = {
    "": (
        (0, "the app quit, or printed the report where no window can open"),
        (3, "no window could open and the report could not be made (no engine)"),
    ),
    "scan": (
        (0, "every practice passes"),
        (1, "suggestions (NUDGE), no critical finding"),
        (2, "critical findings (FAIL)"),
        (3, "could not scan: no engine, or not a single practice could be read"),
    ),
    "serve": (
        (0, "stopped by Ctrl-C or SIGTERM"),
        (3, "could not scan: no engine"),
        (4, "could not listen: the port is taken"),
    ),
    "check-policy": (
        (0, "the files are valid"),
        (1, "a file has a problem (with --strict, also a warning)"),
    ),
    "convert-instructions": (
        (0, "the converted texts are valid"),
        (1, "the source cannot be read, the output exists, or the result has problems"),
    ),
    "import-fleet": (
        (0, "wrote the converted checks"),
        (1, "wrote nothing: unreadable file, no policy left, or the output exists"),
    ),
    "device-key": (
        (0, "printed the public key (or the request)"),
        (1, "the device key cannot be made or used (the message names the file)"),
    ),
    "verify-token": (
        (0, "the token is genuine, its payload printed; the device may still fail: check status"),
        (1, "the token is not valid: the check that failed is printed"),
    ),
    "osquery-extension": (
        (0, "osqueryd went away or asked it to stop (or SIGTERM)"),
        (1, "osqueryd's socket did not answer in time, or osqueryd refused or dropped it"),
    ),
}
# The program name that runs `osquery-extension` (how osqueryd's autoload file can name it).
EXTENSION_PROGRAM = "stethoscope-osquery-extension"
USAGE_MEANING = "usage error: an unknown command or option, or a bad value"
# The commands for people, in the order --help lists them; `worker` is the tray's own.
HIDDEN_COMMANDS = frozenset({"worker"})


def exit_status_groups(command: str | None) -> list[tuple[str, list[tuple[int, str]]]]:
    """Return (heading, [(code, meaning)]) of `command`, or of every command (None).

    The heading is empty for one command's codes; it names the command for all of them.
    """
    usage = (EXIT_USAGE, USAGE_MEANING)
    if command is not None:
        return [("", [*EXIT_STATUS[command], usage])]
    groups = [(name or f"{PROG} (no command)", list(codes)) for name, codes in EXIT_STATUS.items()]
    return [*groups, ("any command", [usage])]


def _epilog(command: str | None) -> str:
    lines = ["exit status:"]
    for heading, codes in exit_status_groups(command):
        indent = "    " if heading else "  "
        if heading:
            lines.append(f"  {heading}")
        lines += [f"{indent}{code:<4}{meaning}" for code, meaning in codes]
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on EXIT_USAGE, and hidden commands left out of its messages.

    `exit_status` is the help's last section, as it is (the description is wrapped as usual).
    """

    exit_status = ""

    def format_help(self) -> str:
        text = super().format_help()
        return f"{text}\n{self.exit_status}\n" if self.exit_status else text

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def _check_value(self, action: argparse.Action, value: object) -> None:
        # "invalid choice: 'x' (choose from ...)" would name the hidden commands too.
        if isinstance(action, argparse._SubParsersAction) and value not in action.choices:
            shown = ", ".join(repr(c) for c in action.choices if c not in HIDDEN_COMMANDS)
            raise argparse.ArgumentError(action, f"invalid choice: {value!r} (choose from {shown})")
        super()._check_value(action, value)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="A security checkup of this computer against your organization's practices.",
    )
    parser.exit_status = _epilog(None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    _scan_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    scan = commands.add_parser("scan", help="check this device once and print the ranked report")
    _scan_options(scan)
    scan.add_argument("--json", action="store_true", help="print the report as JSON")
    scan.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the report: auto (default) on a terminal, unless NO_COLOR is set or "
        "TERM=dumb; always; never",
    )
    scan.add_argument("--no-color", action="store_true", help="never colour (--color never)")
    scan.add_argument(
        "--save",
        action="store_true",
        help="also write the report as this user's last report (where the tray writes it, for "
        "IT's osquery extension): ~/.local/state/stethoscope/last-report.json on Linux",
    )
    scan.add_argument(
        "--details",
        action="store_true",
        help="also print the technical details behind each verdict (what the check saw, the "
        "policy as written, the check's rows) and IT's file problems one by one",
    )
    # A fake root (also STETHOSCOPE_ROOT) for IT and tests: README's "Checking another
    # distribution's files"; hidden from --help and the man page.
    scan.add_argument("--root", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
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
        "check-policy",
        help="validate policy, config, instructions and check files",
        description="Check IT's files as the app will load them. Exit 0 when they are valid, 1 "
        "when a file has a problem the app would report (a check whose key a check of another "
        "file has included). A warning (a query osquery could not run either: a wrong table or "
        "column) and a note (a Fleet fix-it script, never run) do not fail, unless --strict.",
    )
    check.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="a file or a practices folder"
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 on warnings too, as on problems (for a CI step)",
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
        "--manual",
        choices=("keep", "skip"),
        default="keep",
        help="Fleet's manual checks (a query that never returns rows, such as SELECT 1 WHERE 0): "
        "keep them as checks by hand, shown apart and never run, or skip them (default: keep)",
    )
    fleet.add_argument(
        "--keep-queries",
        action="store_true",
        help="write every query as Fleet has it; by default a known mistake osquery cannot run "
        "(table sysctl, systemd_units.name…) is corrected to osquery's name, with a comment",
    )
    fleet.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT",
        help="the file (or folder, such as checks.d) to write; default: print",
    )
    device_key = commands.add_parser(
        "device-key",
        help="print this device's public key (JWK) for login servers to enroll",
        description="Print the device key's public key as a JWK (kty, crv, x, y, and kid: its "
        "RFC 7638 thumbprint), making the key first if there is none. deviceKey in config.yaml "
        "picks where a new key is made: auto (the default: a TPM 2.0 on Linux, the Platform "
        "Crypto Provider's TPM on Windows or the Secure Enclave on a Mac where one answers, "
        "else software), tpm (always hardware: the TPM, or a Mac's Secure Enclave; without it, "
        "an error), secure-enclave (Macs only) or software (a file only the user can read). On "
        "Linux the TPM is the one TPM2TOOLS_TCTI or TSS2_TCTI names, else /dev/tpmrm0. A key "
        "that exists is kept: one of another kind than deviceKey asks for is refused, and one "
        "that cannot be used is reported, never replaced, unless --new. With auto, a TPM that "
        "does not answer when the first key is made gives a software key, which stays until "
        "--new (a warning says so where a TPM was expected).",
    )
    _practices_option(device_key)
    device_key_action = device_key.add_mutually_exclusive_group()
    device_key_action.add_argument(
        "--csr",
        action="store_true",
        help="print a PKCS#10 certificate request (PEM) signed by the device key, for IT's CA",
    )
    device_key_action.add_argument(
        "--new",
        action="store_true",
        help="replace the device key with a new one; login servers must enroll the new key. "
        "The old key's files are kept under a dated name (.replaced-<time>) and still sign "
        "tokens that servers which enrolled the old key accept: delete them once IT has the "
        "new key (the command says how)",
    )
    verify = commands.add_parser(
        "verify-token",
        help="verify a device token as a login server does",
        description="Check a device token (compact JWS, ES256) against the device's public key: "
        "the algorithm, kid, signature, nonce, audience (the login page's origin, compared in "
        "its RFC 6454 form: without case, default port or trailing slash) and expiry. Exit 0 "
        "and print the payload when the token is genuine, else 1 and the check that failed. "
        "Exit 0 does not mean the device passes: a device that fails gets a genuine token "
        "too, so the server must check the payload's status (and policySha256).",
    )
    verify.add_argument("token", metavar="TOKEN", help="the token (compact JWS)")
    verify.add_argument(
        "--key",
        required=True,
        metavar="JWK",
        help="the device's public key: a JWK as JSON text, or a file holding one",
    )
    verify.add_argument(
        "--nonce", required=True, metavar="N", help="the nonce issued for this login"
    )
    verify.add_argument(
        "--origin", required=True, metavar="O", help="the login page's origin, or local"
    )
    _osquery_extension_parser(commands)
    for name, subparser in commands.choices.items():
        assert isinstance(subparser, _Parser)
        subparser.exit_status = _epilog(name)
    # The tray starts the scan worker; it is no command for people, so --help leaves it out
    # (argparse lists a sub-command even with help=SUPPRESS: CPython issue 67037).
    worker = commands.add_parser("worker")
    commands._choices_actions = [
        a for a in commands._choices_actions if a.dest not in HIDDEN_COMMANDS
    ]
    _scan_options(worker)
    worker.add_argument("--api-fd", type=int, action="append", default=[], help=argparse.SUPPRESS)
    worker.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    worker.add_argument("--api-shared", action="store_true", help=argparse.SUPPRESS)
    worker.add_argument(
        "--idle-seconds", type=float, default=DEFAULT_IDLE_SECONDS, help=argparse.SUPPRESS
    )
    return parser


def _osquery_extension_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    extension = commands.add_parser(
        "osquery-extension",
        help="serve every user's last report to IT's osqueryd (an osquery extension)",
        description="An osquery extension for IT's osqueryd (which starts it, as root, from its "
        "autoload file): registers as stethoscope_desktop and serves the read-only tables "
        "stethoscope_status and stethoscope_practices from each local user's last report "
        "(written by the app after every scan, and by scan --save). Flags osqueryd adds that "
        "this command does not know are ignored. Run as another user, it serves only that "
        "user's own report.",
    )
    extension.add_argument(
        "--socket", required=True, metavar="PATH", help="osqueryd's extensions socket"
    )
    extension.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="S",
        help="seconds to wait for the socket to answer at start (default: 3)",
    )
    extension.add_argument(
        "--interval",
        type=float,
        default=3.0,
        metavar="S",
        help="seconds between checks that osqueryd is still there (default: 3)",
    )
    extension.add_argument("--verbose", action="store_true", help="log what it does to stderr")
    extension.add_argument(
        "--stale-after",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="a report older than this is stale (stethoscope_status.stale = 1; default: "
        "reportStaleAfterHours of IT's config.yaml, else 86400)",
    )
    extension.add_argument("--root", default="/", help=argparse.SUPPRESS)


def _positive_seconds(text: str) -> float:
    """Parse a number of seconds that is greater than 0 (argparse then names the option)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return seconds


def _scan_options(parser: argparse.ArgumentParser) -> None:
    _practices_option(parser)
    parser.add_argument(
        "--engine",
        choices=("auto", "embedded", "osquery"),
        default=argparse.SUPPRESS,
        help="which engine runs the checks (default: from config.yaml)",
    )
    parser.add_argument(
        "--lang", metavar="xx", default=argparse.SUPPRESS, help="language of the texts"
    )


def _practices_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--practices",
        type=Path,
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="a practices folder layered over the installed ones (also STETHOSCOPE_PRACTICES)",
    )


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _app_command(args: argparse.Namespace) -> int:
    if not _has_display():
        from stethoscope_desktop.commands import print_instead_of_window

        return print_instead_of_window(
            args, "No display found: printing the report instead of opening the window.\n"
        )
    from stethoscope_desktop.worker_launch import start_worker_early, stop_early_worker

    # The first scan worker starts before Qt and the tray's modules load, in parallel with them.
    early_worker = start_worker_early(args)
    try:
        from stethoscope_desktop.app import run_app  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        if early_worker is not None:
            stop_early_worker(early_worker)
        from stethoscope_desktop.commands import print_instead_of_window

        return print_instead_of_window(
            args, f"The tray window cannot start here ({error}); printing the report instead.\n"
        )
    return int(run_app(args, early_worker))


def _osquery_extension_command(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from stethoscope_desktop.fleet_extension.service import ExtensionOptions, extension_command

    verbose = bool(args.verbose or args.debug)
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    if unknown:
        logging.getLogger(__name__).info("ignoring unknown options: %s", " ".join(unknown))
    options = ExtensionOptions(
        socket=args.socket,
        timeout=args.timeout,
        interval=args.interval,
        verbose=verbose,
        stale_after=args.stale_after,
        root=args.root,
    )
    return extension_command(options)


def _program_arguments() -> list[str]:
    """Return the process's arguments; run as EXTENSION_PROGRAM, those of `osquery-extension`.

    osqueryd runs an autoloaded extension as a file of its own (`….ext`; `.exe` on Windows) with
    only its flags, so an installer can make that file a link to (or a copy of) this program.
    """
    arguments = sys.argv[1:]
    if Path(sys.argv[0]).stem.casefold() == EXTENSION_PROGRAM:
        return ["osquery-extension", *arguments]
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    if argv is None:
        argv = _program_arguments()
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "osquery-extension":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        return _app_command(args)  # the tray app sets up its own logging
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command == "worker":
        from stethoscope_desktop.worker import run_worker

        return run_worker(args)
    if args.command == "osquery-extension":
        return _osquery_extension_command(args, unknown)
    from stethoscope_desktop import commands

    if args.command == "scan":
        return commands.scan_command(args)
    if args.command == "serve":
        return commands.serve_command(args)
    if args.command == "check-policy":
        return commands.check_policy_command(args.paths, strict=args.strict)
    if args.command == "convert-instructions":
        return commands.convert_command(args.source, args.output)
    if args.command == "device-key":
        return commands.device_key_command(args, csr=args.csr, new=args.new)
    if args.command == "verify-token":
        return commands.verify_token_command(args.token, args.key, args.nonce, args.origin)
    return commands.import_fleet_command(
        args.source,
        args.platform,
        args.output,
        manual=args.manual,
        keep_queries=args.keep_queries,
    )
