#!/usr/bin/env bash
# Daemon foundation benchmark (issue 2, "Measure"): exec → READY=1, resident memory,
# authenticated GET /api/daemon/status throughput. See bench/README.md.
#
#   bench/daemon.sh                 # build the release binary once, then measure
#   RUNS=50 WRK_DURATION=20s bench/daemon.sh
#
# Settings (environment): RUNS (start-ups per kind, default 30), WRK_DURATION (default 10s),
# WRK_CONFIGS (space-separated THREADS:CONNECTIONS, default "2:64 1:32"), OUT (default
# bench/out/daemon), QUIET_WAIT (seconds to wait for an idle machine before each phase, default
# 120), CLOWN_BIN (measure this binary instead of building target/release/clown).
# Needs python3 and wrk (Debian: apt-get install -y wrk; installed here when
# missing and running as root).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/bench/out/daemon}"
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y wrk >/dev/null 2>&1 ||
            { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        echo "error: wrk is missing (Debian: apt-get install -y wrk)" >&2
        exit 1
    fi
fi

if [ -n "${CLOWN_BIN:-}" ]; then
    bin="$CLOWN_BIN"
else
    echo "building the release binary"
    (cd "$root" && cargo build --release --quiet --bin clown)
    target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    bin="$target_dir/release/clown"
fi

echo "machine: $(nproc) cores, $(uname -sr), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
echo "binary: $bin ($(stat -c %s "$bin") bytes)"
if [ -z "${CLOWN_BIN:-}" ] && git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    dirty=$(git -C "$root" status --porcelain -- src Cargo.toml Cargo.lock | wc -l)
    echo "source: commit $(git -C "$root" rev-parse --short HEAD), $dirty changed paths under src/ and Cargo.*"
fi
# Two cores: anything else running skews every figure. Say how busy the machine was.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
python3 "$root/bench/daemon_bench.py" "$bin" "$out" || status=$?
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
