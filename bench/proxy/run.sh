#!/usr/bin/env bash
# Added latency and throughput of clown's proxy, in one run, against a direct request
# to a fast fixed-reply upstream (nginx) and a plain nginx reverse-proxy hop; and the
# time from an upstream SSE event to the agent. See bench/README.md ("Proxy").
#
#   bench/proxy/run.sh            # ROUNDS=3 rounds of DURATION=5 seconds per wrk run
#   CCR=0 bench/proxy/run.sh      # without claude-code-router
#   KEEP=0 bench/proxy/run.sh     # the profiles' request inspector off (default: keep 100)
#   STALLS=1 bench/proxy/run.sh   # then a scheduling trace: what held up the one-connection chain
#   SERVE=FILE bench/proxy/run.sh # only set up, write the ports into FILE and wait (ab.sh)
#   BUSY_POLL_US=N bench/proxy/run.sh  # the proxy's busy polling budget (default 100 µs)
#   CONTROL=1 bench/proxy/run.sh  # also a second nginx hop, identical to the first, measured
#                                 # in clown's place (right after the first) in each round:
#                                 # how far nginx's figures move against themselves on this
#                                 # machine in the same minutes
#   SLICES=N bench/proxy/run.sh   # each round's one-connection run of each path in N slices
#                                 # of DURATION/N seconds, the paths taking turns slice by
#                                 # slice (slices.py takes a path's slices as one run), and
#                                 # the 32-connection runs one slice long: a minute of the
#                                 # machine's stalls falls on every path alike
#
# claude-code-router (npm @musistudio/claude-code-router, CCR_VERSION, default 1.0.73, the
# newest 1.x the registry serves) is installed into bench/.ccr and measured as a fourth
# path: its `Anthropic` transformer alone passes requests and responses through, swapping
# the key, which is the same job as clown's proxy.
#
# The three paths are measured in turn, round after round, and each figure is the median
# of its rounds, so a burst of load from elsewhere on the machine hits all three alike.
#
# Needs nginx, wrk, python3 and curl (Debian: apt-get install -y nginx wrk python3 curl)
# and the release binary (built when missing). Everything listens on 127.0.0.1 only and
# is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
SLICES=${SLICES:-1}
if [ "$SLICES" -gt 1 ] && [ $((DURATION / SLICES)) -lt 1 ]; then
  echo "error: SLICES=$SLICES leaves less than a second per slice of DURATION=$DURATION" >&2; exit 1
fi
CLOWN=${CLOWN:-${CARGO_TARGET_DIR:-target}/release/clown}
for tool in nginx wrk python3 curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install -y nginx wrk python3 curl)" >&2; exit 1; }
done
[ -x "$CLOWN" ] || cargo build --release
CCR=${CCR:-1}
CCR_VERSION=${CCR_VERSION:-1.0.73}
CCR_BIN=$(realpath -m bench/.ccr/node_modules/.bin/ccr)
if [ "$CCR" = 1 ] && ! grep -qs "\"version\": \"$CCR_VERSION\"" bench/.ccr/node_modules/@musistudio/claude-code-router/package.json; then
  command -v npm >/dev/null || { echo "error: npm is needed for claude-code-router (or CCR=0)" >&2; exit 1; }
  echo "installing @musistudio/claude-code-router@$CCR_VERSION into bench/.ccr" >&2
  npm install --prefix bench/.ccr --no-audit --no-fund --no-save --silent "@musistudio/claude-code-router@$CCR_VERSION"
fi
CLOWN=$(realpath "$CLOWN")
BENCH=$(realpath bench/proxy)

