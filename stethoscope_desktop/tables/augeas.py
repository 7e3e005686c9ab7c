"""osquery's `augeas`, for a documented subset of augeas's lenses written in Python.

osquery (osquery/tables/system/posix/augeas.cpp) loads every file augeas has a lens for and
matches augeas path expressions against the tree: `path = X` matches `/files` + X and everything
below it (`/files/X//*`); `path LIKE P` does the same with `%%` as `/*` and `%` as `*`; `node = N`
matches the expression N itself, `node LIKE P` with the same wildcards. Each match is a row:
`node` (the augeas path, with `[n]` where siblings share a label), `label`, `value` ("" when the
node has none) and `path` (the file the node belongs to; for the folders above the files, the
node without its `/files` prefix). Augeas matches whole labels only (`*` is a whole step), so
`path LIKE '/etc/hosts%'` matches nothing.

The lenses implemented here (augeas has some 400; these are the ones IT's checks read):
- Sshd, for /etc/ssh/sshd_config and /etc/ssh/sshd_config.d/*.conf: a keyword is a node named
  as written (`/files/etc/ssh/sshd_config/PermitRootLogin` = "no"); AcceptEnv, AllowGroups,
  AllowUsers, DenyGroups and DenyUsers hold their words as children numbered 1, 2, … (numbers go
  on across lines of the same keyword in a file); MACs, Ciphers, KexAlgorithms,
  HostKeyAlgorithms, GSSAPIKexAlgorithms, CASignatureAlgorithms and PubkeyAcceptedKeyTypes hold
  their comma-separated items the same way; `Subsystem sftp X` is `Subsystem/sftp` = X; a
  `Match` block is `Match/Condition/<criterion>` = value and `Match/Settings/<keyword>` for the
  lines after it. Comments are `#comment` nodes holding the text after `#`.
- Login_defs, for /etc/login.defs: `KEY value` is `/files/etc/login.defs/KEY` = value, comments
  as above.

A query that names a file outside this subset (by `path`, by a `node` below `/files`, or a
pattern matching such a file) fails with a reason naming the lens augeas would use, instead of
returning no rows; so does a query with no `path` or `node` constraint (osquery would return the
whole tree of every file augeas reads) and one on augeas's own `/augeas` tree. A line a lens here
cannot parse fails the query with its line number (augeas would return no rows for the file).
Files larger than MAX_FILE_BYTES fail the query too.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from stethoscope_desktop.tables.base import (
    Column,
    Operator,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
)
from stethoscope_desktop.tables.file import (
    MAX_MATCHES,
    PathStyle,
    PatternExpander,
    is_folder,
    is_regular_file,
    permission_denied,
)
from stethoscope_desktop.tables.system import System

MAX_FILE_BYTES = 1024 * 1024

# Which lens augeas reads a common file with, to name it when a query asks for one we lack.
_OTHER_LENSES: tuple[tuple[str, str], ...] = (
    ("/etc/hosts", "Hosts"),
    ("/etc/os-release", "Shellvars"),
    ("/etc/default/*", "Shellvars"),
    ("/etc/sysctl.conf", "Sysctl"),
    ("/etc/sysctl.d/*", "Sysctl"),
    ("/etc/pam.d/*", "Pam"),
    ("/etc/security/limits.conf", "Limits"),
    ("/etc/security/pwquality.conf", "Pwquality"),
    ("/etc/fstab", "Fstab"),
    ("/etc/sudoers", "Sudoers"),
    ("/etc/sudoers.d/*", "Sudoers"),
    ("/etc/passwd", "Passwd"),
    ("/etc/group", "Group"),
    ("/etc/shadow", "Shadow"),
    ("/etc/gshadow", "Gshadow"),
    ("/etc/modprobe.d/*", "Modprobe"),
    ("/etc/crontab", "Cron"),
    ("/etc/cron.d/*", "Cron"),
    ("/etc/resolv.conf", "Resolv"),
    ("/etc/ssh/ssh_config", "Ssh"),
    ("/etc/ssh/ssh_config.d/*", "Ssh"),
    ("/etc/rsyslog.conf", "Rsyslog"),
    ("/etc/rsyslog.d/*", "Rsyslog"),
    ("/etc/systemd/*", "Systemd"),
    ("/etc/audit/auditd.conf", "Auditd"),
    ("/etc/chrony.conf", "Chrony"),
    ("/etc/chrony/chrony.conf", "Chrony"),
    ("/etc/ntp.conf", "Ntp"),
    ("/etc/default/grub", "Shellvars"),
    ("/etc/selinux/config", "Semanage"),
    ("/etc/login.defs", "Login_defs"),
)


@dataclass
class Node:
    """A node of augeas's tree."""

    label: str
    value: str | None = None
    children: list[Node] = field(default_factory=list)
    file: str | None = None

    def add(self, label: str, value: str | None = None) -> Node:
        """Append a child and return it."""
        child = Node(label, value, file=self.file)
        self.children.append(child)
        return child

    def child(self, label: str) -> Node:
        """Return the (first) child labelled `label`, creating it when missing."""
        for existing in self.children:
            if existing.label == label:
                return existing
        return self.add(label)


