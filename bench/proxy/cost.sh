#!/usr/bin/env bash
# What accounting costs per proxied request, for two builds side by side: each with its own
# daemon, proxy and fixed-reply upstream (run.sh's setup, SERVE mode), one-connection wrk
# runs in turn, and around each run the CPU time (user + system, /proc) of the daemon and of
# the proxy's usage reporter thread, and the bytes the reporter wrote (its posts to the
# daemon, /proc/PID/task/TID/io). CPU time moves far less between runs than latency does.
#
#   bench/proxy/cost.sh OLD_BINARY NEW_BINARY [ROUNDS]     # DURATION=5 seconds per run
#
# Needs what run.sh needs. Prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5}
BENCH=$(realpath bench/proxy)
. "$BENCH/serve.sh"
serve_old_new 3 "$@"
TCK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "$1"; }
written() { awk '/^wchar/ {print $2}' "$1/io"; }
echo "build: requests, daemon CPU µs per request, reporter CPU µs per request, bytes posted per request"
for _ in $(seq "$ROUNDS"); do
  for side in old new; do
    PROXY=$(served "$side" PROXY); LOCAL=$(served "$side" LOCAL)
    PROXY_PID=$(served "$side" PROXY_PID); DAEMON_PID=$(served "$side" DAEMON_PID)
    rep=$(dirname "$(grep -l '^usage-reporter$' /proc/"$PROXY_PID"/task/*/comm | head -1)")
    d0=$(ticks "/proc/$DAEMON_PID/stat"); r0=$(ticks "$rep/stat"); w0=$(written "$rep")
    out=$(BENCH_KEY=$LOCAL wrk -t1 -c1 -d"${DURATION}s" -s "$BENCH/post.lua" "http://127.0.0.1:$PROXY")
    # The last batch: posted half a second after its first report, then stored.
    sleep 2
    d1=$(ticks "/proc/$DAEMON_PID/stat"); r1=$(ticks "$rep/stat"); w1=$(written "$rep")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    python3 -c "import sys; n, t, d, r, w = map(int, sys.argv[2:]); print(f'{sys.argv[1]}: {n}, {d * 1e6 / t / n:.2f}, {r * 1e6 / t / n:.2f}, {w / n:.0f}')" \
      "$side" "$n" "$TCK" "$((d1 - d0))" "$((r1 - r0))" "$((w1 - w0))"
  done
done
