#!/usr/bin/env bash
# Build the Debian package of Stethoscope Desktop that carries IT's practices.
#
#   packaging/linux/build-deb.sh [options] IT_FOLDER OUT_DIR
#
# IT_FOLDER holds IT's files: policy.yaml, config.yaml, instructions.<lang>.yaml and an optional
# checks.d/ folder of IT's own checks (any subset; other files are ignored with a warning). They
# are validated with `stethoscope-desktop check-policy` first: a problem stops the build.
# OUT_DIR receives stethoscope-desktop_<version>_<arch>.deb, whose path is the last line printed.
#
# What the package installs:
#   /opt/stethoscope-desktop/lib/       the app's wheel and its dependencies (PySide6 included),
#                                       installed with pip --target and compiled to bytecode
#   /usr/bin/stethoscope-desktop        runs the app from there with /usr/bin/python3.X
#   /usr/share/applications/stethoscope-desktop.desktop and the icon in hicolor/scalable/apps
#   /usr/share/man/man1/stethoscope-desktop.1.gz and the bash, zsh and fish completions, written
#                                       from the packed app's argument parser
#   /etc/xdg/autostart/stethoscope-desktop.desktop   start at login for every user
#   /etc/xdg/stethoscope/...            IT's files
#   /opt/stethoscope-desktop/osquery/stethoscope_desktop.ext
#                                       the osquery extension's launcher (runs
#                                       `stethoscope-desktop osquery-extension` with osqueryd's flags)
# With tpm2-pytss in lib/ (see --tpm), a user's device key is kept in the TPM 2.0, and the
# package depends on the libtss2 libraries it links to.
# Every file under /etc is a conffile: an upgrade keeps what was edited on the machine (the new
# version lands beside it as *.dpkg-dist), `dpkg -r` keeps them, `dpkg -P` removes them.
#
# Options:
#   --revision R      the Debian revision (default 1): the package's version is <app version>-R.
#                     Raise it for every new build of IT's files, so apt sees an upgrade.
#   --python PY       the interpreter to build for (default /usr/bin/python3). The package holds
#                     compiled code for its Python X.Y, depends on pythonX.Y and runs
#                     /usr/bin/pythonX.Y, so build on the distribution release you deploy to.
#   --wheel FILE      install this wheel of the app instead of building one from this checkout.
#   --compression C   xz (default: smallest), zstd (fastest; dpkg 1.21.18+, Debian 12, Ubuntu
#                     21.10+), gzip or none.
#   --maintainer M    the Maintainer field (default: "IT <root@localhost>").
#   --tpm WHEN        auto (default), yes or no: pack tpm2-pytss, which keeps the device key in
#                     the TPM 2.0 (else users get software keys). PyPI has no wheel of it, so it
#                     is built here against this machine's libtss2: it needs libtss2-dev,
#                     pkg-config, gcc and pythonX.Y-dev. auto packs it where they are and warns
#                     where not; yes fails without them.
#   --osquery-extension
#                     add the osquery extension to osquery's autoload file,
#                     /etc/osquery/extensions.load, on installation (keeping the file's other
#                     lines), take it out on removal, and restart osqueryd (or fleetd's orbit)
#                     where it runs, so that IT's osquery gets the stethoscope_status and
#                     stethoscope_practices tables. docs/fleet-and-osquery.md has the details.
#   --osquery-autoload FILE
#                     the same, with another autoload file (the one your osqueryd's
#                     --extensions_autoload names).
# pip reads its usual settings (PIP_INDEX_URL, PIP_FIND_LINKS, a pip.conf) to find the wheels.
# Needs: dpkg-deb 1.19+ (no root needed to build), pythonX.Y with pip, network or a wheelhouse;
# for the TPM: libtss2-dev, pkg-config, gcc, pythonX.Y-dev and readelf (binutils).
set -euo pipefail

PACKAGE=stethoscope-desktop
PREFIX=/opt/stethoscope-desktop
LIB="$PREFIX/lib"
IT_TARGET=/etc/xdg/stethoscope
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

# The libraries the bundled Qt loads directly for the xcb (X11) platform plugin, OpenGL and D-Bus
# (libicu comes with PySide6), and the Wayland ones its wayland plugin needs.
QT_DEPENDS="libc6, libstdc++6, libgcc-s1, zlib1g, libglib2.0-0, libdbus-1-3, libfontconfig1,
 libfreetype6, libx11-6, libx11-xcb1, libxcb1, libxcb-cursor0, libxcb-glx0, libxcb-icccm4,
 libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render0, libxcb-render-util0,
 libxcb-shape0, libxcb-shm0, libxcb-sync1, libxcb-util1, libxcb-xfixes0, libxcb-xkb1,
 libxkbcommon0, libxkbcommon-x11-0, libegl1, libgl1, libgssapi-krb5-2, libbrotli1, libzstd1"
