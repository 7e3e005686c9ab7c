"""Malformed policy, config, instructions and check files: reported precisely, never raised.

IT writes these YAML files by hand. The rule this suite holds the core to: bad input always gets
a problem naming the file, the line and the key (as IT writes it: `osVersion.darwin.ok`,
`applications[1].name`), with a message that says what is wrong and, for a near miss, what was
meant; no exception ever escapes; and the app keeps running on what it last knew to be good.

Each case is written to a real file and loaded the way the app loads it (`load_yaml` and the
file's parser, or `load_checks` for a checks folder). Then come the layering rules (bundled < IT's
machine folder < override) with real folders, and the command line.
"""

from __future__ import annotations

import json
import random
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from stethoscope_desktop.cli import main
from stethoscope_desktop.core.checks import load_checks
from stethoscope_desktop.core.config import parse_config
from stethoscope_desktop.core.instructions import parse_instructions
from stethoscope_desktop.core.policy import (
    APPLICATION_LISTS,
    FEATURE_PRACTICES,
    Requirement,
    parse_policy,
)
from stethoscope_desktop.core.practices import (
    Practices,
    PracticesFolder,
    PracticesLoader,
    practices_folders,
)
from stethoscope_desktop.core.yamlfile import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    Problem,
    YamlFileError,
    load_yaml,
    parse_yaml,
)
from stethoscope_desktop.resources import practices_dir

FILE_NAMES = {
    "policy": "policy.yaml",
    "config": "config.yaml",
    "instructions": "instructions.en.yaml",
    "check": "firewall.yaml",
}
REQUIREMENT_CHOICES = "is not one of ALWAYS, SUGGESTED, NEVER, IF_SUPPORTED"


def y(text: str) -> str:
    """Return a YAML text written indented in a table, its first line being line 1."""
    return textwrap.dedent(text).lstrip("\n")


@dataclass(frozen=True)
class Case:
    """One malformed file and the problem it must produce."""

    id: str
    kind: str  # policy, config, instructions or check
    content: str | bytes
    key: str  # the offending key path, exactly; "" for a problem with the whole file
    line: int | None  # None only where no line can be named (empty, binary, too big)
    fragment: str  # a meaningful part of the message
    name: str = ""  # the file's name, where it is not the kind's usual one

    @property
    def file_name(self) -> str:
        return self.name or FILE_NAMES[self.kind]


def write_case(case: Case, folder: Path) -> Path:
    """Write the case's file where the app would look for it; return its path."""
    if case.kind == "check":
        folder = folder / "checks"
        folder.mkdir()
    path = folder / case.file_name
    if isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        path.write_text(case.content, encoding="utf-8")
    return path


def validate(kind: str, path: Path) -> list[Problem]:
    """Load and validate one file as the app does; an exception here fails the test."""
    if kind == "check":
        return list(load_checks(path.parent).problems)
    try:
        doc = load_yaml(path)
    except YamlFileError as error:
        return [error.problem]
    if kind == "policy":
        return parse_policy(doc).problems
    if kind == "config":
        return parse_config(doc).problems
    return parse_instructions(doc).problems


# -- Policy: wrong types for every key ----------------------------------------------------------

WRONG_TYPES = {
    "list": "[ALWAYS]",
    "mapping": "{value: ALWAYS}",
    "number": "5",
    "bool": "true",
    "null": "null",
    "empty": "",
}
POLICY_TYPE_MESSAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    **{
        key: (REQUIREMENT_CHOICES, ("list", "mapping", "number", "bool"))
        for key in FEATURE_PRACTICES
    },
    "osVersion": ("must map platforms", ("list", "number", "bool", "null", "empty")),
    # A bare number is a valid screenIdle: 600 means "<=600".
    "screenIdle": ("must be a range of seconds", ("list", "mapping", "bool", "null", "empty")),
    "stethoscopeVersion": ("must be a version range in quotes", tuple(WRONG_TYPES)),
    **{
        key: ("must be a list of applications", ("mapping", "number", "bool", "null", "empty"))
        for key in ("applications", *APPLICATION_LISTS)
    },
}
WRONG_TYPE_CASES = [
    Case(
        f"policy-{key}-{kind}",
        "policy",
        f"# IT's policy\n{key}: {WRONG_TYPES[kind]}\n",
        key,
        2,
        fragment,
    )
    for key, (fragment, kinds) in POLICY_TYPE_MESSAGES.items()
    for kind in kinds
]
WRONG_TYPE_CASES += [
    Case(
        f"policy-{key}-{kind}",
        "policy",
        f"# IT's policy\n{key}: {WRONG_TYPES[kind]}\n",
        key,
        2,
        "has no value; give one of ALWAYS, SUGGESTED, NEVER, IF_SUPPORTED",
    )
    for key in FEATURE_PRACTICES
    for kind in ("null", "empty")
]
WRONG_TYPE_CASES += [
    Case("policy-osVersion-string", "policy", 'osVersion: "14.6"\n', "osVersion", 1, "must map"),
    Case(
        "policy-applications-string",
        "policy",
        "applications: Firefox\n",
        "applications",
        1,
        "must be a list of applications",
    ),
    *(
        Case(
            f"policy-osVersion.darwin-{kind}",
            "policy",
            f"osVersion:\n  darwin: {value}\n",
            "osVersion.darwin",
            2,
            'must be {ok: ">=x.y", nudge: ">=x.y"} or one version range in quotes',
        )
        for kind, value in WRONG_TYPES.items()
        if kind not in ("mapping", "string")
    ),
    Case(
        "policy-osVersion.darwin-bad-range",
        "policy",
        'osVersion:\n  darwin: "newest"\n',
        "osVersion.darwin",
        2,
        'invalid version "newest"',
    ),
    *(
        Case(
            f"policy-osVersion.darwin.ok-{kind}",
            "policy",
            f"osVersion:\n  darwin:\n    ok: {value}\n",
            "osVersion.darwin.ok",
            3,
            'must be a version range in quotes, e.g. ">=14.6"',
        )
        for kind, value in {**WRONG_TYPES, "float": "14.10"}.items()
    ),
]

# -- Policy: bad values, unknown keys, applications ---------------------------------------------

BAD_RANGES = [
    (">=abc", 'invalid version "abc"'),
    (">= ", 'operator ">=" is not followed by a version'),
    ("1.2.3.4.x.y", 'invalid version "1.2.3.4.x.y"'),
    ("1.2.3.4.x-beta", "a prerelease tag needs a full major.minor.patch version"),
    ("1.x.3", "a wildcard can only be followed by wildcards"),
    ("=<14", 'did you mean "<="?'),
    ("~=14.6", 'unknown operator "~="'),
    (">=14.6,<15", 'invalid version "14.6,<15"'),
    (">=14.6 and <15", 'invalid version "and"'),
    ("14 ||", 'empty alternative next to "||"'),
    ("1..2", "(empty part)"),
]
RANGE_CASES = [
    Case(
        f"policy-range-{slot}-{text}",
        "policy",
        y(f"""
            osVersion:
              darwin:
                ok: ">=15.0"
                nudge: "{text}"
            """)
        if slot == "nudge"
        else y(f"""
            firewall: ALWAYS
            osVersion:
              darwin:
                ok: "{text}"
            """),
        f"osVersion.darwin.{slot}",
        4,
        fragment,
    )
    for text, fragment in BAD_RANGES
    for slot in ("ok", "nudge")
]
RANGE_CASES += [
    Case(
        "policy-range-unquoted",
        "policy",
        "osVersion:\n  darwin:\n    ok: >=14.6\n",
        "",
        3,
        'put ranges such as ">=14.6" in quotes',
    ),
    Case("policy-osVersion.darwin-no-bracket", "policy", "osVersion:\n  darwin: {}\n", "osVersion.darwin", 2, "needs ok, nudge or both"),
    Case("policy-stethoscopeVersion-bad", "policy", 'stethoscopeVersion: ">=abc"\n', "stethoscopeVersion", 1, 'invalid version "abc"'),
    Case("policy-screenIdle-word", "policy", "screenIdle: soon\n", "screenIdle", 1, '"soon" is not a number'),
    Case("policy-screenIdle-bad-number", "policy", 'screenIdle: "<=abc"\n', "screenIdle", 1, '"abc" is not a number'),
    Case("policy-screenIdle-or", "policy", 'screenIdle: "<=60 || <=120"\n', "screenIdle", 1, '"||" is not supported'),
    Case("policy-screenIdle-nan", "policy", "screenIdle: .nan\n", "screenIdle", 1, "not a number"),
]  # fmt: skip

