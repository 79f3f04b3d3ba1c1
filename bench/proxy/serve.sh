# Sourced by ab.sh, cost.sh and saturate.sh (after BENCH is set): run.sh's setup in SERVE
# mode — a daemon, a proxied profile and a fixed-reply upstream of their own — for a build.
#
#   serve NAME BINARY   # starts one in the background
#   ready NAME          # waits until it is up (at most 30 s)
#   served NAME KEY     # what it wrote: UP, HOP, PROXY, LOCAL, PROXY_PID, DAEMON_PID
#   unserve NAME        # stops it
#   serve_old_new DEFAULT_ROUNDS "$@"   # ab.sh and cost.sh: OLD_BINARY NEW_BINARY [ROUNDS]
#                       # from the arguments (OLD, NEW, ROUNDS set), both served and up
#
# Everything still running is stopped when the script exits.
WORK=$(mktemp -d)
declare -A serving=()
cleanup() {
  for name in "${!serving[@]}"; do unserve "$name"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
serve() {
  CLOWN=$2 CCR=0 SERVE="$WORK/$1.env" bash "$BENCH/run.sh" > "$WORK/$1.log" 2>&1 &
  serving[$1]=$!
}
ready() {
  for _ in $(seq 300); do [ -s "$WORK/$1.env" ] && return; sleep 0.1; done
  echo "error: the $1 setup did not come up:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
served() { sed -n "s/^$2=//p" "$WORK/$1.env"; }
unserve() {
  kill -TERM "${serving[$1]}" 2>/dev/null || true
  wait "${serving[$1]}" 2>/dev/null || true
  unset "serving[$1]"
}
serve_old_new() {
  local rounds=$1; shift
  [ $# -ge 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY [ROUNDS]" >&2; exit 2; }
  OLD=$(realpath "$1"); NEW=$(realpath "$2"); ROUNDS=${3:-$rounds}
  serve old "$OLD"; serve new "$NEW"
  ready old; ready new
}
