#!/usr/bin/env bash
# Build the frozen one-folder app with PyInstaller, then smoke-test it: `--version`, and
# `scan --json` on the built-in engine, whose report must come from the bundled practices.
#
#   packaging/build-frozen.sh [OUT_DIR]          (default: dist/)
#
# Runs on Linux, macOS and Windows (Git Bash). It makes a fresh virtual environment in
# BUILD_DIR/frozen-venv (BUILD_DIR defaults to build/) with the app's dependencies, PySide6,
# PyInstaller and Pillow (for the icon), and runs packaging/stethoscope-desktop.spec. On Linux
# with xvfb-run it also starts the tray app on a virtual display and waits for its first
# verdict. On macOS it first compiles the Secure Enclave helper (swiftc, from Xcode or its
# command line tools) that the spec bundles, and checks that the app finds and runs it.
# Prints the path of the smoke-tested executable last.
#   Linux:   OUT_DIR/stethoscope-desktop/stethoscope-desktop
#   macOS:   OUT_DIR/Stethoscope.app (tray only), command Contents/MacOS/stethoscope-desktop
#   Windows: OUT_DIR/stethoscope-desktop/stethoscope-desktop.exe (tray) and
#            stethoscope-desktop-cli.exe (console, used for the smoke test)
# Environment: PYTHON (default python3; on Linux it must have libpython, as Debian's and
# pyenv's --enable-shared builds do), STETHOSCOPE_OSQUERY_DIR (an osqueryd to bundle; default
# packaging/osquery/), PYINSTALLER (the pip requirement, default "pyinstaller>=6.10"); on macOS
# STETHOSCOPE_CODESIGN_IDENTITY and STETHOSCOPE_ENTITLEMENTS (see the spec) sign the app.
# On this project's 2-core Linux CI machine the whole script takes about 40 s (PyInstaller
# itself 20 s); tests/packaging/test_frozen.py runs it there, and the GitHub workflow on each OS.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
OUT="${1:-$REPO/dist}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
PYTHON="${PYTHON:-python3}"
PYINSTALLER="${PYINSTALLER:-pyinstaller>=6.10}"
BUILD_DIR="${BUILD_DIR:-$REPO/build}"
VENV="$BUILD_DIR/frozen-venv"
WORK="$BUILD_DIR/pyinstaller"

case "$(uname -s)" in
  Linux*) os=linux ;;
  Darwin*) os=darwin ;;
  MINGW* | MSYS* | CYGWIN*) os=windows ;;
  *) echo "build-frozen: unsupported system $(uname -s)" >&2; exit 1 ;;
esac
native() { # a path as the (Windows) Python and the app take it
  if [ "$os" = windows ]; then cygpath -m "$1"; else printf '%s' "$1"; fi
}

echo "build-frozen: virtual environment in $VENV" >&2
"$PYTHON" -m venv --clear "$VENV"
if [ -x "$VENV/bin/python" ]; then py="$VENV/bin/python"; else py="$VENV/Scripts/python.exe"; fi
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$py" -m pip install --quiet --disable-pip-version-check "$(native "$REPO")[gui]" "$PYINSTALLER" \
  pillow >&2

icon=""
if [ "$os" != linux ]; then
  # Qt draws the SVG icon at 1024 px; PyInstaller (with Pillow) turns that into .icns or .ico.
  icon="$WORK/stethoscope-desktop.png"
  mkdir -p "$WORK"
  QT_QPA_PLATFORM=offscreen "$py" - "$(native "$REPO/resources/icons/stethoscope-desktop.svg")" \
    "$(native "$icon")" <<'PY'
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

app = QGuiApplication([])
image = QImage(1024, 1024, QImage.Format.Format_ARGB32)
image.fill(Qt.GlobalColor.transparent)
painter = QPainter(image)
QSvgRenderer(sys.argv[1]).render(painter)
painter.end()
sys.exit(0 if image.save(sys.argv[2]) else 1)
PY
fi

enclave_helper=""
if [ "$os" = darwin ]; then
  # The device key's Secure Enclave helper (CryptoKit is Swift only), for the Mac it runs on.
  command -v swiftc >/dev/null || {
    echo "build-frozen: swiftc is missing: install Xcode's command line tools (xcode-select" \
      "--install); the app needs it for its Secure Enclave helper" >&2
    exit 1
  }
  enclave_helper="$WORK/secure-enclave/stethoscope-secure-enclave"
  mkdir -p "$(dirname "$enclave_helper")"
  echo "build-frozen: compiling the Secure Enclave helper" >&2
  swiftc -O -target "$(uname -m)-apple-macos12.0" -o "$enclave_helper" \
    "$HERE/macos/secure-enclave-key/main.swift" >&2
  answer="$("$enclave_helper" available)" || true
  case "$answer" in
    "ok yes" | "ok no") echo "build-frozen: Secure Enclave helper OK ($answer)" >&2 ;;
    *) echo "build-frozen: the Secure Enclave helper answered '$answer' to available" >&2; exit 1 ;;
  esac
