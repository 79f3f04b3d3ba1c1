#!/usr/bin/env bash
# `systemctl --user start clown` under a real systemd, from the installed .deb: builds the
# .deb (packaging/deb/build.sh), boots a Debian bookworm root with systemd-nspawn, installs
# the package with `dpkg -i` inside, and, as an ordinary user with linger (alice), checks:
#   - the README's steps (`daemon-reload`, `enable --now clown.socket`), then the first
#     `clown status` starts clown.service by socket activation: active/running, MainPID is
#     the pid that answers, StatusText is the daemon's "Listening on 127.0.0.1:8765";
#   - `systemctl --user reload clown`: a changed config (allowed_hosts) takes effect, the
#     same process keeps running, a WebSocket and a keep-alive HTTP connection opened before
#     keep working; a config that does not parse is refused and the daemon keeps serving;
#   - journald: the daemon's records are native journal entries with priority, message and
#     tracing's fields, none of them plain stdout lines (`journalctl --user` reads them as the
#     user: the root keeps a persistent journal, /var/log/journal, so journald writes one
#     file per user);
#   - the watchdog: the packaged unit sets one; with a WatchdogSec=3 drop-in, a healthy
#     daemon is not restarted, a SIGSTOPped one is killed and restarted within the watchdog
#     time, a `kill -9`ed one is restarted; the profile made before is intact. The daemon
#     pings at half of whatever WATCHDOG_USEC it is given, so the drop-in drives the same
#     code as the packaged 30 s, in seconds rather than a minute per case;
#   - the CLI, once both units are stopped, starts the daemon through
#     `systemctl --user start clown.socket`: it runs in clown.service's cgroup, no stray one;
#   - `systemctl --user stop clown` with a running proxy and a terminal session whose program
#     started grandchildren (one of them setsid): exit 0, STOPPING=1 reached the manager,
#     nothing is left in the cgroup;
#   - after a reboot: clown.socket listens and `systemctl --user start clown` works;
#   - `dpkg -r clown` stops the units in the user's manager, removes her own enablement link
#     and the global one, and leaves her data; `dpkg --purge clown` names the per-user data
#     it leaves.
#
# The root is built once with debootstrap (about a minute; the mirror is the one this
# machine's apt sources use, or CLOWN_DEBIAN_MIRROR) and kept, never booted, under
# .cache/systemd-test/ (ignored by git; CLOWN_SYSTEMD_TEST_CACHE moves it). Each run boots a
# copy of it (`cp -a`, a few seconds) that is deleted at the end, so no package state leaks
# from one run into the next. The container has no network (--private-network): the only
# dependency of the package, libc6, is in the root already, so `dpkg -i` needs nothing else.
# Every command inside runs through `nsenter` into the container's PID 1 (the host has no
# system bus, hence --register=no --keep-unit). On exit, also on failure or Ctrl-C, the
# container is powered off from inside and waited for, and nothing stays mounted.
#
# Needs root and Debian (installs systemd-container, debootstrap with apt-get when
# missing), python3 and curl on the host. Ends with "N passed, M failed"; exits non-zero
# when anything failed.
#
#   packaging/systemd-test/run.sh
#   CLOWN_NO_BUILD=1 packaging/systemd-test/run.sh   # package the existing release binary
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
SRC="$PWD"
HERE="$SRC/packaging/systemd-test"

if [ "$(id -u)" != 0 ]; then
  echo "error: $0 boots a container with systemd-nspawn: run it as root" >&2
  exit 2
fi
need=()
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  echo "==> apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >/dev/null || exit 2
fi

SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,procps,curl
CACHE="${CLOWN_SYSTEMD_TEST_CACHE:-$SRC/.cache/systemd-test}"
# The cached root is named after what went into it, so changing the list builds a new one.
PRISTINE="$CACHE/$SUITE-minbase-$(printf '%s' "$INCLUDE" | sha256sum | cut -c1-12)"
MACHINE=clown-systemd-test
WATCHDOG_SECS=3 # the drop-in's WatchdogSec; the packaged unit's is 30 s
RESTART_SECS=1  # the packaged unit's RestartSec

started_at=$SECONDS
RUN=""
NSPAWN_PID=""
LEADER=""
HELPER_PROC=""
DEADLINE_PROC=""
LOG=""
# A run that hangs (a command inside that never returns) is ended after this long, not
# counting the build.
DEADLINE_SECS="${CLOWN_SYSTEMD_TEST_DEADLINE:-600}"

# ---------------------------------------------------------------- reporting