RECOMMENDS="libwayland-client0, libwayland-cursor0, libwayland-egl1, hicolor-icon-theme"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

fail() {
  echo "build-deb: $*" >&2
  exit 1
}

revision=1
python=/usr/bin/python3
[ -x "$python" ] || python=python3
wheel=""
compression=xz
maintainer="IT <root@localhost>"
tpm=auto
osquery_autoload=""
while [ $# -gt 0 ]; do
  case "$1" in
    --revision) revision="${2:?--revision needs a value}"; shift 2 ;;
    --python) python="${2:?--python needs a value}"; shift 2 ;;
    --wheel) wheel="${2:?--wheel needs a value}"; shift 2 ;;
    --compression) compression="${2:?--compression needs a value}"; shift 2 ;;
    --maintainer) maintainer="${2:?--maintainer needs a value}"; shift 2 ;;
    --tpm) tpm="${2:?--tpm needs a value}"; shift 2 ;;
    --osquery-extension) osquery_autoload="${osquery_autoload:-/etc/osquery/extensions.load}"; shift ;;
    --osquery-autoload) osquery_autoload="${2:?--osquery-autoload needs a file}"; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "build-deb: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
it_folder="$1"
out_dir="$2"

[ -d "$it_folder" ] || fail "$it_folder: no such folder"
[[ "$revision" =~ ^[0-9A-Za-z.+~]+$ ]] || fail "--revision $revision: use digits, letters and . + ~"
case "$compression" in
  xz | zstd | gzip | none) ;;
  *) fail "--compression: xz, zstd, gzip or none" ;;
esac
case "$tpm" in
  auto | yes | no) ;;
  *) fail "--tpm: auto, yes or no" ;;
esac
[ -z "$wheel" ] || [ -f "$wheel" ] || fail "$wheel: no such wheel"
case "$osquery_autoload" in
  "" | /*[!/]) ;;
  *) fail "--osquery-autoload $osquery_autoload: give the file's absolute path" ;;
esac
[[ "$osquery_autoload" != *$'\n'* ]] || fail "--osquery-autoload: one line, please"
command -v dpkg-deb >/dev/null || fail "dpkg-deb is missing (it comes with dpkg)"
py_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ||
  fail "cannot run $python"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || fail "$python is older than 3.11"
"$python" -m pip --version >/dev/null 2>&1 || fail "$python has no pip (apt install python3-pip)"
arch="$(dpkg --print-architecture)"

# The osquery extension: its launcher, always (IT may name it in any autoload file); with
# --osquery-extension, the file that tells postinst which autoload file to add it to. postinst and
# prerm (packaging/linux/debian/) do the editing, with packaging/osquery-extension/autoload.sh.
install_osquery_extension() {
  local folder="$root$PREFIX/osquery"
  sed "s,@PROGRAM@,/usr/bin/$PACKAGE,g" "$REPO/packaging/osquery-extension/stethoscope_desktop.ext.in" \
    >"$work/stethoscope_desktop.ext"
  install -D -m 0755 "$work/stethoscope_desktop.ext" "$folder/stethoscope_desktop.ext"
  install -m 0644 "$REPO/packaging/osquery-extension/autoload.sh" "$folder/autoload.sh"
  if [ -n "$osquery_autoload" ]; then
    printf '%s\n' "$osquery_autoload" >"$folder/autoload-file"
    chmod 0644 "$folder/autoload-file"
    echo "build-deb: the package adds the osquery extension to $osquery_autoload" >&2
  fi
}

work="$(mktemp -d "${TMPDIR:-/tmp}/build-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
umask 022

# IT's files: the ones the app reads, and nothing else.
it_files=()
while IFS= read -r -d '' name; do
  name="${name#./}"
  case "$name" in
    policy.yaml | config.yaml | instructions.*.yaml | checks.d/*.yaml | checks.d/*.yml)
      it_files+=("$name") ;;
    *) echo "build-deb: warning: $it_folder/$name is not one of IT's files; not packaged" >&2 ;;
  esac
done < <(cd "$it_folder" && find . -mindepth 1 \( -type f -o -type l \) -print0 | LC_ALL=C sort -z)
[ ${#it_files[@]} -gt 0 ] ||
  fail "$it_folder has none of policy.yaml, config.yaml, instructions.*.yaml, checks.d/*.yaml"

# The app's wheel: built from a clean copy of this checkout, so nothing stale in build/ gets in.
if [ -z "$wheel" ]; then
  echo "build-deb: building the app's wheel" >&2
  mkdir -p "$work/src" "$work/dist"
  (cd "$REPO" && tar -cf - --exclude=__pycache__ --exclude='*.pyc' \
    pyproject.toml setup.py README.md stethoscope_desktop checks practices resources) |
    tar -xf - -C "$work/src"
  "$python" -m pip wheel --quiet --no-deps --disable-pip-version-check -w "$work/dist" \
    "$work/src" >&2
  wheel="$(ls "$work"/dist/stethoscope_desktop-*.whl)"
fi
app_version="$(basename "$wheel" | sed -E 's/^stethoscope_desktop-([^-]+)-.*/\1/')"
# PEP 440 pre-releases sort before the release in Debian only with a tilde: 1.0rc1 -> 1.0~rc1.
version="$(printf '%s' "$app_version" | sed -E 's/(a|b|rc|\.dev)([0-9]+)/~\1\2/')-$revision"

