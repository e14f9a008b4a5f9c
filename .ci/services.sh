#!/usr/bin/env bash
# Starts the servers the tests need — PostgreSQL (as a non-root user, in a temporary directory),
# Redis and an S3-compatible endpoint (s3rver) — and prints the environment that points tests at them.
# Usage: eval "$(bash .ci/services.sh)"   (leaves the servers running; .ci/services.sh stop ends them)
set -euo pipefail
STATE=${MLOOP_CI_STATE:-/tmp/mloop-ci}
PG_PORT=${MLOOP_CI_PG_PORT:-55432}
S3_PORT=${MLOOP_CI_S3_PORT:-54569}
REDIS_PORT=${MLOOP_CI_REDIS_PORT:-56379}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
RUN_AS=postgres
cd "$(dirname "$0")/.."

if [ "${1:-}" = stop ]; then
  [ -d "$STATE/pg" ] && runuser -u "$RUN_AS" -- "$PG_BIN/pg_ctl" -D "$STATE/pg" -m fast stop >/dev/null 2>&1 || true
  [ -f "$STATE/s3rver.pid" ] && kill "$(cat "$STATE/s3rver.pid")" 2>/dev/null || true
  [ -f "$STATE/redis.pid" ] && kill "$(cat "$STATE/redis.pid")" 2>/dev/null || true
  exit 0
fi

mkdir -p "$STATE"
chmod 755 "$STATE"

# PostgreSQL: initdb refuses root, so the cluster belongs to the postgres user.
if ! runuser -u "$RUN_AS" -- "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null; then
  rm -rf "$STATE/pg"
  mkdir -p "$STATE/pg"
  chown "$RUN_AS" "$STATE/pg"
  runuser -u "$RUN_AS" -- "$PG_BIN/initdb" -D "$STATE/pg" -U mloop --auth=trust --locale=C.UTF-8 -E UTF8 >"$STATE/initdb.log" 2>&1
  runuser -u "$RUN_AS" -- "$PG_BIN/pg_ctl" -D "$STATE/pg" -l "$STATE/pg/server.log" -w \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
fi

# Redis on loopback, no persistence needed for tests.
if command -v redis-server >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT) 2>/dev/null; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" >/dev/null
fi

# s3rver: an S3-compatible endpoint on a local folder.
if ! (exec 3<>/dev/tcp/127.0.0.1/$S3_PORT) 2>/dev/null; then
  mkdir -p "$STATE/s3"
  nohup node scripts/s3rver.mjs "$S3_PORT" "$STATE/s3" >"$STATE/s3rver.log" 2>&1 &
  echo $! >"$STATE/s3rver.pid"
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$S3_PORT) 2>/dev/null && break; sleep 0.2; done
fi

echo "export MLOOP_TEST_POSTGRES_URL=postgres://mloop@127.0.0.1:$PG_PORT/postgres"
echo "export MLOOP_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
command -v redis-server >/dev/null && echo "export MLOOP_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
exit 0
