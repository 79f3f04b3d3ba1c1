#!/usr/bin/env bash
# Usage under sustained load: 32 connections through the bench proxy for DURATION seconds
# (every CPU busy), then how many of the requests' usage events the daemon stored, how
# long after the load ended the last one was stored, and how many events the proxy
# logged as dropped (its queue full). Every request must have its event.
#
#   bench/proxy/saturate.sh [BINARY ...]     # DURATION=20 seconds; default: the release build
#
# Needs what run.sh needs. One line per binary, each with a setup of its own (run.sh's,
# SERVE mode).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-20}
[ $# -ge 1 ] || set -- "${CARGO_TARGET_DIR:-target}/release/clown"
BENCH=$(realpath bench/proxy)
. "$BENCH/serve.sh"
i=0
for bin in "$@"; do
  bin=$(realpath "$bin")
  i=$((i + 1))
  serve "b$i" "$bin"; ready "b$i"
  PROXY=$(served "b$i" PROXY); LOCAL=$(served "b$i" LOCAL); DAEMON_PID=$(served "b$i" DAEMON_PID)
  HOME_DIR=$(tr '\0' '\n' < "/proc/$DAEMON_PID/environ" | sed -n 's/^HOME=//p')
  out=$(BENCH_KEY=$LOCAL wrk -t2 -c32 -d"${DURATION}s" -s "$BENCH/post.lua" "http://127.0.0.1:$PROXY")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  ended=$(date +%s.%N)
  stored() { python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from usage_events where profile = 'bench'\").fetchone()[0])" "$HOME_DIR/.local/share/clown/clown.db"; }
  # Until every request counted has its event, for at most two minutes.
  for _ in $(seq 240); do e=$(stored); [ "$e" -ge "$n" ] && break; sleep 0.5; done
  after=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$ended")
  dropped=$(cat "$HOME_DIR"/.local/state/clown/proxy/* 2>/dev/null | grep -c "an event was dropped" || true)
  echo "$(basename "$bin"): $(awk '/Requests\/sec/ {print int($2)}' <<<"$out") requests/s, $n requests, $e events stored ($after s after the load), $dropped dropped"
  unserve "b$i"
done