class LensError(ValueError):
    """A line a lens cannot parse."""


_SSHD_ARRAYS = {"acceptenv", "allowgroups", "allowusers", "denygroups", "denyusers"}
_SSHD_LISTS = {
    "macs",
    "ciphers",
    "kexalgorithms",
    "hostkeyalgorithms",
    "gssapikexalgorithms",
    "casignaturealgorithms",
    "pubkeyacceptedkeytypes",
}
_EMPTY = re.compile(r"^[ \t]*#?[ \t]*$")
_COMMENT = re.compile(r"^[ \t]*#[ \t]*(.*?)[ \t\r]*$")
_SSHD_ENTRY = re.compile(r"^[ \t]*([A-Za-z0-9]+)[ \t=]+(.*?)[ \t\r]*$")
_SSHD_WORD = re.compile(r"\"([^\"\n]*)\"|'([^'\n]*)'|([^\"' \t=]+)")
_LOGIN_DEFS_ENTRY = re.compile(r"^([A-Za-z0-9_.-]+)[ \t]+(\S.*?)[ \t\r]*$")


def _sshd_words(text: str) -> list[str]:
    return [
        next(group for group in match.groups() if group is not None)
        for match in _SSHD_WORD.finditer(text)
    ]


def _entries(text: str, comments: Node | Callable[[], Node]) -> Iterator[tuple[int, str]]:
    """Yield (line number, line) of the lines that are not empty, adding comments as nodes.

    Empty lines, and a lone "#", are no node (Util.empty); a comment is a `#comment` node holding
    its text (Util.comment), added to `comments` (or to the node it returns, where that moves).
    """
    for number, line in enumerate(text.splitlines(), start=1):
        if _EMPTY.match(line):
            continue
        comment = _COMMENT.match(line)
        if comment:
            parent = comments if isinstance(comments, Node) else comments()
            parent.add("#comment", comment.group(1))
            continue
        yield number, line


def parse_sshd(text: str, into: Node) -> None:
    """Fill `into` (a file node) with the tree augeas's Sshd lens gives `text`."""
    counters: dict[str, int] = {}
    # Where entries go: the file, then the Settings of the last Match block.
    blocks = [into]

    def numbered(parent: Node, keyword: str, values: list[str]) -> None:
        for value in values:
            counters[keyword.lower()] = counters.get(keyword.lower(), 0) + 1
            parent.add(str(counters[keyword.lower()]), value)

    for number, line in _entries(text, lambda: blocks[-1]):
        target = blocks[-1]
        entry = _SSHD_ENTRY.match(line)
        if entry is None:
            raise LensError(f"line {number}")
        keyword, value = entry.group(1), entry.group(2)
        lowered = keyword.lower()
        if lowered == "match":
            block = into.add(keyword)
            condition = block.add("Condition")
            words = [w for w in re.split(r"[ \t=]+", value) if w]
            if len(words) % 2:
                raise LensError(f"line {number}")
            for criterion, argument in zip(words[::2], words[1::2], strict=True):
                condition.add(criterion, argument.strip("\"'"))
            blocks.append(block.add("Settings"))
        elif lowered in _SSHD_ARRAYS:
            numbered(target.add(keyword), keyword, _sshd_words(value))
        elif lowered in _SSHD_LISTS:
            numbered(target.add(keyword), keyword, [v for v in value.split(",") if v])
        elif lowered == "subsystem":
            parts = re.split(r"[ \t=]+", value, maxsplit=1)
            if len(parts) != 2:
                raise LensError(f"line {number}")
            target.add(keyword).add(parts[0], parts[1])
        else:
            target.add(keyword, value)


def parse_login_defs(text: str, into: Node) -> None:
    """Fill `into` (a file node) with the tree augeas's Login_defs lens gives `text`."""
    for number, line in _entries(text, into):
        entry = _LOGIN_DEFS_ENTRY.match(line)
        if entry is None:
            raise LensError(f"line {number}")
        into.add(entry.group(1), entry.group(2))


@dataclass(frozen=True)
class Lens:
    """One lens: its augeas name, the files it reads (glob patterns) and its parser."""

    name: str
    files: tuple[str, ...]
    parse: Callable[[str, Node], None]

    def reads(self, path: str) -> bool:
        """Return True if this lens reads `path`."""
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.files)


