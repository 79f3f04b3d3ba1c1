#!/usr/bin/env bash
# A pool of five keys where one starts answering 429: no request may fail, and the switch
# to the next key should cost under 5 ms. See bench/README.md ("Key pool failover").
#
#   bench/proxy/pool.sh           # RETRY=1 (the refusing key's retry-after, seconds)
#   SWITCHES=200 BASE=20 CONC=8 PER=800 bench/proxy/pool.sh   # the defaults of pool_bench.py
#
# Prints the switch cost's p50, p99 and maximum over all SWITCHES switches (one connection),
# then the same under load (CONC connections); see pool_bench.py for what is timed.
#
# Needs nginx, python3 and curl, and the release binary (built when missing). Everything
# listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
RETRY=${RETRY:-1}
CLOWN=${CLOWN:-${CARGO_TARGET_DIR:-target}/release/clown}
for tool in nginx python3 curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed (apt-get install -y nginx python3 curl)" >&2; exit 1; }
done
[ -x "$CLOWN" ] || cargo build --release
CLOWN=$(realpath "$CLOWN")
BENCH=$(realpath bench/proxy)
OUT=bench/out/pool
mkdir -p "$OUT"

WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx's workers (not root) look for the limit flag in it
cleanup() {
  [ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null || true
  [ -f "$WORK/pool-upstream.pid" ] && kill -QUIT "$(cat "$WORK/pool-upstream.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ports=(); for i in 1 2 3 4 5; do ports+=("$(free_port)"); done
API=$(free_port)
RANGE_LO=$(( (API % 20000) + 40000 ))
sed -e "s#@DIR@#$WORK#g" -e "s/@RETRY@/$RETRY/g" -e "s/@PORT1@/${ports[0]}/" -e "s/@PORT2@/${ports[1]}/" \
    -e "s/@PORT3@/${ports[2]}/" -e "s/@PORT4@/${ports[3]}/" -e "s/@PORT5@/${ports[4]}/" \
    "$BENCH/pool_upstream.conf.in" > "$WORK/pool-upstream.conf"
nginx -p "$WORK" -c "$WORK/pool-upstream.conf"

mkdir -p "$WORK/home/.config/clown"
printf '[proxy]\nport_range = [%d, %d]\n' "$RANGE_LO" "$((RANGE_LO + 20))" > "$WORK/home/.config/clown/config.toml"
env -i HOME="$WORK/home" PATH="$PATH" CLOWN_LOG=warn "$CLOWN" daemon --listen "127.0.0.1:$API" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do [ -s "$WORK/home/.local/state/clown/token" ] && curl -sf -o /dev/null "http://127.0.0.1:$API/api/daemon/status" -H "Authorization: Bearer $(cat "$WORK/home/.local/state/clown/token")" && break; sleep 0.1; done
TOKEN=$(cat "$WORK/home/.local/state/clown/token")
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
api -o /dev/null "http://127.0.0.1:$API/api/profiles" -d "{\"agent_id\":\"claude\",\"alias\":\"pool\",\"provider_id\":\"anthropic\",\"api_key\":\"sk-ant-bench-key1-0123456789abcdef\",\"base_url\":\"http://127.0.0.1:${ports[0]}\",\"proxy\":{\"enabled\":true,\"inspector\":{\"keep\":10000}}}"
for i in 2 3 4 5; do
  api -o /dev/null "http://127.0.0.1:$API/api/profiles/pool/keys" -d "{\"label\":\"key$i\",\"secret\":\"sk-ant-bench-key$i-0123456789abcdef\",\"base_url\":\"http://127.0.0.1:${ports[$((i-1))]}\"}"
done
read -r PROXY LOCAL < <(api -X POST "http://127.0.0.1:$API/api/profiles/pool/launch" | python3 -c "import json,sys; e=json.load(sys.stdin)['data']['env']; print(e['ANTHROPIC_BASE_URL'].rsplit(':',1)[1], e['ANTHROPIC_API_KEY'])")
echo "pool of 5 keys (retry-after $RETRY s on the refusing key), clown $(git rev-parse --short HEAD)" >&2
python3 "$BENCH/pool_bench.py" "$PROXY" "$LOCAL" "$WORK" "http://127.0.0.1:$API" "$TOKEN" pool | tee "$OUT/result.json"
api "http://127.0.0.1:$API/api/proxy/status/pool" > "$OUT/status.json"
