#!/usr/bin/env bash
# Starts the servers the tests need — PostgreSQL (as the non-root postgres user, in a temporary
# directory), Redis and an S3-compatible endpoint (s3rver) — and prints the environment that points
# tests at them. A server already answering on its port is reused, not started again.
#
# Usage: eval "$(bash .ci/services.sh)"          leaves the servers running; MLOOP_CI_STARTED lists
#                                                those this call started
#        bash .ci/services.sh stop [pg|redis|s3]...   stops the named servers (all when none is named)
# Settings: MLOOP_CI_STATE (default /tmp/mloop-ci), MLOOP_CI_PG_PORT (55432), MLOOP_CI_S3_PORT (54569),
#           MLOOP_CI_REDIS_PORT (56379).
set -euo pipefail
STATE=${MLOOP_CI_STATE:-/tmp/mloop-ci}
PG_PORT=${MLOOP_CI_PG_PORT:-55432}
S3_PORT=${MLOOP_CI_S3_PORT:-54569}
REDIS_PORT=${MLOOP_CI_REDIS_PORT:-56379}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
RUN_AS=postgres
cd "$(dirname "$0")/.."
REPO=$(pwd)

log() { echo "services.sh: $*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Runs a command as the postgres user from a directory it can enter (the clone may not be one).
as_pg() { (cd / && runuser -u "$RUN_AS" -- "$@"); }

stop() {
  local service
  for service in "$@"; do
    case $service in
      pg)
        if [ -n "$PG_BIN" ] && [ -f "$STATE/pg/postmaster.pid" ]; then
          as_pg "$PG_BIN/pg_ctl" -D "$STATE/pg" -m fast -w stop >/dev/null 2>&1 || true
        fi
        ;;
      redis | s3)
        local pidfile="$STATE/$service.pid"
        [ "$service" = s3 ] && pidfile="$STATE/s3rver.pid"
        if [ -f "$pidfile" ]; then
          kill "$(cat "$pidfile")" 2>/dev/null || true
          rm -f "$pidfile"
        fi
        ;;
      *) log "unknown service $service" ;;
    esac
  done
}

if [ "${1:-}" = stop ]; then
  shift
  if [ $# -eq 0 ]; then set -- pg redis s3; fi
  stop "$@"
  exit 0
fi

mkdir -p "$STATE"
chmod 755 "$STATE"
STARTED=()
# If a later server fails to start, stop the ones this call already started.
trap 'status=$?; if [ $status -ne 0 ] && [ ${#STARTED[@]} -gt 0 ]; then stop "${STARTED[@]}"; fi' EXIT

# PostgreSQL: initdb refuses root, so the cluster belongs to the postgres user (created by Debian's
# postgresql package), in a directory that user can reach.
PG_URL=
if [ -z "$PG_BIN" ] || ! id "$RUN_AS" >/dev/null 2>&1; then
  log "PostgreSQL is not installed (apt-get install postgresql); its tests will be skipped"
elif as_pg "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q; then
  PG_URL="postgres://mloop@127.0.0.1:$PG_PORT/postgres"
else
  if ! as_pg test -x "$STATE"; then
    log "the $RUN_AS user cannot enter $STATE; set MLOOP_CI_STATE to a directory it can reach"
    exit 1
  fi
  # A cluster left by a killed run: stop it if it still runs, then start afresh.
  as_pg "$PG_BIN/pg_ctl" -D "$STATE/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$STATE/pg"
  mkdir -p "$STATE/pg"
  chown "$RUN_AS" "$STATE/pg"
  chmod 700 "$STATE/pg"
  if ! as_pg "$PG_BIN/initdb" -D "$STATE/pg" -U mloop --auth=trust --locale=C.UTF-8 -E UTF8 >"$STATE/initdb.log" 2>&1; then
    log "initdb failed:"
    cat "$STATE/initdb.log" >&2
    exit 1
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$STATE/pg" -l "$STATE/pg/server.log" -w -t 60 \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null; then
    log "PostgreSQL did not start:"
    cat "$STATE/pg/server.log" >&2
    exit 1
  fi
  STARTED+=(pg)
  PG_URL="postgres://mloop@127.0.0.1:$PG_PORT/postgres"
fi

# Redis on loopback, no persistence needed for tests.
REDIS_URL=
if ! command -v redis-server >/dev/null; then
  log "redis-server is not installed (apt-get install redis-server); its tests will be skipped"
elif port_open "$REDIS_PORT"; then
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
else
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" --dir "$STATE" >/dev/null
  STARTED+=(redis)
  for _ in $(seq 1 100); do port_open "$REDIS_PORT" && break; sleep 0.1; done
  if ! port_open "$REDIS_PORT"; then
    log "Redis did not start:"
    cat "$STATE/redis.log" >&2
    exit 1
  fi
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
fi

# s3rver: an S3-compatible endpoint on a local folder (an npm devDependency: run npm ci first).
if ! port_open "$S3_PORT"; then
  if [ ! -d "$REPO/node_modules/s3rver" ]; then
    log "node_modules/s3rver is missing: run npm ci first"
    exit 1
  fi
  mkdir -p "$STATE/s3"
  nohup node "$REPO/scripts/s3rver.mjs" "$S3_PORT" "$STATE/s3" >"$STATE/s3rver.log" 2>&1 </dev/null &
  echo $! >"$STATE/s3rver.pid"
  STARTED+=(s3)
  for _ in $(seq 1 100); do port_open "$S3_PORT" && break; sleep 0.1; done
  if ! port_open "$S3_PORT"; then
    log "s3rver did not start:"
    cat "$STATE/s3rver.log" >&2
    exit 1
  fi
fi

if [ -n "$PG_URL" ]; then echo "export MLOOP_TEST_POSTGRES_URL=$PG_URL"; fi
echo "export MLOOP_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
if [ -n "$REDIS_URL" ]; then echo "export MLOOP_TEST_REDIS_URL=$REDIS_URL"; fi
echo "export MLOOP_CI_STARTED='${STARTED[*]}'"
exit 0
