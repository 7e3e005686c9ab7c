"""Measure this app against Netflix's Stethoscope: every historical file and query, what holds.

    .venv/bin/python tests/compat/measure_original.py ORIGINAL_GIT_DIR
        [--examples EXAMPLES_GIT_DIR] [--oracle /work/oracle] [--build-deb] [--engine E]

ORIGINAL_GIT_DIR is a clone (its git dir) of github.com/Netflix-Skunkworks/stethoscope-app;
every distinct version of each file, in every commit of every branch, is checked:

- `policy.yaml` (at any path): passes our `check-policy`; and, loaded as IT's policy and
  judged on this machine, each key it names gets a verdict in our report (none ignored).
- `instructions*.yaml`: loads as it is, or through `convert-instructions`, with every
  practice's titles, description and directions carried; and loaded as IT's texts, its titles
  and directions are the ones the report shows (per platform, on representative devices). What
  IT's texts must say is what the original displayed with them: its renderers are re-enacted
  (titles per state, Handlebars blocks, checklist labels, the macOS 10.14 flag per version; see
  "instructions: what the original showed" below), never our converter.
- `config.yaml`: `check-policy` accepts a folder with it.
- `schema.graphql`: our schema (by introspection) has every type, field, argument and enum
  value it has, with compatible types (ours may be stricter on output, looser on input).
- the clients' queries (`docs/GRAPHQL.md` and `docs/POLICIES.md` code blocks, the queries of
  `src/lib/Stethoscope.js` in every version, with that version's policy, and with
  `--examples` the example pages' query and policies): answered over HTTP by
  `stethoscope-desktop serve --port 0` with no error; null fields are listed.
- with `--oracle DIR` (a workspace whose `verdict.js` runs the original's verdict logic, see
  its README): each policy's verdicts on this machine's facts, ours (window and API) against
  the original's, key by key (application rule by rule) and overall. A difference holds only
  where it is one of the README's deliberate differences (`DELIBERATE`) and the original's own
  answers show it is (asked again with the fact flipped, or with what we do differently); such
  an outcome prints as `ok … (differs deliberately: …)` with the evidence in its notes, and an
  overall difference is deliberate only when every key's difference behind it is.
- with `--build-deb`: `packaging/linux/build-deb.sh` with the original's final practices folder.

It prints each file's outcome (commit, blob, reason), then "category: N of M hold", and exits
0 only when everything measured holds (1 when something does not, 2 when the history holds
none of Stethoscope's files). Nothing of the original is kept: files are read from
git into a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from graphql import GraphQLError

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from stethoscope_desktop import __version__  # noqa: E402
from stethoscope_desktop.api.compat import deliberate_differences, schema_gaps  # noqa: E402
from stethoscope_desktop.commands import (  # noqa: E402
    check_policy_command,
    convert_command,
    open_scanner,
)
from stethoscope_desktop.core.evaluate import evaluate, rule_applies  # noqa: E402
from stethoscope_desktop.core.facts import Facts, PlatformContext  # noqa: E402
from stethoscope_desktop.core.instructions import (  # noqa: E402
    PracticeText,
    directions_platform,
    parse_instructions,
)
from stethoscope_desktop.core.practices import (  # noqa: E402
    Practices,
    PracticesLoader,
    practices_folders,
)
from stethoscope_desktop.core.report import Report  # noqa: E402
from stethoscope_desktop.core.scanner import Scanner  # noqa: E402
from stethoscope_desktop.core.status import FeatureState  # noqa: E402
from stethoscope_desktop.core.strings import render  # noqa: E402
from stethoscope_desktop.core.yamlfile import YamlFileError, load_yaml  # noqa: E402
from stethoscope_desktop.resources import practices_dir  # noqa: E402

# Keys of Stethoscope's DevicePolicy that are settings, not practices: no verdict of their own.
SETTING_KEYS = frozenset({"windowsMaxScreenLockTimeout"})
APPLICATION_KEYS = ("applications", "requiredApplications", "bannedApplications",
                    "suggestedApplications")  # fmt: skip
INSTRUCTIONS_NAME = re.compile(r"^instructions(?:\.(?P<lang>[A-Za-z_-]+))?\.ya?ml$")
# Representative devices per platform key, for "IT's directions are the ones shown".
SHOWN_ON: Mapping[str, tuple[PlatformContext, ...]] = {
    "darwin": tuple(PlatformContext("darwin", "darwin", "", v) for v in ("10.13.6", "12.7.6", "15.1.0")),
    "win32": tuple(PlatformContext("windows", "win32", "", v) for v in ("10.0.19045", "10.0.26100")),
    "linux": tuple(
        PlatformContext("linux", "linux", d, v)
        for d, v in (("debian", "12.7.0"), ("ubuntu", "24.4.0"), ("fedora", "40.0.0"), ("", "1.0.0"))
    ),
    "ubuntu": (PlatformContext("linux", "linux", "ubuntu", "24.4.0"),),
}  # fmt: skip


# -- outcomes --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One thing measured: holds or not, why not, and notes worth knowing either way."""

    subject: str
    holds: bool
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    # False for what cannot be compared (listed, not counted).
    counted: bool = True
    # What holds only because it differs on purpose (documented deliberate differences).
    deliberate: list[str] = field(default_factory=list)


@dataclass
class Category:
    """The outcomes of one kind of check."""

    title: str
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: str = ""

    @property
    def counted(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.counted]

    @property
    def held(self) -> int:
        return sum(1 for outcome in self.counted if outcome.holds)

    def add(self, subject: str, problems: Sequence[str], notes: Sequence[str] = ()) -> None:
        self.outcomes.append(Outcome(subject, not problems, "; ".join(problems), list(notes)))


def print_category(category: Category) -> None:
    print(f"\n== {category.title}")
    if category.skipped:
        print(f"   skipped: {category.skipped}")
        return
    for outcome in category.outcomes:
        mark = "n/a " if not outcome.counted else "ok  " if outcome.holds else "FAIL"
        differs = ", ".join(outcome.deliberate)
        print(
            f"   {mark} {outcome.subject}"
            + (f" (differs deliberately: {differs})" if differs else "")
            + (f": {outcome.reason}" if outcome.reason else "")
        )
        for note in outcome.notes:
            print(f"          note: {note}")
    print(f"   -- {category.held} of {len(category.counted)} hold")


# -- the original's history ------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    """One distinct version of a file: where and when it first appeared, where else it lived."""

    sha: str
    path: str
    commit: str
    date: str
    paths: tuple[str, ...]

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def label(self) -> str:
        elsewhere = [p for p in self.paths if p != self.path]
        also = f" (also at {', '.join(elsewhere)})" if elsewhere else ""
        return f"{self.path}@{self.commit[:7]} {self.date} (blob {self.sha[:7]}){also}"


class History:
    """The files of a git repository across every commit of every branch."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir
        lines = self.git("log", "--all", "--reverse", "--date-order", "--format=%H %cs").split("\n")
        self.commits = [tuple(line.split(" ", 1)) for line in lines if line.strip()]
        self._first: dict[str, tuple[str, str, str]] = {}
        self._paths: dict[str, dict[str, None]] = {}
        for commit, date in self.commits:
            for line in self.git("ls-tree", "-r", "--full-tree", commit).splitlines():
                meta, path = line.split("\t", 1)
                _mode, kind, sha = meta.split()
                if kind != "blob":
                    continue
                self._first.setdefault(sha, (path, commit, date))
                self._paths.setdefault(sha, {})[path] = None

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    def blobs(self, wanted: Callable[[str], bool]) -> list[Blob]:
        """Every distinct file version whose path is wanted, oldest first."""
        found = []
        for sha, (path, commit, date) in self._first.items():
            paths = tuple(p for p in self._paths[sha] if wanted(p))
            if paths:
                first = path if wanted(path) else paths[0]
                found.append(Blob(sha, first, commit, date, paths))
        order = {commit: index for index, (commit, _date) in enumerate(self.commits)}
        return sorted(found, key=lambda b: (order[b.commit], b.path))

    def read(self, sha: str) -> str:
        return self.git("cat-file", "blob", sha)

    def at_commit(self, commit: str, wanted: Callable[[str], bool]) -> dict[str, str]:
        """The wanted files of one commit: path → text."""
        files = {}
        for line in self.git("ls-tree", "-r", "--full-tree", commit).splitlines():
            meta, path = line.split("\t", 1)
            if meta.split()[1] == "blob" and wanted(path):
                files[path] = self.read(meta.split()[2])
        return files

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()


def is_policy(path: str) -> bool:
    return PurePosixPath(path).name == "policy.yaml"


def is_instructions(path: str) -> bool:
    return INSTRUCTIONS_NAME.match(PurePosixPath(path).name) is not None


def is_config(path: str) -> bool:
    return PurePosixPath(path).name == "config.yaml" and "practices" in PurePosixPath(path).parts


def is_schema(path: str) -> bool:
    return PurePosixPath(path).name == "schema.graphql"


def stethoscope_camel_case(data: Mapping[str, Any]) -> dict[str, Any]:
    """What Stethoscope's `/policy` (spacesToCamelCase) did to a policy before it was posted.

    Spaced keys become camelCase (`os version` → `osVersion`); top-level strings with a letter
    are upper-cased (`always` → `ALWAYS`).
    """
    result: dict[str, Any] = {}
    for key, value in data.items():
        words = str(key).lower().split(" ")
        name = (
            str(key) if len(words) == 1 else words[0] + "".join(w.capitalize() for w in words[1:])
        )
        text = isinstance(value, str) and any(c.isalpha() for c in value)
        result[name] = value.upper() if text else value
    return result


def yaml_mapping(text: str) -> dict[str, Any] | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


# -- the app, run as it runs -----------------------------------------------------------------


def check_policy(paths: Sequence[Path], shown_as: Mapping[Path, str]) -> list[str]:
    """Run our `check-policy` on the paths; return its problems (empty when it accepts them)."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(io.StringIO()):
        code = check_policy_command(paths)
    if code == 0:
        return []
    text = output.getvalue()
    for path, name in shown_as.items():
        text = text.replace(str(path), name)
    lines = [line for line in text.splitlines() if line.strip()]
    return lines or [f"check-policy exited {code}"]


