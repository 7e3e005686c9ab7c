#!/bin/bash
# Uninstall Stethoscope Desktop from this Mac (macOS installer packages have no uninstaller).
#
#   sudo /opt/stethoscope-desktop/uninstall.sh [--keep-it-files]
#
# Installed by the package's postinstall (packaging/macos/scripts/postinstall). It undoes what
# the package did, and nothing else:
#   1. takes the osquery extension out of osquery's autoload file (the file the installation
#      added it to; IT's other lines stay), and restarts a running osqueryd (or fleetd's orbit)
#      if the file changed;
#   2. stops the app and removes each user's LaunchAgent (~/Library/LaunchAgents/
#      com.stethoscope.desktop.plist);
#   3. removes /Applications/Stethoscope.app, IT's files in /Library/Application Support/stethoscope
#      (unless --keep-it-files) and /opt/stethoscope-desktop, and forgets the package's receipt.
# Each user's own settings and last report (~/Library/Application Support/stethoscope) stay.
# For an MDM, run it as a script with root rights. UNINSTALL_ROOT, if set, prefixes every path
# and no program is stopped or restarted (for tests on a copy of the folders).
set -euo pipefail

ROOT="${UNINSTALL_ROOT:-}"
LABEL=com.stethoscope.desktop
OPT=/opt/stethoscope-desktop
OSQUERY_FOLDER="$OPT/osquery"
IT_FOLDER="/Library/Application Support/stethoscope"
APP=/Applications/Stethoscope.app
log() { echo "stethoscope uninstall: $*"; }

keep_it_files=false
case "${1:-}" in
  "") ;;
  --keep-it-files) keep_it_files=true ;;
  *) echo "usage: sudo $0 [--keep-it-files]" >&2; exit 2 ;;
esac
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  echo "usage: sudo $0 [--keep-it-files] (it needs root)" >&2
  exit 2
fi

# 1. The osquery extension.
if [ -f "$ROOT$OSQUERY_FOLDER/autoload.sh" ]; then
  # shellcheck source=../osquery-extension/autoload.sh
  . "$ROOT$OSQUERY_FOLDER/autoload.sh"
  autoload_withdraw "$ROOT" "$OSQUERY_FOLDER/stethoscope_desktop.ext" "$OSQUERY_FOLDER/added-to"
  if [ "$AUTOLOAD_CHANGED" = yes ]; then
    log "osquery extension taken out of osquery's autoload file"
    [ -n "$ROOT" ] || autoload_restart_running
  fi
fi

# 2. The app and the LaunchAgents.
for home in "$ROOT"/Users/*; do
  agent="$home/Library/LaunchAgents/$LABEL.plist"
  [ -f "$agent" ] || continue
  user="$(basename "$home")"
  if [ -z "$ROOT" ] && uid="$(id -u "$user" 2>/dev/null)"; then
    launchctl bootout "gui/$uid/$LABEL" 2>/dev/null || true
  fi
  rm -f "$agent"
  log "start at login removed for $user"
done
if [ -z "$ROOT" ]; then
  pkill -x stethoscope-desktop 2>/dev/null || true
fi

# 3. The files.
rm -rf "$ROOT$APP"
if [ "$keep_it_files" = false ]; then
  rm -rf "$ROOT$IT_FOLDER"
fi
rm -rf "$ROOT$OPT"
if [ -z "$ROOT" ]; then
  pkgutil --forget "$LABEL" >/dev/null 2>&1 || true
fi
log "done"
