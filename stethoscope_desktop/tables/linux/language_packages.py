"""osquery's `python_packages` and `npm_packages` on Linux: packages installed beside the OS's own.

python_packages, as osquery's python_packages.cpp finds them:
- with `directory = '…'` constraints, only those folders (uid 0); else the system site folders
  (/usr/lib/python%/dist-packages, /usr/local/lib/python%/site-packages, conda's under /opt, …,
  `%` one path level) with uid 0, then for each user the query names (`uid = N`; without one, the
  user running the query, as osquery's usersFromContext) the folders under their home where pyenv,
  asdf, uv, mise, pipx, poetry, conda, virtualenvwrapper and pew install, and ~/.local/lib/python%
  (a tool's versions' lib/python%/site-packages where it has them, else the folder itself);
- every folder is searched at any depth (osquery lists it with `**`, 64 levels) for folders named
  *.dist-info (their METADATA) or *.egg-info (their PKG-INFO); a row per such folder with `path`
  that folder and `directory` the site folder searched;
- name, version, summary, author, license from the metadata's `Key: value` lines as osquery splits
  them: a line is read only when it splits on ':' into exactly two non-empty parts (so values with
  a ':' are skipped), reading stops after License; what is not found is NULL.

npm_packages, as osquery's npm_packages.cpp: with `directory = '…'` those folders, else
/usr/lib, /usr/local/lib, /opt/homebrew/lib and the users' Node version managers' lib folders
under /home/% (npm-global, nvm, asdf, fnm, mise, Volta); in each, node_modules/<name>/package.json
and node_modules/@<scope>/<name>/package.json, then the same inside each package's own
node_modules down to `max_depth` (default 100), each folder once. name, version, description,
homepage from package.json ("" when not a string), author (a string, or an object's name),
license (a string, or the old object form's url).

A folder osquery (root) would read and this user cannot fails the query with that reason, as the
`file` table does. `pid_with_namespace` is not served by the built-in engine (the query fails
saying so).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from typing import ClassVar

from stethoscope_desktop.tables.base import (
    Column,
    QueryContext,
    Row,
    TableError,
    TablePlugin,
)
from stethoscope_desktop.tables.file import (
    MAX_DEPTH,
    PathStyle,
    PatternExpander,
    is_folder,
    list_folder,
    permission_denied,
)
from stethoscope_desktop.tables.linux._users import current_uid, users_from_context
from stethoscope_desktop.tables.system import System

PYTHON_SYSTEM_SITES = (
    "/opt/anaconda3/lib/python%/site-packages",
    "/opt/conda/lib/python%/dist-packages",
    "/opt/conda/lib/python%/site-packages",
    "/opt/homebrew/lib/python%/dist-packages",
    "/opt/homebrew/lib/python%/site-packages",
    "/opt/miniconda3/lib/python%/site-packages",
    "/usr/lib/python%/dist-packages",
    "/usr/lib/python%/site-packages",
    "/usr/local/lib/python%/dist-packages",
    "/usr/local/lib/python%/site-packages",
    "/usr/local/lib64/python%/site-packages",
)
PYTHON_USER_FOLDERS = (
    ".asdf/installs/python",
    ".cache/pypoetry/virtualenvs",
    ".local/lib/python%",
    ".local/pipx/venvs",
    ".local/share/mise/installs/python",
    ".local/share/pipx/venvs",
    ".local/share/uv/tools",
    ".local/share/virtualenvs",
    ".pyenv/versions",
    ".virtualenvs",
    "anaconda3/envs",
    "anaconda3/lib/python%",
    "mambaforge/envs",
    "mambaforge/lib/python%",
    "miniconda3/envs",
    "miniconda3/lib/python%",
    "miniforge3/envs",
    "miniforge3/lib/python%",
)
NPM_SITES = (
    "/home/%/.asdf/installs/nodejs/%/lib",
    "/home/%/.local/share/fnm/node-versions/%/installation/lib",
    "/home/%/.local/share/mise/installs/node/%/lib",
    "/home/%/.npm-global/lib",
    "/home/%/.nvm/versions/node/%/lib",
    "/home/%/.volta/tools/image/node/%/lib",
    "/opt/homebrew/lib",
    "/usr/lib",
    "/usr/local/lib",
)
_METADATA_LIMIT = 4 * 1024 * 1024
_PACKAGE_JSON_LIMIT = 4 * 1024 * 1024
_MAX_FOLDERS = 200_000
_MAX_MATCHES = 100_000
NPM_DEFAULT_MAX_DEPTH = 100
_PYTHON_FIELDS = {
    "Name": "name",
    "Version": "version",
    "Summary": "summary",
    "Author": "author",
    "License": "license",
}


def _refuse_namespace(context: QueryContext, table: str) -> None:
    if context.equals("pid_with_namespace"):
        raise TableError(
            f"{table}: pid_with_namespace (another mount namespace) is not served by the "
            "built-in engine; run the query on osquery"
        )


def parse_python_metadata(text: str) -> Row:
    """Return name, version, summary, author and license of a METADATA/PKG-INFO as osquery does."""
    row: Row = {}
    for line in text.split("\n"):
        fields = [field.strip() for field in line.split(":") if field]
        if len(fields) != 2:
            continue
        column = _PYTHON_FIELDS.get(fields[0])
        if column is None:
            continue
        row[column] = fields[1]
        if column == "license":
            break
    return row


def parse_package_json(text: str) -> Row | None:
    """Return the npm_packages columns of a package.json, or None when it is no JSON object."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    row: Row = {}
    for key in ("name", "version", "description", "homepage"):
        if key in document:
            value = document[key]
            row[key] = value if isinstance(value, str) else ""
    author = document.get("author")
    if isinstance(author, str):
        row["author"] = author
    elif isinstance(author, dict) and "name" in author:
        row["author"] = author["name"] if isinstance(author["name"], str) else ""
    if "license" in document:
        license_value = document["license"]
        if isinstance(license_value, str):
            row["license"] = license_value
        elif isinstance(license_value, dict) and isinstance(license_value.get("url"), str):
            row["license"] = license_value["url"]
    return row