def load_practices(it_folder: Path, language: str = "en") -> Practices:
    """The practices as the app loads them with `it_folder` as IT's machine-wide folder."""
    folders = practices_folders(practices_dir(), machine=it_folder, env={})
    return PracticesLoader(folders, language).load()


@dataclass
class Machine:
    """This machine, scanned by our scanner on one engine."""

    scanner: Scanner

    def judge(self, practices: Practices) -> tuple[Report, Facts]:
        facts = self.scanner.gather(practices.policy)
        report = evaluate(
            practices.policy,
            facts,
            practices.instructions,
            organization=practices.config.organization,
            policy_files=practices.files,
            policy_problems=tuple(str(p) for p in practices.problems),
        )
        return report, facts


class Server:
    """`stethoscope-desktop serve --port 0`, started for the measurement and stopped after."""

    def __init__(self, engine: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "STETHOSCOPE_PRACTICES"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "stethoscope_desktop", "serve", "--port", "0",
             "--engine", engine],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )  # fmt: skip
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if match is None:
            self.stop()
            raise RuntimeError(f"serve did not start: {line.strip()}")
        self.url = match.group(1)

    def graphql(
        self, query: str, variables: Mapping[str, Any] | None, *, get: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """Send a request as a local program (no Origin); return status and JSON body."""
        for _attempt in range(30):
            if get:
                params = {"query": query}
                if variables is not None:
                    params["variables"] = json.dumps(variables)
                request = urllib.request.Request(
                    f"{self.url}/graphql?{urllib.parse.urlencode(params)}"
                )
            else:
                body = json.dumps({"query": query, "variables": variables}).encode()
                request = urllib.request.Request(
                    f"{self.url}/graphql", body, {"Content-Type": "application/json"}
                )
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    return response.status, json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as error:
                if error.code == 429:
                    time.sleep(float(error.headers.get("Retry-After") or 1))
                    continue
                text = error.read()
                try:
                    return error.code, json.loads(text)
                except ValueError:
                    return error.code, {"errors": [{"message": text.decode(errors="replace")}]}
        return 429, {"errors": [{"message": "rate-limited 30 times"}]}

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


# -- policies --------------------------------------------------------------------------------


def practice_name(key: str) -> str:
    (name,) = stethoscope_camel_case({key: ""})
    return name


def unjudged_keys(
    data: Mapping[str, Any], report: Report, practices: Practices, facts: Facts, it_folder: Path
) -> list[str]:
    """The keys IT's policy names that got no verdict of IT's requirement in our report.

    A verdict counts only if the requirement judged is IT's (a practice the bundled policy
    judges instead does not), with why where we know.
    """
    policy = practices.policy
    judged = {p.key for p in report.practices}

    def from_it(source: str | None) -> bool:
        return bool(source) and Path(str(source)).resolve().parent == it_folder.resolve()

    missing = []
    for key, value in data.items():
        name = practice_name(str(key))
        if name in SETTING_KEYS:
            continue
        reported = [
            f"line {p.line}: {p.message}" if p.line else p.message
            for p in practices.problems
            if p.key.split(".")[0] == str(key)
        ]
        why = reported[0] if reported else ""
        if name in APPLICATION_KEYS:
            rules = [r for r in policy.applications if from_it(r.source)]
            applying = [r for r in rules if rule_applies(r, facts.context)]
            if value and (
                not rules or any(f"applications/{r.name}" not in judged for r in applying)
            ):
                missing.append(f"{key!r}: " + (why or "IT's application rules are not all judged"))
        elif name == "osVersion":
            bracket = next((k for k in facts.context.policy_keys() if k in policy.os_version), None)
            if bracket is None:
                missing.append(f"{key!r}: " + (why or "no bracket for this platform, no verdict"))
            elif not from_it(policy.sources.get(f"osVersion.{bracket}")):
                missing.append(
                    f"{key!r}: "
                    + (why or f"the bundled policy's {bracket!r} bracket is judged, not IT's")
                )
        elif name not in judged:
            missing.append(f"{key!r}: " + (why or "no verdict in the report"))
        elif not from_it(policy.sources.get(name)):
            missing.append(
                f"{key!r}: " + (why or "the bundled policy's requirement is judged, not IT's")
            )
    return missing


@dataclass
class JudgedPolicy:
    """A historical policy as IT's policy on this machine: our report and the facts behind it."""

    blob: Blob
    data: dict[str, Any]
    report: Report
    facts: Facts


def measure_policies(
    history: History, machine: Machine, work: Path
) -> tuple[Category, Category, list[JudgedPolicy]]:
    checked = Category("policy.yaml: passes check-policy")
    judged = Category("policy.yaml: each key it names gets a verdict (IT's policy, this machine)")
    results = []
    for blob in history.blobs(is_policy):
        folder = work / "policy" / blob.sha[:12]
        folder.mkdir(parents=True)
        path = folder / "policy.yaml"
        text = history.read(blob.sha)
        path.write_text(text, encoding="utf-8")
        checked.add(blob.label, check_policy([path], {path: "policy.yaml"}))
        data = yaml_mapping(text)
        if data is None:
            judged.add(blob.label, ["not a YAML mapping"])
            continue
        practices = load_practices(folder)
        report, facts = machine.judge(practices)
        judged.add(blob.label, unjudged_keys(data, report, practices, facts, folder))
        results.append(JudgedPolicy(blob, data, report, facts))
    return checked, judged, results


# -- instructions: what the original showed --------------------------------------------------
#
# IT's texts are judged by what the original displayed with them, not by how we convert them:
# its renderers (src/Action.js over its history) are re-enacted here for the words IT wrote.
# A title was rendered per state (`{PASS, FAIL}` by state; a Handlebars text with `passing`,
# or the April 2018 `{{#ifPassing}}` helper); a description was shown as it is; directions were
# Markdown, then Handlebars with the device's facts, shown on the opened card. This app shows
# directions while a practice does not pass, so they are compared with what the original showed
# in that state: `{{#if passing}}` false, `{{#unless passing}}` shown, every settings checklist
# item (`{{{statusIcon key 'label'}}}`, the 2018 `- [key] label`) shown with its label (the
# original showed an item's icon and label while that setting was off; the `[key]` was replaced
# by the icon, never shown as text). `{{#if mojaveOrLater}}` (`mojave`, `mohave` in the releases
# of 2018-19) was true on macOS 10.14 or later, so each branch is compared on a macOS version it
# was shown on. What the original filled in itself is not IT's words and is not compared: the
# device's values (`{{osVersion}}`, `{{#each disks}}` with each disk's label), the suggested
# and current versions of `{{requirement …}}` and `{{securitySetting …}}`.

_ANCHOR = re.compile(r"<a\s[^>]*>(.*?)</a>", re.S | re.I)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_HANDLEBARS = re.compile(r"\{\{\{?.*?\}?\}\}", re.S)
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_LIST_MARK = re.compile(r"^(?:\d+\.|[-*+•])\s+")
# Stethoscope's security facts over its history (the `security { … }` its window queried): the
# first parameter of `statusIcon`, and the `[key]` of the 2018 checklists.
STETHOSCOPE_SECURITY_KEYS = (
    "firewall", "publicFirewall", "privateFirewall", "domainFirewall", "automaticUpdates",
    "automaticCheckEnabled", "automaticDownloadUpdates", "automaticAppUpdates",
    "automaticOsUpdates", "automaticSecurityUpdates", "automaticConfigDataInstall",
    "diskEncryption", "screenLock", "screenIdle", "remoteLogin", "openWifiConnections",
)  # fmt: skip
_CHECKLIST_MARK = re.compile(r"\[(?:" + "|".join(STETHOSCOPE_SECURITY_KEYS) + r")\](?!\() ?")
# The names the original's directions renderer gave "macOS 10.14 or later", one per era.
MACOS_FLAGS = frozenset({"mohave", "mojave", "mojaveOrLater"})
MACOS_FLAG_FROM = (10, 14, 0)
# The practices an application rule's card here takes its texts from (Stethoscope's v3+ files
# have one `applications` card for them all), and the name a card is shown with in this test.
APPLICATION_PRACTICES = APPLICATION_KEYS[1:]
SAMPLE_APPLICATION = "Example App"


def text_lines(text: object) -> list[str]:
    """The lines of a text that carry words: markup, links and template tags taken out."""
    if not isinstance(text, str):
        return []
    plain = _MARKDOWN_LINK.sub(r"\1", _HANDLEBARS.sub(" ", _TAG.sub(" ", _ANCHOR.sub(r"\1", text))))
    lines = []
    for line in plain.replace("\\", "").splitlines():
        words = " ".join(_LIST_MARK.sub("", line.strip()).split())
        if words:
            lines.append(words)
    return lines


def flat(text: object) -> str:
    return " ".join(text_lines(text))


@dataclass(frozen=True)
class Quoted:
    """A quoted parameter of a Handlebars tag (`'Install macOS updates'`)."""

    text: str


TagParam = str | Quoted


@dataclass(frozen=True)
class ValueTag:
    """`{{name params}}` or `{{{name params}}}`: a value or a helper's output."""

    name: str
    params: tuple[TagParam, ...]


@dataclass
class BlockTag:
    """`{{#name params}}body{{else}}inverse{{/name}}`."""

    name: str
    params: tuple[TagParam, ...]
    body: list[TemplateNode] = field(default_factory=list)
    inverse: list[TemplateNode] = field(default_factory=list)
    in_inverse: bool = False

    def add(self, node: TemplateNode) -> None:
        (self.inverse if self.in_inverse else self.body).append(node)


TemplateNode = str | ValueTag | BlockTag
# Read here on its own (not with the app's core/handlebars.py): the measuring stick must not
# share a mistake with what it measures.
_TEMPLATE_TAG = re.compile(r"\{\{\{\s*(.*?)\s*\}\}\}|\{\{\s*(.*?)\s*\}\}", re.S)
_TAG_PARAM = re.compile(r"'([^']*)'|\"([^\"]*)\"|(\S+)")


def _tag_words(inner: str) -> tuple[str, tuple[TagParam, ...]]:
    words: list[TagParam] = [
        Quoted(m.group(1) if m.group(1) is not None else m.group(2))
        if m.group(3) is None
        else m.group(3)
        for m in _TAG_PARAM.finditer(inner)
    ]
    name = words[0] if words and isinstance(words[0], str) else ""
    return name, tuple(words[1:])


def parse_template(text: str) -> list[TemplateNode]:
    """A Handlebars text as the original's renderers read it (comments dropped)."""
    root = BlockTag("", ())
    stack = [root]
    position = 0
    for match in _TEMPLATE_TAG.finditer(text):
        stack[-1].add(text[position : match.start()])
        position = match.end()
        inner = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
        if inner.startswith("!"):
            continue
        if inner.startswith("#"):
            block = BlockTag(*_tag_words(inner[1:]))
            stack[-1].add(block)
            stack.append(block)
        elif inner.startswith("/"):
            if len(stack) > 1:
                stack.pop()
        elif inner in ("else", "^"):
            stack[-1].in_inverse = True
        else:
            stack[-1].add(ValueTag(*_tag_words(inner)))
    stack[-1].add(text[position:])
    return root.body


@dataclass(frozen=True)
class ShownState:
    """The state a text was shown in: the practice passing, the Mac at 10.14 or later."""

    passing: bool
    macos_newer: bool = False


def render_original(nodes: Sequence[TemplateNode], state: ShownState) -> str:
    """IT's words of a template as the original rendered it in `state` (see above)."""
    parts = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, ValueTag):
            parts.append(_original_value(node))
        else:
            parts.append(_original_block(node, state))
    return "".join(parts)


