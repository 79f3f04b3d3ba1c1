#!/usr/bin/env bash
# Sync to PostgreSQL (issue 20, "Measure"): 1 million events pushed to a throwaway
# cluster (events/s), then the time from a local event to the all-machines report.
# Needs Debian's postgresql (server binaries under /usr/lib/postgresql/*/bin); as root the
# cluster runs as the postgres user. See bench/README.md.
#
#   bench/sync.sh
#   EVENTS=1000000 SAMPLES=200 SYNC_BATCH=5000 bench/sync.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -d /usr/lib/postgresql ] || need_pkg pg_ctlcluster postgresql
build_release
exec python3 "$root/bench/metrics_sync.py" sync "$bin" "$out/sync"
