# syntax=docker/dockerfile:1
# The `eventlog` server in a small, non-root image.
#
#   docker build -t eventlog .
#   docker run -p 8000:8000 -v eventlog-data:/data eventlog
#   docker exec -it <container> eventlog user add admin --role admin
#
# The SQLite file lives in the /data volume; set EVENTLOG_DATABASE_URL=postgres://… to use
# PostgreSQL instead (see compose.yaml).

# --- build ------------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
# The image has Rust, gcc and libc6-dev; tikv-jemalloc-sys (the server's allocator) also runs
# `make`. Everything else builds from source (SQLite bundled, TLS by rustls and ring). Debian's
# current bookworm packages, unpinned: a pinned version disappears when Debian ships a fix.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; the binary is copied out of
# the cache because a cache mount does not end up in the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p eventlog-cli \
    && install -D target/release/eventlog /out/eventlog

# --- run --------------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: TLS to PostgreSQL and SMTP servers; curl: the health check.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 eventlog \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin eventlog \
    && mkdir -p /data && chown eventlog:eventlog /data
COPY --from=build /out/eventlog /usr/local/bin/eventlog
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENV EVENTLOG_DATABASE_URL=sqlite:///data/eventlog.db
EXPOSE 8000
# /healthz answers 200 while the server and its database are up, 503 otherwise (/livez: 200
# while the process serves, whatever the database). Shell form for `|| exit 1`: Docker reads
# only 0 and 1, and curl fails with other codes.
# hadolint ignore=DL3025
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/healthz >/dev/null || exit 1
ENTRYPOINT ["eventlog"]
CMD ["serve", "--bind", "0.0.0.0:8000"]
