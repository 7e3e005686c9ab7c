"""The man page and the bash, zsh and fish completions, written from the argument parser.

Everything comes from `cli._parser()`: the commands the help lists (the tray's `worker` is left
out as there), each command's options with their help, the values an option takes (its choices,
a file or a folder), its positional arguments, and the exit codes of `cli.EXIT_STATUS`. Only the
ENVIRONMENT and FILES sections of the man page are written here. So nothing can drift from the
parser: `tests/test_cli_docs.py` writes them again and compares them with the files in
`packaging/linux/cli/`, and `packaging/linux/build-deb.sh` writes them from the library it packs.

    python -m stethoscope_desktop.cli_docs FOLDER   # writes the four files into FOLDER

We write them ourselves rather than with a PyPI generator (argparse-manpage, shtab): the parser
is small, those tools leave out our exit codes and hidden command handling, and a build
dependency more would run in the .deb build for four short text files.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from stethoscope_desktop import __version__
from stethoscope_desktop.cli import HIDDEN_COMMANDS, PROG, _parser, exit_status_groups

FILE_NAMES = {
    "man": f"{PROG}.1",
    "bash": f"{PROG}.bash",
    "zsh": f"_{PROG}",
    "fish": f"{PROG}.fish",
}
ENVIRONMENT = (
    ("STETHOSCOPE_PRACTICES", "a practices folder layered over the installed ones, as --practices"),
    ("NO_COLOR", "when set and not empty, the report has no colour (unless --color always)"),
    ("TERM", "dumb: the report has no colour (unless --color always)"),
    ("XDG_CONFIG_DIRS", "where IT's folder is looked for (default /etc/xdg: /etc/xdg/stethoscope)"),
    ("XDG_CONFIG_HOME", "where the person's own settings are (default ~/.config)"),
)
FILES = (
    (
        "/etc/xdg/stethoscope/",
        "IT's files: policy.yaml, config.yaml, instructions.LANG.yaml, checks.d/",
    ),
    (
        "~/.config/stethoscope/",
        "the person's own layer (it may add to IT's policy, never weaken it)",
    ),
    ("~/.local/state/stethoscope/", "the app's state and log"),
)


@dataclass(frozen=True)
class Option:
    """One option of a command as the completions need it."""

    names: tuple[str, ...]
    help: str
    takes: str  # "" (a flag), "choice", "file", "dir" or "value"
    metavar: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    """A command (the empty name is the program itself) with its options and arguments."""

    name: str
    help: str
    description: str
    usage: str
    options: tuple[Option, ...]
    positionals: tuple[Option, ...]


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = action.help or ""
    if "%" in text:
        text = parser._get_formatter()._expand_help(action)
    return " ".join(text.split())


def _option(parser: argparse.ArgumentParser, action: argparse.Action) -> Option:
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    if action.nargs == 0:
        takes = ""
    elif action.choices is not None:
        takes = "choice"
    elif action.type is Path:
        takes = "dir" if metavar == "DIR" else "file"
    else:
        takes = "value"
    choices = tuple(str(choice) for choice in action.choices or ())
    name = metavar or action.dest.upper()
    return Option(tuple(action.option_strings), _help(parser, action), takes, name, choices)


def _command(name: str, parser: argparse.ArgumentParser, help_text: str) -> Command:
    options: list[Option] = []
    positionals: list[Option] = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        (options if action.option_strings else positionals).append(_option(parser, action))
    usage = " ".join(parser.format_usage().removeprefix("usage: ").split())
    return Command(
        name, help_text, parser.description or "", usage, tuple(options), tuple(positionals)
    )


def commands(parser: argparse.ArgumentParser | None = None) -> list[Command]:
    """Return the program and each command --help lists, as the parser declares them."""
    parser = parser or _parser()
    found = [_command("", parser, parser.description or "")]
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, subparser in action.choices.items():
            if name not in HIDDEN_COMMANDS:
                found.append(_command(name, subparser, helps.get(name, "")))
    return found


# --- the man page ---------------------------------------------------------------------------------


def _roff(text: str) -> str:
    """Return text for roff: backslashes escaped, hyphens as hyphen-minus, no line a request.

    A character beyond ASCII is written as its Unicode escape (groff reads bytes, not UTF-8).
    """
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.MULTILINE)


def _option_heading(option: Option) -> str:
    names = ", ".join(f"\\fB{_roff(name)}\\fR" for name in option.names)
    if option.takes == "choice":
        return f"{names} \\fI{'|'.join(_roff(c) for c in option.choices)}\\fR"
    if option.takes:
        return f"{names} \\fI{_roff(option.metavar)}\\fR"
    return names


def man_page(parser: argparse.ArgumentParser | None = None) -> str:
    """Return the man page, section 1, in roff (man macros)."""
    program, *subcommands = commands(parser)
    lines = [
        f'.TH {PROG.upper()} 1 "" "{PROG} {__version__}" "User Commands"',
        ".SH NAME",
        f"{_roff(PROG)} \\- {_roff(program.description.rstrip('.'))}",
        ".SH SYNOPSIS",
        f".B {_roff(PROG)}",
        "[\\fIOPTION\\fR...]",
        ".br",
        f".B {_roff(PROG)}",
        "\\fICOMMAND\\fR [\\fIOPTION\\fR...] [\\fIARGUMENT\\fR...]",
        ".SH DESCRIPTION",
        _roff(
            "Without a command it starts the tray app (with no display, it prints the report "
            "instead). The commands check the device once, serve the local API for web apps, "
            "or check and convert IT's files."
        ),
        ".SH OPTIONS",
    ]
    for option in program.options:
        lines += [".TP", _option_heading(option), _roff(option.help)]
    lines.append(".SH COMMANDS")
    for command in subcommands:
        lines += [".SS " + _roff(command.name), _roff(command.usage), ".PP"]
        lines.append(_roff(command.description or command.help))
        for positional in command.positionals:
            lines += [".TP", f"\\fI{_roff(positional.metavar)}\\fR", _roff(positional.help)]
        for option in command.options:
            if option.names != ("-h", "--help"):
                lines += [".TP", _option_heading(option), _roff(option.help)]
    lines.append(".SH EXIT STATUS")
    for heading, codes in exit_status_groups(None):
        lines += [".SS " + _roff(heading)]
        for code, meaning in codes:
            lines += [".TP", f"\\fB{code}\\fR", _roff(meaning)]
    lines.append(".SH ENVIRONMENT")
    for name, meaning in ENVIRONMENT:
        lines += [".TP", f"\\fB{_roff(name)}\\fR", _roff(meaning)]
    lines.append(".SH FILES")
    for path, meaning in FILES:
        lines += [".TP", f"\\fI{_roff(path)}\\fR", _roff(meaning)]
    return "\n".join(lines) + "\n"


# --- bash ---------------------------------------------------------------------------------------


def _shell_words(words: Sequence[str]) -> str:
    return " ".join(words)


def bash_completion(parser: argparse.ArgumentParser | None = None) -> str:
    """Return the bash completion (for bash-completion's folder, or to `source`)."""
    program, *subcommands = commands(parser)
    function = "_" + re.sub(r"\W", "_", PROG)
    lines = [
        f"# bash completion for {PROG}; written by stethoscope_desktop/cli_docs.py from its",
        "# argument parser (do not edit: python -m stethoscope_desktop.cli_docs FOLDER).",
        f"{function}() {{",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
        "    local command='' i word",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        "        word=${COMP_WORDS[i]}",
        "        case $word in",
    ]
    names = [command.name for command in subcommands]
    lines += [
        f"            {'|'.join(names)}) command=$word; break ;;",
        "        esac",
        "    done",
        "    local options='' positional=''",
        "    case $command in",
    ]
    for command in (program, *subcommands):
        label = command.name or "''"
        flags = [name for option in command.options for name in option.names]
        positional = command.positionals[0].takes if command.positionals else ""
        lines += [
            f"        {label})",
            f"            options='{_shell_words(flags)}'",
            f"            positional='{positional}'",
            "            case $prev in",
        ]
        for option in command.options:
            if not option.takes:
                continue
            reply = {
                "choice": f"COMPREPLY=($(compgen -W '{_shell_words(option.choices)}' -- \"$cur\"))",
                "file": 'COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null',
                "dir": 'COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null',
                "value": "COMPREPLY=()",
            }[option.takes]
            lines.append(f"                {'|'.join(option.names)}) {reply}; return ;;")
        lines += ["            esac", "            ;;"]
    lines += [
        "    esac",
        "    if [[ $cur == -* ]]; then",
        '        COMPREPLY=($(compgen -W "$options" -- "$cur"))',
        "    elif [[ -z $command ]]; then",
        f"        COMPREPLY=($(compgen -W '{_shell_words(names)}' -- \"$cur\"))",
        "    elif [[ $positional == file ]]; then",
        '        COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null',
        "    fi",
        "}",
        f"complete -F {function} {PROG}",
    ]
    return "\n".join(lines) + "\n"


# --- zsh ---------------------------------------------------------------------------------------


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_description(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def _zsh_specs(command: Command) -> Iterator[str]:
    for option in command.options:
        action = {
            "": "",
            "choice": f":{option.metavar}:({' '.join(option.choices)})",
            "file": f":{option.metavar}:_files",
            "dir": f":{option.metavar}:_files -/",
            "value": f":{option.metavar}: ",
        }[option.takes]
        exclusive = f"({' '.join(option.names)})" if len(option.names) > 1 else ""
        if option.names[0] in ("-h", "--help", "--version"):
            exclusive = "(- *)"
        repeat = "*" if option.names == ("--api-fd",) else ""
        for name in option.names:
            spec = f"{exclusive}{repeat}{name}[{_zsh_description(option.help)}]{action}"
            yield _zsh_quote(spec)
    for positional in command.positionals:
        action = "_files" if positional.takes == "file" else " "
        count = "*" if positional.metavar == "PATH" else ""
        yield _zsh_quote(f"{count}:{positional.metavar}:{action}")


def zsh_completion(parser: argparse.ArgumentParser | None = None) -> str:
    """Return the zsh completion function (a file named _stethoscope-desktop on $fpath)."""
    program, *subcommands = commands(parser)
    function = "_" + re.sub(r"\W", "_", PROG)
    described = " ".join(
        _zsh_quote(f"{c.name.replace(':', chr(92) + ':')}:{c.help}") for c in subcommands
    )
    lines = [
        f"#compdef {PROG}",
        f"# zsh completion for {PROG}; written by stethoscope_desktop/cli_docs.py from its",
        "# argument parser (do not edit: python -m stethoscope_desktop.cli_docs FOLDER).",
        f"{function}() {{",
        "    local curcontext=$curcontext state line",
        "    typeset -A opt_args",
        "    _arguments -C \\",
        *(f"        {spec} \\" for spec in _zsh_specs(program)),
        "        '1:command:->command' \\",
        "        '*::argument:->argument'",
        "    case $state in",
        "        command)",
        f"            local -a commands=({described})",
        "            _describe command commands",
        "            ;;",
        "        argument)",
        "            case $line[1] in",
    ]
    for command in subcommands:
        specs = list(_zsh_specs(command))
        lines.append(f"                {command.name})")
        lines.append("                    _arguments \\")
        lines += [f"                        {spec} \\" for spec in specs[:-1]]
        lines.append(f"                        {specs[-1]}")
        lines.append("                    ;;")
    lines += ["            esac", "            ;;", "    esac", "}", f'{function} "$@"']
    return "\n".join(lines) + "\n"


# --- fish ---------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_completion(parser: argparse.ArgumentParser | None = None) -> str:
    """Return the fish completions (a file in fish's vendor_completions.d)."""
    program, *subcommands = commands(parser)
    names = " ".join(command.name for command in subcommands)
    lines = [
        f"# fish completion for {PROG}; written by stethoscope_desktop/cli_docs.py from its",
        "# argument parser (do not edit: python -m stethoscope_desktop.cli_docs FOLDER).",
        f"complete -c {PROG} -f",
    ]
    for command in subcommands:
        lines.append(
            f"complete -c {PROG} -n 'not __fish_seen_subcommand_from {names}' "
            f"-a {command.name} -d {_fish_quote(command.help)}"
        )
    for command in (program, *subcommands):
        if command.name:
            condition = f"'__fish_seen_subcommand_from {command.name}'"
        else:
            condition = f"'not __fish_seen_subcommand_from {names}'"
        for option in command.options:
            flags = []
            for name in option.names:
                flags.append(f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}")
            takes = {
                "": "",
                "choice": f" -x -a {_fish_quote(' '.join(option.choices))}",
                "file": " -r -F",
                "dir": " -x -a '(__fish_complete_directories)'",
                "value": " -x",
            }[option.takes]
            lines.append(
                f"complete -c {PROG} -n {condition} {' '.join(flags)}{takes} "
                f"-d {_fish_quote(option.help)}"
            )
        if command.positionals and command.positionals[0].takes == "file":
            lines.append(f"complete -c {PROG} -n {condition} -F")
    return "\n".join(lines) + "\n"


WRITERS = {"man": man_page, "bash": bash_completion, "zsh": zsh_completion, "fish": fish_completion}


def write_all(folder: Path) -> list[Path]:
    """Write the man page and the three completions into `folder`; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, write in WRITERS.items():
        path = folder / FILE_NAMES[kind]
        path.write_text(write(), encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Write the files into the folder named on the command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m stethoscope_desktop.cli_docs FOLDER", file=sys.stderr)
        return 64
    for path in write_all(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
