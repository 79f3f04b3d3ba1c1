#!/usr/bin/env bash
# Claude Code's Messages over Chat Completions, streamed: what clown's proxy adds to a
# request it translates, beside claude-code-router doing the same translation, in one
# run. See bench/README.md ("Messages over Chat Completions").
#
#   bench/proxy/translate.sh          # ROUNDS=3 rounds of DURATION=5 seconds per wrk run
#
# The request is a Claude Code-shaped Messages body (bench/proxy/claude_body.py, 47 KB,
# streamed). Three paths, in turn, round after round:
#   direct  the same body straight to the upstream's /v1/chat/completions (the floor);
#   clown   a Claude Code profile on deepseek-openai through its proxy;
#   ccr     claude-code-router (CCR_VERSION, default 1.0.73) with a provider on the same
#           upstream and its `deepseek` transformer.
# Upstreams: nginx answering a fixed streamed completion (wrk: latency over one
# connection, requests/s over 32), and chat_sse.py streaming 20 time-stamped tokens
# (time to first token, and per token, 30 requests per path).
#
# Needs nginx, wrk, python3, curl and npm (Debian: apt-get install -y nginx wrk python3
# curl npm) and the release binary (built when missing). Everything listens on 127.0.0.1
# only and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
SSE_REQUESTS=${SSE_REQUESTS:-30}
CLOWN=${CLOWN:-${CARGO_TARGET_DIR:-target}/release/clown}
for tool in nginx wrk python3 curl npm; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install -y nginx wrk python3 curl npm)" >&2; exit 1; }
done
[ -x "$CLOWN" ] || cargo build --release
CCR_VERSION=${CCR_VERSION:-1.0.73}
CCR_BIN=$(realpath -m bench/.ccr/node_modules/.bin/ccr)
if ! grep -qs "\"version\": \"$CCR_VERSION\"" bench/.ccr/node_modules/@musistudio/claude-code-router/package.json; then
  echo "installing @musistudio/claude-code-router@$CCR_VERSION into bench/.ccr" >&2
  npm install --prefix bench/.ccr --no-audit --no-fund --no-save --silent "@musistudio/claude-code-router@$CCR_VERSION"
fi
CLOWN=$(realpath "$CLOWN")
BENCH=$(realpath bench/proxy)
KEY=sk-deepseek-bench-0123456789abcdef