LENSES = (
    Lens("Sshd", ("/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/*.conf"), parse_sshd),
    Lens("Login_defs", ("/etc/login.defs",), parse_login_defs),
)


def lens_for(path: str) -> Lens | None:
    """Return the implemented lens that reads `path`, if any."""
    return next((lens for lens in LENSES if lens.reads(path)), None)


def _unsupported(path: str) -> TableError:
    other = next(
        (name for pattern, name in _OTHER_LENSES if fnmatch.fnmatchcase(path, pattern)), None
    )
    implemented = "; ".join(f"{lens.name} for {', '.join(lens.files)}" for lens in LENSES)
    which = f"augeas's {other} lens" if other else "an augeas lens"
    return TableError(
        f"augeas: {path} is read by {which}, which the built-in engine does not implement "
        f"(it implements {implemented})"
    )


# -- augeas path expressions -------------------------------------------------------------------

_STEP = re.compile(r"^(?P<name>[^\[\]]+)(?:\[(?P<index>\d+)\])?$")


def _steps(expression: str) -> list[tuple[bool, str, int | None]] | None:
    """Parse `/a//b[2]/*` into (descendant?, name, index) steps; None if not supported."""
    if not expression.startswith("/"):
        return None
    steps: list[tuple[bool, str, int | None]] = []
    descendant = False
    for token in expression[1:].split("/"):
        if token == "":
            if descendant:
                return None
            descendant = True
            continue
        match = _STEP.match(token)
        if match is None:
            return None
        index = match.group("index")
        steps.append((descendant, match.group("name"), int(index) if index else None))
        descendant = False
    return steps if not descendant else None


@dataclass(frozen=True)
class Placed:
    """A node with its augeas path, in document order."""

    node: Node
    path: str
    order: int


def _walk(root: Node) -> Iterator[tuple[Node, str, int]]:
    counter = 0

    def visit(node: Node, path: str) -> Iterator[tuple[Node, str, int]]:
        nonlocal counter
        counts: dict[str, int] = {}
        for child in node.children:
            counts[child.label] = counts.get(child.label, 0) + 1
        seen: dict[str, int] = {}
        for child in node.children:
            seen[child.label] = seen.get(child.label, 0) + 1
            suffix = f"[{seen[child.label]}]" if counts[child.label] > 1 else ""
            child_path = f"{path}/{child.label}{suffix}"
            counter += 1
            yield child, child_path, counter
            yield from visit(child, child_path)

    yield from visit(root, "")


def match_expression(root: Node, expression: str) -> list[Placed]:
    """Return the nodes an augeas path expression (steps, `*`, `//`, `[n]`) matches."""
    steps = _steps(expression)
    if steps is None:
        return []
    placed = {id(node): Placed(node, path, order) for node, path, order in _walk(root)}
    parents: dict[int, Node] = {}
    for node, _, _ in _walk(root):
        for child in node.children:
            parents[id(child)] = node
    current: list[Node] = [root]
    for descendant, name, index in steps:
        following: list[Node] = []
        for context in current:
            candidates = (
                [p.node for p in placed.values() if _below(p.node, context, parents)]
                if descendant
                else context.children
            )
            named = [c for c in candidates if name == "*" or c.label == name]
            if index is not None:
                by_parent: dict[int, list[Node]] = {}
                for candidate in named:
                    by_parent.setdefault(id(parents[id(candidate)]), []).append(candidate)
                named = [group[index - 1] for group in by_parent.values() if len(group) >= index]
            following.extend(named)
        current = list({id(n): n for n in following}.values())
    return sorted((placed[id(n)] for n in current if id(n) in placed), key=lambda p: p.order)


def _below(node: Node, ancestor: Node, parents: dict[int, Node]) -> bool:
    parent = parents.get(id(node))
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parents.get(id(parent))
    return False


def like_to_expression(pattern: str) -> str:
    """Turn a LIKE pattern into an augeas expression as osquery does (`%%` `/*`, `%` `*`)."""
    return pattern.replace("%%", "/*").replace("%", "*")


