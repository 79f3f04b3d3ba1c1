# Shared by bench/profiles.sh, bench/import.sh and bench/query.sh (sourced, not run).
# Sets: root, out, bin (a copy of the release binary, so a concurrent rebuild cannot
# swap it in the middle of a measurement).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/bench/out}"
mkdir -p "$out"

# need_pkg COMMAND DEBIAN-PACKAGE: installs the package when the command is missing.
need_pkg() {
    command -v "$1" >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing $2"
        apt-get install -y "$2" >/dev/null 2>&1 ||
            { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
    else
        echo "error: $1 is missing (Debian: apt-get install -y $2)" >&2
        exit 1
    fi
}

build_release() {
    echo "building the release binary (cargo build --release --bin clown)"
    (cd "$root" && cargo build --release --quiet --bin clown)
    local target_dir
    target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    bin="$out/clown"
    cp "$target_dir/release/clown" "$bin.tmp" && mv "$bin.tmp" "$bin"
    echo "binary: $bin ($(stat -c %s "$bin") bytes; $(cd "$root" && git rev-parse --short HEAD)$(cd "$root" && git diff --quiet HEAD -- src || echo '+uncommitted changes in src/'))"
}

need_pkg python3 python3