WORK=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    for f in "$WORK"/ccr.log "$WORK"/ccr-sse.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  fi
  [ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/chat-upstream.pid" ] && kill -QUIT "$(cat "$WORK/chat-upstream.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); SSE=$(free_port); API=$(free_port)
RANGE_LO=$(( (API % 20000) + 40000 ))
python3 "$BENCH/claude_body.py" "$WORK/body.json" deepseek-chat

sed -e "s#@DIR@#$WORK#g" -e "s/@UPSTREAM@/$UP/g" "$BENCH/chat_upstream.conf.in" > "$WORK/chat-upstream.conf"
nginx -p "$WORK" -c "$WORK/chat-upstream.conf"
python3 "$BENCH/chat_sse.py" serve "$SSE" & pids+=($!)

# The daemon, in a home of its own, with a Claude Code profile per upstream.
mkdir -p "$WORK/home/.config/clown"
printf '[proxy]\nport_range = [%d, %d]\n' "$RANGE_LO" "$((RANGE_LO + 20))" > "$WORK/home/.config/clown/config.toml"
env -i HOME="$WORK/home" PATH="$PATH" CLOWN_LOG=warn "$CLOWN" daemon --listen "127.0.0.1:$API" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do [ -s "$WORK/home/.local/state/clown/token" ] && curl -sf -o /dev/null "http://127.0.0.1:$API/api/daemon/status" -H "Authorization: Bearer $(cat "$WORK/home/.local/state/clown/token")" && break; sleep 0.1; done
TOKEN=$(cat "$WORK/home/.local/state/clown/token")
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
for p in "bench $UP" "bench-sse $SSE"; do
  set -- $p
  api -o /dev/null "http://127.0.0.1:$API/api/profiles" -d "{\"agent_id\":\"claude\",\"alias\":\"$1\",\"provider_id\":\"deepseek-openai\",\"model\":\"deepseek-chat\",\"api_key\":\"$KEY\",\"base_url\":\"http://127.0.0.1:$2/v1\"}"
done
launch() { api -X POST "http://127.0.0.1:$API/api/profiles/$1/launch" | python3 -c "import json,sys; e=json.load(sys.stdin)['data']['env']; print(e['ANTHROPIC_BASE_URL'].rsplit(':',1)[1], e['ANTHROPIC_API_KEY'])"; }
read -r PROXY LOCAL < <(launch bench)
read -r PROXY_SSE LOCAL_SSE < <(launch bench-sse)

# claude-code-router: one instance per upstream (its config lives in $HOME), logging off,
# with ccr-guard.js preloaded: 1.0.73's handler of a request's unhandled error calls a
# logger it does not have and so ends the process, which under 32 connections happens
# within seconds; the guard lets the handler fail without taking the process down.
ccr_start() { # name upstream-port listen-port
  mkdir -p "$WORK/$1/.claude-code-router"
  cat > "$WORK/$1/.claude-code-router/config.json" <<JSON
{"LOG": false, "HOST": "127.0.0.1", "PORT": $3, "APIKEY": "ccr-local-token",
 "Providers": [{"name": "ds", "api_base_url": "http://127.0.0.1:$2/v1/chat/completions",
   "api_key": "$KEY", "models": ["deepseek-chat"], "transformer": {"use": ["deepseek"]}}],
 "Router": {"default": "ds,deepseek-chat"}}
JSON
  (cd "$WORK" && exec env -i HOME="$WORK/$1" PATH="$PATH" NODE_OPTIONS="--require $BENCH/ccr-guard.js" \
    "$CCR_BIN" start >"$WORK/$1.log" 2>&1) & pids+=($!)
  for _ in $(seq 100); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$3/v1/messages" -H 'x-api-key: ccr-local-token' \
      -H 'content-type: application/json' -d '{"model":"deepseek-chat","max_tokens":1,"messages":[{"role":"user","content":"up?"}]}' && return
    sleep 0.1
  done
  echo "error: claude-code-router did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
CCR_PORT=$(free_port); CCR_SSE=$(free_port)
ccr_start ccr "$UP" "$CCR_PORT"
ccr_start ccr-sse "$SSE" "$CCR_SSE"

# Every path must answer the translated stream before anything is measured.
check() { # name port key path
  local out
  out=$(curl -sS -N -m 10 "http://127.0.0.1:$2$4" -H "x-api-key: $3" -H 'content-type: application/json' \
    -H 'anthropic-version: 2023-06-01' --data-binary "@$WORK/body.json")
  case "$1" in
    direct) grep -q 'data: \[DONE\]' <<<"$out" ;;
    *) grep -q 'event: message_stop' <<<"$out" && grep -q '"text_delta"' <<<"$out" ;;
  esac || { echo "error: $1 did not answer a stream:" >&2; head -c 2000 <<<"$out" >&2; exit 1; }
}
check direct "$UP" none /v1/chat/completions
check clown "$PROXY" "$LOCAL" /v1/messages
check ccr "$CCR_PORT" ccr-local-token /v1/messages

. "$BENCH/wrk.sh"
run_wrk() { # name port key path
  local one all
  BENCH_BODY="$WORK/body.json" BENCH_PATH=$4 BENCH_KEY=$3 wrk -t1 -c1 -d1s -s "$BENCH/messages.lua" "http://127.0.0.1:$2" >/dev/null
  one=$(BENCH_BODY="$WORK/body.json" BENCH_PATH=$4 BENCH_KEY=$3 wrk -t1 -c1 -d"${DURATION}s" --timeout 30s --latency -s "$BENCH/messages.lua" "http://127.0.0.1:$2")
  all=$(BENCH_BODY="$WORK/body.json" BENCH_PATH=$4 BENCH_KEY=$3 wrk -t2 -c32 -d"${DURATION}s" --timeout 30s -s "$BENCH/messages.lua" "http://127.0.0.1:$2")
  if grep -q "Non-2xx\|Socket errors" <<<"$one$all"; then echo "error: $1 answered errors:" >&2; echo "$one$all" >&2; exit 1; fi
  local p50 p99 rps
  p50=$(grep -E '^ +50%' <<<"$one" | us); p99=$(grep -E '^ +99%' <<<"$one" | us)
  rps=$(awk '/Requests\/sec/ {print int($2)}' <<<"$all")
  echo "$1 $p50 $p99 $rps"
}
load() { awk '{print $1}' /proc/loadavg; }
results=$(
  for _ in $(seq "$ROUNDS"); do
    echo "load $(load) 0 0"
    run_wrk direct "$UP" none /v1/chat/completions
    run_wrk clown "$PROXY" "$LOCAL" /v1/messages
    run_wrk ccr "$CCR_PORT" ccr-local-token /v1/messages
  done
)
sse() { python3 "$BENCH/chat_sse.py" measure "127.0.0.1:$1" "$2" "$SSE_REQUESTS" "$WORK/body.json" "$3"; }
sse_direct=$(sse "$SSE" none /v1/chat/completions)
sse_clown=$(sse "$PROXY_SSE" "$LOCAL_SSE" /v1/messages)
sse_ccr=$(sse "$CCR_SSE" ccr-local-token /v1/messages)

sleep 1
guarded=$(cat "$WORK"/ccr.log "$WORK"/ccr-sse.log | grep -c "^ccr-guard:" || true)
echo "claude-code-router errors its own handler would have exited on: $guarded"
events=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*), coalesce(sum(cache_read_input_tokens),0) from usage_events where profile='bench'\").fetchone())" "$WORK/home/.local/share/clown/clown.db")
python3 - "$results" "$sse_direct" "$sse_clown" "$sse_ccr" "$events" "$DURATION" "$ROUNDS" "$(wc -c <"$WORK/body.json")" <<'PY'
import json, statistics, sys
runs, loads = {}, []
for line in sys.argv[1].splitlines():
    name, *v = line.split()
    if name == "load":
        loads.append(v[0])
        continue
    runs.setdefault(name, []).append((float(v[0]), float(v[1]), int(v[2])))
