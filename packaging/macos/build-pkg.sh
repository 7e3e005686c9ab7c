#!/usr/bin/env bash
# Build the macOS installer package of Stethoscope Desktop that carries IT's practices.
#
#   packaging/macos/build-pkg.sh [options] IT_FOLDER OUT_DIR
#
# Runs on macOS (pkgbuild, productbuild). IT_FOLDER holds IT's files: policy.yaml, config.yaml,
# instructions.<lang>.yaml and an optional checks.d/ (any subset; other files are ignored with a
# warning); they are checked with the app's `check-policy` first. OUT_DIR receives
# Stethoscope-<version>.pkg, whose path is the last line printed. The package installs
#   /Applications/Stethoscope.app          the frozen app (packaging/build-frozen.sh), tray only
# and its postinstall (packaging/macos/scripts/postinstall) puts IT's files into
# /Library/Application Support/stethoscope and, on a first installation, a per-user LaunchAgent
# (~/Library/LaunchAgents/com.stethoscope.desktop.plist) for every user, starting the app now for
# the one logged in. It also installs the osquery extension's launcher,
# /opt/stethoscope-desktop/osquery/stethoscope_desktop.ext, and an uninstaller,
# /opt/stethoscope-desktop/uninstall.sh (run it with sudo: macOS installers have no uninstall).
#
# Options:
#   --app PATH        the frozen app (default: dist/Stethoscope.app; build it with
#                     packaging/build-frozen.sh first)
#   --version V       the package version (default: the app's); raise it (1.2.0.1, 1.2.0.2, …)
#                     for every new build of IT's files, so MDM tools see an update
#   --sign IDENTITY   sign with this "Developer ID Installer: …" identity from the keychain
#                     (needed for distribution; then notarize: xcrun notarytool submit … --wait
#                     and xcrun stapler staple)
#   --osquery-extension
#                     add the osquery extension to osquery's autoload file,
#                     /var/osquery/extensions.load, on installation (keeping the file's other
#                     lines; uninstall.sh takes it out) and restart osqueryd (or fleetd's orbit)
#                     where it runs. docs/fleet-and-osquery.md has the details.
#   --osquery-autoload FILE
#                     the same, with another autoload file (the one your osqueryd's
#                     --extensions_autoload names)
set -euo pipefail

IDENTIFIER=com.stethoscope.desktop
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

fail() {
  echo "build-pkg: $*" >&2
  exit 1
}

app="$REPO/dist/Stethoscope.app"
version=""
sign=""
osquery_autoload=""
while [ $# -gt 0 ]; do
  case "$1" in
    --app) app="${2:?--app needs a value}"; shift 2 ;;
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --sign) sign="${2:?--sign needs a value}"; shift 2 ;;
    --osquery-extension) osquery_autoload="${osquery_autoload:-/var/osquery/extensions.load}"; shift ;;
    --osquery-autoload) osquery_autoload="${2:?--osquery-autoload needs a file}"; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "build-pkg: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
it_folder="$1"
out_dir="$2"

