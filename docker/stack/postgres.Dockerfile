# A stand-in for the official postgres:15-bookworm image, made from Debian's postgresql-15 where
# no registry is reachable (scripts/containers stack-images; docker/README.md). It honours what
# docker/compose.yaml uses of the official image: POSTGRES_USER, POSTGRES_DB,
# POSTGRES_PASSWORD_FILE, the data in /var/lib/postgresql/data, pg_isready and psql on PATH.
ARG DEBIAN=debian:bookworm-slim
FROM ${DEBIAN}
# Debian's package makes a cluster "main" of its own; this image makes its cluster at first start.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && pg_dropcluster 15 main \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql \
 && chmod 0700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
CMD ["postgres"]
STOPSIGNAL SIGINT
