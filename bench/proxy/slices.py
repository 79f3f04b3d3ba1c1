#!/usr/bin/env python3
"""One path's one-connection figures from several wrk runs (slices) taken together.

    slices.py FILE...     # histograms written by latency.lua (LATENCY_HIST=FILE)

Prints one line, "P50 P99 RAW_P50 RAW_P99 MAX N STALLS MS": the p50 and p99 wrk would
print for the slices as one run, each request's own p50, p99 and maximum, the requests,
and the stalls (requests over 1 ms, and the milliseconds they took), all in µs but MS.

wrk's percentiles add, for every request slower than twice the mean interval between
requests, one request per interval it held back (its correction for coordinated omission,
`stats_correct`); each slice is corrected as wrk corrects a run, with its own interval
(its duration over its requests, on one connection), and the corrected slices are added.
The percentiles are then taken as wrk takes them (`stats_percentile`).
"""

import math
import sys
from collections import Counter


def read(path):
    """A slice: its duration in µs and its histogram {µs: requests}."""
    duration, hist = 0, Counter()
    with open(path) as f:
        for line in f:
            a, b = line.split()
            if a == "duration":
                duration = int(b)
            else:
                hist[int(a)] += int(b)
    return duration, hist


def corrected(duration, hist):
    """The histogram as wrk's `stats_correct` leaves it, for one connection."""
    n = sum(hist.values())
    out = Counter(hist)
    if n == 0:
        return out
    interval = duration // n
    if interval <= 0:
        return out
    for us, count in hist.items():
        if us < 2 * interval:
            continue
        m = us - interval
        while m > interval:
            out[m] += count
            m -= interval
    return out


def percentile(hist, p):
    """wrk's `stats_percentile`: the first latency whose running count reaches the rank."""
    return first_reaching(hist, math.floor(p / 100.0 * sum(hist.values()) + 1.0))


def own_percentile(hist, p):
    """latency.lua's percentile of each request's own latency (its rank rounded up)."""
    return first_reaching(hist, math.ceil(sum(hist.values()) * p / 100))


def first_reaching(hist, rank):
    """The first latency whose running count reaches `rank`."""
    seen = 0
    for us in sorted(hist):
        seen += hist[us]
        if seen >= rank:
            return us
    return 0


def main(paths):
    raw, wrk = Counter(), Counter()
    for path in paths:
        duration, hist = read(path)
        raw.update(hist)
        wrk.update(corrected(duration, hist))
    stalls = sum(c for us, c in raw.items() if us > 1000)
    stalled = sum(us * c for us, c in raw.items() if us > 1000)
    print(
        percentile(wrk, 50),
        percentile(wrk, 99),
        own_percentile(raw, 50),
        own_percentile(raw, 99),
        max(raw, default=0),
        sum(raw.values()),
        stalls,
        f"{stalled / 1000:.1f}",
    )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