REQUIREMENT_CASES = [
    Case("policy-firewall-misspelt", "policy", "firewall: alway\n", "firewall", 1, f'{REQUIREMENT_CHOICES} (did you mean "ALWAYS"?)'),
    Case("policy-screenLock-misspelt", "policy", "screenLock: Sugested\n", "screenLock", 1, 'did you mean "SUGGESTED"?'),
    Case("policy-remoteLogin-misspelt", "policy", "firewall: ALWAYS\nremoteLogin: nevr\n", "remoteLogin", 2, 'did you mean "NEVER"?'),
    Case("policy-automaticUpdates-if-supported", "policy", "automaticUpdates: if supported\n", "automaticUpdates", 1, 'did you mean "IF_SUPPORTED"?'),
    Case("policy-diskEncryption-nonsense", "policy", "diskEncryption: sometimes\n", "diskEncryption", 1, f"'sometimes' {REQUIREMENT_CHOICES}"),
    Case("policy-firewall-yes", "policy", "firewall: yes\n", "firewall", 1, REQUIREMENT_CHOICES),
]  # fmt: skip

UNKNOWN_KEY_CASES = [
    Case("policy-unknown-firewal", "policy", "firewal: ALWAYS\n", "firewal", 1, 'unknown key (did you mean "firewall"?)'),
    Case("policy-unknown-diskencryption", "policy", "firewall: ALWAYS\ndiskencryption: ALWAYS\n", "diskencryption", 2, 'unknown key (did you mean "diskEncryption"?)'),
    Case("policy-unknown-screenidle", "policy", 'screenidle: "<=600"\n', "screenidle", 1, 'did you mean "screenIdle"?'),
    Case("policy-unknown-osversion", "policy", "osversion:\n  darwin:\n    ok: '>=14'\n", "osversion", 1, 'did you mean "osVersion"?'),
    Case("policy-unknown-top-nonsense", "policy", "firewall: ALWAYS\nantivirus: ALWAYS\n", "antivirus", 2, "unknown key"),
    Case("policy-unknown-null-key", "policy", "null: ALWAYS\n", "null", 1, "unknown key"),
    Case("policy-unknown-number-key", "policy", "1: ALWAYS\n", "1", 1, "unknown key"),
    Case(
        "policy-unknown-darwn",
        "policy",
        y("""
            firewall: ALWAYS
            osVersion:
              darwn:
                ok: ">=14.6"
            """),
        "osVersion.darwn",
        3,
        'unknown key (did you mean "darwin"?)',
    ),
    Case("policy-unknown-macos", "policy", "osVersion:\n  macos:\n    ok: '>=14'\n", "osVersion.macos", 2, 'did you mean "darwin"?'),
    Case("policy-unknown-windows", "policy", "osVersion:\n  windows:\n    ok: '>=10'\n", "osVersion.windows", 2, 'did you mean "win32"?'),
    Case("policy-unknown-okay", "policy", "osVersion:\n  darwin:\n    ok: '>=14'\n    okay: '>=13'\n", "osVersion.darwin.okay", 4, 'did you mean "ok"?'),
]  # fmt: skip

APP = "applications:\n  - name: Firefox\n    assertion: SUGGESTED\n"  # lines 1-3: a valid rule
APPLICATION_CASES = [
    Case("app-regex-unclosed", "policy", APP + '  - name: "(unclosed"\n    assertion: ALWAYS\n', "applications[1].name", 4, "not a valid regular expression: missing ), unterminated subpattern"),
    Case("app-regex-bad-repeat", "policy", APP + '  - name: "*zoom"\n    assertion: NEVER\n', "applications[1].name", 4, "not a valid regular expression: nothing to repeat"),
    Case("app-exactMatch-string", "policy", APP + '    exactMatch: "yes"\n', "applications[0].exactMatch", 4, "must be true or false"),
    Case("app-exactMatch-number", "policy", APP + "    exactMatch: 1\n", "applications[0].exactMatch", 4, "must be true or false"),
    Case("app-no-name", "policy", APP + "  - assertion: NEVER\n    version: '>=1'\n", "applications[1].name", 4, "missing; the application's name"),
    Case("app-name-empty", "policy", "applications:\n  - name: ''\n    assertion: NEVER\n", "applications[0].name", 2, "the application's name"),
    Case("app-name-number", "policy", "applications:\n  - name: 7\n    assertion: NEVER\n", "applications[0].name", 2, "the application's name"),
    Case("app-name-too-long", "policy", f"applications:\n  - name: {'x' * 201}\n    assertion: NEVER\n", "applications[0].name", 2, "longer than 200 characters"),
    Case("app-unknown-key", "policy", APP + "    colour: red\n", "applications[0].colour", 4, "unknown key"),
    Case("app-unknown-key-suggestion", "policy", APP + "  - nmae: Zoom\n    assertion: NEVER\n", "applications[1].nmae", 4, 'unknown key (did you mean "name"?)'),
    Case("app-installfrom-case", "policy", APP + "    installfrom: https://x\n", "applications[0].installfrom", 4, 'did you mean "installFrom"?'),
    Case("app-not-a-mapping", "policy", APP + "  - Zoom\n", "applications[1]", 4, "each application must be a mapping"),
    Case("app-assertion-missing", "policy", "applications:\n  - name: Zoom\n", "applications[0].assertion", 2, "missing; one of ALWAYS"),
    Case("app-assertion-lowercase", "policy", "applications:\n  - name: Zoom\n    assertion: always\n", "applications[0].assertion", 3, 'did you mean "ALWAYS"?'),
    Case("app-version-bad", "policy", APP + '    version: ">=abc"\n', "applications[0].version", 4, 'invalid version "abc"'),
    Case("app-version-list", "policy", APP + "    version: ['>=1']\n", "applications[0].version", 4, "must be a version range"),
    Case("app-platform-string", "policy", APP + "    platform: darwin\n", "applications[0].platform", 4, "must map platforms to version ranges"),
    Case("app-platform-macos", "policy", APP + "    platform:\n      macos: '>=13'\n", "applications[0].platform.macos", 5, 'did you mean "darwin"?'),
    Case("app-platform-bad-range", "policy", APP + "    platform:\n      darwin: '>=abc'\n", "applications[0].platform.darwin", 5, 'invalid version "abc"'),
    Case("app-paths-list", "policy", APP + "    paths: [/Applications]\n", "applications[0].paths", 4, "must map platforms to folders"),
    Case("app-paths-number", "policy", APP + "    paths:\n      darwin: 5\n", "applications[0].paths.darwin", 5, "must be a folder path"),
    Case("app-paths-windows", "policy", APP + "    paths:\n      windows: 'C:\\Apps'\n", "applications[0].paths.windows", 5, 'did you mean "win32"?'),
    Case("app-description-list", "policy", APP + "    description: [a, b]\n", "applications[0].description", 4, "must be text"),
    Case("app-installFrom-number", "policy", APP + "    installFrom: 5\n", "applications[0].installFrom", 4, "must be text"),
    Case("app-required-regex", "policy", "requiredApplications:\n  - name: '('\n", "requiredApplications[0].name", 2, "not a valid regular expression"),
    Case("app-banned-unknown-key", "policy", "bannedApplications:\n  - name: uTorrent\n    colour: red\n", "bannedApplications[0].colour", 3, "unknown key"),
    Case("app-suggested-not-mapping", "policy", "suggestedApplications:\n  - 5\n", "suggestedApplications[0]", 2, "must be a mapping"),
]  # fmt: skip

