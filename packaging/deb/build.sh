#!/usr/bin/env bash
# Builds dist/clown_<version>-<revision>_<arch>.deb with cargo-deb (installed when missing)
# from the release binary, the systemd user units, and the completions, man page and
# changelog generated from that binary. Metadata: [package.metadata.deb] in Cargo.toml.
# Prints the path of the package on stdout.
#
#   packaging/deb/build.sh            # builds target/release/clown first (no-op when fresh)
#   CLOWN_NO_BUILD=1 packaging/deb/build.sh   # packages the existing release binary
source "$(dirname "$0")/../common.sh"

ensure_cargo_tool cargo-deb cargo-deb
prepare_release

arch="$(dpkg --print-architecture 2>/dev/null || true)"
out="$DIST/clown_${VERSION}-1_${arch:-amd64}.deb"
rm -f "$out"
# --no-build: prepare_release built the binary; cargo-deb strips its copy and derives
# Depends from it (dpkg-shlibdeps).
cargo deb --no-build --locked --output "$out" >&2
[ -f "$out" ] || { echo "error: cargo deb did not write $out" >&2; exit 1; }
log "wrote $out"
echo "$out"