passed=0
failed=0
# check DESCRIPTION COMMAND...: runs the command in this shell (so it may set variables for
# later checks), counts and reports the outcome; shows its output when it fails.
check() {
  local what="$1"
  shift
  if "$@" >"$LOG" 2>&1; then
    passed=$((passed + 1))
    echo "ok      $what"
  else
    failed=$((failed + 1))
    echo "FAILED  $what"
    sed 's/^/        /' "$LOG" | tail -n 40
  fi
}
# must DESCRIPTION COMMAND...: a check the rest depends on; stops the run when it fails.
must() {
  local before=$failed
  check "$@"
  if [ "$failed" != "$before" ]; then
    echo "stopping: the remaining checks need this step"
    summary
  fi
}
summary() {
  echo "$passed passed, $failed failed ($((SECONDS - started_at)) s)"
  [ "$failed" = 0 ] && exit 0
  exit 1
}
fail() {
  echo "$*"
  return 1
}

# wait_until SECS WHAT COMMAND...: runs COMMAND every 0.1 s until it succeeds; after SECS
# seconds says what it was waiting for and fails.
wait_until() {
  local secs="$1" what="$2"
  shift 2
  local deadline=$(($(date +%s%N) + secs * 1000000000))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s%N) > deadline)); then
      echo "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.1
  done
}

# hold_for SECS WHAT COMMAND...: COMMAND must keep succeeding, checked every 0.2 s, for
# SECS seconds (an absence of events cannot be polled for).
hold_for() {
  local secs="$1" what="$2"
  shift 2
  local start
  start="$(date +%s%N)"
  while (($(date +%s%N) < start + secs * 1000000000)); do
    if ! "$@" >/dev/null 2>&1; then
      echo "after $((($(date +%s%N) - start) / 1000000)) ms: no longer $what"
      return 1
    fi
    sleep 0.2
  done
}

now_ms() { date +%s%3N; }

# ---------------------------------------------------------------- the container

# The Debian mirror this machine's apt sources use (deb822 or one-line format).
debian_mirror() {
  local uri
  uri="$({
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }'
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }'
  } | grep -E '/debian/?$' | head -n 1)"
  echo "${CLOWN_DEBIAN_MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

# Builds the pristine root once: debootstrap into a scratch directory, renamed when complete.
ensure_root() {
  if [ -d "$PRISTINE" ]; then
    echo "cached: $PRISTINE"
    return 0
  fi
  local mirror scratch
  mirror="$(debian_mirror)"
  mkdir -p "$CACHE"
  scratch="$(mktemp -d "$CACHE/building.XXXXXX")"
  echo "debootstrap $SUITE from $mirror into $scratch"
  if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$scratch/root" "$mirror" >"$scratch/debootstrap.log" 2>&1; then
    tail -n 20 "$scratch/debootstrap.log"
    unmount_under "$scratch"
    rm -rf "$scratch"
    return 1
  fi
  unmount_under "$scratch"
  mv "$scratch/root" "$PRISTINE" && rm -rf "$scratch"
}

# Unmounts whatever is still mounted below DIR (deepest first).
unmount_under() {
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
}

# Boots $RUN/root; sets NSPAWN_PID and LEADER (the container's PID 1, seen from here).
boot() {
  echo "---- boot" >>"$RUN/nspawn.log"
  systemd-nspawn -D "$RUN/root" -M "$MACHINE" --boot --register=no --keep-unit --private-network \
    --console=passive >>"$RUN/nspawn.log" 2>&1 &
  NSPAWN_PID=$!
  if ! wait_until 30 "the container's systemd to start" container_init; then
    tail -n 20 "$RUN/nspawn.log"
    return 1
  fi
  local state
  state="$(in_root systemctl is-system-running --wait)"
  [ "$state" = running ] || {
    echo "system state: $state"
    in_root systemctl --failed --no-pager
    return 1
  }
}

# Finds the container's PID 1: nspawn's child once it runs systemd in its own PID namespace.
container_init() {
  kill -0 "$NSPAWN_PID" 2>/dev/null || return 1
  local pid
  for pid in $(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null); do
    # Its manager answers once its private socket exists.
    if [ "$(readlink /proc/"$pid"/ns/pid)" != "$(readlink /proc/self/ns/pid)" ] &&
      [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = systemd ] && [ -S /proc/"$pid"/root/run/systemd/private ]; then
      LEADER="$pid"
      return 0
    fi
  done
  return 1
}

