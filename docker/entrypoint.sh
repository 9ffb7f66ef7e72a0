#!/bin/sh
# Entrypoint of the koers image: turns secrets mounted as files (*_FILE variables) into what the
# programs read, then runs the command. Nothing secret is printed or kept in the image.
#
#   PGPASSWORD_FILE=/run/secrets/x        ->  PGPASSWORD (libpq reads it)
#   KOERS_KEY_SECRET_FILE=/run/secrets/y  ->  a private copy (mode 0600, owned by this user)
#                                             named by KOERS_KEY_FILE: the producer refuses a
#                                             key that group or others could read, and a
#                                             mounted secret's mode is the host file's
#   KOERS_CONFIG                          ->  used as it is (a configuration file may itself be
#                                             a secret: it may hold kafka.sasl.password)
set -eu

die() {
  echo "ts=$(date -u +%Y-%m-%dT%H:%M:%S.000Z) level=error prog=koers-entrypoint msg=\"$*\"" >&2
  exit 2
}

if [ -n "${PGPASSWORD_FILE:-}" ]; then
  [ -r "$PGPASSWORD_FILE" ] || die "PGPASSWORD_FILE: cannot read $PGPASSWORD_FILE"
  PGPASSWORD=$(cat "$PGPASSWORD_FILE")
  export PGPASSWORD
  unset PGPASSWORD_FILE
fi

if [ -n "${KOERS_KEY_SECRET_FILE:-}" ]; then
  [ -r "$KOERS_KEY_SECRET_FILE" ] || die "KOERS_KEY_SECRET_FILE: cannot read $KOERS_KEY_SECRET_FILE"
  dir=$(mktemp -d "${TMPDIR:-/tmp}/koers-key.XXXXXX")
  (umask 077 && cat "$KOERS_KEY_SECRET_FILE" >"$dir/key")
  KOERS_KEY_FILE=$dir/key
  export KOERS_KEY_FILE
  unset KOERS_KEY_SECRET_FILE
fi

exec "$@"