class _PackageTable(TablePlugin):
    """What both tables share: globbing folders as osquery does, bounded."""

    platforms: ClassVar[tuple[str, ...]] = ("linux",)

    def __init__(self, system: System) -> None:
        self._system = system
        self._expander = PatternExpander(
            system,
            PathStyle.for_platform("linux"),
            hide_dot_files=True,
            mark_folders=False,
            max_matches=_MAX_MATCHES,
        )

    def _glob(self, like: str) -> list[str]:
        return [path.rstrip("/") or "/" for path in self._expander.glob(like.replace("%", "*"))]

    def _list(self, folder: str) -> list[str]:
        return list_folder(self._system, folder)

    def _read(self, path: str, limit: int) -> str | None:
        try:
            return self._system.read_text(path, limit=limit)
        except PermissionError:
            raise permission_denied(path) from None
        except OSError:
            return None


class PythonPackages(_PackageTable):
    """Python packages in the system's and the users' site folders (osquery's python_packages)."""

    name = "python_packages"
    columns = (
        Column("name", "text"),
        Column("uid", "bigint", index=True),
        Column("version", "text"),
        Column("summary", "text"),
        Column("author", "text"),
        Column("license", "text"),
        Column("path", "text"),
        Column("directory", "text", index=True),
        Column("pid_with_namespace", "integer", hidden=True),
    )

    def __init__(self, system: System, *, uid: int | None = None) -> None:
        super().__init__(system)
        self._uid = uid if uid is not None else current_uid()

    def key_columns(self) -> tuple[str, ...]:
        """Return uid, directory and pid_with_namespace: what osquery's table reads by."""
        return ("uid", "directory", "pid_with_namespace")

    def generate(self, context: QueryContext) -> Iterable[Row]:
        _refuse_namespace(context, self.name)
        directories = sorted(context.equals("directory"))
        rows: list[Row] = []
        if directories:
            for site in directories:
                rows += self._site(site, 0)
            return rows
        sites: list[str] = sorted(
            {site for like in PYTHON_SYSTEM_SITES for site in self._glob(like)}
        )
        for site in sites:
            rows += self._site(site, 0)
        for user in users_from_context(self._system, context, self._uid):
            for folder in PYTHON_USER_FOLDERS:
                for site in self._user_sites(posixpath.join(user.home, folder)):
                    rows += self._site(site, user.uid)
        return rows

    def _user_sites(self, folder: str) -> list[str]:
        versions: list[str] = []
        if "%" not in folder and is_folder(self._system, folder):
            for name in self._list(folder):
                version = posixpath.join(folder, name)
                try:
                    if self._system.stat(version, follow_symlinks=False).is_symlink:
                        continue
                except OSError:
                    continue
                if is_folder(self._system, version):
                    versions += self._glob(f"{version}/lib/python%/site-packages")
        if versions:
            return versions
        return [path for path in self._glob(folder) if is_folder(self._system, path)]

    def _site(self, site: str, uid: int) -> list[Row]:
        rows: list[Row] = []
        for folder in self._folders_under(site):
            if folder.endswith(".dist-info"):
                metadata = f"{folder}/METADATA"
            elif folder.endswith(".egg-info"):
                metadata = f"{folder}/PKG-INFO"
            else:
                continue
            text = self._read(metadata, _METADATA_LIMIT)
            row = parse_python_metadata(text) if text is not None else {}
            row.update({"directory": site, "path": folder, "pid_with_namespace": 0, "uid": uid})
            rows.append(row)
        return rows

    def _folders_under(self, site: str) -> list[str]:
        """Every folder below `site` (not dot-named, 64 levels), each real folder once."""
        if not is_folder(self._system, site):
            return []
        found: list[str] = []
        seen: set[tuple[int, int]] = set()
        pending: list[tuple[str, int]] = [(site.rstrip("/") or "/", 0)]
        while pending:
            folder, depth = pending.pop()
            try:
                info = self._system.stat(folder)
            except OSError:
                continue
            if (info.device, info.inode) in seen:
                continue
            seen.add((info.device, info.inode))
            children = [
                posixpath.join(folder, name)
                for name in self._list(folder)
                if not name.startswith(".")
            ]
            for child in children:
                if not is_folder(self._system, child):
                    continue
                found.append(child)
                if len(found) > _MAX_FOLDERS:
                    raise TableError(
                        f"python_packages: {site} holds more than {_MAX_FOLDERS:,} folders; "
                        "name the site folder with `directory = …`"
                    )
                if depth + 1 < MAX_DEPTH:
                    pending.append((child, depth + 1))
        return sorted(found)


