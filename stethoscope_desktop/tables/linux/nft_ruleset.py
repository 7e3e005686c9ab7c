"""What an nftables ruleset file does to new incoming connections, read without root.

`nft list ruleset` needs CAP_NET_ADMIN, so an unprivileged check can only read the file that
nftables.service loads (/etc/nftables.conf on Debian, /etc/sysconfig/nftables.conf on Fedora).
This module reads the subset of nft's language such files are written in and answers one
question: does the **input hook** drop or reject new incoming connections, for IPv4 and for IPv6?

What is read:
- comments (`#` to the end of the line, outside quoted strings), line continuations (a backslash
  at the end of a line), statements ended by a new line or `;`, and `{ … }` sets spanning lines;
- `include "file"` (also with `*`, `?`, `[…]` in the last path component, matched files in name
  order, no match not an error), relative names against /etc as nft's default include path;
  followed inside the root at most `MAX_INCLUDE_DEPTH` deep, `MAX_FILES` files and
  `MAX_TOTAL_BYTES` in all;
- `define`/`redefine`/`undefine` and `$name`;
- `flush ruleset`, `table`, `chain`, `add`/`create`/`insert rule`, `flush`/`delete`/`destroy`
  `table` and `chain`, several tables and families, a table's `flags dormant` (its chains do
  nothing); sets, maps, flowtables and other objects are skipped.

How a verdict is reached: every base chain with `type filter hook input` in an `ip`, `ip6` or
`inet` table sees the packet; a drop in any of them is final, an accept only ends that chain. For
one chain, the rules are walked in order as a new connection from any other computer would meet
them: a rule that cannot match a new connection (`ct state established,related accept`,
`ct state invalid drop`) is passed over; a rule whose only conditions are "any new connection"
(`ct state new`), "not from loopback" (`iif != lo`), "addressed to this host" (`pkttype host`),
`counter`, `log` or a comment decides (accept, drop or reject, or `jump`/`goto` a chain whose
outcome is followed the same way, at most `MAX_JUMP_DEPTH` deep); a rule with any other condition
(`tcp dport 22 accept`, `iifname "wlan0" jump wifi_in`) decides only for some connections and is
not counted; `ct state vmap { … }` is looked up for `new`. When no rule decides, the chain's
policy does. A chain that accepts every connection before any drop (`accept` alone) lets them in.

Not followed (said in `InputHook.unknown`, so the verdict is "cannot tell"): `queue` deciding every
new connection (a program decides), rules deleted, replaced or placed by handle or index, and
`rename`. Not looked at: `netdev` ingress chains and `bridge` tables, conditions that happen to
cover everything (`ip saddr 0.0.0.0/0`), and what other programs load at run time.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from stethoscope_desktop.tables.linux._common import os_error_reason
from stethoscope_desktop.tables.system import System

MAX_INCLUDE_DEPTH = 16  # nft's own limit of nested includes
MAX_FILES = 256
MAX_TOTAL_BYTES = 1024 * 1024
MAX_TOKENS = 200_000
MAX_JUMP_DEPTH = 16
DEFAULT_INCLUDE_DIR = "/etc"  # nft's compiled-in include path on Debian and Fedora (`nft -h`)

_FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
_INPUT_FAMILIES = {"ip": ("ipv4",), "ip6": ("ipv6",), "inet": ("ipv4", "ipv6")}
_VERDICTS = ("accept", "drop", "reject", "queue", "continue", "return", "jump", "goto")
_OBJECTS = (
    "set",
    "map",
    "element",
    "flowtable",
    "counter",
    "quota",
    "limit",
    "secmark",
    "synproxy",
    "ct",
)
_VERBS = ("add", "create", "insert", "replace", "delete", "destroy", "flush", "reset")
_WILDCARD = re.compile(r"[*?\[]")
_CT_STATES = {"new", "established", "related", "invalid", "untracked"}


class NftSyntaxError(ValueError):
    """The ruleset file is not in the language this module reads (nft would refuse it too)."""


@dataclass(frozen=True, slots=True)
class Token:
    """One word, quoted string or punctuation (`{`, `}`, `,`), or an end of statement (`;`)."""

    text: str
    where: str  # file:line
    quoted: bool = False

    @property
    def end(self) -> bool:
        """Return True for the end of a statement (a new line or `;`)."""
        return self.text == ";" and not self.quoted

    def punct(self, text: str) -> bool:
        """Return True when this is the unquoted punctuation or keyword `text`."""
        return self.text == text and not self.quoted


@dataclass
class Chain:
    """A chain as the file leaves it: its hook (base chains only), policy and rules."""

    family: str
    table: str
    name: str
    chain_type: str = ""
    hook: str = ""
    policy: str = "accept"
    rules: list[list[Token]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The chain as nft names it: family, table and chain."""
        return f"{self.family} {self.table} {self.name}"


