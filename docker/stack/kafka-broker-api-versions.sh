#!/bin/bash
# The health check of the Kafka stand-in image: as the official script is called in
# docker/compose.yaml (--bootstrap-server host:port), but it only checks that the listener accepts
# a connection (the Kafka tools jar is not among the broker jars that Maven resolves).
set -euo pipefail
server=
while (($#)); do
  case $1 in
    --bootstrap-server) server=$2; shift 2 ;;
    *) shift ;;
  esac
done
[[ -n $server ]] || { echo "usage: kafka-broker-api-versions.sh --bootstrap-server HOST:PORT" >&2; exit 2; }
exec 3<>"/dev/tcp/${server%:*}/${server##*:}"