SECURITY = "securitySoftware:\n  requirement: ALWAYS\n"  # lines 1-2: a valid long form
SECURITY_SOFTWARE_CASES = [
    Case("security-never", "policy", "securitySoftware: NEVER\n", "securitySoftware", 1, "'NEVER' is not one of ALWAYS, SUGGESTED, IF_SUPPORTED"),
    Case("security-lowercase", "policy", "securitySoftware: always\n", "securitySoftware", 1, 'did you mean "ALWAYS"?'),
    Case("security-null", "policy", "firewall: ALWAYS\nsecuritySoftware:\n", "securitySoftware", 2, "must be ALWAYS, SUGGESTED or IF_SUPPORTED, or a mapping with requirement and products"),
    Case("security-list", "policy", "securitySoftware: [ALWAYS]\n", "securitySoftware", 1, "must be ALWAYS, SUGGESTED or IF_SUPPORTED, or a mapping"),
    Case("security-requirement-missing", "policy", "securitySoftware:\n  products: [CrowdStrike]\n", "securitySoftware.requirement", 1, "missing; one of ALWAYS, SUGGESTED or IF_SUPPORTED"),
    Case("security-requirement-never", "policy", "securitySoftware:\n  requirement: NEVER\n", "securitySoftware.requirement", 2, "'NEVER' is not one of ALWAYS, SUGGESTED, IF_SUPPORTED"),
    Case("security-products-string", "policy", SECURITY + "  products: CrowdStrike\n", "securitySoftware.products", 3, "must be a list of product names"),
    Case("security-products-empty", "policy", SECURITY + "  products: []\n", "securitySoftware.products", 3, "is empty; name at least one product, or leave products out"),
    Case("security-product-number", "policy", SECURITY + "  products:\n    - CrowdStrike\n    - 42\n", "securitySoftware.products[1]", 5, "must be a product's name"),
    Case("security-product-blank", "policy", SECURITY + "  products: ['  ']\n", "securitySoftware.products[0]", 3, "must be a product's name"),
    Case("security-product-too-long", "policy", SECURITY + f"  products: [{'x' * 101}]\n", "securitySoftware.products[0]", 3, "longer than 100 characters"),
    Case("security-too-many-products", "policy", SECURITY + f"  products: [{', '.join(['p'] * 51)}]\n", "securitySoftware.products", 3, "more than 50 products"),
    Case("security-unknown-key", "policy", SECURITY + "  product: [CrowdStrike]\n", "securitySoftware.product", 3, 'unknown key (did you mean "products"?)'),
]  # fmt: skip

# -- Whole files that are not a policy at all ---------------------------------------------------

BILLION_LAUGHS = "lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{n}: &lol{n} [{', '.join([f'*lol{n - 1}'] * 9)}]\n" for n in range(1, 10)
)
DEEP_BLOCK = "".join("  " * n + f"k{n}:\n" for n in range(200)) + "  " * 200 + "x\n"
RANDOM_JUNK = random.Random(1).randbytes(400)[:200] + b"\x00" + random.Random(2).randbytes(200)

FILE_CASES = [
    Case("file-empty", "policy", "", "", None, "the policy file is empty"),
    Case("file-only-comment", "policy", "# nothing here yet\n", "", None, "the policy file is empty"),
    Case("file-only-blank-lines", "policy", "\n\n   \n", "", None, "the policy file is empty"),
    Case("file-scalar", "policy", "ALWAYS\n", "", 1, "a policy must be a mapping"),
    Case("file-number", "policy", "# policy\n42\n", "", 2, "a policy must be a mapping"),
    Case("file-list", "policy", "- firewall\n- diskEncryption\n", "", 1, "a policy must be a mapping"),
    Case("file-binary-junk", "policy", RANDOM_JUNK, "", None, "the file is binary, not YAML text"),
    Case("file-not-utf8", "policy", b"firewall: ALWAYS\n# Caf\xe9 policy\n", "", 2, "not UTF-8 text (byte 0xE9 at offset 22); save it as UTF-8"),
    Case("file-utf16", "policy", "firewall: ALWAYS\n".encode("utf-16"), "", None, "UTF-16 text; save it as UTF-8"),
    Case("file-huge", "policy", b"firewall: ALWAYS\n" + b"#" * MAX_FILE_BYTES, "", None, "larger than 1024 KiB"),
    Case("file-billion-laughs", "policy", BILLION_LAUGHS, "", None, f"expands to more than {MAX_NODES} values"),
    Case("file-long-flat-list", "policy", "applications: [" + "a, " * 60_000 + "a]\n", "", None, f"more than {MAX_NODES} values"),
    Case("file-deep-block", "policy", DEEP_BLOCK, ".".join(f"k{n}" for n in range(MAX_DEPTH)), MAX_DEPTH + 1, f"nested deeper than {MAX_DEPTH} levels"),
    Case("file-deep-flow-list", "policy", "applications: " + "[" * 5000 + "]" * 5000 + "\n", "applications" + "[0]" * MAX_DEPTH, 1, f"nested deeper than {MAX_DEPTH} levels"),
    Case("file-deep-flow-map", "policy", "osVersion: " + "{a: " * 500 + "1" + "}" * 500 + "\n", "osVersion" + ".a" * (MAX_DEPTH - 1), 1, "nested deeper"),
    Case("file-recursive-alias", "policy", "firewall: ALWAYS\napplications: &a [*a]\n", "applications" + "[0]" * MAX_DEPTH, 2, "nested deeper"),
    Case("dup-top-level", "policy", "firewall: ALWAYS\nscreenLock: ALWAYS\nfirewall: NEVER\n", "firewall", 3, "this key appears twice"),
    Case("dup-nested", "policy", "osVersion:\n  darwin:\n    ok: '>=15'\n    ok: '>=14'\n", "osVersion.darwin.ok", 4, "this key appears twice"),
    Case("dup-in-application", "policy", APP + "    name: Chrome\n", "applications[0].name", 4, "this key appears twice"),
    Case("syntax-indent", "policy", "firewall: ALWAYS\n  screenLock: ALWAYS\n", "", 2, "not valid YAML: mapping values are not allowed here"),
    Case("syntax-dedent", "policy", "osVersion:\n  darwin:\n    ok: '>=15'\n   nudge: '>=14'\n", "", 4, "not valid YAML: while parsing a block mapping"),
    Case("syntax-unclosed-quote", "policy", "firewall: ALWAYS\nscreenLock: 'ALWAYS\nremoteLogin: NEVER\n", "", 2, "not closed before the end of the file"),
    Case("syntax-unclosed-bracket", "policy", "firewall: ALWAYS\napplications: [\n", "", 2, "not closed before the end of the file"),
    Case("syntax-two-documents", "policy", "firewall: ALWAYS\n---\nfirewall: NEVER\n", "", 2, "expected a single document"),
    Case("syntax-undefined-alias", "policy", "firewall: ALWAYS\nscreenLock: *strict\n", "", 2, "found undefined alias 'strict'"),
    Case("syntax-at-sign", "policy", "firewall: ALWAYS\n@screenLock: ALWAYS\n", "", 2, "found character '@' that cannot start any token"),
    Case("tabs-indent", "policy", "osVersion:\n\tdarwin:\n\t\tok: '>=15'\n", "", 2, "indent with spaces, not tabs"),
    Case("tabs-after-spaces", "policy", "osVersion:\n  darwin:\n\tok: '>=15'\n", "", 3, "indent with spaces, not tabs"),
    Case("control-character", "policy", "firewall: ALWAYS\nscreenLock: ALWAYS\x1b[0m\n", "", 2, "control character U+001B is not allowed"),
    Case("complex-key", "policy", "firewall: ALWAYS\n? [a, b]\n: c\n", "", 2, "a key must be a plain value"),
    Case(
        "merge-key",
        "policy",
        y("""
            osVersion:
              darwin: &supported
                ok: ">=15.0"
              ubuntu:
                <<: *supported
            """),
        "osVersion.ubuntu",
        5,
        "merge keys (<<) are not supported",
    ),
    Case("merge-key-top-level", "policy", "base: &b {firewall: ALWAYS}\n<<: *b\n", "", 2, "merge keys (<<) are not supported"),
    Case("tag-python-apply", "policy", "firewall: !!python/object/apply:os.system ['echo hi']\n", "firewall", 1, "the tag !!python/object/apply:os.system is not allowed"),
    Case("tag-python-apply-scalar", "policy", "firewall: !!python/object/apply:os.system 'echo hi'\n", "firewall", 1, "is not allowed"),
    Case("tag-python-new-mapping", "policy", "screenLock: ALWAYS\nfirewall: !!python/object/new:os.system {args: [echo]}\n", "firewall", 2, "the tag !!python/object/new:os.system is not allowed"),
    Case("tag-python-name", "policy", "firewall: !!python/name:os.system\n", "firewall", 1, "the tag !!python/name:os.system is not allowed"),
    Case("tag-python-whole-file", "policy", "!!python/object/apply:os.system ['echo hi']\n", "", 1, "is not allowed"),
    Case("tag-python-key", "policy", "firewall: ALWAYS\n? !!python/name:os.system\n: ALWAYS\n", "", 2, "the tag !!python/name:os.system is not allowed"),
    Case("tag-python-complex-key", "policy", "? !!python/object/apply:os.getcwd []\n: ALWAYS\n", "", 1, "a key must be a plain value"),
    Case("tag-set", "policy", "firewall: !!set {ALWAYS}\n", "firewall", 1, "the tag !!set is not allowed"),
    Case("tag-custom", "policy", "firewall: !Ref ALWAYS\n", "firewall", 1, "the tag !Ref is not allowed"),
    Case("tag-map-on-scalar", "policy", "firewall: !!map ALWAYS\n", "firewall", 1, "the tag !!map is not allowed"),
    Case("value-impossible-date", "policy", "firewall: ALWAYS\nosVersion:\n  darwin:\n    ok: 2024-02-30\n", "osVersion.darwin.ok", 4, "'2024-02-30' is not a valid !!timestamp value (put it in quotes if it is text)"),
    Case("value-bad-hex", "policy", "screenIdle: 0x_\n", "screenIdle", 1, "'0x_' is not a valid !!int value"),
    Case("value-tagged-int", "policy", "screenIdle: !!int soon\n", "screenIdle", 1, "'soon' is not a valid !!int value"),
    Case("value-tagged-bool", "policy", "applications:\n  - name: Zoom\n    exactMatch: !!bool maybe\n", "applications[0].exactMatch", 3, "'maybe' is not a valid !!bool value"),
    Case("value-impossible-date-key", "policy", "firewall: ALWAYS\n2024-13-01: x\n", "", 2, "is not a valid !!timestamp value"),
]  # fmt: skip