rounds = len(runs["direct"])
med = statistics.median
added = lambda k, i: med(runs[k][r][i] - runs["direct"][r][i] for r in range(rounds))
print(f"median of {sys.argv[7]} rounds; wrk {sys.argv[6]} s per run; a {sys.argv[8]}-byte streamed Messages body;"
      f" latency over 1 connection, requests/s over 32 connections (2 threads); load average at each round's start: {', '.join(loads)}\n")
print("| path | p50 µs | p99 µs | added p50 µs | added p99 µs | requests/s |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for k in ["direct", "clown", "ccr"]:
    p50, p99, rps = (med(r[i] for r in runs[k]) for i in range(3))
    a50 = "" if k == "direct" else f"{added(k, 0):.0f}"
    a99 = "" if k == "direct" else f"{added(k, 1):.0f}"
    print(f"| {k} | {p50:.0f} | {p99:.0f} | {a50} | {a99} | {int(rps)} |")
lat = med((runs["clown"][r][0] - runs["direct"][r][0]) / max(1, runs["ccr"][r][0] - runs["direct"][r][0]) for r in range(rounds))
rps = med(runs["clown"][r][2] / runs["ccr"][r][2] for r in range(rounds))
print(f"\nper round, clown's added p50 / claude-code-router's: median {lat:.3f} (goal: at most 0.2); "
      f"clown's requests/s / claude-code-router's: median {rps:.1f}x (goal: at least 10x)")
print("per round (p50 µs / p99 µs / requests/s): " + "; ".join(
    f"{k} " + ", ".join(f"{r[0]:.0f}/{r[1]:.0f}/{r[2]}" for r in runs[k]) for k in ["direct", "clown", "ccr"]))
print(f"usage events recorded through clown (count, cached tokens): {sys.argv[5]}\n")
d = json.loads(sys.argv[2])
print("| streamed tokens | time to first token p50 µs | p99 µs | added p50 µs | per token p50 µs | p99 µs | max µs |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, raw in [("direct", sys.argv[2]), ("clown", sys.argv[3]), ("ccr", sys.argv[4])]:
    s = json.loads(raw)
    add = "" if name == "direct" else f"{s['ttft_p50_us'] - d['ttft_p50_us']:.0f}"
    print(f"| {name} | {s['ttft_p50_us']:.0f} | {s['ttft_p99_us']:.0f} | {add} | {s['token_p50_us']:.0f} | {s['token_p99_us']:.0f} | {s['token_max_us']:.0f} |")
PY