case "$osquery_autoload" in
  "" | /*[!/]) ;;
  *) fail "--osquery-autoload $osquery_autoload: give the file's absolute path" ;;
esac
[[ "$osquery_autoload" != *$'\n'* ]] || fail "--osquery-autoload: one line, please"
for tool in pkgbuild productbuild plutil; do
  command -v "$tool" >/dev/null || fail "$tool is missing: build the package on macOS"
done
[ -d "$it_folder" ] || fail "$it_folder: no such folder"
program="$app/Contents/MacOS/stethoscope-desktop"
[ -x "$program" ] || fail "$app is not the frozen app (run packaging/build-frozen.sh first)"
if [ -z "$version" ]; then
  version="$("$program" --version | awk '{print $2}')"
fi
[[ "$version" =~ ^[0-9]+(\.[0-9]+)*$ ]] || fail "--version $version: use numbers and dots"

# The osquery extension: postinstall installs its launcher and the uninstaller from the scripts
# folder, and with --osquery-extension adds the launcher to the autoload file named there.
add_osquery_extension() {
  sed "s,@PROGRAM@,/Applications/Stethoscope.app/Contents/MacOS/stethoscope-desktop,g" \
    "$REPO/packaging/osquery-extension/stethoscope_desktop.ext.in" >"$work/scripts/stethoscope_desktop.ext"
  cp "$REPO/packaging/osquery-extension/autoload.sh" "$work/scripts/osquery-autoload.sh"
  cp "$HERE/uninstall.sh" "$work/scripts/uninstall.sh"
  if [ -n "$osquery_autoload" ]; then
    printf '%s\n' "$osquery_autoload" >"$work/scripts/osquery-autoload-file"
    echo "build-pkg: the package adds the osquery extension to $osquery_autoload" >&2
  fi
}

work="$(mktemp -d "${TMPDIR:-/tmp}/build-pkg.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# IT's files go into the scripts folder, where postinstall finds them.
mkdir -p "$work/scripts/it-files" "$work/root/Applications" "$work/out"
found=0
while IFS= read -r -d '' name; do
  name="${name#./}"
  case "$name" in
    policy.yaml | config.yaml | instructions.*.yaml | checks.d/*.yaml | checks.d/*.yml)
      mkdir -p "$work/scripts/it-files/$(dirname "$name")"
      cp "$it_folder/$name" "$work/scripts/it-files/$name"
      found=$((found + 1)) ;;
    *) echo "build-pkg: warning: $it_folder/$name is not one of IT's files; not packaged" >&2 ;;
  esac
done < <(cd "$it_folder" && find . -mindepth 1 -type f -print0)
[ "$found" -gt 0 ] ||
  fail "$it_folder has none of policy.yaml, config.yaml, instructions.*.yaml, checks.d/*.yaml"
echo "build-pkg: checking IT's files" >&2
"$program" check-policy "$work/scripts/it-files" >&2 ||
  fail "IT's files in $it_folder have problems (listed above)"
cp "$HERE/scripts/preinstall" "$HERE/scripts/postinstall" "$work/scripts/"
chmod 755 "$work/scripts/preinstall" "$work/scripts/postinstall"
add_osquery_extension

echo "build-pkg: building the component package" >&2
ditto "$app" "$work/root/Applications/Stethoscope.app"
# The app stays in /Applications: not "relocated" to wherever another copy of it lies.
pkgbuild --analyze --root "$work/root" "$work/component.plist" >/dev/null
plutil -replace 0.BundleIsRelocatable -bool NO "$work/component.plist"
pkgbuild --root "$work/root" --component-plist "$work/component.plist" \
  --scripts "$work/scripts" --identifier "$IDENTIFIER" --version "$version" \
  --install-location / "$work/out/stethoscope.pkg" >&2

cat >"$work/distribution.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>Stethoscope</title>
    <options customize="never" require-scripts="true" hostArchitectures="$(uname -m)"/>
    <domains enable_localSystem="true"/>
    <allowed-os-versions><os-version min="12.0"/></allowed-os-versions>
    <choices-outline><line choice="default"><line choice="$IDENTIFIER"/></line></choices-outline>
    <choice id="default"/>
    <choice id="$IDENTIFIER" visible="false"><pkg-ref id="$IDENTIFIER"/></choice>
    <pkg-ref id="$IDENTIFIER" version="$version" onConclusion="none">stethoscope.pkg</pkg-ref>
</installer-gui-script>
EOF

mkdir -p "$out_dir"
pkg="$out_dir/Stethoscope-$version.pkg"
signing=()
[ -z "$sign" ] || signing=(--sign "$sign")
echo "build-pkg: writing $pkg" >&2
productbuild --distribution "$work/distribution.xml" --package-path "$work/out" \
  "${signing[@]+"${signing[@]}"}" "$pkg" >&2
echo "$pkg"
