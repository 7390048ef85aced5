#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1:55432 for the tests and print its URL.
# Installs the server from Debian's packages when the machine has none.
set -euo pipefail
PGPORT=${PGPORT:-55432}
PGDATA=${PGDATA:-/tmp/smm-bot-pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
if ! "$bin/pg_isready" -h 127.0.0.1 -p "$PGPORT" -q; then
  rm -rf "$PGDATA"
  mkdir -p "$PGDATA"
  chown postgres "$PGDATA"
  su postgres -s /bin/sh -c "$bin/initdb -D $PGDATA -U postgres --auth=trust -E UTF8" >/dev/null
  su postgres -s /bin/sh -c "$bin/pg_ctl -D $PGDATA -l $PGDATA/log -w -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' start" >/dev/null
fi
echo "postgresql://postgres@127.0.0.1:$PGPORT/postgres"