# -- Instructions -------------------------------------------------------------------------------

TITLE = "practices:\n  firewall:\n    title:\n"  # lines 1-3
INSTRUCTION_CASES = [
    Case("instr-placeholder-typo", "instructions", TITLE + "      passing: The firewall is {{requirment}}\n      failing: Turn it on\n", "practices.firewall.title.passing", 4, 'unknown placeholder {{requirment}} (did you mean "requirement"?)'),
    Case("instr-placeholder-in-string", "instructions", "strings:\n  summaryFail: '{{cnt}} problems'\n", "strings.summaryFail", 2, 'unknown placeholder {{cnt}} (did you mean "count"?)'),
    Case("instr-placeholder-in-directions", "instructions", "practices:\n  firewall:\n    directions:\n      linux: Run {{command}}\n", "practices.firewall.directions.linux", 4, "unknown placeholder {{command}}"),
    Case("instr-placeholder-handlebars", "instructions", "practices:\n  firewall:\n    title: '{{#if passing}}On as {{requirment}}{{else}}Off{{/if}}'\n", "practices.firewall.title", 3, 'did you mean "requirement"?'),
    Case("instr-unknown-practice", "instructions", "practices:\n  firewal:\n    name: Firewall\n", "practices.firewal", 2, 'unknown key (did you mean "firewall"?)'),
    Case("instr-unknown-practice-case", "instructions", "practices:\n  diskencryption:\n    name: Disk\n", "practices.diskencryption", 2, 'did you mean "diskEncryption"?'),
    Case("instr-unknown-field", "instructions", "practices:\n  firewall:\n    nme: Firewall\n", "practices.firewall.nme", 3, 'did you mean "name"?'),
    Case("instr-unknown-title-state", "instructions", TITLE + "      pasing: On\n", "practices.firewall.title.pasing", 4, 'did you mean "passing"?'),
    Case("instr-unknown-top", "instructions", "practises: {}\n", "practises", 1, 'did you mean "practices"?'),
    Case("instr-unknown-string", "instructions", "strings:\n  sumaryPass: All good\n", "strings.sumaryPass", 2, 'did you mean "summaryPass"?'),
    Case("instr-directions-macos", "instructions", "practices:\n  firewall:\n    directions:\n      macos: Open Settings\n", "practices.firewall.directions.macos", 4, 'did you mean "darwin"?'),
    Case("instr-rating-bad", "instructions", "practices:\n  firewall:\n    rating: urgent\n", "practices.firewall.rating", 3, "'urgent' is not one of critical, high, medium, low"),
    Case("instr-rating-case", "instructions", "practices:\n  firewall:\n    rating: Critical\n", "practices.firewall.rating", 3, 'did you mean "critical"?'),
    Case("instr-rating-number", "instructions", "practices:\n  firewall:\n    rating: 1\n", "practices.firewall.rating", 3, "is not one of critical, high, medium, low"),
    Case("instr-rating-list", "instructions", "practices:\n  firewall:\n    rating: [high]\n", "practices.firewall.rating", 3, "is not one of critical"),
    Case("instr-title-number", "instructions", "practices:\n  firewall:\n    title: 5\n", "practices.firewall.title", 3, "must be {passing, failing, unknown}"),
    Case("instr-title-list", "instructions", "practices:\n  firewall:\n    title: [On, Off]\n", "practices.firewall.title", 3, "must be {passing, failing, unknown}"),
    Case("instr-title-state-not-text", "instructions", TITLE + "      failing: [Off]\n", "practices.firewall.title.failing", 4, "must be text"),
    Case("instr-name-not-text", "instructions", "practices:\n  firewall:\n    name: {a: 1}\n", "practices.firewall.name", 3, "must be text"),
    Case("instr-description-not-text", "instructions", "practices:\n  firewall:\n    description: 5\n", "practices.firewall.description", 3, "must be text"),
    Case("instr-directions-not-mapping", "instructions", "practices:\n  firewall:\n    directions: [Open Settings]\n", "practices.firewall.directions", 3, "must map platforms to Markdown directions"),
    Case("instr-direction-not-text", "instructions", "practices:\n  firewall:\n    directions:\n      linux: 5\n", "practices.firewall.directions.linux", 4, "must be text"),
    Case("instr-practice-not-mapping", "instructions", "practices:\n  firewall: Turn it on\n", "practices.firewall", 2, "must be a mapping with name, rating"),
    Case("instr-practices-list", "instructions", "practices: []\n", "practices", 1, "must map practice names to their texts"),
    Case("instr-practices-string", "instructions", "strings: {}\npractices: firewall\n", "practices", 2, "must map practice names"),
    Case("instr-strings-list", "instructions", "strings: []\n", "strings", 1, "must map string names to texts"),
    Case("instr-string-not-text", "instructions", "strings:\n  summaryPass: [ok]\n", "strings.summaryPass", 2, "must be text"),
    Case("instr-language-word", "instructions", "language: english\n", "language", 1, "must be a language code such as en or de"),
    Case("instr-language-number", "instructions", "language: 0\n", "language", 1, "must be a language code"),
    Case("instr-stethoscope-practices-number", "instructions", "policyFormat: 1\npractices: 5\n", "practices", 2, "must map practice names"),
    Case("instr-stethoscope-direction-not-text", "instructions", "practices:\n  firewall:\n    title: '{{#if passing}}On{{else}}Off{{/if}}'\n    directions:\n      darwin: 5\n", "practices.firewall.directions.darwin", 5, "must be text"),
    Case("instr-stethoscope-description-not-text", "instructions", "practices:\n  firewall:\n    title: Firewall\n    description: [x]\n", "practices.firewall.description", 4, "must be text"),
    Case("instr-stethoscope-mixed-title", "instructions", "practices:\n  firewall:\n    title: Firewall\n  screenLock:\n    title: 5\n", "practices.screenLock.title", 5, "must be {passing, failing, unknown}"),
    Case("instr-empty", "instructions", "", "", None, "instructions must be a mapping"),
    Case("instr-list", "instructions", "- practices\n", "", 1, "instructions must be a mapping"),
    Case("instr-syntax", "instructions", "practices:\n  firewall:\n    title: {passing: On\n", "", 3, "not closed before the end of the file"),
    Case("instr-binary", "instructions", b"\x00\x01\x02practices", "", None, "binary"),
]  # fmt: skip

# -- Config ---------------------------------------------------------------------------------------

