#!/usr/bin/env bash
# What usage accounting costs the proxy: while bench/proxy/run.sh is running (e.g.
# `CCR=0 ROUNDS=1 DURATION=30 bench/proxy/run.sh &`, then this after a few seconds), starts
# a second `clown proxy` with the bench profile's plan minus the daemon URL (so it reports
# nothing; without `exit_on_stdin_eof` it outlives the pipe that handed it the plan) and
# alternates `wrk -t1 -c1` between the two children. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLOWN=${CLOWN:-${CARGO_TARGET_DIR:-target}/release/clown}
# The child's plan is out of reach (a pipe, a non-dumpable process), so the plan is
# rebuilt here from the bench daemon's API: its home is in the daemon's environment.
D=$(pgrep -f "clown daemon --listen 127.0.0.1:" | head -1)
HOME_DIR=$(tr '\0' '\n' < "/proc/$D/environ" | sed -n 's/^HOME=//p')
API=$(tr '\0' ' ' < "/proc/$D/cmdline" | sed -n 's/.*--listen 127.0.0.1:\([0-9]*\).*/\1/p')
TOKEN=$(cat "$HOME_DIR/.local/state/clown/token")
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
P=$(pgrep -f "clown proxy --profile bench " | head -1)
PORT=$(tr '\0' ' ' < "/proc/$P/cmdline" | awk '{for (i = 1; i <= NF; i++) if ($i == "--port") print $(i + 1)}')
LAUNCH=$(api -X POST "http://127.0.0.1:$API/api/profiles/bench/launch")
PROFILE=$(api "http://127.0.0.1:$API/api/profiles/bench")
LOCAL=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['data']['env']['ANTHROPIC_API_KEY'])" "$LAUNCH")
NEW=$(python3 -c "
import json,sys
p=json.loads(sys.argv[1])['data']
print(json.dumps({'profile': 'bench', 'agent': 'claude', 'local_token': sys.argv[2],
  'targets': [{'provider': 'anthropic', 'protocol': 'anthropic', 'base_url': p['endpoint_url'],
               'auth_scheme': 'x-api-key', 'key': 'sk-ant-bench-0123456789abcdef'}],
  'timeouts': {'connect_ms': 10000, 'response_ms': 600000, 'idle_ms': 300000}}))" "$PROFILE" "$LOCAL")
SPARE=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '%s\n' "$NEW" | env -i PATH=/usr/bin:/bin "$CLOWN" proxy --profile bench --port "$SPARE" >/dev/null 2>&1 &
NP=$!
trap 'kill $NP' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$SPARE/health" && break; sleep 0.1; done
for _ in 1 2; do
  for port in "$PORT" "$SPARE"; do
    [ "$port" = "$PORT" ] && echo "with reporting:" || echo "without reporting:"
    BENCH_KEY=$LOCAL wrk -t1 -c1 -d5s --latency -s bench/proxy/post.lua "http://127.0.0.1:$port" | grep -E '^ +(50|99)%|Requests/sec'
  done
done
