#!/usr/bin/env bash
# Every agent's usage logs (issue 17, "Measure"); see bench/README.md.
#
#   bench/usage_agents.sh import     # each agent: clown's cold import vs ccusage <agent> daily, totals
#   bench/usage_agents.sh live       # lag from an appended line to GET /api/usage, 100 sessions writing
#   bench/usage_agents.sh idle [BASE] # wake-ups of an idle daemon, watching off and on (twice
#                                    # each), and BASE (another clown binary) when given
#
# Settings: RUNS (import rounds, 3), AGENTS (import: a comma-separated subset, e.g. droid),
# BASE (import: another clown binary, e.g. a build before a change, imported in the same rounds),
# DATA_HOME (import: the generated logs to reuse, else generated anew), SESSIONS (100), SECONDS (30), RATE (lines/s per session, 2),
# WINDOW (idle seconds, 60), CCUSAGE (a ccusage binary of CCUSAGE_VERSION, 20.0.24), QUIET_WAIT, OUT.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_pkg /usr/bin/time time
what="${1:?import, live or idle}"
build_release
case "$what" in
import)
    need_pkg npm npm
    version="${CCUSAGE_VERSION:-20.0.24}"
    prefix="$root/bench/.ccusage"
    ccusage="${CCUSAGE:-$prefix/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage}"
    if [ "$("$ccusage" --version 2>/dev/null || true)" != "ccusage $version" ]; then
        ccusage="$prefix/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
        mkdir -p "$prefix"
        npm install --prefix "$prefix" --no-audit --no-fund --no-save --silent \
            "ccusage@$version" "@ccusage/ccusage-linux-x64@$version"
        chmod +x "$ccusage"
    fi
    exec python3 "$root/bench/usage_agents.py" import "$bin" "$ccusage" "$out" ;;
live)
    exec python3 "$root/bench/usage_agents.py" live "$bin" "$out" ;;
idle)
    # Watching off, on, off, on (the order's effect shows); BASE, when given, first.
    variants=("$bin=watch-off" "$bin=watch-on" "$bin=watch-off" "$bin=watch-on")
    [ -n "${2:-}" ] && variants=("$2=base" "${variants[@]}")
    exec python3 "$root/bench/usage_agents.py" idle "$out" "${variants[@]}" ;;
*)
    echo "usage: $0 import|live|idle [BASE]" >&2; exit 2 ;;
esac
