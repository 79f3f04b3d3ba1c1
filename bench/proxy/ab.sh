#!/usr/bin/env bash
# Two builds of clown side by side, each with its own daemon, proxy and fixed-reply upstream
# (run.sh's setup, SERVE mode), measured in turn round after round: requests/s over 32
# connections, then the one-connection p50 and p99 (wrk's, and each request's own), the
# same way as run.sh. Meant for a change whose effect is smaller than what the machine
# moves between two runs of run.sh.
#
#   bench/proxy/ab.sh OLD_BINARY NEW_BINARY [ROUNDS]     # DURATION=4 seconds per wrk run
#
# Needs what run.sh needs. Prints one line per round and the median ratios (new / old).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-4}
BENCH=$(realpath bench/proxy)
. "$BENCH/wrk.sh"
. "$BENCH/serve.sh"
serve_old_new 6 "$@"
# Until both daemons have stored what the 32-connection run sent (their CPU time still for
# 0.3 s, at most 10 s): the one-connection run then measures the requests, not the
# storing of the run before.
daemons="/proc/$(served old DAEMON_PID)/stat /proc/$(served new DAEMON_PID)/stat"
settle() {
  local before now
  before=$(cat $daemons | awk '{s += $14 + $15} END {print s}')
  for _ in $(seq 33); do
    sleep 0.3
    now=$(cat $daemons | awk '{s += $14 + $15} END {print s}')
    [ "$now" = "$before" ] && return
    before=$now
  done
}
measure() { # side -> "rps p50 p99 raw_p50 raw_p99"
  local p k all one
  p=$(served "$1" PROXY); k=$(served "$1" LOCAL)
  BENCH_KEY=$k wrk -t2 -c32 -d1s -s "$BENCH/post.lua" "http://127.0.0.1:$p" > /dev/null
  all=$(BENCH_KEY=$k wrk -t2 -c32 -d"${DURATION}s" -s "$BENCH/post.lua" "http://127.0.0.1:$p")
  settle
  one=$(BENCH_KEY=$k wrk -t1 -c1 -d"${DURATION}s" --latency -s "$BENCH/latency.lua" "http://127.0.0.1:$p")
  if grep -q "Non-2xx" <<<"$all$one"; then echo "error: $1 answered errors" >&2; exit 1; fi
  echo "$(awk '/Requests\/sec/ {print int($2)}' <<<"$all") $(grep -E '^ +50%' <<<"$one" | us) $(grep -E '^ +99%' <<<"$one" | us) $(awk '/^raw / {print $3, $5}' <<<"$one")"
}
lines=""
for r in $(seq "$ROUNDS"); do
  # Which side goes first alternates, so neither always follows the other.
  order="old new"; [ $((r % 2)) = 0 ] && order="new old"
  for side in $order; do eval "m_$side=\"\$(measure $side)\""; done
  line="$r $m_old $m_new"
  lines+="$line"$'\n'
  read -r _ o_rps o_p50 o_p99 o_r50 o_r99 n_rps n_p50 n_p99 n_r50 n_r99 <<<"$line"
  echo "round $r: requests/s $o_rps -> $n_rps; p50 $o_p50 -> $n_p50 µs; p99 $o_p99 -> $n_p99 µs; own p99 $o_r99 -> $n_r99 µs"
done
python3 - "$lines" <<'PY'
import statistics, sys
rows = [list(map(float, l.split()[1:])) for l in sys.argv[1].splitlines() if l.strip()]
med = statistics.median
for name, i in [("requests/s", 0), ("p50", 1), ("p99", 2), ("own p99", 4)]:
    r = [row[5 + i] / max(1, row[i]) for row in rows]
    print(f"new / old {name}: median {med(r):.2f}x, per round " + ", ".join(f"{x:.2f}" for x in r))
PY
