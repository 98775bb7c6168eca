#!/usr/bin/env bash
# Starts a one-node OpenStack Swift with the S3 API (s3api) on loopback, for the S3 storage tests.
#
#   scripts/start-swift.sh            install (scripts/system-deps.sh swift), configure, start, wait, smoke-test
#   scripts/start-swift.sh stop       stop the services this script started
#   scripts/start-swift.sh env        print the variables the tests need (eval "$(scripts/start-swift.sh env)")
#
# Idempotent: a second `start` finds the proxy healthy and only re-checks it. Everything lives under
# $HARDEN_SWIFT_DIR (configs, rings, the one "disk", pid files, logs); /etc/swift is not touched
# (Swift reads swift.conf from there, and the Debian package's default one is fine for a test node).
#
# Layout of the node: rings with 1 partition power 10, 1 replica, one device on 127.0.0.1; proxy
# pipeline `catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth
# copy slo dlo proxy-logging proxy-server` (s3api needs memcached through `cache`, and slo for
# multipart uploads); tempauth user test:tester / testing, which is also the S3 access key / secret.
# Services run in the foreground with -v (there is no syslog here), each with its log file.
set -euo pipefail

ROOT=${HARDEN_SWIFT_DIR:-/var/tmp/harden-swift}
PROXY_PORT=${HARDEN_SWIFT_PORT:-18080}
OBJECT_PORT=${HARDEN_SWIFT_OBJECT_PORT:-16010}
CONTAINER_PORT=${HARDEN_SWIFT_CONTAINER_PORT:-16011}
ACCOUNT_PORT=${HARDEN_SWIFT_ACCOUNT_PORT:-16012}
MEMCACHED_PORT=${HARDEN_MEMCACHED_PORT:-11212}
ACCESS_KEY=test:tester
SECRET_KEY=testing
SERVICES=(object container account proxy)
PY=/usr/bin/python3 # Swift's own interpreter (a pyenv python3 on PATH would lack the swift module)