# The TPM device key: the app's `tpm` extra (tpm2-pytss), whose wheel is built here (PyPI has
# none) against this machine's libtss2; the launcher's python -I -S sees no Debian package.
extras=gui
no_tpm() {
  [ "$tpm" = auto ] || fail "$1"
  echo "build-deb: warning: $1; users of this package get software device keys" >&2
}
if [ "$tpm" != no ]; then
  tpm_requirement="$("$python" -c '
import re, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    for line in wheel.read(metadata).decode("utf-8").splitlines():
        if line.startswith("Requires-Dist:") and re.search(r"extra *== *.tpm\b", line):
            print(line.split(":", 1)[1].split(";")[0].strip())
            break
' "$wheel")" || fail "cannot read the requirements of $wheel"
  if [ -z "$tpm_requirement" ]; then
    no_tpm "the app's wheel has no tpm extra"
  elif ! pkg-config --exists tss2-esys tss2-tctildr tss2-mu tss2-rc 2>/dev/null; then
    no_tpm "libtss2-dev (or pkg-config) is missing to build tpm2-pytss"
  else
    echo "build-deb: building $tpm_requirement against libtss2 $(pkg-config --modversion tss2-esys)" >&2
    if "$python" -m pip wheel --quiet --no-deps --disable-pip-version-check -w "$work/tpm" \
      "$tpm_requirement" >&2; then
      extras=gui,tpm
    else
      no_tpm "tpm2-pytss did not build (it needs gcc and python$py_version-dev too)"
    fi
  fi
fi

echo "build-deb: installing the app and its dependencies for Python $py_version" >&2
mkdir -p "$root$LIB"
"$python" -m pip install --quiet --no-compile --only-binary=:all: --no-warn-script-location \
  --disable-pip-version-check --root-user-action=ignore --find-links "$work/tpm" \
  --target "$root$LIB" "$wheel[$extras]" >&2

# The libtss2 packages tpm2-pytss links to, and the TCTI that reaches the kernel's TPM (which
# libtss2-tctildr loads at run time), as this machine's dpkg names them: the names carry the
# library's ABI and change between releases (libtss2-esys-3.0.2-0 on Debian 12).
tpm_depends=""
if [ "$extras" = gui,tpm ]; then
  binding="$(ls "$root$LIB"/tpm2_pytss/_libtpm2_pytss*.so)" || fail "tpm2-pytss has no compiled part"
  sonames="$(readelf -d "$binding" | sed -n 's/.*(NEEDED).*\[\(libtss2-[^]]*\)\]/\1/p')
libtss2-tcti-device.so.0"
  for soname in $sonames; do
    owner="$(dpkg-query -S "*/$soname" 2>/dev/null |
      sed -n "s/^\([^:,]*\)\(:$arch\)\{0,1\}: .*/\1/p" | head -n 1)"
    [ -n "$owner" ] || fail "no installed package holds $soname, which tpm2-pytss needs"
    case ", $tpm_depends, " in *", $owner, "*) ;; *) tpm_depends="$tpm_depends, $owner" ;; esac
  done
