#!/usr/bin/env bash
# Usage query (issue 4, "Measure"): 1 million usage events recorded through
# POST /api/usage/record (batches of up to 4,000; 20 profiles, 10 models, 60 days), then
# GET /api/usage timed (p50/p99 over 50 requests) for period=all and a few others.
# Two spreads: "realistic" (agent sessions of a few hours, one or two models per profile)
# and "uniform" (every event at a random second, profile and model: the rollup's worst
# case). See bench/README.md.
#
#   bench/query.sh
#   EVENTS=1000000 REQUESTS=50 CASES="realistic uniform" bench/query.sh
#
# Settings: EVENTS, QUERY_PROFILES (20), DAYS (60), REQUESTS (50), CASES, QUIET_WAIT,
# QUIET_IDLE, OUT.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_release
exec python3 "$root/bench/clown_bench.py" query "$bin" "$out"