def _original_value(tag: ValueTag) -> str:
    """A checklist item's label; the device's values and the original's own tables are not IT's."""
    position = {"statusIcon": 1, "okIcon": 0, "warnIcon": 0}.get(tag.name)
    if position is not None and len(tag.params) > position:
        label = tag.params[position]
        return label.text if isinstance(label, Quoted) else ""
    return ""


def _original_block(block: BlockTag, state: ShownState) -> str:
    if block.name in ("if", "unless") and len(block.params) == 1:
        param = block.params[0]
        if isinstance(param, Quoted):
            true = bool(param.text)
        elif param == "passing":
            true = state.passing
        else:
            true = param in MACOS_FLAGS and state.macos_newer
        chosen = true != (block.name == "unless")
        return render_original(block.body if chosen else block.inverse, state)
    if block.name == "ifPassing":
        return render_original(block.body if state.passing else block.inverse, state)
    if block.name == "with":
        return render_original(block.body, state)
    # `#each disks` listed the device's disks; a helper no release had rendered nothing.
    return ""


def original_titles(title: object) -> tuple[str, str]:
    """(passing, failing) as the original showed a title: by state, rendered, or as it is."""
    if isinstance(title, dict):
        passing = title.get("PASS", title.get("FAIL"))
        return flat(passing), flat(title.get("FAIL", passing))
    if isinstance(title, str):
        nodes = parse_template(title)
        return (
            flat(render_original(nodes, ShownState(passing=True))),
            flat(render_original(nodes, ShownState(passing=False))),
        )
    return "", ""


def original_directions(text: object, macos_newer: bool) -> list[str]:
    """The lines of IT's directions the original showed while the practice did not pass."""
    if not isinstance(text, str):
        return []
    rendered = render_original(parse_template(text), ShownState(False, macos_newer))
    return text_lines(_CHECKLIST_MARK.sub("", rendered))


