#!/usr/bin/env bash
# Added latency and throughput of clown's proxy, in one run, against a direct request
# to a fast fixed-reply upstream (nginx) and a plain nginx reverse-proxy hop; and the
# time from an upstream SSE event to the agent. See bench/README.md ("Proxy").
#
#   bench/proxy/run.sh            # ROUNDS=3 rounds of DURATION=5 seconds per wrk run
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
CLOWN=${CLOWN:-${CARGO_TARGET_DIR:-target}/release/clown}
for tool in nginx wrk python3 curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install -y nginx wrk python3 curl)" >&2; exit 1; }
done
[ -x "$CLOWN" ] || cargo build --release
CLOWN=$(realpath "$CLOWN")
BENCH=$(realpath bench/proxy)

WORK=$(mktemp -d)
pids=()
cleanup() {
  [ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for n in upstream hop; do
    [ -f "$WORK/$n.pid" ] && kill -QUIT "$(cat "$WORK/$n.pid")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); HOP=$(free_port); SSE=$(free_port); SSE_HOP=$(free_port); API=$(free_port)
RANGE_LO=$(( (API % 20000) + 40000 ))

for n in upstream hop; do
  sed -e "s#@DIR@#$WORK#g" -e "s/@UPSTREAM@/$UP/g" -e "s/@HOP@/$HOP/g" \
      -e "s/@SSE@/$SSE/g" -e "s/@SSE_HOP@/$SSE_HOP/g" "$BENCH/$n.conf.in" > "$WORK/$n.conf"
  nginx -p "$WORK" -c "$WORK/$n.conf"
done
python3 "$BENCH/sse_latency.py" serve "$SSE" & pids+=($!)

# The daemon, in a home of its own, with two proxied profiles.
mkdir -p "$WORK/home/.config/clown"
printf '[proxy]\nport_range = [%d, %d]\n' "$RANGE_LO" "$((RANGE_LO + 20))" > "$WORK/home/.config/clown/config.toml"
env -i HOME="$WORK/home" PATH="$PATH" CLOWN_LOG=warn "$CLOWN" daemon --listen "127.0.0.1:$API" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do [ -s "$WORK/home/.local/state/clown/token" ] && curl -sf -o /dev/null "http://127.0.0.1:$API/api/daemon/status" -H "Authorization: Bearer $(cat "$WORK/home/.local/state/clown/token")" && break; sleep 0.1; done
TOKEN=$(cat "$WORK/home/.local/state/clown/token")
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
for p in "bench $UP" "bench-sse $SSE"; do
  set -- $p
  api -o /dev/null "http://127.0.0.1:$API/api/profiles" -d "{\"agent_id\":\"claude\",\"alias\":\"$1\",\"provider_id\":\"anthropic\",\"api_key\":\"sk-ant-bench-0123456789abcdef\",\"base_url\":\"http://127.0.0.1:$2\",\"proxy\":{\"enabled\":true}}"
done
launch() { api -X POST "http://127.0.0.1:$API/api/profiles/$1/launch" | python3 -c "import json,sys; e=json.load(sys.stdin)['data']['env']; print(e['ANTHROPIC_BASE_URL'].rsplit(':',1)[1], e['ANTHROPIC_API_KEY'])"; }
read -r PROXY LOCAL < <(launch bench)
read -r PROXY_SSE LOCAL_SSE < <(launch bench-sse)

# wrk: the 50% and 99% latency in µs (one connection), and requests/s (32 connections).
us() { awk '{v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000}}'; }
run_wrk() { # name port key
  local warm one all
  warm=$(BENCH_KEY=$3 wrk -t1 -c1 -d1s -s "$BENCH/post.lua" "http://127.0.0.1:$2")
  one=$(BENCH_KEY=$3 wrk -t1 -c1 -d"${DURATION}s" --latency -s "$BENCH/post.lua" "http://127.0.0.1:$2")
  all=$(BENCH_KEY=$3 wrk -t2 -c32 -d"${DURATION}s" -s "$BENCH/post.lua" "http://127.0.0.1:$2")
  if grep -q "Non-2xx" <<<"$one$all"; then echo "error: $1 answered errors:" >&2; echo "$one$all" >&2; exit 1; fi
  local p50 p99 rps n
  p50=$(grep -E '^ +50%' <<<"$one" | us); p99=$(grep -E '^ +99%' <<<"$one" | us)
  rps=$(awk '/Requests\/sec/ {print int($2)}' <<<"$all")
  n=$(( $(awk '/requests in/ {print $1}' <<<"$warm") + $(awk '/requests in/ {print $1}' <<<"$one") + $(awk '/requests in/ {print $1}' <<<"$all") ))
  echo "$1 $p50 $p99 $rps $n"
}
results=$(
  for _ in $(seq "$ROUNDS"); do
    run_wrk direct "$UP" none
    run_wrk nginx "$HOP" none
    run_wrk clown "$PROXY" "$LOCAL"
  done
)
sse() { python3 "$BENCH/sse_latency.py" measure "127.0.0.1:$1" "$2" 10; }
sse_direct=$(sse "$SSE" none); sse_nginx=$(sse "$SSE_HOP" none); sse_clown=$(sse "$PROXY_SSE" "$LOCAL_SSE")

sleep 1
events=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from usage_events where profile='bench'\").fetchone()[0])" "$WORK/home/.local/share/clown/clown.db")
python3 - "$results" "$sse_direct" "$sse_nginx" "$sse_clown" "$events" "$DURATION" "$ROUNDS" <<'PY'
import json, statistics, sys
runs = {}
for line in sys.argv[1].splitlines():
    name, *v = line.split()
    runs.setdefault(name, []).append((float(v[0]), float(v[1]), int(v[2]), int(v[3])))
rounds = len(runs["direct"])
med = statistics.median
# Added latency is taken within each round (path minus direct, measured a few seconds
# apart) and then the median over the rounds.
added = lambda k, i: med(runs[k][r][i] - runs["direct"][r][i] for r in range(rounds))
print(f"median of {sys.argv[7]} rounds; wrk {sys.argv[6]} s per run; latency over 1 connection, requests/s over 32 connections (2 threads)\n")
print("| path | p50 µs | p99 µs | added p50 µs | added p99 µs | requests/s |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for k in ["direct", "nginx", "clown"]:
    p50, p99, rps = (med(r[i] for r in runs[k]) for i in range(3))
    a50 = "" if k == "direct" else f"{added(k, 0):.0f}"
    a99 = "" if k == "direct" else f"{added(k, 1):.0f}"
    print(f"| {k} | {p50:.0f} | {p99:.0f} | {a50} | {a99} | {int(rps)} |")
ratio = med((runs["clown"][r][0] - runs["direct"][r][0]) / max(1, runs["nginx"][r][0] - runs["direct"][r][0]) for r in range(rounds))
tput = med(runs["clown"][r][2] / runs["nginx"][r][2] for r in range(rounds))
print(f"\nper round, clown's added p50 / nginx's: median {ratio:.2f}x; clown's requests/s / nginx's: median {tput:.2f}")
print("per round (p50 µs / p99 µs / requests/s): " + "; ".join(
    f"{k} " + ", ".join(f"{r[0]:.0f}/{r[1]:.0f}/{r[2]}" for r in runs[k]) for k in ["direct", "nginx", "clown"]))
total = sum(r[3] for r in runs["clown"])
print(f"usage events recorded through clown: {sys.argv[5]}, for {total} requests wrk counted as completed\n")
print("| SSE event to agent | events | p50 µs | p99 µs | max µs |")
print("| --- | ---: | ---: | ---: | ---: |")
for name, raw in [("direct", sys.argv[2]), ("nginx", sys.argv[3]), ("clown", sys.argv[4])]:
    s = json.loads(raw)
    print(f"| {name} | {s['events']} | {s['p50_us']} | {s['p99_us']} | {s['max_us']} |")
PY
