# Shell functions (POSIX sh) that add Stethoscope Desktop's osquery extension to osquery's
# autoload file and take it out again, without touching anything else in that file.
#
# Sourced by the Debian package's postinst and prerm, the macOS package's postinstall and its
# uninstall.sh; tests/packaging/test_osquery_autoload.py runs them on a private root.
#
# osqueryd reads its autoload file (--extensions_autoload; by default /etc/osquery/extensions.load
# on Linux, /var/osquery/extensions.load on macOS) once, when it starts: one path per line,
# trimmed of white space, lines starting with # or ; ignored. It starts each path that is a file
# ending in .ext, owned by root (or its own user), executable, not writable by others, in a
# folder without the sticky bit, with --socket PATH --timeout S --interval S [--verbose].
#
#   autoload_add FILE LINE       adds LINE once (nothing when a line equal to it after trimming
#                                is there); makes FILE (0644) and its folder (0755) if missing
#   autoload_remove FILE LINE    removes the lines equal to LINE after trimming, and FILE if
#                                nothing else is left in it; a missing FILE is fine
#   autoload_apply ROOT FILE LINE STATE
#                                the installers' step: LINE goes into FILE (empty FILE: into no
#                                file) and out of the file STATE names, when that is another
#                                one; STATE then names FILE (or is removed)
#   autoload_withdraw ROOT LINE STATE
#                                the uninstallers' step: LINE out of the file STATE names
#   autoload_restart_running     restarts osqueryd, and fleetd's orbit (which runs osqueryd),
#                                where they run as a service (systemd on Linux, launchd on
#                                macOS), so that osqueryd reads the file again; starts nothing
# ROOT is prefixed to every path (empty on a real machine). Each sets AUTOLOAD_CHANGED to yes
# when a file changed, so that the caller restarts a running osqueryd only then. The file keeps
# its mode and owner (it is replaced by an edited copy made with cp -p, renamed over it; a
# symbolic link is written through, in place).

AUTOLOAD_CHANGED=no

# Print FILE without the lines equal to $AUTOLOAD_LINE after trimming (osquery trims spaces, tabs
# and carriage returns); an unterminated last line gets its newline.
_autoload_without() {
  AUTOLOAD_LINE="$2" awk '
    { line = $0; gsub(/^[ \t\r]+|[ \t\r]+$/, "", line) }
    line == ENVIRON["AUTOLOAD_LINE"] { next }
    { print }
  ' "$1"
}

# Replace FILE's content with standard input (which may be read from FILE itself), keeping its
# mode and owner.
_autoload_write() {
  _autoload_tmp="$1.stethoscope-new"
  rm -f "$_autoload_tmp"
  if [ -L "$1" ]; then
    cat >"$_autoload_tmp"
    cat "$_autoload_tmp" >"$1"
    rm -f "$_autoload_tmp"
    return
  fi
  cp -p "$1" "$_autoload_tmp"
  cat >"$_autoload_tmp"
  mv -f "$_autoload_tmp" "$1"
}

autoload_add() {
  _file="$1"
  _line="$2"
  if [ -f "$_file" ] && [ "$(_autoload_without "$_file" "$_line" | wc -l)" -lt "$(
    awk 'END { print NR }' "$_file"
  )" ]; then
    return 0 # already there
  fi
  if [ ! -e "$_file" ]; then
    _folder="$(dirname "$_file")"
    if [ ! -d "$_folder" ]; then
      mkdir -p "$_folder"
      chmod 0755 "$_folder"
    fi
    : >"$_file"
    chmod 0644 "$_file"
  fi
  { _autoload_without "$_file" "$_line"; printf '%s\n' "$_line"; } | _autoload_write "$_file"
  AUTOLOAD_CHANGED=yes
}

autoload_remove() {
  _file="$1"
  _line="$2"
  [ -f "$_file" ] || return 0
  _kept="$(_autoload_without "$_file" "$_line"; echo x)"
  _kept="${_kept%x}"
  if [ "$(printf '%s' "$_kept" | wc -l)" -eq "$(awk 'END { print NR }' "$_file")" ]; then
    return 0 # not there
  fi
  if [ -z "$(printf '%s' "$_kept" | tr -d ' \t\r\n')" ] && [ ! -L "$_file" ]; then
    rm -f "$_file" # nothing else was in it
  else
    printf '%s' "$_kept" | _autoload_write "$_file"
  fi
  AUTOLOAD_CHANGED=yes
}

autoload_apply() {
  _apply_root="$1"
  _apply_target="$2"
  _apply_line="$3"
  _apply_state="$1$4"
  _apply_previous=""
  [ ! -f "$_apply_state" ] || _apply_previous="$(cat "$_apply_state")"
  if [ -n "$_apply_previous" ] && [ "$_apply_previous" != "$_apply_target" ]; then
    autoload_remove "$_apply_root$_apply_previous" "$_apply_line"
  fi
  if [ -n "$_apply_target" ]; then
    autoload_add "$_apply_root$_apply_target" "$_apply_line"
    mkdir -p "$(dirname "$_apply_state")"
    printf '%s\n' "$_apply_target" >"$_apply_state"
  else
    rm -f "$_apply_state"
  fi
}

autoload_withdraw() {
  _withdraw_state="$1$3"
  if [ -f "$_withdraw_state" ]; then
    autoload_remove "$1$(cat "$_withdraw_state")" "$2"
    rm -f "$_withdraw_state"
  fi
}

# The services that run osqueryd, as osquery's and Fleet's packages install them.
AUTOLOAD_SYSTEMD_UNITS="osqueryd.service orbit.service"
AUTOLOAD_LAUNCHD_LABELS="io.osquery.agent com.fleetdm.orbit"
AUTOLOAD_SYSTEMD_DIR="${AUTOLOAD_SYSTEMD_DIR:-/run/systemd/system}" # there when systemd runs

autoload_restart_running() {
  case "$(uname -s)" in
    Darwin)
      for _label in $AUTOLOAD_LAUNCHD_LABELS; do
        if launchctl print "system/$_label" >/dev/null 2>&1; then
          echo "stethoscope-desktop: restarting $_label so that osqueryd reads its autoload file"
          launchctl kickstart -k "system/$_label" || echo "stethoscope-desktop: could not restart $_label" >&2
        fi
      done ;;
    *)
      if [ -d "$AUTOLOAD_SYSTEMD_DIR" ] && command -v systemctl >/dev/null 2>&1; then
        for _unit in $AUTOLOAD_SYSTEMD_UNITS; do
          if systemctl is-active --quiet "$_unit"; then
            echo "stethoscope-desktop: restarting $_unit so that osqueryd reads its autoload file"
            systemctl restart "$_unit" || echo "stethoscope-desktop: could not restart $_unit" >&2
          fi
        done
      else
        echo "stethoscope-desktop: restart osqueryd to have it read its autoload file" >&2
      fi ;;
  esac
}
