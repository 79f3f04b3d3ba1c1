#!/usr/bin/env bash
# `clown statusline` beside `ccusage statusline` on the same Claude data (issue 17,
# "Measure"); see bench/README.md.
#
#   bench/statusline.sh                  # generates bench/out/claude (~1 GiB) if missing
#   CLAUDE_DIR=/some/claude/dir RUNS=500 bench/statusline.sh
#
# Settings: CLAUDE_DIR (default bench/out/claude, made by bench/gen_claude.py), CCUSAGE (a
# ccusage 20.0.24 binary; default: installed into bench/.ccusage), RUNS (300), CC_RUNS (5),
# QUIET_WAIT, QUIET_IDLE, OUT.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

claude_dir="${CLAUDE_DIR:-$out/claude}"
if [ ! -d "$claude_dir/projects" ]; then
    echo "generating $claude_dir (bench/gen_claude.py)"
    python3 "$root/bench/gen_claude.py" "$claude_dir"
fi
version="${CCUSAGE_VERSION:-20.0.24}"
ccusage="${CCUSAGE:-$root/bench/.ccusage/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage}"
if [ "$("$ccusage" --version 2>/dev/null || true)" != "ccusage $version" ]; then
    need_pkg npm npm
    prefix="$root/bench/.ccusage"
    ccusage="$prefix/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --no-save --silent \
        "ccusage@$version" "@ccusage/ccusage-linux-x64@$version"
    chmod +x "$ccusage"
fi
echo "ccusage: $("$ccusage" --version) ($ccusage)"
build_release
exec python3 "$root/bench/statusline.py" "$bin" "$ccusage" "$claude_dir" "$out"
