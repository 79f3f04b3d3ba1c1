# Sourced by run.sh, translate.sh and ab.sh: reading wrk's output.

# A wrk latency line ("    50%   76.00us", "99%  1.35ms") as µs.
us() { awk '{v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s$/,"",v); print v*1000000}}'; }

# Stops the script when wrk counted an answer other than 2xx: NAME WRK-OUTPUT.
answered_ok() {
  if grep -q "Non-2xx" <<<"$2"; then echo "error: $1 answered errors:" >&2; echo "$2" >&2; exit 1; fi
}
