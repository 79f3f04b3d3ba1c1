#!/usr/bin/env bash
# Packaging tests, run by CI as root on Debian (apt-get update already done):
#   - the .deb: builds; `dpkg -i` installs it (the maintainer scripts enable clown.socket for
#     all users and do not fail without a running systemd); /usr/bin/clown --version works;
#     units, completions, man pages (one per command, each named page present) and docs are installed; `systemd-analyze --user verify`
#     passes on the installed units; lintian reports no errors; `dpkg -r` removes the files
#     and the enablement link; a reinstall enables the socket again; `dpkg -P` leaves nothing.
#   - the .rpm: builds; `rpm -qlp` lists the same files as the .deb (allowing for the two
#     distributions' conventions, see below); `rpm -qip` shows version, summary and licence;
#     the scriptlets enable and disable the socket with `systemctl --global`.
#   - the Homebrew formula: builds with its tarball; `ruby -c` passes; it declares the sha256
#     of that tarball and a service with the launchd socket "Listeners" on 127.0.0.1:8765.
# Installs lintian, rpm, ruby and dpkg-dev with apt-get when missing. Ends with the line
# "N passed, M failed" and exits non-zero when anything failed. Leaves the package
# uninstalled.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

if [ "$(id -u)" != 0 ]; then
  echo "error: packaging/test.sh installs the package with dpkg: run it as root" >&2
  exit 2
fi
if dpkg-query -W -f='${Status}' clown 2>/dev/null | grep -q 'installed'; then
  echo "error: a clown package is installed already; remove it first (dpkg -P clown)" >&2
  exit 2
fi