fi

echo "build-frozen: running PyInstaller" >&2
started=$SECONDS
STETHOSCOPE_SECURE_ENCLAVE_BINARY="$enclave_helper" \
  STETHOSCOPE_ICON="${icon:+$(native "$icon")}" "$py" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$(native "$OUT")" --workpath "$(native "$WORK")" \
  "$(native "$HERE/stethoscope-desktop.spec")" >&2
echo "build-frozen: built in $((SECONDS - started)) s" >&2

case "$os" in
  linux) exe="$OUT/stethoscope-desktop/stethoscope-desktop" ;;
  darwin) exe="$OUT/Stethoscope.app/Contents/MacOS/stethoscope-desktop" ;;
  windows) exe="$OUT/stethoscope-desktop/stethoscope-desktop-cli.exe" ;;
esac

echo "build-frozen: smoke test of $exe" >&2
"$exe" --version >&2
report="$WORK/scan.json"
status=0
# No user configuration: a temporary home, so the scan sees only what the bundle brings
# (and IT's machine-wide folder, if this machine has one).
home="$(mktemp -d)"
nhome="$(native "$home")"
HOME="$nhome" USERPROFILE="$nhome" XDG_CONFIG_HOME="$nhome/.config" STETHOSCOPE_PRACTICES="" \
  "$exe" scan --json --engine embedded >"$report" || status=$?
rm -rf "$home"
if [ "$status" -gt 2 ]; then
  echo "build-frozen: scan exited with $status (3: could not scan)" >&2
  exit 1
fi
"$py" - "$(native "$report")" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
assert report["practices"], "the report has no practices"
bundled = report["policy_files"][0].replace("\\", "/")
assert "stethoscope_desktop/_data/practices/" in bundled, bundled
print(f"build-frozen: scan OK: {report['status']}, {len(report['practices'])} practices, "
      f"policy from {report['policy_files'][0]}", file=sys.stderr)
PY

if [ "$os" = darwin ]; then
  # The app finds its bundled helper: asked for a Secure Enclave key it makes one, or (a Mac
  # without one, such as a virtual machine) says this Mac has none, not that the helper is missing.
  home="$(mktemp -d)"
  mkdir -p "$home/practices"
  echo "deviceKey: secure-enclave" >"$home/practices/config.yaml"
  status=0
  HOME="$home" STETHOSCOPE_PRACTICES="" "$exe" device-key --practices "$home/practices" \
    >"$WORK/device-key.json" 2>"$WORK/device-key.err" || status=$?
  rm -rf "$home"
  if [ "$status" -eq 0 ] && grep -q "^a secure-enclave key: " "$WORK/device-key.err"; then
    echo "build-frozen: device key OK: made in the Secure Enclave" >&2
  elif [ "$status" -eq 1 ] && grep -q "this Mac has none" "$WORK/device-key.err"; then
    echo "build-frozen: device key OK: the helper runs (this Mac has no Secure Enclave)" >&2
  elif [ "$status" -eq 1 ] && grep -q "the Secure Enclave failed with" "$WORK/device-key.err"; then
    # The helper runs, but this Mac's Secure Enclave made no key (a virtual machine?).
    echo "build-frozen: warning: the helper runs, the Secure Enclave made no key:" >&2
    cat "$WORK/device-key.err" >&2
  else
    echo "build-frozen: the app cannot use its Secure Enclave helper (exit $status):" >&2
    cat "$WORK/device-key.err" >&2
    exit 1
  fi
fi

if [ "$os" = linux ] && command -v xvfb-run >/dev/null; then
  # The tray app, which the scan above does not load (Qt and its plugins): on a virtual display
  # it must still run after 8 s and have logged its first verdict.
  home="$(mktemp -d)"
  status=0
  env -u WAYLAND_DISPLAY HOME="$home" XDG_CONFIG_HOME="$home/.config" \
    XDG_STATE_HOME="$home/.local/state" XDG_RUNTIME_DIR="$home" TMPDIR="$home" QT_QPA_PLATFORM=xcb \
    xvfb-run -a timeout 8 "$exe" >"$WORK/tray.log" 2>&1 || status=$?
  log="$(cat "$WORK/tray.log" "$home"/.local/state/stethoscope/log/*.log 2>/dev/null || true)"
  rm -rf "$home"
  if [ "$status" -ne 124 ] || ! grep -q "first verdict shown" <<<"$log"; then
    echo "build-frozen: the tray app did not run (exit $status):" >&2
    printf '%s\n' "$log" | tail -20 >&2
    exit 1
  fi
  echo "build-frozen: tray app OK on a virtual display" >&2
fi
echo "$exe"
