# Sourced by run.sh, translate.sh and ab.sh: reading wrk's output.

# A wrk latency line ("    50%   76.00us", "99%  1.35ms") as µs.
us() { awk '{v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000}}'; }
