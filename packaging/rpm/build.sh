#!/usr/bin/env bash
# Builds dist/clown-<version>-<release>.<arch>.rpm with cargo-generate-rpm (installed when
# missing) from the stripped release binary, the systemd user units, and the completions
# and man page generated from that binary. Metadata and scriptlets:
# [package.metadata.generate-rpm] in Cargo.toml, packaging/rpm/*.sh.
# Prints the path of the package on stdout.
#
#   packaging/rpm/build.sh            # builds target/release/clown first (no-op when fresh)
#   CLOWN_NO_BUILD=1 packaging/rpm/build.sh   # packages the existing release binary
source "$(dirname "$0")/../common.sh"

ensure_cargo_tool cargo-generate-rpm cargo-generate-rpm
prepare_release

release="$(sed -n '/^\[package\.metadata\.generate-rpm\]/,/^\[/s/^release = "\(.*\)"/\1/p' Cargo.toml)"
out="$DIST/clown-${VERSION}-${release:-1}.$(uname -m).rpm"
rm -f "$out"
cargo generate-rpm --output "$out" >&2
[ -f "$out" ] || { echo "error: cargo generate-rpm did not write $out" >&2; exit 1; }
log "wrote $out"
echo "$out"
