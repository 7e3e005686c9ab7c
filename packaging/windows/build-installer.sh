#!/usr/bin/env bash
# Build the Windows installer of Stethoscope Desktop that carries IT's practices (Inno Setup 6).
#
#   packaging/windows/build-installer.sh [options] IT_FOLDER OUT_DIR
#
# Runs on Windows in Git Bash (as GitHub's windows runners have it). IT_FOLDER holds IT's files:
# policy.yaml, config.yaml, instructions.<lang>.yaml and an optional checks.d/ (any subset; other
# files are ignored with a warning); they are checked with the app's `check-policy` first.
# OUT_DIR receives Stethoscope-Setup-<version>.exe, whose path is the last line printed. What the
# installer does, and its command line (/POLICYDIR=…), is described in stethoscope-desktop.iss.
#
# Options:
#   --app DIR       the frozen app (default: dist/stethoscope-desktop; build it with
#                   packaging/build-frozen.sh first)
#   --version V     the installer's version (default: the app's); raise it (0.1.0.1, 0.1.0.2, …)
#                   for every new build of IT's files, so Intune or SCCM see an update
#   --publisher P   the publisher shown in Apps & features (default: IT)
#   --iscc PATH     Inno Setup's compiler (default: iscc on PATH, else the usual install folders)
#   --osquery-extension
#                   the setup program adds the osquery extension (stethoscope_desktop.ext.exe) to
#                   osquery's autoload file, C:\Program Files\osquery\extensions.load, keeping the
#                   file's other lines, takes it out on uninstall, and restarts a running
#                   osqueryd service (osquery's or fleetd's). /OSQUERYAUTOLOAD=FILE at install time
#                   names another file, /OSQUERYAUTOLOAD= none. docs/fleet-and-osquery.md has more.
#   --osquery-autoload FILE
#                   the same, with another autoload file (a Windows path)
# Sign the result with signtool (Authenticode) before distributing it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

fail() {
  echo "build-installer: $*" >&2
  exit 1
}

winpath() { # a path as Windows programs take it
  if command -v cygpath >/dev/null; then cygpath -w "$1"; else printf '%s' "$1"; fi
}

app="$REPO/dist/stethoscope-desktop"
version=""
publisher="IT"
iscc=""
osquery_autoload=""
# osquery's own (OSQUERY_HOME on Windows), as Inno Setup writes it.
DEFAULT_OSQUERY_AUTOLOAD='{commonpf64}\osquery\extensions.load'
while [ $# -gt 0 ]; do
  case "$1" in
    --app) app="${2:?--app needs a value}"; shift 2 ;;
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --publisher) publisher="${2:?--publisher needs a value}"; shift 2 ;;
    --iscc) iscc="${2:?--iscc needs a value}"; shift 2 ;;
    --osquery-extension) osquery_autoload="${osquery_autoload:-$DEFAULT_OSQUERY_AUTOLOAD}"; shift ;;
    --osquery-autoload) osquery_autoload="${2:?--osquery-autoload needs a file}"; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "build-installer: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
it_folder="$1"
out_dir="$2"

[ -d "$it_folder" ] || fail "$it_folder: no such folder"
cli="$app/stethoscope-desktop-cli.exe"
[ -f "$cli" ] || fail "$app is not the frozen app (run packaging/build-frozen.sh first)"
if [ -z "$iscc" ]; then
  for candidate in "$(command -v iscc || true)" "$(command -v ISCC.exe || true)" \
    "/c/Program Files (x86)/Inno Setup 6/ISCC.exe" "/c/Program Files/Inno Setup 6/ISCC.exe"; do
    if [ -n "$candidate" ] && [ -f "$candidate" ]; then iscc="$candidate"; break; fi
  done
fi
[ -n "$iscc" ] ||
  fail "Inno Setup 6 is missing (https://jrsoftware.org/isinfo.php, or: choco install innosetup)"
if [ -z "$version" ]; then
  version="$("$cli" --version | awk '{print $2}' | tr -d '\r')"
fi
[[ "$version" =~ ^[0-9]+(\.[0-9]+){0,3}$ ]] ||
  fail "--version $version: up to four numbers with dots"

work="$(mktemp -d "${TMPDIR:-/tmp}/build-installer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/it"
found=0
while IFS= read -r -d '' name; do
  name="${name#./}"
  case "$name" in
    policy.yaml | config.yaml | instructions.*.yaml | checks.d/*.yaml | checks.d/*.yml)
      mkdir -p "$work/it/$(dirname "$name")"
      cp "$it_folder/$name" "$work/it/$name"
      found=$((found + 1)) ;;
    *) echo "build-installer: warning: $it_folder/$name is not one of IT's files; skipped" >&2 ;;
  esac
done < <(cd "$it_folder" && find . -mindepth 1 -type f -print0)
[ "$found" -gt 0 ] ||
  fail "$it_folder has none of policy.yaml, config.yaml, instructions.*.yaml, checks.d/*.yaml"
echo "build-installer: checking IT's files" >&2
"$cli" check-policy "$(winpath "$work/it")" >&2 ||
  fail "IT's files in $it_folder have problems (listed above)"

case "$osquery_autoload" in
  *[\"\']* | *$'\n'*) fail "--osquery-autoload: no quotes or line breaks, please" ;;
esac
osquery_define=()
if [ -n "$osquery_autoload" ]; then
  [ -f "$app/stethoscope_desktop.ext.exe" ] ||
    fail "$app has no stethoscope_desktop.ext.exe: build it again with packaging/build-frozen.sh"
  osquery_define=("-DOsqueryAutoload=$osquery_autoload")
  echo "build-installer: the setup program adds the osquery extension to $osquery_autoload" >&2
fi

mkdir -p "$out_dir"
echo "build-installer: running Inno Setup" >&2
# "-" options rather than "/": Git Bash would take "/Q" for a path and rewrite it.
MSYS_NO_PATHCONV=1 "$iscc" -Q "-DAppVersion=$version" "-DPublisher=$publisher" \
  "-DAppDir=$(winpath "$app")" "-DITDir=$(winpath "$work/it")" "-DOutputDir=$(winpath "$out_dir")" \
  "${osquery_define[@]+"${osquery_define[@]}"}" \
  "$(winpath "$HERE/stethoscope-desktop.iss")" >&2
echo "$out_dir/Stethoscope-Setup-$version.exe"