@dataclass
class Table:
    """A table: its chains by name, and whether it is dormant (then it filters nothing)."""

    family: str
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)
    dormant: bool = False


@dataclass
class Ruleset:
    """The tables the file leaves, the files read and what could not be followed."""

    tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    unfollowed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChainOutcome:
    """What one input chain does to a new connection from elsewhere, and because of what."""

    chain: Chain
    verdict: str  # "drop" (also reject), "accept", or "unknown"
    because: str
    partial: tuple[str, ...] = ()  # rules that decide for some connections only, not counted


@dataclass(frozen=True)
class InputHook:
    """Whether new incoming IPv4 and IPv6 connections are dropped or rejected at the input hook."""

    ipv4: bool
    ipv6: bool
    chains: tuple[ChainOutcome, ...]
    files: tuple[str, ...]
    unknown: tuple[str, ...]  # why the verdict cannot be told (empty when it can)

    def describe(self) -> str:
        """Say per input chain what it does, or that there is none."""
        if not self.chains:
            return "no chain is attached to the input hook"
        return "; ".join(
            f"{o.chain.label}: {o.because}"
            + (
                f" (rules that decide for some connections only are not counted: "
                f"{', '.join(o.partial)})"
                if o.partial and o.verdict == "accept"
                else ""
            )
            for o in self.chains
        )


# -- reading files into tokens -------------------------------------------------------------------


