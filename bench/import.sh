#!/usr/bin/env bash
# Claude Code import (issue 4, "Measure"): in one run on the same data with a warm page
# cache, `ccusage daily --json --offline` (npm ccusage with its native linux-x64 binary)
# against clown's POST /api/usage/import-claude: cold import into a new data directory,
# then re-imports of the unchanged data; wall time, CPU time, peak memory, and the token
# totals of both, which must be equal. See bench/README.md.
#
#   bench/import.sh                      # generates bench/out/claude (~1 GiB) if missing
#   RUNS=5 REIMPORTS=20 bench/import.sh
#   CLAUDE_DIR=/some/claude/dir bench/import.sh
#
# Settings: CLAUDE_DIR (default bench/out/claude, made by bench/gen_claude.py),
# CCUSAGE_VERSION (default 20.0.24), RUNS, REIMPORTS, QUIET_WAIT, QUIET_IDLE, OUT.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_pkg /usr/bin/time time
need_pkg npm npm

claude_dir="${CLAUDE_DIR:-$out/claude}"
if [ ! -d "$claude_dir/projects" ]; then
    echo "generating $claude_dir (bench/gen_claude.py)"
    python3 "$root/bench/gen_claude.py" "$claude_dir"
fi

# ccusage and its native binary, same version, into an ignored folder. The npm package's
# bin (src/cli.js) only resolves @ccusage/ccusage-<platform>-<arch>/bin/ccusage, makes it
# executable and spawns it with the same arguments: the binary is run directly here.
version="${CCUSAGE_VERSION:-20.0.24}"
prefix="$root/bench/.ccusage"
ccusage="$prefix/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
if [ "$("$ccusage" --version 2>/dev/null || true)" != "ccusage $version" ]; then
    echo "installing ccusage@$version and @ccusage/ccusage-linux-x64@$version into $prefix"
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --no-save --silent \
        "ccusage@$version" "@ccusage/ccusage-linux-x64@$version"
    chmod +x "$ccusage"
fi
echo "ccusage: $("$ccusage" --version) ($ccusage)"

build_release
exec python3 "$root/bench/clown_bench.py" import "$bin" "$out" "$claude_dir" "$ccusage"
