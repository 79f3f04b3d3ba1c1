#!/usr/bin/env bash
# /metrics (issue 20, "Measure"): 1,000 profiles x 10 models of usage, GET /metrics timed
# (text, OpenMetrics, and gzipped as Prometheus asks), other requests' latency while a
# scraper hammers it, and a real Prometheus's own scrape_duration_seconds. See
# bench/README.md.
#
#   bench/metrics.sh
#   PROFILES=1000 MODELS=10 SCRAPES=200 PROM_SECONDS=30 bench/metrics.sh
# Each case plain and gzipped as Prometheus asks (OpenMetrics, Accept-Encoding: gzip).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_pkg prometheus prometheus
build_release
exec python3 "$root/bench/metrics_sync.py" metrics "$bin" "$out/metrics"
