#!/usr/bin/env python3
"""Who held up the one-connection chain: reads `perf sched timehist` output and, for every
time a process of the chain (wrk, nginx, clown's proxy) waited WAIT ms or more between being
woken and running, names the task that had that CPU just before it ("<idle>": the CPU was
idle, so the wait was the vCPU itself coming back).

    perf sched timehist -i perf.data | stalls.py [WAIT]      # default 0.5 ms

Prints one line per culprit: how many waits, and their sum in ms.
"""
import collections
import re
import sys

WAIT = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
CHAIN = re.compile(r"^(wrk|nginx|clown|proxy-)")
last = {}
count = collections.Counter()
total = collections.Counter()
for line in sys.stdin:
    f = line.split()
    # time [cpu] task wait sch-delay run ...
    if len(f) < 6 or not f[1].startswith("["):
        continue
    try:
        sch = float(f[4])
        run = float(f[5])
    except ValueError:
        continue
    cpu, task = f[1], f[2]
    if CHAIN.match(task) and sch >= WAIT:
        before = re.sub(r"\[.*", "", last.get(cpu, "?"))
        count[before] += 1
        total[before] += sch
    last[cpu] = task
print(f"waits of {WAIT} ms or more: {sum(count.values())}, {sum(total.values()):.1f} ms")
for name, n in count.most_common():
    print(f"  after {name:24s} {n:4d}  {total[name]:7.1f} ms")
