#!/bin/sh
# Entrypoint of the PostgreSQL stand-in image (postgres.Dockerfile): as the official image, makes
# the cluster on first start (superuser POSTGRES_USER with the password of
# POSTGRES_PASSWORD_FILE, database POSTGRES_DB, password logins over TCP, trust on the socket),
# then runs the command as the postgres user.
set -eu

if [ "$(id -u)" = 0 ]; then
  # A new named volume may come up owned by root: hand it to postgres, then drop root.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid postgres --regid postgres --init-groups "$0" "$@"
fi

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=${POSTGRES_PASSWORD_FILE:-}
  if [ -z "$pwfile" ]; then
    [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "postgres-entrypoint: no POSTGRES_PASSWORD(_FILE)" >&2; exit 1; }
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  fi
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    echo 'CREATE DATABASE :"db"' | psql -X -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -v db="$db"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "postgres-entrypoint: cluster made in $PGDATA (user $user, database $db)" >&2
fi

exec "$@"