CONFIG_CASES = [
    Case("config-interval-too-small", "config", "organization: Example\nscanIntervalMinutes: 1\n", "scanIntervalMinutes", 2, "must be at least 5 minutes"),
    Case("config-interval-negative", "config", "scanIntervalMinutes: -10\n", "scanIntervalMinutes", 1, "must be at least 5 minutes"),
    Case("config-interval-float", "config", "scanIntervalMinutes: 5.5\n", "scanIntervalMinutes", 1, "must be a whole number of minutes"),
    Case("config-interval-string", "config", "scanIntervalMinutes: '60'\n", "scanIntervalMinutes", 1, "must be a whole number of minutes"),
    Case("config-interval-bool", "config", "scanIntervalMinutes: true\n", "scanIntervalMinutes", 1, "must be a whole number"),
    Case("config-engine-typo", "config", "engine: osqeury\n", "engine", 1, "'osqeury' is not one of auto, embedded, osquery (did you mean \"osquery\"?)"),
    Case("config-engine-case", "config", "engine: Embedded\n", "engine", 1, 'did you mean "embedded"?'),
    Case("config-engine-list", "config", "engine: [osquery]\n", "engine", 1, "is not one of auto, embedded, osquery"),
    Case("config-port-too-big", "config", "apiPort: 70000\n", "apiPort", 1, "must be a port number from 0 to 65535"),
    Case("config-port-negative", "config", "apiPort: -1\n", "apiPort", 1, "must be a port number"),
    Case("config-port-string", "config", "apiPort: '37370'\n", "apiPort", 1, "must be a port number"),
    Case("config-port-bool", "config", "apiPort: true\n", "apiPort", 1, "must be a port number"),
    Case("config-hostLabels-regex", "config", "hostLabels:\n  - pattern: 'https://(login|sso.example.com'\n    name: Login\n", "hostLabels[0].pattern", 2, "not a valid regular expression: missing )"),
    Case("config-hostLabels-second-regex", "config", "hostLabels:\n  - pattern: 'https://a\\.example\\.com'\n    name: A\n  - pattern: '[z-a]'\n    name: B\n", "hostLabels[1].pattern", 4, "bad character range z-a"),
    Case("config-hostLabels-no-name", "config", "hostLabels:\n  - pattern: 'https://x'\n", "hostLabels[0].name", 2, "missing; the name to show"),
    Case("config-hostLabels-no-pattern", "config", "hostLabels:\n  - name: Login\n", "hostLabels[0].pattern", 2, "must be a regular expression in quotes"),
    Case("config-hostLabels-typo", "config", "hostLabels:\n  - patern: 'https://x'\n    name: X\n", "hostLabels[0].patern", 2, 'did you mean "pattern"?'),
    Case("config-hostLabels-item", "config", "hostLabels:\n  - https://x\n", "hostLabels[0]", 2, "must be {pattern: regex, name: text}"),
    Case("config-hostLabels-mapping", "config", "hostLabels: {pattern: x}\n", "hostLabels", 1, "must be a list of {pattern, name}"),
    Case("config-allowRegex", "config", "allowRegex:\n  - 'https://ok'\n  - '(bad'\n", "allowRegex[1]", 3, "not a valid regular expression"),
    Case("config-allowHosts-string", "config", "allowHosts: https://login.example.com\n", "allowHosts", 1, "must be a list of origins"),
    Case("config-allowHosts-number", "config", "allowHosts: [443]\n", "allowHosts", 1, "must be a list of origins"),
    Case("config-policyServer-http", "config", "policyServer: http://policy.example.com\n", "policyServer", 1, "must be an https:// URL"),
    Case("config-enrollmentUrl-http", "config", "enrollmentUrl: http://enroll.example.com\n", "enrollmentUrl", 1, "must be an https:// URL"),
    Case("config-policyServer-number", "config", "policyServer: 443\n", "policyServer", 1, "must be text"),
    Case("config-organization-list", "config", "organization: [Example]\n", "organization", 1, "must be text"),
    Case("config-reminder-word", "config", "notifications:\n  enabled: true\n  reminderHours: daily\n", "notifications.reminderHours", 3, "must be a number of hours"),
    Case("config-reminder-negative", "config", "notifications:\n  reminderHours: -1\n", "notifications.reminderHours", 2, "must be a number of hours"),
    # Found by tests/fuzz: past 2**31 ms the tray's timer raised OverflowError on every report,
    # and rescanIntervalSeconds: 10**400 raised it out of the load.
    Case("config-interval-a-month", "config", "scanIntervalMinutes: 43200\n", "scanIntervalMinutes", 1, "must be at most 20160 minutes (14 days)"),
    Case("config-rescan-huge", "config", f"rescanIntervalSeconds: {10**400}\n", "rescanIntervalSeconds", 1, "must be at most 1209600 seconds (14 days)"),
    # Found by tests/fuzz: a number beyond a float's range raised OverflowError out of the load.
    Case("config-reminder-huge", "config", f"notifications:\n  reminderHours: {10**400}\n", "notifications.reminderHours", 2, "must be a number of hours"),
    Case("config-reminder-nan", "config", "notifications:\n  reminderHours: .nan\n", "notifications.reminderHours", 2, "must be a number of hours"),
    Case("config-reminder-infinite", "config", "notifications:\n  reminderHours: .inf\n", "notifications.reminderHours", 2, "must be a number of hours"),
    Case("config-notifications-enabled", "config", "notifications:\n  enabled: 'yes'\n", "notifications.enabled", 2, "must be true or false"),
    Case("config-notifications-typo", "config", "notifications:\n  enable: true\n", "notifications.enable", 2, 'did you mean "enabled"?'),
    Case("config-notifications-list", "config", "notifications: [enabled]\n", "notifications", 1, "must be a mapping with enabled and reminderHours"),
    Case("config-unknown-key", "config", "scanInterval: 60\n", "scanInterval", 1, 'did you mean "scanIntervalMinutes"?'),
    Case("config-unknown-organisation", "config", "organisation: Example\n", "organisation", 1, 'did you mean "organization"?'),
    Case("config-list", "config", "- engine: auto\n", "", 1, "the config must be a mapping of settings"),
    Case("config-syntax", "config", "engine: auto\napiPort: [37370\n", "", 2, "not closed before the end of the file"),
    Case("config-duplicate", "config", "engine: auto\nengine: osquery\n", "engine", 2, "this key appears twice"),
]  # fmt: skip

# -- Checks ---------------------------------------------------------------------------------------

CHECK_CASES = [
    Case("check-missing-kind", "check", "description: Is the firewall on?\nsql:\n  linux: SELECT 1 AS enabled;\n", "kind", 1, "missing; one of state, value, list, record"),
    Case("check-bad-kind", "check", "kind: stat\nsql:\n  linux: SELECT 1 AS enabled;\n", "kind", 1, "'stat' is not one of state, value, list, record (did you mean \"state\"?)"),
    Case("check-kind-list", "check", "description: x\nkind: [state]\nsql:\n  linux: SELECT 1;\n", "kind", 2, "is not one of state, value, list, record"),
    Case("check-empty-sql", "check", "kind: state\nsql:\n  linux: ''\n", "sql.linux", 3, "must be a non-empty SQL query"),
    Case("check-blank-sql", "check", "kind: state\nsql:\n  darwin: SELECT 1;\n  linux: '   '\n", "sql.linux", 4, "must be a non-empty SQL query"),
    Case("check-sql-number", "check", "kind: state\nsql:\n  windows: 5\n", "sql.windows", 3, "must be a non-empty SQL query"),
    Case("check-sql-too-long", "check", f"kind: state\nsql:\n  linux: SELECT {'1' * 20_001};\n", "sql.linux", 3, "longer than 20000 characters"),
    Case("check-sql-macos", "check", "kind: state\nsql:\n  macos: SELECT 1 AS enabled;\n", "sql.macos", 3, 'unknown key (did you mean "darwin"?)'),
    Case("check-sql-win32", "check", "kind: state\nsql:\n  win32: SELECT 1 AS enabled;\n", "sql.win32", 3, 'did you mean "windows"?'),
    Case("check-sql-list", "check", "kind: state\nsql: [SELECT 1]\n", "sql", 2, "must map platforms (darwin, linux, windows) to osquery SQL"),
    Case("check-sql-empty-mapping", "check", "kind: state\nsql: {}\n", "sql", 2, "must map platforms"),
    Case("check-sql-missing", "check", "kind: state\ndescription: x\n", "sql", 1, "must map platforms"),
    Case("check-description-number", "check", "kind: state\ndescription: 5\nsql:\n  linux: SELECT 1;\n", "description", 2, "must be text"),
    Case("check-unknown-key", "check", "kind: state\nsql:\n  linux: SELECT 1;\nquery: SELECT 1;\n", "query", 4, "unknown key"),
    Case("check-unknown-key-typo", "check", "kind: state\ndescripton: x\nsql:\n  linux: SELECT 1;\n", "descripton", 2, 'did you mean "description"?'),
    Case("check-list", "check", "- kind: state\n", "", 1, "a check must be a mapping"),
    Case("check-empty", "check", "", "", None, "a check must be a mapping"),
    Case("check-syntax", "check", "kind: state\nsql:\n  linux: 'SELECT 1\n", "", 3, "not closed before the end of the file"),
    Case("check-name-dashes", "check", "kind: state\nsql:\n  linux: SELECT 1;\n", "", None, "lower_snake_case", name="disk-encryption.yaml"),
    Case("check-name-capitals", "check", "kind: state\nsql:\n  linux: SELECT 1;\n", "", None, "lower_snake_case", name="Firewall.yaml"),
    Case("check-name-digit", "check", "kind: state\nsql:\n  linux: SELECT 1;\n", "", None, "lower_snake_case", name="1password.yaml"),
]  # fmt: skip

