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
# the one logged in.
#
# Options:
#   --app PATH        the frozen app (default: dist/Stethoscope.app; build it with
#                     packaging/build-frozen.sh first)
#   --version V       the package version (default: the app's); raise it (1.2.0.1, 1.2.0.2, …)
#                     for every new build of IT's files, so MDM tools see an update
#   --sign IDENTITY   sign with this "Developer ID Installer: …" identity from the keychain
#                     (needed for distribution; then notarize: xcrun notarytool submit … --wait
#                     and xcrun stapler staple)
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
while [ $# -gt 0 ]; do
  case "$1" in
    --app) app="${2:?--app needs a value}"; shift 2 ;;
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --sign) sign="${2:?--sign needs a value}"; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "build-pkg: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
it_folder="$1"
out_dir="$2"

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
