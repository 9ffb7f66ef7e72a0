# A stand-in for the official apache/kafka image, made from the Kafka jars that Maven resolved
# for scripts/services (same version) and Debian's Java 17, where no registry is reachable
# (scripts/containers stack-images; docker/README.md). It honours what docker/compose.yaml uses
# of the official image: KAFKA_* variables as broker settings, CLUSTER_ID, KAFKA_HEAP_OPTS,
# the data in /var/lib/kafka/data, /opt/kafka/bin/kafka-broker-api-versions.sh for the health
# check (here: the listener accepts a connection).
ARG DEBIAN=debian:bookworm-slim
FROM ${DEBIAN}
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 1000 appuser \
 && useradd --system --uid 1000 --gid appuser --home-dir /opt/kafka --no-create-home appuser \
 && mkdir -p /var/lib/kafka/data /opt/kafka/config \
 && chown appuser:appuser /var/lib/kafka/data /opt/kafka/config
COPY kafka-libs/ /opt/kafka/libs/
COPY log4j2.properties /opt/kafka/log4j2.properties
COPY kafka-run.sh /opt/kafka/bin/kafka-run
COPY kafka-broker-api-versions.sh /opt/kafka/bin/kafka-broker-api-versions.sh
USER appuser:appuser
WORKDIR /opt/kafka
ENTRYPOINT ["/opt/kafka/bin/kafka-run"]