# Powers the container off from inside and waits for nspawn to exit. SIGKILL to nspawn
# would leave the container's systemd running, so the last resort is its PID 1.
poweroff_container() {
  [ -n "$NSPAWN_PID" ] || return 0
  if kill -0 "$NSPAWN_PID" 2>/dev/null; then
    if ! { [ -n "$LEADER" ] && nsenter -t "$LEADER" -a systemctl poweroff >/dev/null 2>&1 &&
      wait_until 60 "the container to power off" nspawn_gone; }; then
      kill -TERM "$NSPAWN_PID" 2>/dev/null # nspawn asks the container to power off
      if ! wait_until 30 "nspawn to exit after SIGTERM" nspawn_gone; then
        [ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null
        wait_until 10 "nspawn to exit" nspawn_gone
      fi
    fi
  fi
  wait "$NSPAWN_PID" 2>/dev/null
  # nspawn gone, the container's init must be too (its death ends every process inside).
  if [ -n "$LEADER" ] && kill -0 "$LEADER" 2>/dev/null; then
    kill -KILL "$LEADER" 2>/dev/null
  fi
  NSPAWN_PID=""
  LEADER=""
}
nspawn_gone() { ! kill -0 "$NSPAWN_PID" 2>/dev/null; }

# Ends the run after DEADLINE_SECS: TERM to this shell, and to its children so that the
# shell gets to run its trap (bash runs it once the foreground command has ended).
arm_deadline() {
  (
    sleep "$DEADLINE_SECS"
    echo "error: still running after ${DEADLINE_SECS}s; giving up" >&2
    kill -TERM $$
    pkill -TERM -P $$
  ) &
  DEADLINE_PROC=$!
  disown "$DEADLINE_PROC"
}

cleanup() {
  trap - EXIT INT TERM
  set +u
  if [ -n "$DEADLINE_PROC" ]; then
    # The subshell first (else it would go on to give up), then its sleep.
    local sleeper
    sleeper="$(pgrep -P "$DEADLINE_PROC")"
    kill "$DEADLINE_PROC" 2>/dev/null
    [ -n "$sleeper" ] && kill $sleeper 2>/dev/null
  fi
  if [ -n "$HELPER_PROC" ]; then kill "$HELPER_PROC" 2>/dev/null; fi
  poweroff_container
  if [ -n "$RUN" ]; then
    unmount_under "$RUN"
    rm -rf "$RUN"
  fi
  rm -f "$LOG"
}
LOG="$(mktemp)"
trap cleanup EXIT
# The checks write to $LOG; what the trap says goes where the script's output goes.
exec 9>&1
trap 'echo "interrupted: $passed passed, $failed failed so far" >&9; exit 130' INT TERM

# in_root COMMAND...: runs COMMAND as root inside the container (bounded to 60 s there).
in_root() { nsenter -t "$LEADER" -a timeout 60 "$@"; }

# as USER COMMAND...: runs COMMAND as USER inside the container, with the environment of a
# login session of theirs (their manager's runtime directory and bus), from their home.
as() {
  local user="$1" uid
  shift
  uid="${UIDS[$user]:-}"
  [ -n "$uid" ] || uid="$(nsenter -t "$LEADER" -a id -u "$user")" || return 1
  UIDS[$user]="$uid"
  nsenter -t "$LEADER" -a setpriv --reuid="$uid" --regid="$uid" --init-groups \
    env -i -C "/home/$user" HOME="/home/$user" USER="$user" LOGNAME="$user" SHELL=/bin/bash \
    PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 XDG_RUNTIME_DIR="/run/user/$uid" \
    DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" timeout 60 "$@"
}
declare -A UIDS=()

# prop USER UNIT PROPERTY: one property of a unit in USER's manager.
prop() { as "$1" systemctl --user show -p "$3" --value "$2"; }

# prop_is USER UNIT PROPERTY VALUE
prop_is() { [ "$(prop "$1" "$2" "$3")" = "$4" ]; }

# unit_running USER UNIT: active/running.
unit_running() {
  [ "$(prop "$1" "$2" ActiveState)" = active ] && [ "$(prop "$1" "$2" SubState)" = running ]
}

# The processes (container pids) in clown.service's cgroup; nothing when it has none.
cgroup_procs() {
  local cg
  cg="$(prop alice clown.service ControlGroup)"
  [ -n "$cg" ] || return 0
  # The unified hierarchy, at /sys/fs/cgroup or (hybrid layout) /sys/fs/cgroup/unified.
  in_root sh -c 'for base in /sys/fs/cgroup/unified /sys/fs/cgroup; do
      if [ -f "$base$1/cgroup.procs" ]; then cat "$base$1/cgroup.procs"; exit 0; fi
    done' _ "$cg"
}

# The newest journal cursor of USER's journal, to read only what comes after.
journal_cursor() {
  as "$1" journalctl --user -n 1 -o json | jfield __CURSOR
}

# jfield KEY...: prints one field of the JSON document on stdin (objects by key, arrays by
# index); objects and arrays as JSON.
jfield() {
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$@"
}

# curl_status [CURL ARGS...]: the HTTP status of GET /api/daemon/status with alice's token,
# from inside the container.
curl_status() {
  as alice sh -c 'curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $(cat ~/.local/state/clown/token)" "$@" http://127.0.0.1:8765/api/daemon/status' _ "$@"
}

# host_status_is CODE: GET /api/daemon/status with Host clown.test:8765 gets CODE.
host_status_is() { [ "$(curl_status -H 'Host: clown.test:8765')" = "$1" ]; }

# journal_has USER CURSOR TEXT: USER's journal for clown has a line with TEXT after CURSOR.
journal_has() {
  as "$1" journalctl --user -u clown --after-cursor="$2" --no-pager | grep -qF -- "$3"
}

# The daemon answering `clown status` with the pid clown.service runs as.
answers_as_main_pid() {
  local main pid
  main="$(prop alice clown.service MainPID)"
  pid="$(as alice clown status --json | jfield pid)" || return 1
  [ "$main" != 0 ] && [ "$pid" = "$main" ] || fail "clown status: pid $pid; clown.service MainPID $main"
}

# An earlier run that could not clean up (killed with SIGKILL) may have left its container:
# refuse to run beside it (with --keep-unit, containers share this process's cgroup, so its
# processes would show up in ours), and remove its copy of the root once it is gone.
leftovers() {
  local pid
  pid="$(pgrep -f "^systemd-nspawn -D $CACHE/run\\." | head -n 1)"
  if [ -n "$pid" ]; then
    echo "error: a container of an earlier run is still running (systemd-nspawn pid $pid); stop it with" >&2
    echo "  nsenter -t \$(cat /proc/$pid/task/*/children) -a systemctl poweroff" >&2
    exit 2
  fi
  local d
  for d in "$CACHE"/run.* "$CACHE"/building.*; do
    [ -d "$d" ] || continue
    unmount_under "$d"
    rm -rf "$d"
  done
}

# ---------------------------------------------------------------- steps and checks

step_build() {
  DEB="$(packaging/deb/build.sh)" && [ -s "$DEB" ] && echo "$DEB"
}

step_prepare() {
  ensure_root || return 1
  RUN="$(mktemp -d "$CACHE/run.XXXXXX")"
  cp -a "$PRISTINE" "$RUN/root" || return 1
  install -m 644 "$DEB" "$RUN/root/root/clown.deb"
  install -m 755 "$HERE/claude" "$RUN/root/usr/local/bin/claude"
}

step_user() {
  in_root useradd --create-home --shell /bin/bash alice || return 1
  in_root loginctl enable-linger alice || return 1
  wait_until 30 "alice's systemd --user" as alice systemctl --user is-system-running
}

step_install() {
  in_root dpkg -i /root/clown.deb
}

t_readme_steps() {
  as alice systemctl --user daemon-reload || return 1
  as alice systemctl --user enable --now clown.socket || return 1
  [ "$(prop alice clown.socket ActiveState)" = active ] || fail "clown.socket is not active" || return 1
  [ "$(prop alice clown.service ActiveState)" = inactive ] ||
    fail "clown.service runs already: the next check would prove nothing" || return 1
  [ -L /proc/"$LEADER"/root/home/alice/.config/systemd/user/sockets.target.wants/clown.socket ] ||
    fail "no per-user enablement link"
}

t_socket_activation() {
  local out
  out="$(as alice clown status --json)" || fail "clown status failed: $out" || return 1
  echo "$out"
  [ "$(jfield activation <<<"$out")" = systemd ] || fail "activation is not systemd" || return 1
  unit_running alice clown.service || fail "clown.service: $(prop alice clown.service ActiveState)/$(prop alice clown.service SubState)" || return 1
  answers_as_main_pid
}

t_show_status_text() {
  local show
  show="$(as alice systemctl --user show -p ActiveState -p SubState -p StatusText -p Type clown.service)"
  echo "$show"
  grep -qx ActiveState=active <<<"$show" && grep -qx SubState=running <<<"$show" &&
    grep -qx Type=notify <<<"$show" && grep -qx 'StatusText=Listening on 127.0.0.1:8765' <<<"$show"
}

t_create_profile() {
  echo sk-ant-systemd-test-key-1234 |
    as alice clown profiles create work --agent claude --provider anthropic --api-key-stdin
}

# The profile made before, as `clown profiles show` sees it.
profile_intact() {
  local out
  out="$(as alice clown profiles show work --json)" || fail "clown profiles show work: $out" || return 1
  [ "$(jfield alias <<<"$out")" = work ] && [ "$(jfield agent_id <<<"$out")" = claude ] &&
    [ "$(jfield provider_id <<<"$out")" = anthropic ] && [ "$(jfield api_key_hint <<<"$out")" = "…1234" ] ||
    fail "profile changed: $out"
}

write_config() { # write_config TEXT: alice's ~/.config/clown/config.toml
  as alice sh -c 'mkdir -p ~/.config/clown && printf "%s\n" "$1" >~/.config/clown/config.toml' _ "$1"
}

t_reload() {
  local pid restarts out
  pid="$(prop alice clown.service MainPID)"
  restarts="$(prop alice clown.service NRestarts)"
  out="$(curl_status -H 'Host: clown.test:8765')"
  [ "$out" = 403 ] || fail "before: Host clown.test:8765 got $out, not 403" || return 1

  # Two connections held open across the reload, by host's python3 in the container's network.
  coproc HELPER { nsenter --net=/proc/"$LEADER"/ns/net python3 "$HERE/held_connections.py" \
    127.0.0.1:8765 "$(cat /proc/"$LEADER"/root/home/alice/.local/state/clown/token)" 2>"$RUN/helper.err"; }
  # bash forgets a coprocess's pid and descriptors when it ends: keep our own.
  HELPER_PROC=$HELPER_PID
  exec {HELPER_OUT}<&"${HELPER[0]}" {HELPER_IN}>&"${HELPER[1]}"
  local ready
  read -r -t 15 ready <&"$HELPER_OUT" || fail "the connection helper did not start: $(cat "$RUN/helper.err")" || return 1
  [[ "$ready" == "ready $pid" ]] || fail "connection helper: $ready" || return 1

  write_config 'allowed_hosts = ["clown.test"]' || return 1
  as alice systemctl --user reload clown || fail "systemctl --user reload clown failed" || return 1
  wait_until 10 "Host clown.test:8765 to be accepted" host_status_is 200 || return 1
  [ "$(prop alice clown.service MainPID)" = "$pid" ] || fail "the reload restarted the daemon" || return 1
  [ "$(prop alice clown.service NRestarts)" = "$restarts" ] || fail "NRestarts changed" || return 1
  wait_until 5 "StatusText 'Configuration reloaded'" prop_is alice clown.service StatusText "Configuration reloaded"
}

t_held_connections() {
  [ -n "$HELPER_PROC" ] || fail "no connection helper" || return 1
  echo go >&"$HELPER_IN"
  local line ok=0
  while read -r -t 20 line <&"$HELPER_OUT"; do
    echo "$line"
    [[ "$line" == ok* ]] && ok=$((ok + 1))
  done
  wait "$HELPER_PROC"
  local rc=$?
  HELPER_PROC=""
  exec {HELPER_OUT}<&- {HELPER_IN}>&-
  cat "$RUN/helper.err"
  [ "$rc" = 0 ] && [ "$ok" = 2 ]
}

t_reload_refused() {
  local pid
  pid="$(prop alice clown.service MainPID)"
  write_config 'allowed_hosts = "not a list"' || return 1
  as alice systemctl --user reload clown || return 1
  wait_until 5 "StatusText 'Reload failed: …'" reload_failed_status ||
    fail "StatusText: $(prop alice clown.service StatusText)" || return 1
  host_status_is 200 || fail "the previous configuration was not kept" || return 1
  [ "$(prop alice clown.service MainPID)" = "$pid" ] || fail "the daemon restarted"
}

reload_failed_status() { [[ "$(prop alice clown.service StatusText)" == "Reload failed: "* ]]; }

t_journal() {
  as alice journalctl --user -u clown -o json --no-pager >"$RUN/journal.json" || return 1
  python3 - "$RUN/journal.json" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ours = [r for r in records if r.get("_COMM") == "clown"]
print(f"{len(records)} records for clown.service, {len(ours)} from clown itself")
problems = []
plain = [r for r in ours if r.get("_TRANSPORT") != "journal"]
if plain:
    problems.append(f"{len(plain)} records are not native journal entries, e.g. {plain[0].get('_TRANSPORT')}: {plain[0].get('MESSAGE')!r}")
def find(prefix):
    return next((r for r in ours if str(r.get("MESSAGE", "")).startswith(prefix)), None)
listening = find("listening on 127.0.0.1:8765 (systemd-inherited sockets)")
if not listening:
    problems.append("no 'listening on 127.0.0.1:8765 (systemd-inherited sockets)' record")
else:
    print(json.dumps({k: v for k, v in listening.items() if not k.startswith("_") or k == "_TRANSPORT"}, indent=1))
    want = {"PRIORITY": "5", "SYSLOG_IDENTIFIER": "clown", "TARGET": "clown::daemon"}
    for k, v in want.items():
        if listening.get(k) != v:
            problems.append(f"listening record: {k}={listening.get(k)!r}, want {v!r}")
    if not str(listening.get("CODE_FILE", "")).endswith(".rs") or not str(listening.get("CODE_LINE", "")).isdigit():
        problems.append("listening record: no CODE_FILE/CODE_LINE")
failed = find("reload failed")
if not failed:
    problems.append("no 'reload failed' record")
elif failed.get("PRIORITY") != "3":
    problems.append(f"the reload error has PRIORITY={failed.get('PRIORITY')!r}, want '3'")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
}

t_watchdog_packaged() {
  local w
  w="$(prop alice clown.service WatchdogUSec)"
  echo "WatchdogUSec=$w"
  [ -n "$w" ] && [ "$w" != 0 ] && [ "$w" != infinity ]
}

t_watchdog_dropin() {
  as alice sh -c 'mkdir -p ~/.config/systemd/user/clown.service.d &&
    printf "[Service]\nWatchdogSec=%s\n" "$1" >~/.config/systemd/user/clown.service.d/watchdog.conf' _ "$WATCHDOG_SECS" || return 1
  as alice systemctl --user daemon-reload || return 1
  as alice systemctl --user restart clown.service || return 1
  [ "$(prop alice clown.service WatchdogUSec)" = "${WATCHDOG_SECS}s" ] || fail "WatchdogUSec=$(prop alice clown.service WatchdogUSec)" || return 1
  unit_running alice clown.service
}

t_watchdog_healthy() {
  local pid
  pid="$(prop alice clown.service MainPID)"
  hold_for $((WATCHDOG_SECS * 3)) "the same running process ($pid)" same_main_pid "$pid"
}
same_main_pid() { [ "$(prop alice clown.service MainPID)" = "$1" ] && unit_running alice clown.service; }

# restarted_from PID: clown.service runs another process, which answers.
restarted_from() {
  local now
  now="$(prop alice clown.service MainPID)"
  [ "$now" != 0 ] && [ "$now" != "$1" ] && unit_running alice clown.service && answers_as_main_pid
}

# The running daemon's pid (never 0: `kill 0` would signal our own process group).
running_main_pid() {
  local pid
  pid="$(prop alice clown.service MainPID)"
  [ -n "$pid" ] && [ "$pid" -gt 1 ] && unit_running alice clown.service && echo "$pid"
}

t_watchdog_sigstop() {
  local pid cursor t0 ms limit=$(((WATCHDOG_SECS + RESTART_SECS + 3) * 1000))
  pid="$(running_main_pid)" || fail "clown.service is not running" || return 1
  cursor="$(journal_cursor alice)"
  t0="$(now_ms)"
  as alice kill -STOP "$pid" || return 1
  wait_until $((limit / 1000 + 5)) "a new clown.service process" restarted_from "$pid" || return 1
  ms=$(($(now_ms) - t0))
  echo "frozen pid $pid replaced by $(prop alice clown.service MainPID) after $ms ms (limit $limit ms)"
  wait_until 5 "the manager's 'Watchdog timeout' record" journal_has alice "$cursor" "clown.service: Watchdog timeout" ||
    { as alice journalctl --user -u clown --after-cursor="$cursor" --no-pager | tail -n 10; return 1; }
  ((ms <= limit))
}

t_sigkill() {
  local pid restarts
  pid="$(running_main_pid)" || fail "clown.service is not running" || return 1
  restarts="$(prop alice clown.service NRestarts)"
  as alice kill -KILL "$pid" || return 1
  wait_until 10 "a new clown.service process" restarted_from "$pid" || return 1
  [ "$(prop alice clown.service NRestarts)" = $((restarts + 1)) ] || fail "NRestarts $restarts -> $(prop alice clown.service NRestarts)"
}

t_watchdog_restore() {
  as alice sh -c 'rm ~/.config/systemd/user/clown.service.d/watchdog.conf' || return 1
  as alice systemctl --user daemon-reload && as alice systemctl --user restart clown.service &&
    [ "$(prop alice clown.service WatchdogUSec)" = 30s ]
}

t_cli_starts_units() {
  local out
  as alice systemctl --user stop clown.socket clown.service 2>&1 || return 1
  [ "$(prop alice clown.socket ActiveState)" = inactive ] && [ "$(prop alice clown.service ActiveState)" = inactive ] ||
    fail "the units did not stop" || return 1
  [ "$(curl_status)" = 000 ] || fail "something still listens on 127.0.0.1:8765" || return 1
  out="$(as alice clown status --json 2>"$RUN/stderr")" || { cat "$RUN/stderr"; return 1; }
  cat "$RUN/stderr"
  [ "$(prop alice clown.socket ActiveState)" = active ] || fail "clown.socket is $(prop alice clown.socket ActiveState)" || return 1
  unit_running alice clown.service || fail "clown.service is not running" || return 1
  answers_as_main_pid || return 1
  local pid daemons
  pid="$(jfield pid <<<"$out")"
  cgroup_procs | grep -qx "$pid" || fail "pid $pid is not in clown.service's cgroup" || return 1
  daemons="$(in_root pgrep -c -f '^/usr/bin/clown daemon')"
  [ "$daemons" = 1 ] || fail "$daemons clown daemons run"
}

t_stop_setup() {
  as alice clown proxy enable work || return 1
  wait_until 20 "the proxy of 'work' to run" proxy_running || return 1
  SESSION="$(as alice clown terminal new work)" || return 1
  echo "session $SESSION"
  wait_until 10 "the agent's grandchildren in the cgroup" grandchildren_in_cgroup || return 1
  # What runs in the unit: the daemon, the proxy, the agent and its grandchildren.
  STOP_PIDS="$(cgroup_procs | paste -sd ' ')"
  in_root ps -o pid,args -p "${STOP_PIDS// /,}" | tee "$RUN/procs"
  grep -q 'clown proxy --profile work' "$RUN/procs" && grep -q '/usr/local/bin/claude' "$RUN/procs" &&
    grep -q 'sleep 1000' "$RUN/procs" && grep -q 'sleep 1001' "$RUN/procs"
}
proxy_running() { [ "$(as alice clown proxy status work --json | jfield status)" = running ]; }
grandchildren_in_cgroup() {
  local pid cmds=""
  for pid in $(cgroup_procs); do
    cmds+="$(in_root cat /proc/"$pid"/cmdline | tr '\0' ' ');"
  done
  [[ "$cmds" == *"sleep 1000 ;"* && "$cmds" == *"sleep 1001 ;"* ]]
}

t_stop() {
  local main cursor rc
  main="$(prop alice clown.service MainPID)"
  cursor="$(journal_cursor alice)"
  # The manager logs each notification it receives at debug level.
  as alice systemctl --user log-level debug || return 1
  as alice systemctl --user stop clown
  rc=$?
  as alice systemctl --user log-level info
  [ "$rc" = 0 ] || fail "systemctl --user stop clown exited $rc" || return 1
  local show
  show="$(as alice systemctl --user show -p Result -p ExecMainCode -p ExecMainStatus clown.service)"
  echo "$show"
  # ExecMainCode=1: exited (not killed); status 0.
  grep -qx Result=success <<<"$show" && grep -qx ExecMainCode=1 <<<"$show" && grep -qx ExecMainStatus=0 <<<"$show" ||
    fail "the daemon did not exit 0 by itself" || return 1
  wait_until 5 "STOPPING=1 from pid $main in the manager's journal" \
    journal_has alice "$cursor" "Got notification message from PID $main (STOPPING=1"
}

cgroup_empty() {
  [ -z "$(cgroup_procs)" ]
}

t_stop_empty() {
  local left alive
  # The unit leaves the sessions' holders to a restart (KillMode=process); on a stop the
  # manager releases its descriptor store, each holder's lifeline ends, and the holders end
  # their agents and whatever else is left in the unit, then exit.
  wait_until 15 "the unit's cgroup empty" cgroup_empty
  left="$(cgroup_procs)"
  [ -z "$left" ] || fail "still in the cgroup: $left" || return 1
  alive="$(in_root sh -c 'for p; do [ -d /proc/$p ] && cat /proc/$p/cmdline | tr "\0" " " && echo; done; exit 0' _ $STOP_PIDS)"
  [ -z "$alive" ] || fail "still running: $alive" || return 1
  ! in_root pgrep -a -f '^sleep 100[01]$' || fail "a grandchild survived"
}

t_reboot() {
  poweroff_container
  boot
}

t_after_reboot() {
  wait_until 30 "alice's systemd --user" as alice systemctl --user is-system-running || return 1
  wait_until 10 "alice's clown.socket" prop_is alice clown.socket ActiveState active || return 1
  prop_is alice clown.service ActiveState inactive || fail "clown.service runs already"
}

t_fresh_start() {
  as alice systemctl --user start clown || return 1
  unit_running alice clown.service || return 1
  [ "$(prop alice clown.service StatusText)" = "Listening on 127.0.0.1:8765" ] ||
    fail "StatusText: $(prop alice clown.service StatusText)" || return 1
  answers_as_main_pid && profile_intact
}

t_dpkg_remove() {
  unit_running alice clown.service || fail "clown.service does not run: the check would prove nothing" || return 1
  in_root dpkg -r clown || return 1
  local s
  s="$(prop alice clown.socket ActiveState)/$(prop alice clown.service ActiveState)"
  [ "$s" = inactive/inactive ] || fail "clown.socket/clown.service are $s" || return 1
  [ "$(curl_status)" = 000 ] || fail "something still listens on 127.0.0.1:8765" || return 1
  ! in_root pgrep -a -x clown || fail "clown processes are left" || return 1
  local link
  for link in /home/alice/.config/systemd/user/sockets.target.wants/clown.socket \
    /etc/systemd/user/sockets.target.wants/clown.socket; do
    [ ! -L "/proc/$LEADER/root$link" ] || fail "$link is still there" || return 1
  done
  [ "$(prop alice clown.socket LoadState)" = not-found ] || fail "alice's manager still has clown.socket: $(prop alice clown.socket LoadState)"
}

t_data_left() {
  local f
  for f in .config/clown/config.toml .local/share/clown/clown.db .local/state/clown/token .claude-profiles/work; do
    [ -e "/proc/$LEADER/root/home/alice/$f" ] || fail "~alice/$f is gone" || return 1
  done
}

t_dpkg_purge() {
  local out
  out="$(in_root dpkg --purge clown 2>&1)" || { echo "$out"; return 1; }
  echo "$out"
  local where
  # shellcheck disable=SC2088 # the message names them with a literal ~
  for where in '~/.config/clown/' '~/.local/share/clown/' '~/.local/state/clown/' '~/.cache/clown/' '~/.<agent>-profiles/'; do
    grep -qF "$where" <<<"$out" || fail "dpkg --purge does not mention $where" || return 1
  done
  t_data_left
}

t_poweroff() {
  poweroff_container
  [ -z "$NSPAWN_PID" ] && ! pgrep -f "systemd-nspawn -D $RUN/root" >/dev/null
}

# ---------------------------------------------------------------- run

leftovers
echo "== the .deb and the container"
must "packaging/deb/build.sh builds the .deb" step_build
arm_deadline
must "a bookworm root (debootstrap, cached) is copied for this run" step_prepare
must "the container boots to 'running'" boot
must "user alice gets her systemd --user (linger)" step_user
must "dpkg -i installs the package inside" step_install

echo "== socket activation"
must "alice: systemctl --user daemon-reload; enable --now clown.socket" t_readme_steps
check "the first clown status starts clown.service by socket activation (pid = MainPID)" t_socket_activation
check "systemctl --user show clown.service: active, running, StatusText=Listening on 127.0.0.1:8765" t_show_status_text
must "clown profiles create work" t_create_profile

echo "== reload"
check "systemctl --user reload clown: the new allowed_hosts applies, same process, StatusText says so" t_reload
check "connections opened before the reload still work (WebSocket /ws/events, keep-alive HTTP)" t_held_connections
check "a config that does not parse: the reload is refused, the daemon serves on" t_reload_refused
# The valid configuration back for what follows.
{ write_config 'allowed_hosts = ["clown.test"]' && as alice systemctl --user reload clown; } >/dev/null 2>&1

echo "== journald"
check "journalctl --user -u clown -o json: native records with PRIORITY, MESSAGE, TARGET, CODE_FILE; no plain lines" t_journal

echo "== watchdog and restarts"
check "the packaged clown.service sets a watchdog" t_watchdog_packaged
must "a drop-in with WatchdogSec=$WATCHDOG_SECS applies" t_watchdog_dropin
check "a healthy daemon pings the watchdog: not restarted over $((WATCHDOG_SECS * 3)) s" t_watchdog_healthy
check "SIGSTOP: the watchdog kills the frozen daemon; restarted within WatchdogSec + RestartSec + 3 s" t_watchdog_sigstop
check "kill -9: restarted (NRestarts + 1)" t_sigkill
check "the profile made before is intact" profile_intact
check "without the drop-in, the packaged WatchdogSec=30 applies again" t_watchdog_restore

echo "== the CLI and the service manager"
check "with both units stopped, clown status starts clown.socket; the daemon runs in clown.service" t_cli_starts_units

echo "== stop"
must "a proxy and a terminal session whose agent started grandchildren (one setsid) run in the unit" t_stop_setup
check "systemctl --user stop clown: exit 0, the daemon exits 0, STOPPING=1 reaches the manager" t_stop
check "nothing is left of the unit's processes (cgroup empty, no grandchild)" t_stop_empty

echo "== a fresh boot"
must "the container reboots" t_reboot
check "after the reboot clown.socket listens, clown.service waits" t_after_reboot
check "systemctl --user start clown: running, StatusText, the profile is there" t_fresh_start

echo "== removal"
check "dpkg -r clown stops and disables alice's units (hers and the global link), nothing listens" t_dpkg_remove
check "dpkg -r leaves alice's config, database, token and profile home" t_data_left
check "dpkg --purge clown names the per-user data it leaves, and leaves it" t_dpkg_purge
check "the container powers off" t_poweroff

summary