need=()
command -v lintian >/dev/null || need+=(lintian)
command -v rpm >/dev/null || need+=(rpm)
command -v ruby >/dev/null || need+=(ruby)
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v strip >/dev/null || need+=(binutils)
if ((${#need[@]})); then
  echo "==> apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi

WORK="$(mktemp -d)"
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then dpkg -P clown >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

passed=0
failed=0
# check DESCRIPTION COMMAND...: runs the command, counts and reports the outcome; shows
# the command's output when it fails.
check() {
  local what="$1"
  shift
  if "$@" >"$WORK/out" 2>&1; then
    passed=$((passed + 1))
    echo "ok      $what"
  else
    failed=$((failed + 1))
    echo "FAILED  $what"
    sed 's/^/        /' "$WORK/out" | tail -n 40
  fi
}

VERSION="$(source packaging/common.sh >/dev/null 2>&1 && clown_version)"
DEB_ARCH="$(dpkg --print-architecture)"
DEB="$ROOT/dist/clown_${VERSION}-1_${DEB_ARCH}.deb"
RPM="$ROOT/dist/clown-${VERSION}-1.$(uname -m).rpm"
TARBALL="$ROOT/dist/clown-$VERSION.tar.gz"
WANTS=/etc/systemd/user/sockets.target.wants/clown.socket
DSH_STATE=/var/lib/systemd/deb-systemd-user-helper-enabled/clown.socket.dsh-also

# Whatever an earlier run left must not pass for this run's output.
rm -f "$DEB" "$RPM" "$TARBALL" "$ROOT/dist/clown.rb"

# The files both packages install, Debian's paths.
FILES=(
  /usr/bin/clown
  /usr/lib/systemd/user/clown.socket
  /usr/lib/systemd/user/clown.service
  /usr/share/bash-completion/completions/clown
  /usr/share/zsh/vendor-completions/_clown
  /usr/share/fish/vendor_completions.d/clown.fish
  /usr/share/man/man1/clown.1.gz
  /usr/share/man/man1/clown-profiles-create.1.gz
  /usr/share/man/man1/clown-doctor.1.gz
  /usr/share/doc/clown/README.md
  /usr/share/doc/clown/copyright
  /usr/share/clown/grafana/clown-dashboard.json
)

all_present() { local f; for f in "$@"; do [ -e "$f" ] || { echo "missing: $f"; return 1; }; done; }
all_absent() { local f; for f in "$@"; do if [ -e "$f" ] || [ -L "$f" ]; then echo "still there: $f"; return 1; fi; done; }

# ---------------------------------------------------------------- .deb
echo "== .deb"
check "packaging/deb/build.sh builds $(basename "$DEB")" \
  bash -c 'out="$(packaging/deb/build.sh)" && [ "$out" = "$1" ] && [ -s "$1" ]' _ "$DEB"

if [ -s "$DEB" ]; then
  # dpkg-deb -c lists "./usr/…" paths; keep the regular files.
  dpkg-deb -c "$DEB" | awk '$1 ~ /^-/ {print substr($6, 2)}' | sort >"$WORK/deb-files"

  check "lintian reports no errors" lintian --fail-on error "$DEB"
  check "maintainer scripts exit 0 without systemd tools on PATH" bash -c '
    mkdir -p "$1/empty"
    for args in "postinst configure" "postinst configure 0.0.1-1" "prerm remove" "postrm remove" "postrm purge"; do
      set -- "$1" $args
      PATH="$1/empty" DPKG_MAINTSCRIPT_PACKAGE=clown /bin/sh "packaging/deb/maintainer-scripts/$2" "${@:3}" || { echo "$2 ${*:3} failed"; exit 1; }
    done' _ "$WORK"

  check "dpkg -i installs the package" dpkg -i "$DEB"
  dpkg-query -W clown >/dev/null 2>&1 && installed=1

  check "/usr/bin/clown --version prints clown $VERSION" \
    bash -c '[ "$(/usr/bin/clown --version)" = "clown $1" ]' _ "$VERSION"
  check "units, completions, man page and docs are installed" all_present "${FILES[@]}"
  check "every file in the .deb is installed" bash -c "$(declare -f all_present); all_present \$(cat \"\$1\")" _ "$WORK/deb-files"
  check "the man page is a roff page for clown" bash -c 'zcat /usr/share/man/man1/clown.1.gz | grep -q "^\.TH clown"'
  check "every page a man page names is installed" bash -c '
    for page in /usr/share/man/man1/clown*.1.gz; do
      for name in $(zcat "$page" | grep -o "clown\\\\-[a-z\\\\-]*(1)" | sed "s/\\\\-/-/g; s/(1)//"); do
        [ -e "/usr/share/man/man1/$name.1.gz" ] || { echo "$page names $name(1), not installed"; exit 1; }
      done
    done'
  check "the bash completion parses" bash -n /usr/share/bash-completion/completions/clown
  check "postinst enabled clown.socket for all users ($WANTS)" \
    bash -c '[ "$(readlink "$1")" = /usr/lib/systemd/user/clown.socket ]' _ "$WANTS"
  check "systemd-analyze --user verify passes on the installed units" bash -c '
    export XDG_RUNTIME_DIR="$1/runtime"
    mkdir -m 0700 "$XDG_RUNTIME_DIR"
    out="$(systemd-analyze --user verify /usr/lib/systemd/user/clown.socket /usr/lib/systemd/user/clown.service 2>&1)"
    rc=$?
    echo "$out"
    [ "$rc" = 0 ] && [ -z "$out" ]' _ "$WORK"
  check "the socket unit listens on 127.0.0.1:8765" grep -qx 'ListenStream=127.0.0.1:8765' /usr/lib/systemd/user/clown.socket

  check "dpkg -r removes the package" dpkg -r clown
  check "dpkg -r removed the files and the enablement link" all_absent "${FILES[@]}" "$WANTS"
  check "a reinstall after dpkg -r enables the socket again" \
    bash -c 'dpkg -i "$1" >/dev/null && [ -L "$2" ]' _ "$DEB" "$WANTS"
  check "dpkg -P purges the package and its systemd state" \
    bash -c 'dpkg -P clown >/dev/null && ! dpkg-query -W clown 2>/dev/null && [ ! -e "$1" ] && [ ! -L "$2" ] && [ ! -e /usr/bin/clown ]' \
    _ "$DSH_STATE" "$WANTS"
  dpkg-query -W clown >/dev/null 2>&1 || installed=0
fi

# ---------------------------------------------------------------- .rpm
echo "== .rpm"
check "packaging/rpm/build.sh builds $(basename "$RPM")" \
  bash -c 'out="$(packaging/rpm/build.sh)" && [ "$out" = "$1" ] && [ -s "$1" ]' _ "$RPM"

if [ -s "$RPM" ]; then
  rpm -qip "$RPM" >"$WORK/rpm-info" 2>&1
  check "rpm -qip shows Version: $VERSION" grep -Eq "^Version *: $VERSION\$" "$WORK/rpm-info"
  check "rpm -qip shows the summary" grep -Eq '^Summary *: .*coding agents' "$WORK/rpm-info"
  check "rpm -qip shows License: MIT" grep -Eq '^License *: MIT$' "$WORK/rpm-info"
  # The same files as the .deb, allowing for each distribution's conventions: zsh looks in
  # site-functions on RPM systems; the licence is Debian's copyright file in the .deb and
  # LICENSE in the .rpm; the Debian changelog and lintian overrides are Debian's own.
  check "rpm -qlp lists the same files as the .deb" bash -c '
    rpm -qlp "$1" | sort >"$2/rpm-files"
    sed -e "s,^/usr/share/zsh/vendor-completions/,/usr/share/zsh/site-functions/," \
        -e "s,^/usr/share/doc/clown/copyright\$,/usr/share/doc/clown/LICENSE," "$2/deb-files" \
      | grep -v -e "^/usr/share/doc/clown/changelog.Debian.gz\$" -e "^/usr/share/lintian/" | sort >"$2/deb-mapped"
    diff -u "$2/deb-mapped" "$2/rpm-files"' _ "$RPM" "$WORK"
  check "%post enables and %preun disables clown.socket with systemctl --global" bash -c '
    s="$(rpm -qp --scripts "$1")"
    grep -q "systemctl --global enable clown.socket" <<<"$s" && grep -q "systemctl --global disable clown.socket" <<<"$s"' _ "$RPM"
  check "%post, %preun and %postun exit 0 without systemctl on PATH" bash -c '
    mkdir -p "$1/empty"
    PATH="$1/empty" /bin/sh packaging/rpm/post.sh 1 && PATH="$1/empty" /bin/sh packaging/rpm/preun.sh 0 &&
      PATH="$1/empty" /bin/sh packaging/rpm/postun.sh 0 >/dev/null' _ "$WORK"
  check "%postun names the per-user data it leaves" bash -c '
    s="$(rpm -qp --scripts "$1")"
    grep -q "postuninstall scriptlet" <<<"$s" && grep -q "~/.local/share/clown/" <<<"$s"' _ "$RPM"
fi

# ---------------------------------------------------------------- Homebrew
echo "== Homebrew"
check "packaging/homebrew/build.sh writes dist/clown.rb and $(basename "$TARBALL")" \
  bash -c 'packaging/homebrew/build.sh https://example.invalid/clown/releases >/dev/null && [ -s dist/clown.rb ] && [ -s "$1" ]' _ "$TARBALL"
if [ -s dist/clown.rb ] && [ -s "$TARBALL" ]; then
  check "ruby -c dist/clown.rb" ruby -c dist/clown.rb
  check "the tarball holds the sources under clown-$VERSION/" \
    bash -c 'tar -tzf "$1" | grep -qx "clown-$2/Cargo.lock" && tar -tzf "$1" | grep -qx "clown-$2/src/main.rs"' _ "$TARBALL" "$VERSION"
  check "the formula has the service block with the launchd socket" \
    bash -c 'grep -q "^  service do" dist/clown.rb && grep -q "sockets Listeners: \"tcp://127.0.0.1:8765\"" dist/clown.rb'
  check "the formula declares the tarball, its sha256, the build and the service" \
    ruby packaging/homebrew/check_formula.rb dist/clown.rb "$(sha256sum "$TARBALL" | cut -d' ' -f1)"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