log() { printf 'start-swift: %s\n' "$*" >&2; }
die() {
  log "FAILED: $*"
  for f in "$ROOT"/log/*.log; do
    [ -s "$f" ] || continue
    printf '\n----- last lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
  exit 1
}

print_env() {
  cat <<EOF
export HARDEN_S3_ENDPOINT=http://127.0.0.1:$PROXY_PORT
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$PROXY_PORT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
EOF
}

# A pid file names one of ours only while that process runs our command line: after a reboot or a
# killed session the number may belong to someone else, who must not be signalled.
pid_alive() {
  local pidfile=$1 pid name
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  name=$(basename "$pidfile" .pid)
  kill -0 "$pid" 2>/dev/null || return 1
  local cmd
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  case $name in
    memcached) [[ $cmd == *memcached*"-p $MEMCACHED_PORT"* ]] ;;
    *) [[ $cmd == *"$ROOT/etc/$name-server.conf"* ]] ;;
  esac
}

all_alive() {
  for name in memcached "${SERVICES[@]}"; do pid_alive "$ROOT/run/$name.pid" || return 1; done
}

stop_all() {
  for name in proxy account container object memcached; do
    local pidfile="$ROOT/run/$name.pid"
    if pid_alive "$pidfile"; then
      local pid
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      log "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

http_status() { # URL → prints the status of a GET, or 000 when nothing answers
  "$PY" -c '
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r: print(r.status)
except urllib.error.HTTPError as e: print(e.code)
except Exception: print("000")
' "$1"
}

# Swift and memcached: scripts/system-deps.sh names them (group `swift`), installs them as root or
# says which command does.
install_packages() {
  "$(dirname "$0")/system-deps.sh" swift || die "the Swift packages are missing (see above)"
}

write_configs() {
  local etc=$ROOT/etc user
  user=$(id -un)
  mkdir -p "$etc" "$ROOT/node/d1" "$ROOT/run/cache" "$ROOT/log"
  # workers = 0: one process per server, no forked workers (half the memory; plenty for tests).
  local common="[DEFAULT]
bind_ip = 127.0.0.1
workers = 0
user = $user
swift_dir = $etc
devices = $ROOT/node
mount_check = false
log_level = INFO
"
  local port
  for server in object container account; do
    case $server in
      object) port=$OBJECT_PORT ;;
      container) port=$CONTAINER_PORT ;;
      account) port=$ACCOUNT_PORT ;;
    esac
    cat >"$etc/$server-server.conf" <<EOF
# written by scripts/start-swift.sh
${common}bind_port = $port
recon_cache_path = $ROOT/run/cache

[pipeline:main]
pipeline = healthcheck $server-server

[app:$server-server]
use = egg:swift#$server

[filter:healthcheck]
use = egg:swift#healthcheck

[$server-replicator]
[$server-auditor]
[$server-updater]
EOF
  done
  cat >"$etc/proxy-server.conf" <<EOF
# written by scripts/start-swift.sh
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PROXY_PORT
workers = 0
user = $user
swift_dir = $etc
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET_KEY .admin
reseller_prefix = AUTH

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
}

build_rings() {
  local etc=$ROOT/etc port
  for ring in object container account; do
    [ -f "$etc/$ring.ring.gz" ] && continue
    case $ring in
      object) port=$OBJECT_PORT ;;
      container) port=$CONTAINER_PORT ;;
      account) port=$ACCOUNT_PORT ;;
    esac
    rm -f "$etc/$ring.builder"
    (
      cd "$etc"
      swift-ring-builder "$ring.builder" create 10 1 1
      swift-ring-builder "$ring.builder" add "r1z1-127.0.0.1:$port/d1" 1
      swift-ring-builder "$ring.builder" rebalance
    ) >>"$ROOT/log/rings.log" 2>&1 || die "swift-ring-builder failed for the $ring ring (see $ROOT/log/rings.log)"
  done
}

start_bg() { # name command... → starts it detached, its output in log/<name>.log, pid in run/<name>.pid
  local name=$1
  shift
  if pid_alive "$ROOT/run/$name.pid"; then return 0; fi
  setsid nohup "$@" >>"$ROOT/log/$name.log" 2>&1 </dev/null &
  echo $! >"$ROOT/run/$name.pid"
}

wait_for() { # name url seconds
  local name=$1 url=$2 seconds=$3
  for _ in $(seq $((seconds * 5))); do
    [ "$(http_status "$url")" = 200 ] && return 0
    pid_alive "$ROOT/run/$name.pid" || die "the $name server exited while starting"
    sleep 0.2
  done
  die "the $name server did not answer $url within ${seconds}s"
}

start_all() {
  mkdir -p "$ROOT/log" "$ROOT/run"
  if all_alive && [ "$(http_status "http://127.0.0.1:$PROXY_PORT/healthcheck")" = 200 ]; then
    log "already running on 127.0.0.1:$PROXY_PORT"
    smoke_test
    return 0
  fi
  stop_all # half-started or half-dead leftovers of an earlier run
  install_packages
  command -v swift-ring-builder >/dev/null || die "swift-ring-builder not found after installing the Swift packages"
  for port in "$PROXY_PORT" "$OBJECT_PORT" "$CONTAINER_PORT" "$ACCOUNT_PORT" "$MEMCACHED_PORT"; do
    if ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; then
      die "port $port on 127.0.0.1 is taken by another program; set HARDEN_SWIFT_*PORT / HARDEN_MEMCACHED_PORT"
    fi
  done
  write_configs
  build_rings
  local user
  user=$(id -un)
  start_bg memcached memcached -u "$user" -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 -v
  for s in "${SERVICES[@]}"; do
    start_bg "$s" "swift-$s-server" "$ROOT/etc/$s-server.conf" -v
  done
  wait_for object "http://127.0.0.1:$OBJECT_PORT/healthcheck" 30
  wait_for container "http://127.0.0.1:$CONTAINER_PORT/healthcheck" 30
  wait_for account "http://127.0.0.1:$ACCOUNT_PORT/healthcheck" 30
  wait_for proxy "http://127.0.0.1:$PROXY_PORT/healthcheck" 60
  pid_alive "$ROOT/run/memcached.pid" || die "memcached exited (see $ROOT/log/memcached.log)"
  smoke_test
  log "Swift with s3api is up on http://127.0.0.1:$PROXY_PORT (logs in $ROOT/log)"
}

# Authenticates with tempauth (needs memcached) and writes, reads and deletes an object through the
# native API: proves the proxy, the rings and the storage servers (xattrs on $ROOT) all work.
smoke_test() {
  "$PY" - "$PROXY_PORT" "$ACCESS_KEY" "$SECRET_KEY" <<'EOF' || die "smoke test failed (write/read through the proxy)"
import sys, urllib.request
port, user, key = sys.argv[1:4]
base = f'http://127.0.0.1:{port}'
def call(method, url, headers=None, data=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=20) as r:
        return r.status, dict(r.headers), r.read()
_, h, _ = call('GET', f'{base}/auth/v1.0', {'X-Storage-User': user, 'X-Storage-Pass': key})
token, url = h['X-Auth-Token'], h['X-Storage-Url']
auth = {'X-Auth-Token': token}
call('PUT', f'{url}/harden-smoke', auth)
call('PUT', f'{url}/harden-smoke/probe', auth, b'ok')
status, _, body = call('GET', f'{url}/harden-smoke/probe', auth)
assert body == b'ok', body
call('DELETE', f'{url}/harden-smoke/probe', auth)
call('DELETE', f'{url}/harden-smoke', auth)
EOF
}

case ${1:-start} in
  start) start_all ;;
  stop) stop_all ;;
  env) print_env ;;
  *) echo "usage: $0 [start|stop|env]" >&2; exit 2 ;;
esac