def macos_newer(version: str) -> bool:
    """True where the original's macOS flag was (10.14 or later)."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:3])
    return numbers + (0,) * (3 - len(numbers)) >= MACOS_FLAG_FROM


def texts_for(key: str, named: Iterable[str]) -> list[str]:
    """The practices here that show IT's texts of `key`.

    For `applications`: each application card whose texts the file does not give itself.
    """
    if key != "applications":
        return [key]
    return [practice for practice in APPLICATION_PRACTICES if practice not in set(named)]


def shown_text(text: str) -> str:
    """A text of ours as the report shows it on an application card named SAMPLE_APPLICATION."""
    return render(text, {"name": SAMPLE_APPLICATION})


def titles_and_description(
    where: str, practice: str, theirs: Mapping[str, Any], texts: PracticeText
) -> list[str]:
    """Where our titles and description, as shown, are not what the original showed of IT's.

    An application card's title may be followed by the application's name.
    """
    originals = original_titles(theirs.get("title"))
    ours = (flat(shown_text(texts.title_passing)), flat(shown_text(texts.title_failing)))
    problems = []
    for index, state in enumerate(("passing", "failing")):
        accepted = {originals[index]}
        if practice in APPLICATION_PRACTICES:
            accepted.add(f"{originals[index]} ({SAMPLE_APPLICATION})")
        if originals[index] and ours[index] not in accepted:
            problems.append(
                f"{where}.title ({state}) IT's {originals[index]!r}, shown {ours[index]!r}"
            )
    description = text_lines(shown_text(texts.description))
    missing = sorted(set(text_lines(theirs.get("description"))) - set(description))
    if missing:
        problems.append(f"{where}.description lacks {missing[0]!r}")
    return problems


def lost_texts(
    key: str, theirs: Mapping[str, Any], ours: Mapping[str, PracticeText], named: Iterable[str]
) -> list[str]:
    """What of one original practice's texts our reading of the file does not carry.

    `ours` are the practices' texts as read from the file, `named` the practices it names.
    """
    lost = []
    given = theirs.get("directions")
    directions: Mapping[str, Any] = given if isinstance(given, dict) else {}
    for practice in texts_for(key, named):
        where = key if practice == key else f"{key} (as {practice})"
        texts = ours.get(practice)
        if texts is None:
            lost.append(f"{where}: the practice is not read")
            continue
        lost += titles_and_description(where, practice, theirs, texts)
        for platform, text in directions.items():
            shown_by_original = {
                line
                for newer in ((False, True) if platform == "darwin" else (False,))
                for line in original_directions(text, newer)
            }
            carried = {
                line
                for name, ours_text in texts.directions.items()
                if directions_platform(name) == platform
                for line in text_lines(ours_text)
            }
            gone = sorted(shown_by_original - carried)
            if gone:
                lost.append(
                    f"{where}.directions.{platform} lost {len(gone)} line(s), e.g. {gone[0]!r}"
                )
    return lost


def not_shown(
    key: str,
    theirs: Mapping[str, Any],
    shown: Callable[[str], PracticeText],
    named: Iterable[str],
) -> list[str]:
    """Where the report would not show what the original showed of IT's texts of one practice.

    Titles by state, description, and per representative device the directions (each macOS
    branch on a version the original showed it on, and not the other's).
    """
    problems: list[str] = []
    given = theirs.get("directions")
    directions: Mapping[str, Any] = given if isinstance(given, dict) else {}
    for practice in texts_for(key, named):
        where = key if practice == key else f"{key} (as {practice})"
        texts = shown(practice)
        problems += titles_and_description(where, practice, theirs, texts)
        for platform in sorted(set(directions) & set(SHOWN_ON)):
            for context in SHOWN_ON[platform]:
                if next(k for k in context.text_keys() if k in directions) != platform:
                    continue
                newer = platform == "darwin" and macos_newer(context.os_version)
                expected = set(original_directions(directions[platform], newer))
                chosen, text = texts.directions_for(context.text_keys(), context.os_version)
                lines = set(text_lines(shown_text(text)))
                device = f"{context.distribution or context.stethoscope} {context.os_version}"
                if directions_platform(chosen) != platform:
                    problems.append(
                        f"{where}: on {device} the directions shown are {chosen or 'none'!r}, "
                        f"not IT's {platform!r}"
                    )
                    break
                gone = sorted(expected - lines)
                if gone:
                    problems.append(
                        f"{where}: on {device} the {chosen!r} directions shown lack "
                        f"{len(gone)} line(s) the original showed, e.g. {gone[0]!r}"
                    )
                    break
                other = set(original_directions(directions[platform], not newer)) - expected
                if platform == "darwin" and other & lines:
                    problems.append(
                        f"{where}: on {device} the {chosen!r} directions shown include what the "
                        f"original showed only on the other macOS versions, e.g. "
                        f"{sorted(other & lines)[0]!r}"
                    )
                    break
    return problems


def measure_instructions(history: History, work: Path) -> tuple[Category, Category]:
    loads = Category("instructions: load unchanged or through convert-instructions, nothing lost")
    shown = Category("instructions: IT's titles and directions are the ones shown")
    for blob in history.blobs(is_instructions):
        folder = work / "instructions" / blob.sha[:12]
        folder.mkdir(parents=True)
        text = history.read(blob.sha)
        original = folder / blob.name
        original.write_text(text, encoding="utf-8")
        data = yaml_mapping(text)
        problems = check_policy([original], {original: blob.name})
        used, how = original, "loads unchanged"
        if problems:
            converted = folder / "converted" / blob.name
            converted.parent.mkdir()
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                code = convert_command(original, converted)
            after = (
                check_policy([converted], {converted: f"{blob.name} (converted)"})
                if code == 0
                else ["convert-instructions cannot convert it"]
            )
            if after:
                loads.add(blob.label, ["unchanged: " + problems[0], "converted: " + after[0]])
                shown.add(blob.label, ["not loaded"])
                continue
            used, how = converted, "loads through convert-instructions"
        practices = data.get("practices") if data else None
        if not isinstance(practices, dict):
            loads.add(blob.label, ["no practices to compare"], [how])
            shown.add(blob.label, ["no practices to compare"])
            continue
        try:
            layer = parse_instructions(load_yaml(used))
        except YamlFileError as error:
            loads.add(blob.label, [str(error.problem)], [how])
            shown.add(blob.label, ["not loaded"])
            continue
        ours = {key: PracticeText(**fields) for key, fields in layer.practices.items()}
        lost = [
            problem
            for key, entry in practices.items()
            if isinstance(entry, dict)
            for problem in lost_texts(key, entry, ours, practices)
        ]
        loads.add(blob.label, lost, [how])
        language = INSTRUCTIONS_NAME.match(blob.name).group("lang") or "en"  # type: ignore[union-attr]
        it_folder = folder / "it"
        it_folder.mkdir()
        shutil.copy(used, it_folder / f"instructions.{language}.yaml")
        texts = load_practices(it_folder, language).instructions
        shown.add(
            blob.label,
            [
                problem
                for key, entry in practices.items()
                if isinstance(entry, dict)
                for problem in not_shown(key, entry, texts.practice, practices)
            ],
        )
    return loads, shown


# -- config ----------------------------------------------------------------------------------


def measure_configs(history: History, work: Path) -> Category:
    category = Category("config.yaml: check-policy accepts a folder with it")
    for blob in history.blobs(is_config):
        folder = work / "config" / blob.sha[:12]
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(history.read(blob.sha), encoding="utf-8")
        category.add(blob.label, check_policy([folder], {folder / "config.yaml": "config.yaml"}))
    return category


# -- schema ----------------------------------------------------------------------------------


def measure_schemas(history: History) -> Category:
    """Each historical schema.graphql against ours, by the app's own introspection comparison.

    `api.compat.schema_gaps` lists what a client of that schema would miss; the places where
    Stethoscope's versions contradict each other are `deliberate_differences`, printed as notes.
    """
    category = Category("schema.graphql: our schema is a superset (introspection)")
    for blob in history.blobs(is_schema):
        text = history.read(blob.sha)
        try:
            gaps = schema_gaps(text)
            deliberate = deliberate_differences(text)
        except GraphQLError as error:
            category.add(blob.label, [f"cannot read it as a schema: {error.message}"])
            continue
        reason = [f"{len(gaps)} difference(s)"] if gaps else []
        category.add(blob.label, reason, gaps + [f"deliberate: {d}" for d in deliberate])
    return category


# -- the clients' queries --------------------------------------------------------------------


@dataclass(frozen=True)
class ClientQuery:
    """A query a real client sent (or documented), with its variables, and where it is from."""

    source: str
    query: str
    variables: dict[str, Any] | None
    get: bool = False

    def key(self) -> str:
        return json.dumps([self.query.split(), self.variables, self.get], sort_keys=True)


_CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_TEMPLATE = re.compile(r"`([^`]*)`")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_JS_KEY = re.compile(r"([{,]\s*)([A-Za-z_$][\w$]*)\s*:")
_GRAPHIQL = re.compile(r"graphiql\?(\S+)")
_EXAMPLE_QUERY = re.compile(r"var query\s*=\s*\"((?:[^\"\\]|\\.)*)\"", re.S)
_EXAMPLE_POLICY = re.compile(r"checkStethoscope\((\{.*?\})\)\s*\.then", re.S)


def loose_json(text: str) -> Any:
    """JSON as documentation writes it: trailing commas allowed, a bare `"key": value` too."""
    cleaned = _TRAILING_COMMA.sub(r"\1", text.strip())
    try:
        return json.loads(cleaned)
    except ValueError:
        pass
    try:
        return json.loads("{" + cleaned.rstrip(",") + "}")
    except ValueError:
        return None


def js_object(text: str) -> Any:
    """A JavaScript object literal of plain data (unquoted keys, double-quoted strings)."""
    return loose_json(_JS_KEY.sub(r'\1"\2":', text))


def is_query(text: str) -> bool:
    stripped = text.lstrip()
    if stripped.startswith(("query", "mutation")):
        return True
    # A selection set, not a JSON object (whose first key is a string).
    return stripped.startswith("{") and re.match(r'\{\s*"', stripped) is None


def graphql_md_queries(blob: Blob, text: str) -> list[ClientQuery]:
    """The queries of docs/GRAPHQL.md: each query block with the variables block after it."""
    found = []
    blocks = [b.strip() for b in _CODE_BLOCK.findall(text)]
    for index, block in enumerate(blocks):
        if not is_query(block):
            continue
        variables = None
        for later in blocks[index + 1 :]:
            if is_query(later):
                break
            data = loose_json(later)
            if isinstance(data, dict) and "policy" in data:
                variables = data
                break
        found.append(ClientQuery(f"{blob.label} query {index + 1}", block, variables))
    for number, link in enumerate(_GRAPHIQL.findall(text), start=1):
        while link.endswith(")") and link.count(")") > link.count("("):
            link = link[:-1]  # the end of a Markdown link around it
        params = urllib.parse.parse_qs(link)
        if "query" in params:
            raw = params.get("variables", ["null"])[0]
            found.append(
                ClientQuery(
                    f"{blob.label} GraphiQL link {number}", params["query"][0], loose_json(raw)
                )
            )
    return found


def policies_md_policies(text: str) -> list[dict[str, Any]]:
    """The example policies of docs/POLICIES.md (its JSON and YAML blocks that are policies)."""
    found = []
    for block in _CODE_BLOCK.findall(text):
        data = loose_json(block)
        if data is None:
            data = yaml_mapping(block)
        if isinstance(data, dict) and data and "data" not in data:
            found.append(data)
    return found


def client_queries(
    history: History, examples: History | None, validate_query: str
) -> list[tuple[ClientQuery, list[str]]]:
    """Every real client query with the policy it was sent with, each request once.

    With each, the other sources that sent the very same request.
    """
    queries: list[ClientQuery] = []
    for blob in history.blobs(lambda p: p == "docs/GRAPHQL.md"):
        queries += graphql_md_queries(blob, history.read(blob.sha))
    for blob in history.blobs(lambda p: p == "docs/POLICIES.md"):
        for number, policy in enumerate(policies_md_policies(history.read(blob.sha)), start=1):
            # Their YAML examples are policy files: the app posted them through spacesToCamelCase.
            variables = {"policy": stethoscope_camel_case(policy)}
            queries.append(ClientQuery(f"{blob.label} policy {number}", validate_query, variables))
    for blob in history.blobs(lambda p: PurePosixPath(p).name == "Stethoscope.js"):
        policy_files = history.at_commit(blob.commit, is_policy)
        own = yaml_mapping(next(iter(policy_files.values()))) if policy_files else None
        for literal in _TEMPLATE.findall(history.read(blob.sha)):
            if is_query(literal):
                sent = (
                    {"policy": stethoscope_camel_case(own or {})} if "$policy" in literal else None
                )
                queries.append(
                    ClientQuery(f"{blob.label} (with its commit's policy)", literal, sent)
                )
    if examples is not None:
        example_queries = [
            re.sub(r"\\\n", "", match)
            for blob in examples.blobs(lambda p: p.endswith("stethoscope.js"))
            for match in _EXAMPLE_QUERY.findall(examples.read(blob.sha))
        ]
        for blob in examples.blobs(lambda p: p.endswith(".html")):
            for literal in _EXAMPLE_POLICY.findall(examples.read(blob.sha)):
                page_policy = js_object(literal)
                readable = isinstance(page_policy, dict)
                for text in example_queries:
                    # An empty query stands for a page whose policy could not be read.
                    queries.append(ClientQuery(
                        f"examples {blob.label}", text if readable else "",
                        {"policy": page_policy} if readable else None, get=True,
                    ))  # fmt: skip
    unique: dict[str, list[ClientQuery]] = {}
    for query in queries:
        unique.setdefault(query.key(), []).append(query)
    return [(same[0], [other.source for other in same[1:]]) for same in unique.values()]


def null_fields(value: Any, path: str = "") -> Iterator[str]:
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from null_fields(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from null_fields(item, f"{path}[]")


def measure_queries(
    server: Server, queries: Sequence[tuple[ClientQuery, Sequence[str]]]
) -> Category:
    category = Category("client queries: answered completely over HTTP (serve --port 0)")
    for query, same in queries:
        if not query.query:
            category.add(query.source, ["its policy could not be read from the page"])
            continue
        status, body = server.graphql(query.query, query.variables, get=query.get)
        errors = body.get("errors") or []
        problems = [f"HTTP {status}"] if status != 200 else []
        problems += [
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors[:3]
        ]
        if status == 200 and body.get("data") is None:
            problems.append("no data")
        # Null verdicts are the practices the policy does not name: as asked.
        nulls = sorted(
            {p for p in null_fields(body.get("data")) if p and not p.startswith("policy.validate.")}
        )
        notes = [f"null: {', '.join(nulls)}"] if nulls else []
        notes += [f"the same request as {', '.join(same)}"] if same else []
        category.add(query.source, problems, notes)
    return category


# -- verdicts against the original's -----------------------------------------------------------

# The validate part of the query Stethoscope 5.0.6's own window sent (src/lib/Stethoscope.js).
VALIDATE_QUERY = """query ValidateDevice($policy: DevicePolicy!) {
  policy {
    validate(policy: $policy) {
      status osVersion firewall diskEncryption screenLock screenIdle automaticUpdates
      remoteLogin stethoscopeVersion openWifiConnections
      applications { name status version installed state }
    }
  }
}"""
WINDOW_VERDICTS = "verdicts, window (IT's policy.yaml on this machine): ours are the original's"
API_VERDICTS = "verdicts, API (the policy posted by a page): ours are the original's"
STATE_FACTS = ("firewall", "diskEncryption", "remoteLogin", "automaticUpdates", "screenLock",
               "openWifiConnections")  # fmt: skip


def oracle_device(facts: Facts, release: str) -> tuple[dict[str, Any], dict[str, str]]:
    """This machine's facts as the original's scripts read them, and what we could not read.

    The second mapping names the practices whose fact our scan could not read here (practice →
    why): they are left out of the comparison.
    """
    device: dict[str, Any] = {
        "platform": facts.context.stethoscope,
        "osName": facts.device.os_name or facts.device.platform_name,
        "osVersion": facts.device.os_version,
        "stethoscopeVersion": release,
    }
    unknown: dict[str, str] = {}
    os_fact = facts.for_practice("osVersion")
    if facts.context.stethoscope == "linux":
        # Stethoscope read os-release's VERSION_ID ("12"); our row's `version` starts with it.
        release_text = str(os_fact.rows[0].get("version") or "") if os_fact.rows else ""
        match = re.match(r"\d+(?:\.\d+)*", release_text)
        device["osVersion"] = match.group(0) if match else facts.device.os_version
    if not device["osVersion"]:
        unknown["osVersion"] = os_fact.reason or "the OS version could not be read"
    for practice in STATE_FACTS:
        fact = facts.for_practice(practice)
        if fact.state is FeatureState.UNKNOWN:
            unknown[practice] = fact.reason or "could not be read"
        else:
            device[practice] = fact.state is FeatureState.ON
    idle = facts.for_practice("screenIdle")
    enabled = idle.rows[0].get("enabled") if idle.rows else None
    if enabled in (0, "0"):
        device["screenIdle"] = 0
    elif enabled is not None and idle.value is not None:
        device["screenIdle"] = int(float(str(idle.value)))
    else:
        unknown["screenIdle"] = idle.reason or idle.detail or "could not be read"
    apps = facts.for_practice("applications")
    if apps.ok:
        device["applications"] = [
            {"name": str(row.get("name")), "version": str(row.get("version") or "")}
            for row in apps.rows
            if row.get("name")
        ]
    else:
        unknown["applications"] = apps.reason
    return device, unknown


def run_oracle(oracle: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    result = subprocess.run(
        [node, str(oracle / "verdict.js")], input=json.dumps(cases),
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"the oracle failed: {result.stderr.strip()[-500:]}")
    answers = json.loads(result.stdout)
    assert isinstance(answers, list)
    return answers


Statuses = tuple[dict[str, str], list[tuple[str, str]], str]


def statuses_of_report(report: Report) -> Statuses:
    practices = {p.key: p.status.value for p in report.practices if "/" not in p.key}
    apps = sorted(
        (p.key.split("/", 1)[1], p.status.value) for p in report.practices if "/" in p.key
    )
    return practices, apps, report.status.value


def statuses_of_validate(validate: Mapping[str, Any]) -> Statuses:
    practices = {
        key: str(value)
        for key, value in validate.items()
        if key not in ("status", "applications") and value is not None
    }
    apps = sorted((str(a["name"]), str(a["status"])) for a in validate.get("applications") or ())
    return practices, apps, str(validate.get("status"))


@dataclass(frozen=True)
class VerdictDifference:
    """One verdict of ours that is not the original's: a practice's, a rule's, or overall."""

    key: str  # a practice, "applications/<rule name>", or "overall"
    ours: str
    original: str

    @property
    def practice(self) -> str:
        return self.key.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.key}: ours {self.ours}, original {self.original}"


