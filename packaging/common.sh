# shellcheck shell=bash
# Shared by packaging/*/build.sh (sourced, not run): builds the release binary once and
# generates, from that binary, what both packages ship besides it (completions, man page,
# Debian changelog, a stripped copy of the binary) into dist/gen/.
#
# Environment:
#   CLOWN_NO_BUILD=1   package the existing release binary as it is (no `cargo build`)

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIST="$ROOT/dist"
GEN="$DIST/gen"

log() { printf '==> %s\n' "$*" >&2; }

# The package version, as Cargo sees it ("path+file:///…#clown@0.1.0" or "…#0.1.0").
clown_version() {
  local id
  if command -v cargo >/dev/null 2>&1 && id="$(cargo pkgid 2>/dev/null)"; then
    printf '%s\n' "${id##*[#@]}"
  else # no cargo: the first version line, which is [package]'s
    sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1
  fi
}

# Where Cargo puts its build output (honours CARGO_TARGET_DIR and .cargo/config.toml).
target_dir() {
  cargo metadata --no-deps --format-version 1 \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}

# Installs a cargo subcommand from crates.io when it is missing.
ensure_cargo_tool() { # ensure_cargo_tool <crate> <command>
  if ! command -v "$2" >/dev/null 2>&1; then
    log "installing $1 (cargo install --locked $1)"
    cargo install --locked "$1"
  fi
}

# Builds target/release/clown (a no-op when it is up to date) and regenerates dist/gen/.
prepare_release() {
  local bin
  if [ "${CLOWN_NO_BUILD:-0}" != 1 ]; then
    log "cargo build --release --locked --bin clown"
    cargo build --release --locked --bin clown
  fi
  bin="$(target_dir)/release/clown"
  [ -x "$bin" ] || { echo "error: $bin is missing; build it first" >&2; exit 1; }

  VERSION="$(clown_version)"
  log "clown $VERSION from $bin"
  rm -rf "$GEN"
  mkdir -p "$GEN/completions"

  # A stripped copy for the packagers that do not strip by themselves.
  cp "$bin" "$GEN/clown"
  strip --strip-unneeded "$GEN/clown" 2>/dev/null || true

  "$bin" generate completions bash >"$GEN/completions/clown.bash"
  "$bin" generate completions zsh >"$GEN/completions/_clown"
  "$bin" generate completions fish >"$GEN/completions/clown.fish"
  # clown.1 and one page per command (the pages clown.1 points to).
  "$bin" generate man --dir "$GEN/man"
  for f in "$GEN/completions/clown.bash" "$GEN/completions/_clown" "$GEN/completions/clown.fish" "$GEN/man/clown.1"; do
    [ -s "$f" ] || { echo "error: $bin generated an empty $f" >&2; exit 1; }
  done
  gzip -9 -n "$GEN"/man/*.1

  # Debian wants a changelog in its own format; one entry for the version being packaged,
  # dated by the last commit so that rebuilding the same commit gives the same file.
  local date
  date="$(git log -1 --format=%cD 2>/dev/null || date -R)"
  cat >"$GEN/changelog" <<CHANGELOG
clown (${VERSION}-1) unstable; urgency=medium

  * Release ${VERSION}.

 -- The clown authors <clown@example.invalid>  ${date}
CHANGELOG
  export VERSION
}