class Augeas(TablePlugin):
    """osquery's `augeas`, over the lenses this module implements."""

    name = "augeas"
    columns = (
        Column("node", "text", index=True),
        Column("value"),
        Column("label"),
        Column("path"),
    )
    platforms = ("linux", "darwin")

    def __init__(self, system: System) -> None:
        self._system = system

    def key_columns(self) -> tuple[str, ...]:
        """Return node and path: osquery's spec marks path "additional", a constraint it uses."""
        return ("node", "path")

    def generate(self, context: QueryContext) -> Iterable[Row]:
        """Return the nodes the query's `path` and `node` constraints match."""
        expressions: list[str] = []
        files: dict[str, None] = {}
        # The constraints of one query are ANDed: rows must come from the files that any one
        # constraint names, so those that name files by wildcard need not be resolved.
        undetermined: list[str] = []
        for constraint in context.constraints:
            if not constraint.expr or constraint.op not in (Operator.EQUALS, Operator.LIKE):
                continue
            like = constraint.op is Operator.LIKE
            if constraint.column == "path":
                expression = "/files" + (
                    like_to_expression(constraint.expr) if like else constraint.expr
                )
                if not expression.endswith("*"):
                    expressions.append(expression)
                    expression += "//*"
                expressions.append(expression)
                files.update(dict.fromkeys(self._files_for_path(constraint.expr, like)))
            elif constraint.column == "node":
                expression = like_to_expression(constraint.expr) if like else constraint.expr
                if not expression.startswith("/"):
                    expression = "/files/" + expression  # augeas's context for relative paths
                expressions.append(expression)
                named = self._files_for_node(expression)
                if named is None:
                    undetermined.append(constraint.expr)
                else:
                    files.update(dict.fromkeys(named))
        if undetermined and len(undetermined) == len(expressions):
            raise TableError(
                f"augeas: the node pattern {undetermined[0]!r} names its files by wildcard; the "
                "built-in engine needs the file named too (path = '/etc/ssh/sshd_config')"
            )
        if not expressions:
            raise TableError(
                "augeas needs a path or node constraint on the built-in engine "
                "(WHERE path = '/etc/ssh/sshd_config'); without one osquery returns every file "
                "augeas reads"
            )
        root = Node("")
        for path in files:
            self._load(root, path)
        matched: dict[int, Placed] = {}
        for expression in expressions:
            for placed in match_expression(root, expression):
                matched[id(placed.node)] = placed
        rows: list[Row] = []
        for placed in sorted(matched.values(), key=lambda p: p.order):
            node = placed.node
            path = node.file if node.file is not None else placed.path.removeprefix("/files")
            rows.append(
                {"node": placed.path, "value": node.value or "", "label": node.label, "path": path}
            )
        return rows

    def _expander(self) -> PatternExpander:
        return PatternExpander.as_go_glob(
            self._system, PathStyle.for_platform("linux"), max_matches=MAX_MATCHES
        )

    def _files_for_path(self, path: str, like: bool) -> list[str]:
        if not like:
            if is_folder(self._system, path):
                return self._checked([], path)
            return self._checked([path], path) if is_regular_file(self._system, path) else []
        pattern = path.replace("%%", "*").replace("%", "*")
        existing = [p for p in self._expander().glob(pattern) if is_regular_file(self._system, p)]
        return self._checked(existing, path)

    def _files_for_node(self, expression: str) -> list[str] | None:
        """Return the file a node expression lies in; None if a wildcard comes first."""
        if not expression.startswith("/files/"):
            raise TableError(
                f"augeas: the built-in engine reads only file nodes (/files/…), not {expression}"
            )
        prefix = ""
        for component in expression.removeprefix("/files/").split("/"):
            if "*" in component or component == "":
                return None
            prefix += "/" + re.sub(r"\[\d+\]$", "", component)
            if is_regular_file(self._system, prefix):
                return self._checked([prefix], prefix)
            if not is_folder(self._system, prefix):
                return []  # nothing there: augeas has no node for it either
        return self._checked([], prefix)

    def _checked(self, paths: list[str], asked: str) -> list[str]:
        if not paths and is_folder(self._system, asked):
            raise TableError(
                f"augeas: {asked} is a folder; osquery would return every file augeas reads "
                "below it, and the built-in engine implements only "
                + "; ".join(f"{lens.name} for {', '.join(lens.files)}" for lens in LENSES)
            )
        for path in paths:
            if lens_for(path) is None:
                raise _unsupported(path)
        return paths

    def _load(self, root: Node, path: str) -> None:
        lens = lens_for(path)
        if lens is None:
            raise _unsupported(path)
        try:
            data = self._system.read_bytes(path, limit=MAX_FILE_BYTES + 1)
        except PermissionError:
            raise permission_denied(path) from None
        except OSError:
            return
        if len(data) > MAX_FILE_BYTES:
            raise TableError(f"augeas: {path} is larger than {MAX_FILE_BYTES // 1024} KiB")
        parent = root.child("files")
        for part in path.strip("/").split("/")[:-1]:
            parent = parent.child(part)
        node = Node(path.rsplit("/", 1)[-1], file=path)
        parent.children.append(node)
        try:
            lens.parse(data.decode("utf-8", "replace"), node)
        except LensError as error:
            raise TableError(
                f"augeas: the {lens.name} lens here cannot parse {error} of {path} "
                "(augeas itself would return no rows for this file)"
            ) from None