def rule_statuses(apps: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each application rule's status by its name (rules of one name: their statuses joined)."""
    by_name: dict[str, list[str]] = {}
    for name, status in apps:
        by_name.setdefault(name, []).append(status)
    return {name: "/".join(sorted(statuses)) for name, statuses in by_name.items()}


def verdict_differences(
    ours: Statuses, original: Statuses, compared: Iterable[str]
) -> list[VerdictDifference]:
    """Per compared key (per application rule) and overall, where ours is not the original's."""
    differences = []
    apps_done = False
    for key in compared:
        if key in APPLICATION_KEYS:
            if apps_done:
                continue
            apps_done = True
            mine, theirs = rule_statuses(ours[1]), rule_statuses(original[1])
            for name in sorted(set(mine) | set(theirs)):
                if mine.get(name) != theirs.get(name):
                    differences.append(
                        VerdictDifference(
                            f"applications/{name}",
                            mine.get(name, "none"),
                            theirs.get(name, "none"),
                        )
                    )
        elif ours[0].get(key) != original[0].get(key):
            differences.append(
                VerdictDifference(key, str(ours[0].get(key)), str(original[0].get(key)))
            )
    if ours[2] != original[2]:
        differences.append(VerdictDifference("overall", ours[2], original[2]))
    return differences


# -- deliberate differences --------------------------------------------------------------------
#
# Where our verdict differs from the original's on purpose, each as a row of the README's table
# ("Switching from Netflix's Stethoscope"), and the evidence that a difference measured here is
# that one. A difference is attributed to a row only when the row covers its platform and key
# and the original itself shows it, asked again about that key alone on this device:
# - a row of `unmeasured`: the original's verdict does not change when the fact is flipped (it
#   never read it: UNSUPPORTED, counted as PASS, FAIL under NEVER; or a verdict it always gave),
#   and it is the verdict the row says;
# - a row with a `rewrite`: the original, given what the row says we do differently (the point
#   release for os-release's VERSION_ID, the distribution's bracket as its `linux`, …), answers
#   exactly our verdict. Where one row alone does not, the rows that apply together may.
# A difference no row explains is a failure.


@dataclass(frozen=True)
class Situation:
    """A policy on this machine, as the original is asked about it."""

    policy: Mapping[str, Any]  # as the original's window posted it (camelCase)
    device: Mapping[str, Any]  # this machine's facts, as the original's scripts read them
    point_release: str  # our OS version (on Linux the point release: 12.7.0)
    platform_keys: tuple[str, ...]  # our policy platform keys here, most specific first

    def with_policy(self, **changes: Any) -> Situation:
        return replace(self, policy={**self.policy, **changes})

    def with_device(self, **changes: Any) -> Situation:
        return replace(self, device={**self.device, **changes})


# A rewrite: the situation as the original would see it if it did what we do, and what changed;
# None where the row's case is not this one (the difference key is passed for rules).
Rewrite = Callable[[Situation, str], tuple[Situation, str] | None]


@dataclass(frozen=True)
class DeliberateDifference:
    """A README row of deliberate differences, and where and how a difference is its case."""

    case: str  # the row's "case" cell in the README, as written there
    reason: str
    where: frozenset[tuple[str, str]]  # (platform, practice)
    unmeasured: str = ""  # the verdict the original gives without reading the fact
    rewrite: Rewrite | None = None


def _brackets(situation: Situation) -> dict[str, Any]:
    brackets = situation.policy.get("osVersion")
    return dict(brackets) if isinstance(brackets, Mapping) else {}


def _point_release(situation: Situation, _key: str) -> tuple[Situation, str] | None:
    read = str(situation.device.get("osVersion") or "")
    if not situation.point_release or situation.point_release == read:
        return None
    return (
        situation.with_device(osVersion=situation.point_release),
        f"given the point release {situation.point_release} for VERSION_ID {read}",
    )


def _distribution_bracket(situation: Situation, _key: str) -> tuple[Situation, str] | None:
    brackets = _brackets(situation)
    specific = [k for k in situation.platform_keys if k not in ("linux", "all") and k in brackets]
    if not specific:
        return None
    return (
        situation.with_policy(osVersion={"linux": brackets[specific[0]]}),
        f"given the {specific[0]!r} bracket as its 'linux'",
    )


def _all_bracket(situation: Situation, _key: str) -> tuple[Situation, str] | None:
    brackets = _brackets(situation)
    named = [k for k in situation.platform_keys if k != "all" and k in brackets]
    if "all" not in brackets or named:
        return None
    platform = str(situation.device.get("platform"))
    if "Server 2016 Datacenter" in str(situation.device.get("osName")):
        platform = "awsWorkspace"
    return (
        situation.with_policy(osVersion={platform: brackets["all"]}),
        f"given the 'all' bracket as its {platform!r}",
    )


def _updates_counted_on(situation: Situation, _key: str) -> tuple[Situation, str] | None:
    if situation.device.get("automaticUpdates") != "partial":
        return None
    return (
        situation.with_device(automaticUpdates=True),
        "given every Software Update switch on where checking, security responses and system "
        "data files are",
    )


def _no_screen_lock_limit(situation: Situation, _key: str) -> tuple[Situation, str] | None:
    return (
        situation.with_policy(windowsMaxScreenLockTimeout=2**31 - 1),
        "given no limit on the display timeout (windowsMaxScreenLockTimeout)",
    )


_EPOCH = re.compile(r"^\d+:")


def _without_epochs(situation: Situation, _key: str) -> tuple[Situation, str] | None:
    apps = situation.device.get("applications") or []
    if not any(_EPOCH.match(str(app.get("version", ""))) for app in apps):
        return None
    stripped = [{**app, "version": _EPOCH.sub("", str(app.get("version", "")))} for app in apps]
    return situation.with_device(applications=stripped), "given the versions without their epoch"


def application_rules(policy: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(the list it is in, the rule) for each application rule of a policy."""
    return [
        (key, rule)
        for key in APPLICATION_KEYS
        if isinstance(policy.get(key), list)
        for rule in policy[key]
        if isinstance(rule, Mapping)
    ]


def _banned_range_not_installed(situation: Situation, key: str) -> tuple[Situation, str] | None:
    name = key.partition("/")[2]
    banned = [
        rule
        for listed, rule in application_rules(situation.policy)
        if rule.get("name") == name
        and rule.get("version")
        and (listed == "bannedApplications" or str(rule.get("assertion")).upper() == "NEVER")
    ]
    if not banned:
        return None
    try:
        pattern = re.compile(f"^{re.escape(name)}$" if banned[0].get("exactMatch") else name, re.I)
    except re.error:
        pattern = re.compile(re.escape(name), re.I)
    apps = [
        app
        for app in situation.device.get("applications") or []
        if not pattern.search(str(app.get("name")))
    ]
    return (
        situation.with_device(applications=apps),
        f"given {name} not installed, as its installed version is outside the banned range",
    )


def _without_dropped_rules(situation: Situation, _key: str) -> tuple[Situation, str] | None:
    platform = str(situation.device.get("platform"))
    rules = situation.policy.get("applications")
    if not isinstance(rules, list):
        return None

    def dropped(rule: Any) -> bool:
        filter_ = rule.get("platform") if isinstance(rule, Mapping) else None
        return isinstance(filter_, Mapping) and not filter_.get("all") and platform not in filter_

    gone = [rule for rule in rules if dropped(rule)]
    if not gone:
        return None
    names = ", ".join(str(rule.get("name")) for rule in gone)
    return (
        situation.with_policy(applications=[rule for rule in rules if not dropped(rule)]),
        f"given the rules without those its platform filter drops ({names})",
    )


def _pairs(platforms: Iterable[str], practices: Iterable[str]) -> frozenset[tuple[str, str]]:
    return frozenset((p, k) for p in platforms for k in practices)


PLATFORMS = ("linux", "darwin", "win32")
UNMEASURED_HERE = frozenset(
    {("linux", "automaticUpdates"), ("win32", "screenIdle"), ("darwin", "screenLock"),
     ("darwin", "screenIdle"), ("linux", "openWifiConnections"), ("win32", "openWifiConnections")}
)  # fmt: skip
DELIBERATE: tuple[DeliberateDifference, ...] = (
    DeliberateDifference(
        "Linux OS version",
        "the original compares os-release VERSION_ID (Debian 12 is 12.0.0), ours the point release",
        _pairs(["linux"], ["osVersion", "applications"]),
        rewrite=_point_release,
    ),
    DeliberateDifference(
        "`ubuntu` (or another distribution) beside `linux`",
        "the original reads only the `linux` bracket, ours the most specific key",
        _pairs(["linux"], ["osVersion"]),
        rewrite=_distribution_bracket,
    ),
    DeliberateDifference(
        "`osVersion.all`",
        "the original never reads the `all` bracket (FAIL), ours applies it where the platform "
        "has none",
        _pairs(PLATFORMS, ["osVersion"]),
        rewrite=_all_bracket,
    ),
    DeliberateDifference(
        "automatic updates on Linux other than Ubuntu, Windows screen idle, macOS screen lock "
        "and idle, open Wi-Fi off macOS",
        "the original cannot tell (UNSUPPORTED) and counts that as PASS (FAIL under NEVER); "
        "ours measures it",
        UNMEASURED_HERE,
        unmeasured="PASS",
    ),
    DeliberateDifference(
        "`screenIdle` on Linux",
        "the original always FAILs (semver 5 coerces a number to no version), ours compares "
        "the seconds",
        _pairs(["linux"], ["screenIdle"]),
        unmeasured="FAIL",
    ),
    DeliberateDifference(
        # This script gives the original our ON or OFF, never its "partial": this row is for
        # facts that say so (test_original_verdicts.py's).
        "macOS automatic updates",
        "the original NUDGEs unless all five Software Update switches and App Store updates are "
        "on; ours is ON when checking, security responses and system data files are on",
        _pairs(["darwin"], ["automaticUpdates"]),
        rewrite=_updates_counted_on,
    ),
    DeliberateDifference(
        "Windows `screenLock` and `windowsMaxScreenLockTimeout`",
        "the original FAILs screenLock when the display timeout exceeds "
        "windowsMaxScreenLockTimeout; ours leaves the timeout to screenIdle",
        _pairs(["win32"], ["screenLock"]),
        rewrite=_no_screen_lock_limit,
    ),
    DeliberateDifference(
        "a Debian version with an epoch (`1:9.2p1-2`)",
        "the original coerces 1:9.2p1-2 to 1.0.0, ours compares 9.2",
        _pairs(["linux"], ["applications"]),
        rewrite=_without_epochs,
    ),
    DeliberateDifference(
        "a banned application with a version range",
        "the original FAILs whatever version is installed, ours bans only the versions in "
        "the range",
        _pairs(PLATFORMS, ["applications"]),
        rewrite=_banned_range_not_installed,
    ),
    DeliberateDifference(
        "a rule that a platform filter drops",
        "the original shifts the next rule's result onto a dropped rule, ours judges each rule "
        "as written",
        _pairs(PLATFORMS, ["applications"]),
        rewrite=_without_dropped_rules,
    ),
)
# The fact values the original is asked with to see whether it reads a fact, and the facts a
# verdict also needs (where our scan could not read them here).
FLIPPED_FACTS: Mapping[str, tuple[Any, Any]] = {
    "automaticUpdates": (True, False),
    "screenLock": (True, False),
    "openWifiConnections": (True, False),
    "firewall": (True, False),
    "diskEncryption": (True, False),
    "remoteLogin": (True, False),
    "screenIdle": (1, 86400),
}
COMPANION_FACTS: Mapping[str, Mapping[str, Any]] = {"screenIdle": {"screenLock": True}}


def policy_alone(policy: Mapping[str, Any], practice: str) -> dict[str, Any]:
    """The part of a policy that decides one practice's verdict."""
    if practice == "applications":
        return {k: policy[k] for k in APPLICATION_KEYS if k in policy}
    settings = {k: policy[k] for k in SETTING_KEYS if k in policy and practice == "screenLock"}
    return {practice: policy.get(practice), **settings}


def answered(answer: Mapping[str, Any], key: str) -> str | None:
    """The original's verdict for a key (a rule's by its name) in an answer; None if it erred."""
    validate = answer.get("validate")
    if answer.get("errors") or not isinstance(validate, Mapping):
        return None
    if key.startswith("applications/"):
        rules = rule_statuses(statuses_of_validate(validate)[1])
        return rules.get(key.split("/", 1)[1], "none")
    return str(validate.get(key))


@dataclass(frozen=True)
class Explanation:
    """A candidate explanation of one difference: the rows, the questions, what must be seen."""

    rows: tuple[DeliberateDifference, ...]
    how: str
    questions: tuple[dict[str, Any], ...]
    expected: str  # the original's verdict each question must get

    def holds(self, answers: Sequence[Mapping[str, Any]], key: str) -> bool:
        return bool(answers) and all(answered(a, key) == self.expected for a in answers)

    def __str__(self) -> str:
        cases = "; ".join(repr(row.case) for row in self.rows)
        return f"README {cases}: the original, {self.how}"


def _question(situation: Situation, practice: str, device: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": practice,
        "policyYaml": yaml.safe_dump(policy_alone(situation.policy, practice)),
        "via": "app",
        "device": dict(device),
    }


def explanations(situation: Situation, difference: VerdictDifference) -> list[Explanation]:
    """Every way a row of DELIBERATE could explain a difference, in the order to try them."""
    platform = str(situation.device.get("platform"))
    practice = difference.practice
    rows = [row for row in DELIBERATE if (platform, practice) in row.where]
    found: list[Explanation] = []
    for row in rows:
        if not row.unmeasured or practice not in FLIPPED_FACTS:
            continue
        requirement = str(situation.policy.get(practice, "")).upper()
        expected = "FAIL" if row.unmeasured == "FAIL" or requirement == "NEVER" else "PASS"
        if difference.original != expected:
            continue
        values = FLIPPED_FACTS[practice]
        companions = {
            k: v for k, v in COMPANION_FACTS.get(practice, {}).items() if k not in situation.device
        }
        questions = tuple(
            _question(situation, practice, {**situation.device, **companions, practice: value})
            for value in values
        )
        how = (
            f"asked with {practice} {values[0]} and {values[1]}, answers {expected} both times: "
            "it does not measure it here"
            + ("; ours could not read it here" if difference.ours == "UNKNOWN" else "")
        )
        found.append(Explanation((row,), how, questions, expected))
    rewrites = []
    for row in rows:
        if row.rewrite is not None and (done := row.rewrite(situation, difference.key)):
            rewrites.append((row, done))
            found.append(
                Explanation((row,), f"{done[1]}, answers {difference.ours} as ours",
                            (_question(done[0], practice, done[0].device),), difference.ours)
            )  # fmt: skip
    if len(rewrites) > 1:
        combined, hows = situation, []
        for row, _done in rewrites:
            assert row.rewrite is not None
            step = row.rewrite(combined, difference.key)
            if step is not None:
                combined, how = step
                hows.append(how)
        found.append(
            Explanation(
                tuple(row for row, _done in rewrites),
                f"{'; '.join(hows)}, answers {difference.ours} as ours",
                (_question(combined, practice, combined.device),),
                difference.ours,
            )
        )
    return found


def attribute(
    oracle: Path, asked: Sequence[tuple[Situation, VerdictDifference]]
) -> list[Explanation | None]:
    """For each difference, the explanation the original's own answers bear out, or None."""
    candidates = [explanations(situation, difference) for situation, difference in asked]
    cases = [q for found in candidates for explanation in found for q in explanation.questions]
    answers = iter(run_oracle(oracle, cases) if cases else [])
    results: list[Explanation | None] = []
    for found, (_situation, difference) in zip(candidates, asked, strict=True):
        held = None
        for explanation in found:
            got = [next(answers) for _question in explanation.questions]
            if held is None and explanation.holds(got, difference.key):
                held = explanation
        results.append(held)
    return results


def judged_outcome(
    label: str,
    differences: Sequence[VerdictDifference],
    explained: Mapping[VerdictDifference, Explanation | None],
    notes: Sequence[str],
    extra: Sequence[str] = (),
) -> Outcome:
    """Holds when every difference is deliberate: overall only where every key's difference is."""
    keys = [d for d in differences if d.key != "overall"]
    deliberate = [d for d in keys if explained.get(d) is not None]
    problems = [str(d) for d in keys if explained.get(d) is None]
    overall = [d for d in differences if d.key == "overall"]
    if overall and (problems or not keys):
        problems.append(str(overall[0]))
        if extra:
            problems.append(f"ours also judges what the policy does not name: {', '.join(extra)}")
    if problems:
        return Outcome(label, False, "; ".join(problems), list(notes))
    told = [f"deliberately different: {d}; {explained[d]}" for d in deliberate]
    if overall:
        told.append(f"deliberately different: {overall[0]}, by the keys above")
    shown = [d.key for d in deliberate] + [d.key for d in overall]
    return Outcome(label, True, "", [*told, *notes], deliberate=shown)


_MISSING_FACT = re.compile(r'device facts have no "(\w+)"')


def keys_the_original_cannot_judge(
    oracle: Path,
    judged: Sequence[JudgedPolicy],
    devices: Sequence[dict[str, Any]],
    unknown: Sequence[Mapping[str, str]],
) -> list[dict[str, str]]:
    """Per policy, its keys whose verdict needs a fact our scan could not read here (→ why).

    Each key is put to the original alone: only where the original's resolvers read the missing
    fact is the key left out (an unsupported practice needs no fact and is compared).
    """
    cases = [
        {"name": str(key), "policyYaml": yaml.safe_dump({key: value}), "via": "app",
         "device": device}
        for policy, device in zip(judged, devices, strict=True)
        for key, value in policy.data.items()
    ]  # fmt: skip
    answers = iter(run_oracle(oracle, cases))
    left_out: list[dict[str, str]] = []
    for policy, missing in zip(judged, unknown, strict=True):
        keys: dict[str, str] = {}
        for key in policy.data:
            errors = next(answers).get("errors") or []
            found = _MISSING_FACT.search(str(errors[0])) if errors else None
            if found:
                keys[practice_name(str(key))] = missing.get(found.group(1), "not read here")
        left_out.append(keys)
    return left_out


@dataclass
class VerdictPlan:
    """One policy's comparison: what is compared, the notes, the differences found."""

    policy: JudgedPolicy
    situation: Situation
    compared: list[str]
    notes: list[str]
    window: list[VerdictDifference] = field(default_factory=list)
    api: list[VerdictDifference] = field(default_factory=list)
    api_error: str = ""
    rejected: str = ""
    extra: list[str] = field(default_factory=list)


def measure_verdicts(
    judged: Sequence[JudgedPolicy], oracle: Path, server: Server, release: str
) -> tuple[Category, Category]:
    window, api = Category(WINDOW_VERDICTS), Category(API_VERDICTS)
    read = [oracle_device(policy.facts, release) for policy in judged]
    devices = [device for device, _unknown in read]
    skipped = keys_the_original_cannot_judge(oracle, judged, devices, [u for _d, u in read])
    cases, plans = [], []
    for policy, device, left_out in zip(judged, devices, skipped, strict=True):
        named = {practice_name(str(k)): k for k in policy.data}
        reduced = {k: v for k, v in policy.data.items() if practice_name(str(k)) not in left_out}
        compared = [n for n in named if n not in left_out and n not in SETTING_KEYS]
        notes = [
            f"not compared: {n} (our scan cannot read it here: {why})"
            for n, why in left_out.items()
        ]
        cases.append({"name": policy.blob.label, "policyYaml": yaml.safe_dump(reduced),
                      "via": "app", "device": device})  # fmt: skip
        situation = Situation(
            stethoscope_camel_case(reduced),
            device,
            policy.facts.device.os_version,
            policy.facts.context.policy_keys(),
        )
        plans.append(VerdictPlan(policy, situation, compared, notes))
    answers = run_oracle(oracle, cases)
    for plan, answer in zip(plans, answers, strict=True):
        if answer.get("errors"):
            plan.rejected = " ".join(str(answer["errors"][0]).split())[:200]
            continue
        original = statuses_of_validate(answer["validate"])
        plan.window = verdict_differences(
            statuses_of_report(plan.policy.report), original, plan.compared
        )
        names = {practice_name(str(k)) for k in plan.policy.data}
        plan.extra = [
            p.key for p in plan.policy.report.practices
            if p.key.split("/")[0] not in names
            and not (p.key.startswith("applications/") and set(APPLICATION_KEYS) & names)
        ]  # fmt: skip
        status, body = server.graphql(
            VALIDATE_QUERY, {"policy": stethoscope_camel_case(plan.policy.data)}
        )
        if status != 200 or body.get("errors") or not body.get("data"):
            errors = body.get("errors") or [{"message": f"HTTP {status}"}]
            plan.api_error = f"our API: {errors[0].get('message', errors[0])}"
            continue
        ours_api = statuses_of_validate(body["data"]["policy"]["validate"])
        plan.api = verdict_differences(ours_api, original, plan.compared)
    asked = list(
        {
            (index, difference): (plan.situation, difference)
            for index, plan in enumerate(plans)
            for difference in (*plan.window, *plan.api)
            if difference.key != "overall"
        }.items()
    )
    explained = attribute(oracle, [question for _key, question in asked])
    by_plan: dict[int, dict[VerdictDifference, Explanation | None]] = {}
    for ((index, difference), _question), explanation in zip(asked, explained, strict=True):
        by_plan.setdefault(index, {})[difference] = explanation
    for index, plan in enumerate(plans):
        label = plan.policy.blob.label
        if plan.rejected:
            reason = f"the original rejects it: {plan.rejected}"
            window.outcomes.append(Outcome(label, False, reason, plan.notes, counted=False))
            api.outcomes.append(Outcome(label, False, reason, plan.notes, counted=False))
            continue
        mine = by_plan.get(index, {})
        window.outcomes.append(judged_outcome(label, plan.window, mine, plan.notes, plan.extra))
        if plan.api_error:
            api.add(label, [plan.api_error], plan.notes)
        else:
            api.outcomes.append(judged_outcome(label, plan.api, mine, plan.notes))
    return window, api


BUILD_DEB = "packaging/linux/build-deb.sh builds with the original's final practices folder"


# -- the Debian package ------------------------------------------------------------------------


def final_practices(history: History) -> dict[str, str]:
    """The original's practices folder at HEAD: file name → text."""
    head = history.head()
    for folder in ("src/practices/", "practices/"):

        def in_folder(path: str, folder: str = folder) -> bool:
            return path.startswith(folder) and "/" not in path[len(folder) :]

        files = history.at_commit(head, in_folder)
        if files:
            return {PurePosixPath(path).name: text for path, text in files.items()}
    return {}


def measure_build_deb(history: History, work: Path) -> Category:
    category = Category(BUILD_DEB)
    files = final_practices(history)
    folder = work / "deb" / "it"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    out = work / "deb" / "out"
    out.mkdir()
    build = subprocess.run(
        ["bash", str(REPO / "packaging" / "linux" / "build-deb.sh"), "--compression", "zstd",
         "--revision", "1+measure", str(folder), str(out)],
        capture_output=True, text=True, check=False, timeout=1200,
    )  # fmt: skip
    label = f"HEAD {history.head()[:7]}: {', '.join(sorted(files)) or 'no practices folder'}"
    tail = [line for line in build.stderr.replace(str(folder), "IT").splitlines() if line.strip()]
    category.add(label, [] if build.returncode == 0 else tail[-4:] or [f"exit {build.returncode}"])
    return category


# -- the whole measurement ---------------------------------------------------------------------


def bundled_scanner(engine: str, work: Path) -> Scanner:
    practices = load_practices(work / "no-it-folder")
    scanner = open_scanner(argparse.Namespace(engine=engine), practices)
    if isinstance(scanner, str):
        raise RuntimeError(scanner)
    return scanner


def original_release(history: History) -> str:
    try:
        version = json.loads(history.git("show", "HEAD:package.json")).get("version")
    except (subprocess.CalledProcessError, ValueError):
        return "5.0.6"
    return str(version or "5.0.6")


def measure(args: argparse.Namespace, work: Path) -> list[Category]:
    history = History(args.original)
    examples = History(args.examples) if args.examples else None
    release = original_release(history)
    print(f"Stethoscope Desktop {__version__} measured against {args.original}")
    print(f"  the original: HEAD {history.head()[:12]}, {len(history.commits)} commits, "
          f"last release {release}; engine {args.engine}")  # fmt: skip
    if examples is not None:
        print(f"  the examples: {args.examples}, {len(examples.commits)} commits")
    scanner = bundled_scanner(args.engine, work)
    categories: list[Category] = []
    try:
        checked, keyed, judged = measure_policies(history, Machine(scanner), work)
        categories += [checked, keyed, *measure_instructions(history, work)]
        categories.append(measure_configs(history, work))
        categories.append(measure_schemas(history))
        head_docs = history.at_commit(history.head(), lambda p: p == "docs/GRAPHQL.md")
        documented = [
            q.query for text in head_docs.values() for q in graphql_md_queries(
                Blob("", "docs/GRAPHQL.md", "", "", ()), text) if "$policy" in q.query
        ]  # fmt: skip
        server = Server(args.engine)
        try:
            queries = client_queries(
                history, examples, documented[0] if documented else VALIDATE_QUERY
            )
            categories.append(measure_queries(server, queries))
            if args.oracle:
                categories += list(measure_verdicts(judged, args.oracle, server, release))
            else:
                categories += [
                    Category(WINDOW_VERDICTS, skipped="no --oracle"),
                    Category(API_VERDICTS, skipped="no --oracle"),
                ]
        finally:
            server.stop()
    finally:
        scanner.engine.close()
    if args.build_deb:
        categories.append(measure_build_deb(history, work))
    else:
        categories.append(Category(BUILD_DEB, skipped="run with --build-deb"))
    return categories


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("original", type=Path, help="the original's git dir")
    parser.add_argument("--examples", type=Path, help="stethoscope-examples' git dir")
    parser.add_argument("--oracle", type=Path, help="the oracle workspace (verdict.js)")
    parser.add_argument("--build-deb", action="store_true", help="also build the Debian package")
    parser.add_argument("--engine", default="embedded", choices=("auto", "embedded", "osquery"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="measure-original-") as tmp:
        categories = measure(args, Path(tmp))
    for category in categories:
        print_category(category)
    print("\n== summary")
    width = max(len(c.title) for c in categories)
    for category in categories:
        figure = category.skipped and "skipped"
        figure = figure or f"{category.held} of {len(category.counted)} hold"
        print(f"  {category.title:<{width}}  {figure}")
    if not any(category.counted for category in categories):
        print("\nnothing of Stethoscope's was found in this history", file=sys.stderr)
        return 2
    failed = sum(1 for c in categories for o in c.outcomes if o.counted and not o.holds)
    print(f"\n{'everything measured holds' if not failed else f'{failed} do not hold'}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