WORK=$(mktemp -d)
pids=()
cleanup() {
  [ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for n in upstream hop hop2; do
    [ -f "$WORK/$n.pid" ] && kill -QUIT "$(cat "$WORK/$n.pid")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); HOP=$(free_port); SSE=$(free_port); SSE_HOP=$(free_port); API=$(free_port)
HOP2=$(free_port); SSE_HOP2=$(free_port)
RANGE_LO=$(( (API % 20000) + 40000 ))

# An nginx from a template: NAME TEMPLATE HOP-PORT SSE-HOP-PORT (its pid and logs under
# NAME, so one template serves two hops).
start_nginx() {
  sed -e "s#@DIR@/$2#@DIR@/$1#g" -e "s#@DIR@#$WORK#g" -e "s/@UPSTREAM@/$UP/g" -e "s/@HOP@/$3/g" \
      -e "s/@SSE@/$SSE/g" -e "s/@SSE_HOP@/$4/g" "$BENCH/$2.conf.in" > "$WORK/$1.conf"
  nginx -p "$WORK" -c "$WORK/$1.conf"
}
start_nginx upstream upstream "$HOP" "$SSE_HOP"
start_nginx hop hop "$HOP" "$SSE_HOP"
CONTROL=${CONTROL:-0}
if [ "$CONTROL" = 1 ]; then start_nginx hop2 hop "$HOP2" "$SSE_HOP2"; fi
python3 "$BENCH/sse_latency.py" serve "$SSE" & pids+=($!)

# The daemon, in a home of its own, with two proxied profiles.
mkdir -p "$WORK/home/.config/clown"
printf '[proxy]\nport_range = [%d, %d]\n' "$RANGE_LO" "$((RANGE_LO + 20))" > "$WORK/home/.config/clown/config.toml"
[ -n "${BUSY_POLL_US:-}" ] && echo "busy_poll_us = $BUSY_POLL_US" >> "$WORK/home/.config/clown/config.toml"
env -i HOME="$WORK/home" PATH="$PATH" CLOWN_LOG=warn "$CLOWN" daemon --listen "127.0.0.1:$API" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do [ -s "$WORK/home/.local/state/clown/token" ] && curl -sf -o /dev/null "http://127.0.0.1:$API/api/daemon/status" -H "Authorization: Bearer $(cat "$WORK/home/.local/state/clown/token")" && break; sleep 0.1; done
TOKEN=$(cat "$WORK/home/.local/state/clown/token")
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
INSPECTOR=""
[ -n "${KEEP:-}" ] && INSPECTOR=",\"inspector\":{\"keep\":$KEEP}"
for p in "bench $UP" "bench-sse $SSE"; do
  set -- $p
  api -o /dev/null "http://127.0.0.1:$API/api/profiles" -d "{\"agent_id\":\"claude\",\"alias\":\"$1\",\"provider_id\":\"anthropic\",\"api_key\":\"sk-ant-bench-0123456789abcdef\",\"base_url\":\"http://127.0.0.1:$2\",\"proxy\":{\"enabled\":true$INSPECTOR}}"
done
launch() { api -X POST "http://127.0.0.1:$API/api/profiles/$1/launch" | python3 -c "import json,sys; e=json.load(sys.stdin)['data']['env']; print(e['ANTHROPIC_BASE_URL'].rsplit(':',1)[1], e['ANTHROPIC_API_KEY'])"; }
read -r PROXY LOCAL < <(launch bench)
read -r PROXY_SSE LOCAL_SSE < <(launch bench-sse)

# claude-code-router: one instance per upstream (its config lives in $HOME), each with a
# local key of its own, in the foreground of a background job.
ccr_start() { # name upstream-port listen-port
  mkdir -p "$WORK/$1/.claude-code-router"
  cat > "$WORK/$1/.claude-code-router/config.json" <<JSON
{"LOG": false, "HOST": "127.0.0.1", "PORT": $3, "APIKEY": "ccr-local-token",
 "Providers": [{"name": "up", "api_base_url": "http://127.0.0.1:$2/v1/messages",
   "api_key": "sk-ant-bench-0123456789abcdef", "models": ["claude-sonnet-4"],
   "transformer": {"use": ["Anthropic"]}}],
 "Router": {"default": "up,claude-sonnet-4"}}
JSON
  (cd "$WORK" && exec env -i HOME="$WORK/$1" PATH="$PATH" "$CCR_BIN" start >"$WORK/$1.log" 2>&1) & pids+=($!)
  for _ in $(seq 100); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$3/v1/messages" -H 'x-api-key: ccr-local-token' \
      -H 'content-type: application/json' -d '{"model":"claude-sonnet-4","max_tokens":1,"messages":[{"role":"user","content":"up?"}]}' && return
    sleep 0.1
  done
  echo "error: claude-code-router did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
paths="direct nginx clown"
if [ "$CCR" = 1 ]; then
  CCR_PORT=$(free_port); CCR_SSE=$(free_port)
  ccr_start ccr "$UP" "$CCR_PORT"
  ccr_start ccr-sse "$SSE" "$CCR_SSE"
  paths="$paths ccr"
fi

# wrk: the 50% and 99% latency in µs (one connection), and requests/s (32 connections).
# The one-connection run also keeps each request's own latency (latency.lua): wrk's 99%
# counts, for every stall, the requests that would have been sent during it. It also
# counts the stalls (requests over 1 ms, and their time): the machine's, on every path.
# For clown, also the CPU time (user + system, from /proc/PID/stat) the proxy child and the
# daemon spent per request during the one-connection run: on a shared machine the CPU a
# request costs moves far less than its wall-clock latency.
. "$BENCH/wrk.sh"
ticks() { if [ -n "${1:-}" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; else echo 0; fi; }
TCK=$(getconf CLK_TCK)
run_wrk() { # name port key [proxy-pid daemon-pid]
  local warm one all p0 d0 p1 d1
  warm=$(BENCH_KEY=$3 wrk -t1 -c1 -d1s -s "$BENCH/post.lua" "http://127.0.0.1:$2")
  p0=$(ticks "${4:-}"); d0=$(ticks "${5:-}")
  one=$(BENCH_KEY=$3 wrk -t1 -c1 -d"${DURATION}s" --latency -s "$BENCH/latency.lua" "http://127.0.0.1:$2")
  p1=$(ticks "${4:-}"); d1=$(ticks "${5:-}")
  all=$(BENCH_KEY=$3 wrk -t2 -c32 -d"${DURATION}s" -s "$BENCH/post.lua" "http://127.0.0.1:$2")
  answered_ok "$1" "$one$all"
  local p50 p99 rps n n1 load raw
  p50=$(grep -E '^ +50%' <<<"$one" | us); p99=$(grep -E '^ +99%' <<<"$one" | us)
  raw=$(awk '/^raw / {print $3, $5, $11, $13}' <<<"$one")
  rps=$(awk '/Requests\/sec/ {print int($2)}' <<<"$all")
  n1=$(awk '/requests in/ {print $1}' <<<"$one")
  n=$(( $(awk '/requests in/ {print $1}' <<<"$warm") + n1 + $(awk '/requests in/ {print $1}' <<<"$all") ))
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "$1 $p50 $p99 $rps $n $(( (p1 - p0) * 1000000 / TCK / n1 )) $(( (d1 - d0) * 1000000 / TCK / n1 )) $load $raw"
}
PROXY_PID=$(pgrep -f " proxy --profile bench --port $PROXY( |$)" | head -1 || true)
# SERVE=FILE (ab.sh): write the ports and keys into FILE and keep everything running, without
# measuring, until the daemon is stopped (SIGTERM to this script stops all of it).
if [ -n "${SERVE:-}" ]; then
  printf 'UP=%s\nHOP=%s\nPROXY=%s\nLOCAL=%s\nPROXY_PID=%s\nDAEMON_PID=%s\n' \
    "$UP" "$HOP" "$PROXY" "$LOCAL" "$PROXY_PID" "$DAEMON_PID" > "$SERVE.tmp"
  mv "$SERVE.tmp" "$SERVE"
  # Waiting on the daemon itself: no process started every second beside the runs measured.
  trap 'exit 0' TERM INT
  wait "$DAEMON_PID" || true
  exit 0
fi
# SLICES=N: a round warms every path, then runs their one-connection slices in turn (the
# order rotating by one path each slice, so none always follows the same one), then each
# path's 32-connection run, one slice long. Each slice's histogram goes to slices.py, which
# gives the p50 and p99 wrk would print for a path's slices as one run (wrk's correction
# applied slice by slice), each request's own, and the stalls: the same line as run_wrk's.
# After a slice of clown's (and its 32-connection run), the next waits until clown has
# stored the usage (see settle): its bookkeeping never runs in another path's slice.
declare -A port=([direct]=$UP [nginx]=$HOP [nginx2]=${HOP2:-} [clown]=$PROXY [ccr]=${CCR_PORT:-})
declare -A key=([direct]=none [nginx]=none [nginx2]=none [clown]=$LOCAL [ccr]=ccr-local-token)
# Until the proxy and the daemon have been idle for 0.6 s together (their CPU time still;
# the proxy posts what it has at least every 0.5 s), at most 10 s.
settle() {
  local before now quiet=0
  before=$(( $(ticks "$PROXY_PID") + $(ticks "$DAEMON_PID") ))
  for _ in $(seq 50); do
    sleep 0.2
    now=$(( $(ticks "$PROXY_PID") + $(ticks "$DAEMON_PID") ))
    if [ "$now" = "$before" ]; then
      quiet=$((quiet + 1)); [ "$quiet" -ge 3 ] && return
    else
      quiet=0
    fi
    before=$now
  done
}
sliced_round() { # round path...
  local r=$1 k s i n turn all out p0 d0 p1 d1 rps load
  shift
  local order=("$@") pcpu=0 dcpu=0
  declare -A count=()
  for k in "${order[@]}"; do
    out=$(BENCH_KEY=${key[$k]} wrk -t1 -c1 -d1s -s "$BENCH/post.lua" "http://127.0.0.1:${port[$k]}")
    count[$k]=$(awk '/requests in/ {print $1}' <<<"$out")
  done
  for s in $(seq "$SLICES"); do
    for i in "${!order[@]}"; do
      k=${order[$(( (i + s) % ${#order[@]} ))]}
      [ "$k" = clown ] && { p0=$(ticks "$PROXY_PID"); d0=$(ticks "$DAEMON_PID"); }
      out=$(BENCH_KEY=${key[$k]} LATENCY_HIST="$WORK/slice.$k.$r.$s" wrk -t1 -c1 -d"$((DURATION / SLICES))s" -s "$BENCH/latency.lua" "http://127.0.0.1:${port[$k]}")
      [ "$k" = clown ] && { settle; p1=$(ticks "$PROXY_PID"); d1=$(ticks "$DAEMON_PID"); pcpu=$((pcpu + p1 - p0)); dcpu=$((dcpu + d1 - d0)); }
      answered_ok "$k" "$out"
    done
  done
  for k in "${order[@]}"; do
    all=$(BENCH_KEY=${key[$k]} wrk -t2 -c32 -d"$((DURATION / SLICES))s" -s "$BENCH/post.lua" "http://127.0.0.1:${port[$k]}")
    answered_ok "$k" "$all"
    # Its usage stored before the next round's first slice.
    [ "$k" = clown ] && settle
    rps=$(awk '/Requests\/sec/ {print int($2)}' <<<"$all")
    load=$(cut -d' ' -f1 /proc/loadavg)
    # P50 P99 RAW_P50 RAW_P99 MAX N STALLS MS
    read -r -a turn < <(python3 "$BENCH/slices.py" "$WORK"/slice."$k.$r".*)
    n=$(( count[$k] + turn[5] + $(awk '/requests in/ {print $1}' <<<"$all") ))
    if [ "$k" = clown ]; then
      echo "$k ${turn[0]} ${turn[1]} $rps $n $(( pcpu * 1000000 / TCK / turn[5] )) $(( dcpu * 1000000 / TCK / turn[5] )) $load ${turn[2]} ${turn[3]} ${turn[6]} ${turn[7]}"
    else
      echo "$k ${turn[0]} ${turn[1]} $rps $n 0 0 $load ${turn[2]} ${turn[3]} ${turn[6]} ${turn[7]}"
    fi
  done
}
order="direct nginx"
[ "$CONTROL" = 1 ] && order="$order nginx2"
order="$order clown"
[ "$CCR" = 1 ] && order="$order ccr"
results=$(
  for r in $(seq "$ROUNDS"); do
    if [ "$SLICES" -gt 1 ]; then
      sliced_round "$r" $order
      continue
    fi
    run_wrk direct "$UP" none
    run_wrk nginx "$HOP" none
    if [ "$CONTROL" = 1 ]; then run_wrk nginx2 "$HOP2" none; fi
    run_wrk clown "$PROXY" "$LOCAL" "$PROXY_PID" "$DAEMON_PID"
    if [ "$CCR" = 1 ]; then run_wrk ccr "$CCR_PORT" ccr-local-token; fi
  done
)
sse() { python3 "$BENCH/sse_latency.py" measure "127.0.0.1:$1" "$2" 10; }
sse_direct=$(sse "$SSE" none); sse_nginx=$(sse "$SSE_HOP" none); sse_clown=$(sse "$PROXY_SSE" "$LOCAL_SSE")
sse_ccr='{}'
if [ "$CCR" = 1 ]; then sse_ccr=$(sse "$CCR_SSE" ccr-local-token); fi

sleep 1
events=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from usage_events where profile='bench'\").fetchone()[0])" "$WORK/home/.local/share/clown/clown.db")
[ "$CONTROL" = 1 ] && paths="$paths nginx2"
[ "$SLICES" -gt 1 ] && echo "each one-connection run in $SLICES slices of $((DURATION / SLICES)) s, the paths taking turns; 32-connection runs of $((DURATION / SLICES)) s"
python3 - "$results" "$sse_direct" "$sse_nginx" "$sse_clown" "$events" "$DURATION" "$ROUNDS" "$sse_ccr" "$paths" <<'PY'
import json, statistics, sys
paths = sys.argv[9].split()
runs = {}
for line in sys.argv[1].splitlines():
    name, *v = line.split()
    runs.setdefault(name, []).append((float(v[0]), float(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]), float(v[6]), float(v[7]), float(v[8]), int(v[9]), float(v[10])))
rounds = len(runs["direct"])
med = statistics.median
# Added latency is taken within each round (path minus direct, measured a few seconds
# apart) and then the median over the rounds.
added = lambda k, i: med(runs[k][r][i] - runs["direct"][r][i] for r in range(rounds))
print(f"median of {sys.argv[7]} rounds; wrk {sys.argv[6]} s per run; latency over 1 connection, requests/s over 32 connections (2 threads)\n")
print("| path | p50 µs | p99 µs | added p50 µs | added p99 µs | requests/s |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for k in paths:
    p50, p99, rps = (med(r[i] for r in runs[k]) for i in range(3))
    a50 = "" if k == "direct" else f"{added(k, 0):.0f}"
    a99 = "" if k == "direct" else f"{added(k, 1):.0f}"
    print(f"| {k} | {p50:.0f} | {p99:.0f} | {a50} | {a99} | {int(rps)} |")
ratio99 = med(runs["clown"][r][1] / max(1, runs["nginx"][r][1]) for r in range(rounds))
ratio = med((runs["clown"][r][0] - runs["direct"][r][0]) / max(1, runs["nginx"][r][0] - runs["direct"][r][0]) for r in range(rounds))
tput = med(runs["clown"][r][2] / runs["nginx"][r][2] for r in range(rounds))
print(f"\nper round, clown's added p50 / nginx's: median {ratio:.2f}x; clown's p99 / nginx's: median {ratio99:.2f}x; clown's requests/s / nginx's: median {tput:.2f}")
for r in range(rounds):
    c, n, d = runs["clown"][r], runs["nginx"][r], runs["direct"][r]
    a50 = (c[0] - d[0]) / max(1, n[0] - d[0])
    a99 = f"{(c[1] - d[1]) / (n[1] - d[1]):.2f}x" if n[1] > d[1] else "n/a (nginx's p99 not above direct's)"
    print(f"round {r + 1}: clown/nginx added p50 {a50:.2f}x, p99 {c[1]:.0f}/{n[1]:.0f} µs = {c[1] / max(1, n[1]):.2f}x, "
          f"added p99 {a99}, requests/s {c[2] / n[2]:.2f}; CPU per request (1 connection): proxy {c[4]} µs, "
          f"daemon {c[5]} µs; load average {c[6]}")
if "ccr" in runs:
    lat = med((runs["ccr"][r][0] - runs["direct"][r][0]) / max(1, runs["clown"][r][0] - runs["direct"][r][0]) for r in range(rounds))
    rps = med(runs["clown"][r][2] / runs["ccr"][r][2] for r in range(rounds))
    print(f"per round, claude-code-router's added p50 / clown's: median {lat:.2f}x; clown's requests/s / claude-code-router's: median {rps:.2f}x")
if "nginx2" in runs:
    print("control, the second nginx hop over the first, per round: p99 " + ", ".join(
        f"{runs['nginx2'][r][1] / max(1, runs['nginx'][r][1]):.2f}x" for r in range(rounds))
        + "; requests/s " + ", ".join(f"{runs['nginx2'][r][2] / runs['nginx'][r][2]:.2f}" for r in range(rounds)))
raw99 = med(runs["clown"][r][8] / max(1, runs["nginx"][r][8]) for r in range(rounds))
print(f"each request's own latency (wrk's p99 adds the requests a stall held back): clown's p99 / nginx's: median {raw99:.2f}x, per round "
      + ", ".join(f"{runs['clown'][r][8]:.0f}/{runs['nginx'][r][8]:.0f} µs" for r in range(rounds))
      + "; p50 / p99 µs per round: " + "; ".join(
          f"{k} " + ", ".join(f"{r[7]:.0f}/{r[8]:.0f}" for r in runs[k]) for k in paths))
print("stalls, one-connection requests over 1 ms (how many / ms in all; wrk's p99 rises once they near 1 % of the run) per round: "
      + "; ".join(f"{k} " + ", ".join(f"{r[9]}/{r[10]:.1f}" for r in runs[k]) for k in paths))
print("per round (p50 µs / p99 µs / requests/s): " + "; ".join(
    f"{k} " + ", ".join(f"{r[0]:.0f}/{r[1]:.0f}/{r[2]}" for r in runs[k]) for k in paths))
total = sum(r[3] for r in runs["clown"])
print(f"usage events recorded through clown: {sys.argv[5]}, for {total} requests wrk counted as completed\n")
print("| SSE event to agent | events | p50 µs | p99 µs | max µs |")
print("| --- | ---: | ---: | ---: | ---: |")
for name, raw in [("direct", sys.argv[2]), ("nginx", sys.argv[3]), ("clown", sys.argv[4]), ("ccr", sys.argv[8])]:
    s = json.loads(raw)
    if not s:
        continue
    print(f"| {name} | {s['events']} | {s['p50_us']} | {s['p99_us']} | {s['max_us']} |")
PY

# STALLS=1: a scheduling trace of one more one-connection run through nginx's hop and through
# clown (perf sched, DURATION seconds inside a longer wrk run): which task had the CPU when
# wrk, the upstream or the hop waited 0.5 ms or more to run (stalls.py). Needs perf
# (Debian: linux-perf); the trace itself takes CPU, so it runs after every figure above
# (and its requests are not in the usage count).
if [ "${STALLS:-0}" = 1 ]; then
  for p in "nginx $HOP none" "clown $PROXY $LOCAL"; do
    set -- $p
    BENCH_KEY=$3 wrk -t1 -c1 -d"$((DURATION + 3))s" -s "$BENCH/post.lua" "http://127.0.0.1:$2" > /dev/null &
    wrk_pid=$!
    sleep 1
    perf sched record -o "$WORK/sched.data" -- sleep "$DURATION" > /dev/null 2>&1
    wait "$wrk_pid"
    echo "$1: $(perf sched timehist -i "$WORK/sched.data" 2>/dev/null | python3 "$BENCH/stalls.py")"
  done
fi