class _Reader:
    """Reads a file and its includes into one token list, within the bounds above."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.files: list[str] = []
        self.total = 0

    def read(self, path: str, depth: int = 0) -> list[Token]:
        if depth > MAX_INCLUDE_DEPTH:
            raise NftSyntaxError(f"{path}: includes nest deeper than {MAX_INCLUDE_DEPTH}")
        if len(self.files) >= MAX_FILES:
            raise NftSyntaxError(f"{path}: more than {MAX_FILES} files are included")
        left = MAX_TOTAL_BYTES - self.total
        try:
            text = self.system.read_text(path, limit=left + 1)
        except OSError as error:
            raise NftSyntaxError(f"cannot read {path}: {os_error_reason(error)}") from error
        self.total += len(text.encode("utf-8", "replace"))
        if self.total > MAX_TOTAL_BYTES:
            raise NftSyntaxError(f"the ruleset is larger than {MAX_TOTAL_BYTES} bytes at {path}")
        self.files.append(path)
        return self._expand(tokenize(text, path), path, depth)

    def _expand(self, tokens: list[Token], path: str, depth: int) -> list[Token]:
        out: list[Token] = []
        at_start = True
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if at_start and token.punct("include"):
                if index + 1 >= len(tokens) or not tokens[index + 1].quoted:
                    raise NftSyntaxError(f"{token.where}: include needs a quoted file name")
                name = tokens[index + 1].text
                for included in self._resolve(name, token.where):
                    out.extend(self.read(included, depth + 1))
                    out.append(Token(";", token.where))
                index += 2
                continue
            out.append(token)
            if len(out) > MAX_TOKENS:
                raise NftSyntaxError(f"{token.where}: the ruleset has more than {MAX_TOKENS} words")
            at_start = token.end or token.punct("{") or token.punct("}")
            index += 1
        return out

    def _resolve(self, name: str, where: str) -> list[str]:
        path = name if name.startswith("/") else posixpath.join(DEFAULT_INCLUDE_DIR, name)
        path = posixpath.normpath(path)
        folder, last = posixpath.split(path)
        if _WILDCARD.search(folder):
            raise NftSyntaxError(f"{where}: include {name!r}: wildcards only in the file name")
        if not _WILDCARD.search(last):
            return [path]
        try:
            entries = self.system.list_dir(folder)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise NftSyntaxError(
                f"{where}: include {name!r}: cannot list {folder}: {os_error_reason(error)}"
            ) from error
        return [
            posixpath.join(folder, entry)
            for entry in sorted(entries)
            if fnmatch.fnmatchcase(entry, last)
            and not entry.startswith(".")
            and not self.system.is_dir(posixpath.join(folder, entry))
        ]


_LEXEME = re.compile(
    r"""(?P<continued>\\\r?\n)
    | (?P<comment>\#[^\n]*)
    | (?P<string>"[^"]*")
    | (?P<unclosed>")
    | (?P<end>[\n;])
    | (?P<punct>[{},])
    | (?P<space>[ \t\r\f\v]+)
    | (?P<word>[^\s{},;"\#\\]+|\\)""",
    re.VERBOSE,
)


def tokenize(text: str, path: str) -> list[Token]:
    """Split nft text into tokens: words, quoted strings, `{ } ,` and `;` for statement ends.

    A word glued to a backslash that does not end a line is split there (nft has no such words).
    """
    tokens: list[Token] = []
    line = 1
    for match in _LEXEME.finditer(text):
        kind = match.lastgroup
        value = match.group()
        if kind == "word" or kind == "punct":
            tokens.append(Token(value, f"{path}:{line}"))
        elif kind == "string":
            tokens.append(Token(value[1:-1], f"{path}:{line}", quoted=True))
            line += value.count("\n")
        elif kind == "end":
            tokens.append(Token(";", f"{path}:{line}"))
            if value == "\n":
                line += 1
        elif kind == "continued":
            line += 1
        elif kind == "unclosed":
            raise NftSyntaxError(f"{path}:{line}: a quoted string is not closed")
        if len(tokens) > MAX_TOKENS:
            raise NftSyntaxError(f"{path}:{line}: the ruleset has more than {MAX_TOKENS} words")
    return tokens


# -- parsing statements into tables and chains ---------------------------------------------------


def _opens_block(words: list[Token]) -> bool:
    """Return True when a `{` after these words opens a block (a table, chain or object).

    After `define name =` or in a rule (`add rule … ip saddr { … } drop`) it opens a set.
    """
    texts = [w.text for w in words[:2]]
    if not texts or texts[0] in ("define", "redefine"):
        return False
    return "rule" not in texts


class _Parser:
    def __init__(self, tokens: list[Token], ruleset: Ruleset) -> None:
        self.tokens = tokens
        self.index = 0
        # Words of `$name`s being read, last first: substituted as they are reached, without
        # copying the token list (a file full of `$name`s stays linear).
        self.pending: list[Token] = []
        self.expanded = 0
        self.ruleset = ruleset
        self.scopes: list[dict[str, list[Token]]] = [{}]

    # token access, with $variables replaced by their definitions
    def _peek(self) -> Token | None:
        while True:
            if self.pending:
                token = self.pending[-1]
            elif self.index < len(self.tokens):
                token = self.tokens[self.index]
            else:
                return None
            if token.quoted or not token.text.startswith("$"):
                return token
            self._advance()
            value = self._lookup(token.text[1:], token.where)
            self.expanded += len(value)
            if self.expanded > MAX_TOKENS:
                raise NftSyntaxError(f"{token.where}: variables expand past {MAX_TOKENS} words")
            self.pending.extend(reversed(value))

    def _advance(self) -> None:
        if self.pending:
            self.pending.pop()
        else:
            self.index += 1

    def _lookup(self, name: str, where: str) -> list[Token]:
        for scope in reversed(self.scopes):
            if name in scope:
                return list(scope[name])
        raise NftSyntaxError(f"{where}: ${name} is not defined")

    def _next(self) -> Token:
        token = self._peek()
        if token is None:
            last = self.tokens[-1].where if self.tokens else "the ruleset"
            raise NftSyntaxError(f"{last}: the file ends inside a statement or block")
        self._advance()
        return token

    def _skip_ends(self) -> None:
        while (token := self._peek()) is not None and token.end:
            self._advance()

    def _statement(self, *, stop_at_brace: bool) -> list[Token]:
        """Read up to the end of a statement; `{` ends it when `stop_at_brace` (left unread)."""
        words: list[Token] = []
        depth = 0
        while (token := self._peek()) is not None:
            if depth == 0 and token.end:
                self._advance()
                break
            if depth == 0 and token.punct("}"):
                break
            if depth == 0 and stop_at_brace and token.punct("{") and _opens_block(words):
                break
            if token.punct("{"):
                depth += 1
            elif token.punct("}"):
                depth -= 1
            words.append(token)
            self._advance()
        if depth:
            raise NftSyntaxError(f"{words[0].where}: a `{{` is not closed")
        return words

    def _block_end(self, opened: Token) -> None:
        self._skip_ends()
        token = self._peek()
        if token is None or not token.punct("}"):
            raise NftSyntaxError(f"{opened.where}: a block is not closed")
        self._advance()

    def _skip_block(self) -> None:
        opened = self._next()  # the `{`
        depth = 1
        while depth:
            token = self._next() if self._peek() is not None else None
            if token is None:
                raise NftSyntaxError(f"{opened.where}: a block is not closed")
            if token.punct("{"):
                depth += 1
            elif token.punct("}"):
                depth -= 1

    # definitions
    def _define(self, words: list[Token]) -> bool:
        head = words[0].text if words and not words[0].quoted else ""
        if head in ("define", "redefine"):
            if len(words) < 3 or not words[2].punct("="):
                raise NftSyntaxError(f"{words[0].where}: {head} needs `name = value`")
            self.scopes[-1][words[1].text] = words[3:]
            return True
        if head == "undefine" and len(words) == 2:
            for scope in reversed(self.scopes):
                scope.pop(words[1].text, None)
            return True
        return False

    # top level
    def parse(self) -> None:
        while True:
            self._skip_ends()
            if self._peek() is None:
                return
            self._top_statement()

    def _top_statement(self) -> None:
        words = self._statement(stop_at_brace=True)
        token = self._peek()
        has_block = token is not None and token.punct("{")
        if not words:
            raise NftSyntaxError(f"{token.where if token else '?'}: unexpected `{{` or `}}`")
        if self._define(words):
            return
        texts = [w.text for w in words]
        verb = texts[0]
        if verb in _VERBS:
            rest = texts[1:]
        elif verb in ("table", "chain", "rule"):
            verb, rest = "add", texts
        elif verb in ("list", "describe", "monitor", "export"):
            if has_block:
                self._skip_block()
            return
        else:
            self._unfollowed(words, "a command this check does not know")
            if has_block:
                self._skip_block()
            return
        kind = rest[0] if rest else ""
        if verb == "flush" and kind == "ruleset":
            family = rest[1] if len(rest) > 1 else None
            for key in [k for k in self.ruleset.tables if family in (None, k[0])]:
                del self.ruleset.tables[key]
            return
        if kind == "table":
            self._table_command(verb, rest[1:], words, has_block)
        elif kind == "chain":
            self._chain_command(verb, rest[1:], words, has_block)
        elif kind == "rule":
            self._rule_command(verb, words[len(words) - len(rest) + 1 :])
        elif kind in _OBJECTS:
            if has_block:
                self._skip_block()
        else:
            self._unfollowed(words, "a command this check does not know")
            if has_block:
                self._skip_block()

    def _unfollowed(self, words: list[Token], why: str) -> None:
        shown = " ".join(w.text for w in words[:8])
        self.ruleset.unfollowed.append(f"{words[0].where}: `{shown}` ({why})")

    @staticmethod
    def _family_name(names: list[str], count: int, where: str) -> tuple[str, list[str]]:
        """Split `[family] name...` into the family (default ip) and `count` names."""
        family = "ip"
        if names and names[0] in _FAMILIES and len(names) > count:
            family, names = names[0], names[1:]
        if len(names) < count:
            raise NftSyntaxError(f"{where}: a table or chain is not named")
        return family, names[:count]

    def _table(self, family: str, name: str) -> Table:
        return self.ruleset.tables.setdefault((family, name), Table(family, name))

    def _table_command(
        self, verb: str, names: list[str], words: list[Token], has_block: bool
    ) -> None:
        if names[:1] == ["handle"] or "handle" in names:
            self._unfollowed(words, "a table named by its handle")
            if has_block:
                self._skip_block()
            return
        family, (name,) = self._family_name(names, 1, words[0].where)
        if verb in ("delete", "destroy"):
            self.ruleset.tables.pop((family, name), None)
        elif verb == "flush":
            for chain in self._table(family, name).chains.values():
                chain.rules.clear()
        elif verb in ("add", "create"):
            table = self._table(family, name)
            if has_block:
                self._table_block(table)
        else:
            self._unfollowed(words, f"`{verb} table`")
            if has_block:
                self._skip_block()

    def _block(self, *, stop_at_brace: bool) -> Iterator[list[Token]]:
        """Yield the statements of the `{ … }` block ahead, in a scope of its own (defines kept)."""
        opened = self._next()
        self.scopes.append({})
        while True:
            self._skip_ends()
            token = self._peek()
            if token is None or token.punct("}"):
                break
            words = self._statement(stop_at_brace=stop_at_brace)
            if words and self._define(words):
                continue
            yield words
        self.scopes.pop()
        self._block_end(opened)

    def _table_block(self, table: Table) -> None:
        for words in self._block(stop_at_brace=True):
            after = self._peek()
            has_block = after is not None and after.punct("{")
            if not words:
                where = after.where if after is not None else "?"
                raise NftSyntaxError(f"{where}: a block without a name in table {table.name}")
            head = words[0].text
            if head == "chain" and len(words) >= 2 and has_block:
                self._chain_block(self._chain(table, words[1].text))
            elif head == "chain" and len(words) == 2:
                self._chain(table, words[1].text)
            elif head == "flags":
                table.dormant = "dormant" in [w.text for w in words[1:]]
            elif has_block:
                self._skip_block()

    def _chain(self, table: Table, name: str) -> Chain:
        return table.chains.setdefault(name, Chain(table.family, table.name, name))

    def _chain_command(
        self, verb: str, names: list[str], words: list[Token], has_block: bool
    ) -> None:
        if "handle" in names:
            self._unfollowed(words, "a chain named by its handle")
            if has_block:
                self._skip_block()
            return
        family, (table_name, name) = self._family_name(names, 2, words[0].where)
        table = self._table(family, table_name)
        if verb in ("delete", "destroy"):
            table.chains.pop(name, None)
        elif verb == "flush":
            self._chain(table, name).rules.clear()
        elif verb in ("add", "create"):
            chain = self._chain(table, name)
            if has_block:
                self._chain_block(chain)
        else:
            self._unfollowed(words, f"`{verb} chain`")
            if has_block:
                self._skip_block()

    def _chain_block(self, chain: Chain) -> None:
        for words in self._block(stop_at_brace=False):
            if not words:
                continue
            head = words[0].text if not words[0].quoted else ""
            texts = [w.text for w in words]
            if head == "type" and "hook" in texts:
                chain.chain_type = texts[1] if len(texts) > 1 else ""
                chain.hook = texts[texts.index("hook") + 1] if texts[-1] != "hook" else ""
            elif head == "policy" and len(texts) >= 2:
                chain.policy = texts[1]
            elif head in ("comment", "devices", "device", "flags", "priority"):
                continue
            else:
                chain.rules.append(words)

    def _rule_command(self, verb: str, words: list[Token]) -> None:
        """`add rule [family] table chain rule…` (words start at the family or table)."""
        family = "ip"
        if words and words[0].text in _FAMILIES and not words[0].quoted:
            family, words = words[0].text, words[1:]
        if len(words) < 2:
            raise NftSyntaxError(f"{words[0].where if words else '?'}: a rule names no chain")
        table_name, chain_name, rule = words[0].text, words[1].text, words[2:]
        if rule and rule[0].text in ("position", "handle", "index"):
            self._unfollowed(words, f"a rule placed by its {rule[0].text}")
            return
        if verb in ("delete", "destroy", "replace", "reset"):
            self._unfollowed(words, f"`{verb} rule`")
            return
        chain = self._table(family, table_name).chains.get(chain_name)
        if chain is None:
            raise NftSyntaxError(f"{words[0].where}: chain {chain_name} does not exist")
        if verb == "insert":
            chain.rules.insert(0, rule)
        else:
            chain.rules.append(rule)


def read_ruleset(system: System, path: str) -> Ruleset:
    """Read a ruleset file and what it includes; raise NftSyntaxError naming file and line."""
    reader = _Reader(system)
    tokens = reader.read(path)
    ruleset = Ruleset()
    _Parser(tokens, ruleset).parse()
    ruleset.files = reader.files
    return ruleset


# -- what the rules do to a new connection -------------------------------------------------------


@dataclass(frozen=True)
class _Effect:
    """A rule's effect on a new incoming connection."""

    applies: str  # "never", "some" or "all"
    verdict: str  # "", accept, drop, reject, queue, continue, return, jump, goto
    target: str = ""


def _ct_state_matches_new(words: list[Token], index: int) -> tuple[bool, int] | None:
    """At `ct state`, return whether it matches a new connection and where it ends."""
    position = index + 2
    negated = False
    if position < len(words) and words[position].text in ("!=", "=="):
        negated = words[position].text == "!="
        position += 1
    states: set[str] = set()
    if position < len(words) and words[position].punct("{"):
        position += 1
        while position < len(words) and not words[position].punct("}"):
            if not words[position].punct(","):
                states.add(words[position].text)
            position += 1
        position += 1
    else:
        while position < len(words):
            states.update(s for s in words[position].text.split(",") if s)
            position += 1
            if position < len(words) and words[position].punct(","):
                position += 1
                continue
            break
    if not states or not states <= _CT_STATES:
        return None
    return ("new" in states) != negated, position


_LOG_OPTIONS = {"prefix", "level", "flags", "group", "snaplen", "queue-threshold"}


def rule_effect(words: list[Token]) -> _Effect:
    """Classify one rule for a new connection from another computer."""
    index = 0
    conditions = False
    while index < len(words):
        word = words[index]
        text = "" if word.quoted else word.text
        following = words[index + 1].text if index + 1 < len(words) else ""
        if text in _VERDICTS:
            target = following if text in ("jump", "goto") else ""
            return _Effect("some" if conditions else "all", text, target)
        if text == "vmap":
            return _Effect("some", "vmap")
        if text == "counter":
            index += 1
            if following == "name":
                index += 2
            while index + 1 < len(words) and words[index].text in ("packets", "bytes"):
                index += 2
            continue
        if text == "log":
            index += 1
            while index + 1 < len(words) and words[index].text in _LOG_OPTIONS:
                index += 2
                while index < len(words) and words[index].punct(","):
                    index += 2
            continue
        if text == "comment":
            index += 2
            continue
        if text == "ct" and following == "state":
            if index + 2 < len(words) and words[index + 2].punct("vmap"):
                return _vmap_effect(words, index + 3, conditions)
            matched = _ct_state_matches_new(words, index)
            if matched is None:
                conditions = True
                index += 2
                continue
            matches_new, index = matched
            if not matches_new:
                return _Effect("never", "")
            continue
        if text in ("iif", "iifname") or (text == "meta" and following in ("iif", "iifname")):
            start = index + (2 if text == "meta" else 1)
            if (
                start + 1 < len(words)
                and words[start].text == "!="
                and words[start + 1].text == "lo"
            ):
                index = start + 2
                continue
        if text == "pkttype" and following == "host":
            index += 2
            continue
        if (
            text == "meta"
            and following == "pkttype"
            and index + 2 < len(words)
            and words[index + 2].text == "host"
        ):
            index += 3
            continue
        if text == "meta" and following == "nftrace":
            index += 4
            continue
        conditions = True
        index += 1
    return _Effect("never", "")  # no verdict: counting, logging, marking only


def _vmap_effect(words: list[Token], index: int, conditions: bool) -> _Effect:
    """`ct state vmap { new : drop, … }`: the verdict a new connection gets, if any."""
    if index >= len(words) or not words[index].punct("{"):
        return _Effect("some", "vmap")
    elements: list[list[str]] = [[]]
    for word in words[index + 1 :]:
        if word.punct("}"):
            break
        if word.punct(","):
            elements.append([])
        else:
            elements[-1].append(word.text)
    for element in elements:
        joined = " ".join(element).replace(":", " : ").split()
        if ":" not in joined:
            continue
        keys = joined[: joined.index(":")]
        verdict = joined[joined.index(":") + 1 :]
        if "new" in keys and verdict and verdict[0] in _VERDICTS:
            target = verdict[1] if len(verdict) > 1 else ""
            return _Effect("some" if conditions else "all", verdict[0], target)
    return _Effect("never", "")


def _rule_text(words: list[Token]) -> str:
    shown = " ".join(f'"{w.text}"' if w.quoted else w.text for w in words).replace(" , ", ", ")
    return f"`{shown}` ({words[0].where})" if words else "an empty rule"


_Outcome = tuple[str, str, tuple[str, ...]]  # verdict, because, rules deciding for some only


class _Walker:
    """Follows one table's chains for a new connection; each chain is walked once (memoized)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.known: dict[str, _Outcome] = {}
        self.walking: set[str] = set()

    def outcome(self, chain: Chain, depth: int = 0) -> _Outcome:
        """Return drop, accept, fall (reaches its end or returns) or unknown, and why."""
        if chain.name in self.known:
            return self.known[chain.name]
        if chain.name in self.walking:
            return "unknown", f"jumps back into chain {chain.name}, a loop", ()
        if depth > MAX_JUMP_DEPTH:
            return "unknown", f"jumps nest deeper than {MAX_JUMP_DEPTH} chains", ()
        self.walking.add(chain.name)
        try:
            found = self._walk(chain, depth)
        finally:
            self.walking.discard(chain.name)
        self.known[chain.name] = found
        return found

    def _walk(self, chain: Chain, depth: int) -> _Outcome:
        partial: list[str] = []
        for words in chain.rules:
            effect = rule_effect(words)
            if effect.applies == "never" or effect.verdict == "continue":
                continue
            if effect.applies == "some":
                if effect.verdict in ("drop", "reject", "jump", "goto", "vmap", "queue"):
                    partial.append(_rule_text(words))
                continue
            at = _rule_text(words)
            if effect.verdict in ("drop", "reject"):
                return "drop", f"{effect.verdict}s every new connection at {at}", tuple(partial)
            if effect.verdict == "accept":
                return "accept", f"accepts every new connection at {at}", tuple(partial)
            if effect.verdict == "queue":
                return "unknown", f"hands every new connection to a program at {at}", ()
            if effect.verdict == "return":
                return "fall", f"returns at {at}", tuple(partial)
            if effect.verdict in ("jump", "goto"):
                target = self.table.chains.get(effect.target)
                if target is None:
                    return "unknown", f"{at} names a chain that does not exist", ()
                verdict, because, more = self.outcome(target, depth + 1)
                partial.extend(more)
                if verdict != "fall":
                    return (
                        verdict,
                        f"{effect.verdict} {target.name}, which {because}",
                        tuple(partial),
                    )
                if effect.verdict == "goto":
                    return "fall", f"goto {target.name}, which {because}", tuple(partial)
        return "fall", "reaches its end", tuple(partial)


def input_hook(ruleset: Ruleset) -> InputHook:
    """Judge what the ruleset's input hook does to new incoming connections."""
    outcomes: list[ChainOutcome] = []
    unknown = list(ruleset.unfollowed)
    dropped: set[str] = set()
    for table in ruleset.tables.values():
        if table.family not in _INPUT_FAMILIES or table.dormant:
            continue
        walker = _Walker(table)
        for chain in table.chains.values():
            if chain.hook != "input" or chain.chain_type != "filter":
                continue
            verdict, because, partial = walker.outcome(chain)
            if verdict == "fall":
                verdict = "drop" if chain.policy == "drop" else "accept"
                if not chain.rules:
                    because = f"policy {chain.policy}, no rules"
                elif because == "reaches its end":
                    because = f"no rule decides every new connection, so policy {chain.policy} does"
                else:
                    because = f"{because}, so its policy {chain.policy} decides"
            if verdict == "unknown":
                unknown.append(f"{chain.label} {because}")
            elif verdict == "drop":
                dropped.update(_INPUT_FAMILIES[table.family])
            outcomes.append(ChainOutcome(chain, verdict, because, partial))
    return InputHook(
        ipv4="ipv4" in dropped,
        ipv6="ipv6" in dropped,
        chains=tuple(outcomes),
        files=tuple(ruleset.files),
        unknown=tuple(unknown),
    )


def iter_chains(ruleset: Ruleset) -> Iterator[Chain]:
    """Every chain of every table, in the order the file declared them."""
    for table in ruleset.tables.values():
        yield from table.chains.values()