ALL_CASES = [
    *WRONG_TYPE_CASES,
    *RANGE_CASES,
    *REQUIREMENT_CASES,
    *UNKNOWN_KEY_CASES,
    *APPLICATION_CASES,
    *SECURITY_SOFTWARE_CASES,
    *FILE_CASES,
    *INSTRUCTION_CASES,
    *CONFIG_CASES,
    *CHECK_CASES,
]
CLI_CASES = [case for case in ALL_CASES if case.kind != "check"]


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in ALL_CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.id)
def test_bad_file_is_reported_with_file_line_and_key(case: Case, tmp_path: Path) -> None:
    path = write_case(case, tmp_path)
    problems = validate(case.kind, path)
    assert problems, "a malformed file must produce at least one problem"
    assert all(problem.file == str(path) for problem in problems), problems
    matching = [p for p in problems if p.key == case.key and case.fragment in p.message]
    assert matching, f"no problem at key {case.key!r} saying {case.fragment!r}: {problems}"
    assert matching[0].line == case.line, str(matching[0])


@pytest.mark.parametrize(
    "content",
    [
        "firewall: !!python/object/apply:os.system ['touch {marker}']\n",
        "!!python/object/apply:os.system ['touch {marker}']\n",
        "firewall: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]\n",
        "applications:\n  - name: !!python/object/apply:os.system ['touch {marker}']\n",
        "? !!python/object/apply:os.system ['touch {marker}']\n: ALWAYS\n",
    ],
)
def test_python_tags_are_refused_not_executed(content: str, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "policy.yaml"
    path.write_text(content.format(marker=marker), encoding="utf-8")
    problems = validate("policy", path)
    assert not marker.exists(), "a YAML tag ran code"
    refused = ("is not allowed", "a key must be a plain value")
    assert any(r in p.message and p.line is not None for p in problems for r in refused), problems
    loaded = PracticesLoader(
        practices_folders(_bundled(tmp_path), tmp_path, machine=tmp_path / "none", env={})
    ).load()
    assert not marker.exists()
    assert any(p.file == str(path) and p.line is not None for p in loaded.problems)


def test_billion_laughs_is_refused_by_counting_not_by_expanding() -> None:
    # Fully expanded this document has 9**10 (about 3.5 billion) values; it can only have been
    # refused quickly, because the node bound stops it at MAX_NODES.
    with pytest.raises(YamlFileError) as caught:
        parse_yaml(BILLION_LAUGHS, "bomb.yaml")
    assert f"more than {MAX_NODES} values" in caught.value.problem.message
    assert caught.value.problem.file == "bomb.yaml"


def test_valid_edge_cases_are_not_problems(tmp_path: Path) -> None:
    # Not malformed: a Windows four-part x-range (a documented extension of node-semver), a UTF-8
    # byte order mark, a bare screenIdle number, anchors and aliases without merge keys, and a
    # Stethoscope-style title string.
    policy = tmp_path / "policy.yaml"
    policy.write_bytes(
        b"\xef\xbb\xbf"
        + y("""
            osVersion:
              win32: &supported
                ok: "10.0.26100.x"
                nudge: "1.2.3.4.x"
              darwin: *supported
            screenIdle: 600
            firewall: ALWAYS
            """).encode()
    )
    assert validate("policy", policy) == []
    instructions = tmp_path / "instructions.en.yaml"
    instructions.write_text("practices:\n  firewall:\n    title: Firewall\n", encoding="utf-8")
    assert validate("instructions", instructions) == []


def test_an_empty_config_means_the_defaults(tmp_path: Path) -> None:
    # Unlike an empty policy (which would require nothing), an empty config is not a problem.
    path = tmp_path / "config.yaml"
    path.write_text("# all defaults\n", encoding="utf-8")
    assert validate("config", path) == []


def test_every_problem_of_a_file_with_many_errors_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        y("""
            firewal: ALWAYS
            diskEncryption: ON
            osVersion:
              darwin:
                ok: ">=abc"
            applications:
              - name: "(unclosed"
                assertion: NEVER
              - assertion: ALWAYS
            screenIdle: soon
            """),
        encoding="utf-8",
    )
    located = {(p.key, p.line) for p in validate("policy", path)}
    assert located == {
        ("firewal", 1),
        ("diskEncryption", 2),
        ("osVersion.darwin.ok", 5),
        ("applications[0].name", 7),
        ("applications[1].name", 9),
        ("screenIdle", 10),
    }


def test_a_directory_or_unreadable_path_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "policy.yaml"
    folder.mkdir()
    with pytest.raises(YamlFileError) as caught:
        load_yaml(folder)
    assert caught.value.problem.file == str(folder)
    assert "cannot read" in caught.value.problem.message


# -- Layering: bundled < IT's machine folder < override -----------------------------------------

BUNDLED_POLICY = y("""
    osVersion:
      darwin:
        ok: ">=15.0"
    firewall: ALWAYS
    diskEncryption: ALWAYS
    screenLock: ALWAYS
    """)
BUNDLED_CONFIG = "scanIntervalMinutes: 60\nengine: auto\n"
BUNDLED_INSTRUCTIONS = y("""
    practices:
      firewall:
        title:
          passing: The firewall is on
          failing: The firewall is off
    """)


def _bundled(root: Path) -> Path:
    folder = root / "bundled"
    if not folder.is_dir():
        folder.mkdir()
        (folder / "policy.yaml").write_text(BUNDLED_POLICY, encoding="utf-8")
        (folder / "config.yaml").write_text(BUNDLED_CONFIG, encoding="utf-8")
        (folder / "instructions.en.yaml").write_text(BUNDLED_INSTRUCTIONS, encoding="utf-8")
    return folder


def _folder(root: Path, name: str, **files: str | bytes) -> Path:
    folder = root / name
    folder.mkdir(exist_ok=True)
    for file_name, content in files.items():
        path = folder / file_name.replace("_yaml", ".yaml")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def _loader(root: Path, *, it: Path | None = None, override: Path | None = None) -> PracticesLoader:
    folders = practices_folders(_bundled(root), override, machine=it or root / "no-it", env={})
    return PracticesLoader(folders)


def _features(practices: Practices) -> dict[str, str]:
    return {key: str(value) for key, value in practices.policy.features.items()}


def _problems_of(practices: Practices, path: Path) -> list[Problem]:
    return [p for p in practices.problems if p.file == str(path)]


