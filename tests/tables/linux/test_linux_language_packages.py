"""python_packages and npm_packages on fake Linux roots, and in the shapes IT's policies use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stethoscope_desktop.engines.embedded import EmbeddedEngine
from stethoscope_desktop.tables.base import QueryContext, TableError
from stethoscope_desktop.tables.catalog import builtin_tables
from stethoscope_desktop.tables.linux.language_packages import (
    NpmPackages,
    PythonPackages,
    parse_package_json,
    parse_python_metadata,
)
from tests.fakes import FakeSystem
from tests.tables.linux.helpers import equals, make_root, query_rows, rows

PASSWD = (
    "root:x:0:0:root:/root:/bin/bash\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
    "bob:x:1001:1001:Bob:/home/bob:/bin/bash\n"
)


def metadata(name: str, version: str, *extra: str) -> str:
    return "\n".join(
        ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *extra, "", "Body"]
    )


def package_json(**fields: object) -> str:
    return json.dumps(fields)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dist = "/usr/lib/python3/dist-packages"
    alice_site = "/home/alice/.local/lib/python3.11/site-packages"
    return make_root(
        tmp_path,
        {
            "/etc/passwd": PASSWD,
            f"{dist}/requests-2.28.1.egg-info/PKG-INFO": metadata(
                "requests",
                "2.28.1",
                "Summary: Python HTTP for Humans.",
                "Home-page: https://requests.readthedocs.io",  # has a ':' in its value
                "Author: Kenneth Reitz",
                "License: Apache 2.0",
                "Name: not-read-after-license",
            ),
            f"{dist}/six-1.16.0.dist-info/METADATA": metadata("six", "1.16.0", "Summary: "),
            # A vendored copy deep inside a package is found too (osquery searches with **).
            f"{dist}/setuptools/_vendor/packaging-24.0.dist-info/METADATA": metadata(
                "packaging", "24.0"
            ),
            f"{dist}/setuptools/__init__.py": "",
            f"{dist}/.hidden.dist-info/METADATA": metadata("hidden", "1"),
            "/usr/local/lib/python3.11/dist-packages/ollama-0.5.1.dist-info/METADATA": metadata(
                "ollama", "0.5.1"
            ),
            f"{alice_site}/openai-1.2.0.dist-info/METADATA": metadata("openai", "1.2.0"),
            "/home/alice/.pyenv/versions/3.12.1/lib/python3.12/site-packages/"
            "black-24.1.0.dist-info/METADATA": metadata("black", "24.1.0"),
            "/home/bob/.local/lib/python3.11/site-packages/torch-2.1.0.dist-info/METADATA": (
                metadata("torch", "2.1.0")
            ),
            # npm: global packages, scoped ones, nested node_modules.
            "/usr/lib/node_modules/npm/package.json": package_json(
                name="npm",
                version="10.2.4",
                description="a package manager for JavaScript",
                author={"name": "GitHub Inc."},
                license="Artistic-2.0",
                homepage="https://docs.npmjs.com/",
            ),
            "/usr/lib/node_modules/npm/node_modules/semver/package.json": package_json(
                name="semver", version="7.5.4", license={"type": "ISC", "url": "http://isc"}
            ),
            "/usr/lib/node_modules/@anthropic-ai/claude-code/package.json": package_json(
                name="@anthropic-ai/claude-code", version=3, author="Anthropic"
            ),
            "/usr/lib/node_modules/broken/package.json": "{not json",
            "/home/alice/.nvm/versions/node/v20.11.0/lib/node_modules/npm/package.json": (
                package_json(name="npm", version="10.2.4")
            ),
        },
    )


def test_metadata_lines_as_osquery_splits_them() -> None:
    row = parse_python_metadata(
        "Name: a\nVersion:1.0\nSummary: x: y\nAuthor:\nLicense: MIT\nSummary: late\n"
    )
    assert row == {"name": "a", "version": "1.0", "license": "MIT"}


def test_package_json_fields() -> None:
    assert parse_package_json('{"name": "x", "version": 1, "author": {"name": 2}}') == {
        "name": "x",
        "version": "",
        "author": "",
    }
    assert parse_package_json("[1]") is None
    assert parse_package_json("nope") is None


def test_python_packages_system_and_current_user(root: Path) -> None:
    generated = rows(PythonPackages(FakeSystem(root), uid=1000))
    found = {(r["name"], r["version"], r["uid"], r["directory"]) for r in generated}
    dist = "/usr/lib/python3/dist-packages"
    assert found == {
        ("requests", "2.28.1", 0, dist),
        ("six", "1.16.0", 0, dist),
        ("packaging", "24.0", 0, dist),
        ("ollama", "0.5.1", 0, "/usr/local/lib/python3.11/dist-packages"),
        ("openai", "1.2.0", 1000, "/home/alice/.local/lib/python3.11"),
        (
            "black",
            "24.1.0",
            1000,
            "/home/alice/.pyenv/versions/3.12.1/lib/python3.12/site-packages",
        ),
    }
    requests = next(r for r in generated if r["name"] == "requests")
    assert requests == {
        "name": "requests",
        "version": "2.28.1",
        "summary": "Python HTTP for Humans.",
        "author": "Kenneth Reitz",
        "license": "Apache 2.0",
        "directory": dist,
        "path": f"{dist}/requests-2.28.1.egg-info",
        "pid_with_namespace": 0,
        "uid": 0,
    }
    six = next(r for r in generated if r["name"] == "six")
    # osquery drops empty parts before trimming: "Summary: " is an empty summary, "Author:" none.
    assert six["summary"] == ""


def test_python_packages_uid_and_directory_constraints(root: Path) -> None:
    table = PythonPackages(FakeSystem(root), uid=1000)
    by_uid = {r["name"] for r in rows(table, equals("uid", "1001")) if r["uid"] == 1001}
    assert by_uid == {"torch"}
    only_dir = rows(table, equals("directory", "/usr/local/lib/python3.11/dist-packages"))
    assert [(r["name"], r["uid"]) for r in only_dir] == [("ollama", 0)]


def test_python_packages_home_it_cannot_read(root: Path) -> None:
    system = FakeSystem(root, denied={"/home/bob/.local/lib"})
    with pytest.raises(TableError, match="permission denied"):
        rows(PythonPackages(system, uid=1000), equals("uid", "1001"))


def test_python_packages_loop_is_walked_once(root: Path) -> None:
    dist = root / "usr/lib/python3/dist-packages"
    os.symlink(dist, dist / "setuptools" / "loop")
    names = [r["name"] for r in rows(PythonPackages(FakeSystem(root), uid=1000))]
    assert names.count("packaging") == 1


def test_npm_packages(root: Path) -> None:
    generated = rows(NpmPackages(FakeSystem(root)))
    assert [(r.get("name"), r.get("version"), r["directory"], r["depth"]) for r in generated] == [
        ("npm", "10.2.4", "/home/alice/.nvm/versions/node/v20.11.0/lib", 0),
        (None, None, "/usr/lib", 0),
        ("npm", "10.2.4", "/usr/lib", 0),
        ("@anthropic-ai/claude-code", "", "/usr/lib", 0),
        ("semver", "7.5.4", "/usr/lib", 1),
    ]
    npm = generated[2]
    assert npm == {
        "name": "npm",
        "version": "10.2.4",
        "description": "a package manager for JavaScript",
        "author": "GitHub Inc.",
        "license": "Artistic-2.0",
        "homepage": "https://docs.npmjs.com/",
        "directory": "/usr/lib",
        "path": "/usr/lib/node_modules/npm/package.json",
        "depth": 0,
        "max_depth": 100,
        "pid_with_namespace": 0,
    }
    assert generated[4]["license"] == "http://isc"
    shallow = rows(
        NpmPackages(FakeSystem(root)),
        QueryContext(
            (*equals("directory", "/usr/lib").constraints, *equals("max_depth", "0").constraints)
        ),
    )
    assert [r["path"] for r in shallow] == [
        "/usr/lib/node_modules/broken/package.json",
        "/usr/lib/node_modules/npm/package.json",
        "/usr/lib/node_modules/@anthropic-ai/claude-code/package.json",
    ]


def test_namespaces_are_refused_with_a_reason(root: Path) -> None:
    with pytest.raises(TableError, match="pid_with_namespace"):
        rows(NpmPackages(FakeSystem(root)), equals("pid_with_namespace", "42"))


NPM_UP_TO_DATE = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM npm_packages WHERE name = 'npm' "
    "AND version_compare(version, '{minimum}') < 0)"
)
NO_OLD_OLLAMA = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM python_packages "
    "WHERE lower(name) = 'ollama' AND version_compare(version, '{minimum}') < 0)"
)


def test_policy_shapes_through_the_embedded_engine(root: Path) -> None:
    engine = EmbeddedEngine(builtin_tables("linux", FakeSystem(root)))
    assert query_rows(engine, NPM_UP_TO_DATE.format(minimum="10.0.0")) == [{"1": 1}]
    assert query_rows(engine, NPM_UP_TO_DATE.format(minimum="10.10.0")) == []
    assert query_rows(engine, NO_OLD_OLLAMA.format(minimum="0.5.0")) == [{"1": 1}]
    assert query_rows(engine, NO_OLD_OLLAMA.format(minimum="0.6.0")) == []