class NpmPackages(_PackageTable):
    """Node packages in the global node_modules folders (osquery's npm_packages)."""

    name = "npm_packages"
    columns = (
        Column("name", "text"),
        Column("version", "text"),
        Column("description", "text"),
        Column("author", "text"),
        Column("license", "text"),
        Column("homepage", "text"),
        Column("path", "text"),
        Column("directory", "text", index=True),
        Column("depth", "integer"),
        Column("max_depth", "integer", hidden=True),
        Column("pid_with_namespace", "integer", hidden=True),
        Column("mount_namespace_id", "text", hidden=True),
    )

    def key_columns(self) -> tuple[str, ...]:
        """Return directory, max_depth and pid_with_namespace: what osquery's table reads by."""
        return ("directory", "max_depth", "pid_with_namespace")

    def generate(self, context: QueryContext) -> Iterable[Row]:
        _refuse_namespace(context, self.name)
        max_depth = NPM_DEFAULT_MAX_DEPTH
        requested = sorted(context.equals("max_depth"))
        if requested:
            try:
                max_depth = int(requested[0].strip())
            except ValueError:
                max_depth = NPM_DEFAULT_MAX_DEPTH
        sites = sorted(context.equals("directory")) or sorted(
            {site for like in NPM_SITES for site in self._glob(like)}
        )
        rows: list[Row] = []
        for site in sites:
            rows += self._site(site, max_depth)
        return rows

    def _manifests(self, folder: str) -> list[str]:
        modules = posixpath.join(folder, "node_modules")
        return self._glob(f"{modules}/%/package.json") + self._glob(f"{modules}/@%/%/package.json")

    def _site(self, site: str, max_depth: int) -> list[Row]:
        rows: list[Row] = []
        seen: set[tuple[int, int]] = set()
        pending: list[tuple[str, int]] = [(site, 0)]
        while pending:
            folder, depth = pending.pop()
            try:
                info = self._system.stat(folder, follow_symlinks=False)
            except OSError:
                continue
            if (info.device, info.inode) in seen:
                continue
            seen.add((info.device, info.inode))
            for manifest in self._manifests(folder):
                text = self._read(manifest, _PACKAGE_JSON_LIMIT)
                row = (parse_package_json(text) if text is not None else None) or {}
                row.update(
                    {
                        "directory": site,
                        "path": manifest,
                        "depth": depth,
                        "max_depth": max_depth,
                        "pid_with_namespace": 0,
                    }
                )
                rows.append(row)
                if len(rows) > _MAX_MATCHES:
                    raise TableError(
                        f"npm_packages: {site} holds more than {_MAX_MATCHES:,} packages; "
                        "name a narrower `directory`"
                    )
                if max_depth == -1 or depth < max_depth:
                    package = posixpath.dirname(manifest)
                    if is_folder(self._system, posixpath.join(package, "node_modules")):
                        pending.append((package, depth + 1))
        return rows
