#!/usr/bin/env bash
# What usage accounting costs the proxy: while bench/proxy/run.sh is running (e.g.
# `CCR=0 ROUNDS=1 DURATION=30 bench/proxy/run.sh &`, then this after a few seconds), starts
# a second `clown proxy` with the bench profile's plan minus the daemon URL (so it reports
# nothing) and alternates `wrk -t1 -c1` between the two children. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLOWN=${CLOWN:-${CARGO_TARGET_DIR:-target}/release/clown}
P=$(pgrep -f "clown proxy --profile bench " | head -1)
PLAN=$(tr '\0' '\n' < "/proc/$P/environ" | sed -n 's/^CLOWN_PROXY_PLAN=//p')
PORT=$(tr '\0' ' ' < "/proc/$P/cmdline" | awk '{for (i = 1; i <= NF; i++) if ($i == "--port") print $(i + 1)}')
NEW=$(python3 -c "import json,sys; p=json.loads(sys.argv[1]); p.update(daemon_url=None, daemon_token=None, exit_on_stdin_eof=False); print(json.dumps(p))" "$PLAN")
LOCAL=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['local_token'])" "$PLAN")
SPARE=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env -i CLOWN_PROXY_PLAN="$NEW" PATH=/usr/bin:/bin "$CLOWN" proxy --profile bench --port "$SPARE" >/dev/null 2>&1 &
NP=$!
trap 'kill $NP' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$SPARE/health" && break; sleep 0.1; done
for _ in 1 2; do
  for port in "$PORT" "$SPARE"; do
    [ "$port" = "$PORT" ] && echo "with reporting:" || echo "without reporting:"
    BENCH_KEY=$LOCAL wrk -t1 -c1 -d5s --latency -s bench/proxy/post.lua "http://127.0.0.1:$port" | grep -E '^ +(50|99)%|Requests/sec'
  done
done
