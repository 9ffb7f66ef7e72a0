#!/bin/bash
# Entrypoint of the Kafka stand-in image (kafka.Dockerfile): the broker's settings from KAFKA_*
# variables as the official image reads them (KAFKA_LOG_DIRS -> log.dirs; "__" -> "_",
# "___" -> "-"), storage formatted with CLUSTER_ID on first start, then the broker.
set -euo pipefail

props=/opt/kafka/config/server.properties
: >"$props"
while IFS='=' read -r name value; do
  case $name in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key=${name#KAFKA_}
  key=${key,,}
  key=${key//___/-}
  key=${key//__/@}
  key=${key//_/.}
  key=${key//@/_}
  printf '%s=%s\n' "$key" "$value" >>"$props"
done < <(env)

java=(java -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties -cp '/opt/kafka/libs/*')
data=$(sed -n 's/^log\.dirs=//p' "$props")
if [[ ! -f ${data:-/var/lib/kafka/data}/meta.properties ]]; then
  [[ -n ${CLUSTER_ID:-} ]] || { echo "kafka-run: CLUSTER_ID is not set" >&2; exit 2; }
  "${java[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$props" --ignore-formatted
fi
# shellcheck disable=SC2086  # the heap options are words
exec "${java[@]}" ${KAFKA_HEAP_OPTS:--Xmx1g} -XX:+UseG1GC -Djava.awt.headless=true kafka.Kafka "$props"
