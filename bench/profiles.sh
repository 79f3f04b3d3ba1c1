#!/usr/bin/env bash
# Profiles and agent detection (issue 3, "Measure"): GET /api/agents for the whole
# catalogue, cold (detection runs every agent's --version) and warm (cached for 2 s);
# 1,000 profiles created through POST /api/profiles; wrk on the authenticated
# GET /api/profiles. See bench/README.md.
#
#   bench/profiles.sh
#   PROFILES=1000 WRK_DURATION=10s WRK_CONFIGS="1:16 2:64" bench/profiles.sh
#
# The real Claude Code and Codex CLI are detected from $AGENT_PATH (default: the folder
# the test preparation installs them in, .deps/node_modules/.bin). Other settings:
# AGENT_RUNS (cold detections after the first, default 10), QUIET_WAIT, QUIET_IDLE
# (see bench/clown_bench.py), OUT (default bench/out).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_pkg wrk wrk
export AGENT_PATH="${AGENT_PATH:-$root/.deps/node_modules/.bin}"
[ -x "$AGENT_PATH/claude" ] || echo "warning: no claude in $AGENT_PATH (run the test preparation)" >&2
build_release
exec python3 "$root/bench/clown_bench.py" profiles "$bin" "$out"