fi
rm -rf "$root$LIB/bin" # the libraries' console scripts, with this machine's interpreter in them
# Bytecode with the installed paths in it (tracebacks name /opt/...); Python 2 files that some
# libraries carry as test data do not compile, and need not.
"$python" -m compileall -q -j 0 -s "$root" -p / "$root$LIB" >/dev/null || true

echo "build-deb: checking IT's files" >&2
mkdir -p "$root$IT_TARGET"
for name in "${it_files[@]}"; do
  install -D -m 0644 "$it_folder/$name" "$root$IT_TARGET/$name"
done
"$python" -I -c 'import sys; sys.path.insert(0, sys.argv.pop(1))
from stethoscope_desktop.cli import main
sys.exit(main())' "$root$LIB" check-policy "$root$IT_TARGET" |
  sed "s,$root,,g" >&2 || fail "IT's files in $it_folder have problems (listed above)"

sed -e "s,@PYTHON@,/usr/bin/python$py_version,g" -e "s,@LIB@,$LIB,g" \
  "$HERE/stethoscope-desktop.in" >"$work/wrapper"
install -D -m 0755 "$work/wrapper" "$root/usr/bin/$PACKAGE"
install -D -m 0644 "$HERE/$PACKAGE.desktop" "$root/usr/share/applications/$PACKAGE.desktop"
install -D -m 0644 "$HERE/xdg/autostart/$PACKAGE.desktop" "$root/etc/xdg/autostart/$PACKAGE.desktop"
install -D -m 0644 "$REPO/resources/icons/$PACKAGE.svg" \
  "$root/usr/share/icons/hicolor/scalable/apps/$PACKAGE.svg"
# The man page and the completions, from the argument parser of the app just packed.
"$python" -I -c 'import sys; sys.path.insert(0, sys.argv[1])
from stethoscope_desktop.cli_docs import write_all
write_all(__import__("pathlib").Path(sys.argv[2]))' "$root$LIB" "$work/cli" >/dev/null ||
  fail "cannot write the man page and the shell completions"
install -D -m 0644 "$work/cli/$PACKAGE.1" "$root/usr/share/man/man1/$PACKAGE.1"
gzip -9n "$root/usr/share/man/man1/$PACKAGE.1"
install -D -m 0644 "$work/cli/$PACKAGE.bash" \
  "$root/usr/share/bash-completion/completions/$PACKAGE"
install -D -m 0644 "$work/cli/_$PACKAGE" "$root/usr/share/zsh/vendor-completions/_$PACKAGE"
install -D -m 0644 "$work/cli/$PACKAGE.fish" \
  "$root/usr/share/fish/vendor_completions.d/$PACKAGE.fish"
mkdir -p "$root/usr/share/doc/$PACKAGE"
cat >"$root/usr/share/doc/$PACKAGE/copyright" <<EOF
Stethoscope Desktop $app_version, Apache License 2.0 (/usr/share/common-licenses/Apache-2.0).
It bundles its Python dependencies in $LIB; each one's licence is in its *.dist-info folder
there (PySide6 and Qt: LGPLv3; the others: MIT, BSD, Apache 2.0 or PSF).
EOF
install_osquery_extension
chmod -R u+rwX,go+rX,go-w "$root"

mkdir -p "$root/DEBIAN"
install -m 0755 "$HERE/debian/postinst" "$HERE/debian/prerm" "$HERE/debian/postrm" "$root/DEBIAN/"
(cd "$root" && find etc -type f | sed 's,^,/,' | LC_ALL=C sort) >"$root/DEBIAN/conffiles"
installed_size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<EOF
Package: $PACKAGE
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Section: admin
Priority: optional
Depends: python$py_version, $(printf '%s' "$QT_DEPENDS" | tr -s '\n ' ' ')$tpm_depends
Recommends: $RECOMMENDS
Description: security checkup of this computer, in the system tray
 Stethoscope Desktop checks this computer's security settings (disk
 encryption, firewall, screen lock, updates, banned applications, ...)
 against the practices policy IT ships with this package in
 $IT_TARGET, and shows ranked recommendations from the system tray.
 It never changes a setting and never needs root.
EOF

mkdir -p "$out_dir"
deb="$out_dir/${PACKAGE}_${version}_${arch}.deb"
echo "build-deb: writing $deb ($((installed_size / 1024)) MiB installed, $compression)" >&2
dpkg-deb --root-owner-group -Z"$compression" --build "$root" "$deb" >/dev/null
echo "$deb"