def test_a_broken_it_policy_leaves_the_bundled_values_in_force(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", policy_yaml="firewall: NEVER\nscreenLock: [SUGGESTED\n")
    practices = _loader(tmp_path, it=it).load()
    assert _features(practices) == {
        "firewall": "ALWAYS",
        "diskEncryption": "ALWAYS",
        "screenLock": "ALWAYS",
    }
    assert str(practices.policy.os_version["darwin"].ok) == ">=15.0"
    (problem,) = _problems_of(practices, it / "policy.yaml")
    assert problem.line == 2
    assert "not closed before the end of the file" in problem.message


@pytest.mark.parametrize(
    "broken",
    [
        "firewall: NEVER\n  screenLock: x\n",
        b"\x00\x01binary",
        b"firewall: caf\xe9\n",
        "firewall: !!python/object/apply:os.getcwd []\n",
        "",
        "- firewall\n",
    ],
    ids=["syntax", "binary", "latin1", "python-tag", "empty", "list"],
)
def test_the_last_good_it_policy_stays_in_force_when_the_file_breaks(
    broken: str | bytes, tmp_path: Path
) -> None:
    it = _folder(tmp_path, "it", policy_yaml="firewall: SUGGESTED\nremoteLogin: NEVER\n")
    loader = _loader(tmp_path, it=it)
    first = loader.load()
    assert first.problems == ()
    assert _features(first)["firewall"] == "SUGGESTED"
    _folder(tmp_path, "it", policy_yaml=broken)
    second = loader.load()
    assert _features(second) == _features(first)
    problems = _problems_of(second, it / "policy.yaml")
    assert len(problems) == 2, problems
    assert "last good" in problems[-1].message


def test_a_file_error_after_a_good_load_says_the_last_good_version_is_used(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", policy_yaml="firewall: SUGGESTED\n")
    loader = _loader(tmp_path, it=it)
    loader.load()
    _folder(tmp_path, "it", policy_yaml="firewall: SUGGESTED\n\tscreenLock: NEVER\n")
    practices = loader.load()
    assert _features(practices)["firewall"] == "SUGGESTED"
    problems = _problems_of(practices, it / "policy.yaml")
    assert [(p.line, "tabs" in p.message) for p in problems if p.line] == [(2, True)]
    assert any(p.message == "using the last good version of this file" for p in problems)


def test_a_key_level_error_keeps_the_files_other_keys_in_force(tmp_path: Path) -> None:
    it = _folder(
        tmp_path,
        "it",
        policy_yaml="firewall: NEVER\ndiskEncryption: sometimes\nscreenLock: SUGGESTED\n",
    )
    practices = _loader(tmp_path, it=it).load()
    assert _features(practices) == {
        "firewall": "NEVER",
        "diskEncryption": "ALWAYS",  # the bundled value: IT's was not valid
        "screenLock": "SUGGESTED",
    }
    (problem,) = _problems_of(practices, it / "policy.yaml")
    assert (problem.key, problem.line) == ("diskEncryption", 2)


def test_a_key_that_breaks_later_keeps_its_last_good_value(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", policy_yaml="firewall: NEVER\ndiskEncryption: SUGGESTED\n")
    loader = _loader(tmp_path, it=it)
    loader.load()
    _folder(tmp_path, "it", policy_yaml="firewall: SUGGESTED\ndiskEncryption: sometimes\n")
    practices = loader.load()
    assert _features(practices)["firewall"] == "SUGGESTED"  # the new, valid value
    assert _features(practices)["diskEncryption"] == "SUGGESTED"  # the last good value
    problem, kept = _problems_of(practices, it / "policy.yaml")
    assert (problem.key, problem.line) == ("diskEncryption", 2)
    assert kept.message.endswith("the last good version stays in force for: diskEncryption")


def test_the_override_cannot_weaken_a_key_it_set(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", policy_yaml="firewall: ALWAYS\n")
    override = _folder(
        tmp_path, "override", policy_yaml="# testing\nremoteLogin: NEVER\nfirewall: SUGGESTED\n"
    )
    practices = _loader(tmp_path, it=it, override=override).load()
    assert _features(practices)["firewall"] == "ALWAYS"
    assert practices.policy.sources["firewall"] == str(it / "policy.yaml")
    (problem,) = _problems_of(practices, override / "policy.yaml")
    assert (problem.key, problem.line) == ("firewall", 3)
    assert "ignored" in problem.message and "IT's policy" in problem.message


def test_the_override_can_add_keys_it_did_not_set(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", policy_yaml="firewall: ALWAYS\n")
    override = _folder(
        tmp_path,
        "override",
        policy_yaml="remoteLogin: NEVER\nscreenLock: SUGGESTED\nosVersion:\n  ubuntu:\n    ok: '>=24.4'\n",
    )
    practices = _loader(tmp_path, it=it, override=override).load()
    assert practices.problems == ()
    assert _features(practices)["remoteLogin"] == "NEVER"
    # IT's policy has no screenLock (nor the bundled one's osVersion), so a test folder may add it.
    assert _features(practices)["screenLock"] == "SUGGESTED"
    assert set(practices.policy.os_version) == {"ubuntu"}


def test_the_override_cannot_replace_its_os_version_bracket(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", policy_yaml="osVersion:\n  darwin:\n    ok: '>=26.0'\n")
    override = _folder(
        tmp_path,
        "override",
        policy_yaml="osVersion:\n  linux:\n    ok: '>=6'\n  darwin:\n    ok: '>=10'\n",
    )
    practices = _loader(tmp_path, it=it, override=override).load()
    assert str(practices.policy.os_version["darwin"].ok) == ">=26.0"
    assert str(practices.policy.os_version["linux"].ok) == ">=6"
    (problem,) = _problems_of(practices, override / "policy.yaml")
    assert (problem.key, problem.line) == ("osVersion.darwin", 4)


def test_its_application_rule_cannot_be_removed_or_replaced(tmp_path: Path) -> None:
    it = _folder(
        tmp_path, "it", policy_yaml="applications:\n  - name: uTorrent\n    assertion: NEVER\n"
    )
    override = _folder(
        tmp_path,
        "override",
        policy_yaml=y("""
            applications:
              - name: Slack
                assertion: SUGGESTED
              - name: uTorrent
                assertion: SUGGESTED
            bannedApplications: []
            """),
    )
    practices = _loader(tmp_path, it=it, override=override).load()
    rules = {rule.name: rule.assertion for rule in practices.policy.applications}
    assert rules == {"uTorrent": Requirement.NEVER, "Slack": Requirement.SUGGESTED}
    (problem,) = _problems_of(practices, override / "policy.yaml")
    assert (problem.key, problem.line) == ("applications[1].name", 4)
    assert "IT's policy has a rule for 'uTorrent'" in problem.message


def test_the_override_cannot_change_config_it_set(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", config_yaml="scanIntervalMinutes: 30\n")
    override = _folder(
        tmp_path, "override", config_yaml="engine: embedded\nscanIntervalMinutes: 1440\n"
    )
    practices = _loader(tmp_path, it=it, override=override).load()
    assert practices.config.scan_interval_minutes == 30
    assert practices.config.engine == "embedded"
    (problem,) = _problems_of(practices, override / "config.yaml")
    assert (problem.key, problem.line) == ("scanIntervalMinutes", 2)
    assert "ignored" in problem.message


def test_a_broken_it_config_keeps_the_bundled_settings(tmp_path: Path) -> None:
    it = _folder(tmp_path, "it", config_yaml="scanIntervalMinutes: 1\nengine: osqeury\n")
    practices = _loader(tmp_path, it=it).load()
    assert practices.config.scan_interval_minutes == 60
    assert practices.config.engine == "auto"
    located = {(p.key, p.line) for p in _problems_of(practices, it / "config.yaml")}
    assert located == {("scanIntervalMinutes", 1), ("engine", 2)}


def test_broken_instructions_keep_the_bundled_texts(tmp_path: Path) -> None:
    override = _folder(
        tmp_path,
        "override",
        **{"instructions.en.yaml": "practices:\n  firewall:\n    title: [x\n"},
    )
    practices = _loader(tmp_path, override=override).load()
    assert practices.instructions.practice("firewall").title_passing == "The firewall is on"
    (problem,) = _problems_of(practices, override / "instructions.en.yaml")
    assert problem.line == 3


def test_instructions_keep_their_last_good_texts(tmp_path: Path) -> None:
    texts = TITLE + "      passing: Firewall on\n      failing: Firewall off\n"
    override = _folder(tmp_path, "override", **{"instructions.en.yaml": texts})
    loader = _loader(tmp_path, override=override)
    assert loader.load().instructions.practice("firewall").title_passing == "Firewall on"
    broken = TITLE + "      passing: Firewall {{sate}}\n      failing: Firewall off!\n"
    _folder(tmp_path, "override", **{"instructions.en.yaml": broken})
    practices = loader.load()
    text = practices.instructions.practice("firewall")
    assert (text.title_passing, text.title_failing) == ("Firewall on", "Firewall off!")
    problem, kept = _problems_of(practices, override / "instructions.en.yaml")
    assert (problem.key, problem.line) == ("practices.firewall.title.passing", 4)
    assert kept.message.endswith("stays in force for: practices.firewall.title.passing")


def test_a_missing_override_folder_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    practices = _loader(tmp_path, override=missing).load()
    assert _features(practices)["firewall"] == "ALWAYS"
    (problem,) = _problems_of(practices, missing)
    assert "does not exist" in problem.message


def test_the_override_can_come_from_the_environment(tmp_path: Path) -> None:
    override = _folder(tmp_path, "override", policy_yaml="firewal: NEVER\n")
    folders = practices_folders(
        _bundled(tmp_path),
        machine=tmp_path / "no-it",
        env={"STETHOSCOPE_PRACTICES": str(override)},
    )
    assert [folder.kind for folder in folders] == ["bundled", "override"]
    practices = PracticesLoader(folders).load()
    (problem,) = _problems_of(practices, override / "policy.yaml")
    assert 'did you mean "firewall"?' in problem.message


def test_every_malformed_policy_loads_as_an_it_layer_without_raising(tmp_path: Path) -> None:
    bundled = PracticesFolder("bundled", _bundled(tmp_path))
    for index, case in enumerate(c for c in ALL_CASES if c.kind == "policy"):
        it = tmp_path / f"it{index}"
        it.mkdir()
        path = write_case(case, it)
        practices = PracticesLoader([bundled, PracticesFolder("machine", it)]).load()
        # IT's file is the policy; where it could not be read at all, or where IT set
        # diskEncryption wrongly, the bundled requirement stands in. No case sets it validly.
        assert _features(practices).get("diskEncryption", "ALWAYS") == "ALWAYS", case.id
        assert any(p.key == case.key for p in _problems_of(practices, path)), case.id


# -- The command line -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda case: case.id)
def test_check_policy_fails_and_names_the_problem(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_case(case, tmp_path)
    assert main(["check-policy", str(path)]) == 1
    out, err = capsys.readouterr()
    where = f"{path}:{case.line}" if case.line else str(path)
    lines = [line for line in out.splitlines() if line.startswith(where)]
    assert any(case.fragment in line and case.key in line for line in lines), out
    assert " found" in err
    assert "Traceback" not in out + err


def test_check_policy_of_a_folder_reports_each_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(
        tmp_path,
        "practices",
        policy_yaml="firewall: alway\n",
        config_yaml="engine: osqeury\n",
        **{"instructions.en.yaml": "practices:\n  firewal: {}\n"},
    )
    assert main(["check-policy", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"{folder / 'policy.yaml'}:1: firewall:" in out
    assert f"{folder / 'config.yaml'}:1: engine:" in out
    assert f"{folder / 'instructions.en.yaml'}:2: practices.firewal:" in out


def test_check_policy_accepts_the_shipped_practices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-policy", str(practices_dir())]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("file_name", "content"),
    [
        ("policy.yaml", "firewall: ALWAYS\n  screenLock: [\n"),
        ("policy.yaml", b"\x00\xff junk"),
        ("policy.yaml", "firewall: !!python/object/apply:os.getcwd []\n"),
        ("policy.yaml", BILLION_LAUGHS),
        ("config.yaml", "engine: osqeury\nscanIntervalMinutes: 1\n"),
        ("instructions.en.yaml", "policyFormat: 1\npractices: 5\n"),
    ],
    ids=["syntax", "binary", "python-tag", "billion-laughs", "config", "instructions"],
)
def test_scan_with_a_broken_override_reports_instead_of_crashing(
    file_name: str, content: str | bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / file_name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    argv = ["scan", "--json", "--practices", str(tmp_path), "--engine", "embedded", "--lang", "en"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2, 3), err
    assert "Traceback" not in err
    report = json.loads(out)
    assert any(problem.startswith(str(path)) for problem in report["policy_problems"]), report[
        "policy_problems"
    ]


def test_a_broken_platform_or_rule_keeps_its_last_good_version(tmp_path: Path) -> None:
    good = y("""
        osVersion:
          darwin:
            ok: ">=15.0"
          ubuntu:
            ok: ">=24.4"
        applications:
          - name: uTorrent
            assertion: NEVER
          - name: Slack
            assertion: SUGGESTED
        """)
    it = _folder(tmp_path, "it", policy_yaml=good)
    loader = _loader(tmp_path, it=it)
    loader.load()
    broken = (
        good.replace('">=15.0"', '">=26.0"')
        .replace('">=24.4"', '">=abc"')
        .replace("uTorrent", "(uTorrent")
    )
    _folder(tmp_path, "it", policy_yaml=broken)
    practices = loader.load()
    brackets = practices.policy.os_version
    assert (str(brackets["darwin"].ok), str(brackets["ubuntu"].ok)) == (">=26.0", ">=24.4")
    rules = {rule.name: rule.assertion for rule in practices.policy.applications}
    assert rules == {"uTorrent": Requirement.NEVER, "Slack": Requirement.SUGGESTED}
    *located, kept = _problems_of(practices, it / "policy.yaml")
    assert {(p.key, p.line) for p in located} == {
        ("osVersion.ubuntu.ok", 5),
        ("applications[0].name", 7),
    }
    assert kept.message.endswith("osVersion.ubuntu, the applications rule 'uTorrent'")


def test_a_broken_config_setting_keeps_its_last_good_value(tmp_path: Path) -> None:
    it = _folder(
        tmp_path, "it", config_yaml="notifications:\n  enabled: false\n  reminderHours: 4\n"
    )
    loader = _loader(tmp_path, it=it)
    loader.load()
    _folder(tmp_path, "it", config_yaml="notifications:\n  enabled: true\n  reminderHours: x\n")
    practices = loader.load()
    assert practices.config.notifications.enabled is True
    assert practices.config.notifications.reminder_hours == 4.0
    problem, kept = _problems_of(practices, it / "config.yaml")
    assert (problem.key, problem.line) == ("notifications.reminderHours", 3)
    assert kept.message.endswith("stays in force for: notifications.reminderHours")


@pytest.mark.parametrize(
    "it_policy",
    ["firewall: alway\n", "firewall: [ALWAYS]\n", "firewall: ALWAYS\n  x: [\n", b"\x00junk", ""],
    ids=["typo", "wrong-type", "syntax", "binary", "empty"],
)
def test_the_override_cannot_weaken_what_it_got_wrong(
    it_policy: str | bytes, tmp_path: Path
) -> None:
    # IT meant firewall to be required but wrote it wrong (or the whole file is unreadable): the
    # bundled requirement stays in force, and a test folder any user can point the app at may
    # not weaken it; it can still add what neither IT nor the bundled policy set.
    it = _folder(tmp_path, "it", policy_yaml=it_policy)
    override = _folder(tmp_path, "override", policy_yaml="firewall: NEVER\nremoteLogin: NEVER\n")
    practices = _loader(tmp_path, it=it, override=override).load()
    assert _features(practices)["firewall"] == "ALWAYS"
    assert _features(practices)["remoteLogin"] == "NEVER"
    assert _problems_of(practices, it / "policy.yaml")
    (problem,) = _problems_of(practices, override / "policy.yaml")
    assert (problem.key, problem.line) == ("firewall", 1)
    assert problem.message.startswith("ignored")


# -- Application rules that would mean something else than IT meant --------------------------


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Notepad++", "'++' is not valid in Stethoscope's (JavaScript) regular expressions"),
        ("a*+", "'*+' is not valid"),
        ("x{2}+", "'}+' is not valid"),
        ("(?>atomic)", "'(?>' is not valid"),
    ],
)
def test_python_only_regex_syntax_in_app_names_is_refused(name: str, fragment: str) -> None:
    text = f"applications:\n  - name: {name!r}\n    assertion: NEVER\n"
    (problem,) = parse_policy(parse_yaml(text, "policy.yaml")).problems
    assert (problem.key, problem.line) == ("applications[0].name", 2)
    assert fragment in problem.message


def test_escaped_plus_signs_are_fine() -> None:
    layer = parse_policy(
        parse_yaml("applications:\n  - name: 'Notepad\\+\\+'\n    assertion: NEVER\n", "p.yaml")
    )
    assert layer.problems == []
    (rule,) = layer.values["applications"]
    assert rule.matches("Notepad++") and not rule.matches("Notepad")


def test_a_second_rule_for_the_same_app_is_reported_not_silently_merged() -> None:
    text = (
        "applications:\n  - name: Zoom\n    assertion: ALWAYS\n"
        "bannedApplications:\n  - name: Zoom\n"
    )
    layer = parse_policy(parse_yaml(text, "policy.yaml"))
    (problem,) = layer.problems
    assert (problem.key, problem.line) == ("bannedApplications[0].name", 5)
    assert "already at applications[0].name" in problem.message
    assert [(r.name, r.assertion.value) for r in layer.values["applications"]] == [
        ("Zoom", "ALWAYS")
    ]


@pytest.mark.parametrize("value", ["600", "'600'", "'<=600'"])
def test_screen_idle_as_a_number_is_the_longest_time_allowed(value: str) -> None:
    layer = parse_policy(parse_yaml(f"screenIdle: {value}\n", "policy.yaml"))
    assert layer.problems == []
    idle = layer.values["screenIdle"]
    assert idle.contains(600) and idle.contains(30) and not idle.contains(601)


def test_a_nul_in_any_text_is_refused_with_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Seen by a red team: a NUL in a check's name or an application's description was accepted.
    (tmp_path / "policy.yaml").write_text(
        'applications:\n  - name: zoom\n    assertion: NEVER\n    description: "Zoom\\0 bad"\n',
        encoding="utf-8",
    )
    assert main(["check-policy", str(tmp_path / "policy.yaml")]) == 1
    assert "policy.yaml:4: applications[0].description: contains a NUL character" in (
        capsys.readouterr().out
    )
