# syntax=docker/dockerfile:1.7
#
# The wavesync agent image: the `wavesync` binary and a pinned helm CLI (which
# renders the Helm charts of the synced repository) on debian:bookworm-slim,
# running as the non-root user 65532.
#
#   docker build \
#     --build-arg HELM_SHA256_AMD64=<sha256 of helm-v3.17.3-linux-amd64.tar.gz> \
#     -t ghcr.io/wavesync/wavesync:0.1.0 .
#
# The checksums are published next to the archives, e.g.
#   curl -fsSL https://get.helm.sh/helm-v3.17.3-linux-amd64.tar.gz.sha256sum
# Verify them once (against the GitHub release page of helm/helm) and pin them
# here or in your build pipeline; the build refuses to run without one.

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------- the binary
FROM ${RUST_IMAGE} AS builder
# make: jemalloc (the agent's allocator) is built from source.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY agent agent
COPY kube-sim kube-sim
COPY examples-repo examples-repo
# --no-default-features leaves out the `sim` feature: the in-memory Kubernetes
# API server (kube-sim), `wavesync demo` and `wavesync sim` are test and demo
# tooling, not part of the production agent.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p wavesync --no-default-features \
 && install -D -m 0755 target/release/wavesync /out/wavesync

# ---------------------------------------------------------------- helm
FROM ${RUNTIME_IMAGE} AS helm
ARG TARGETARCH=amd64
ARG HELM_VERSION=v3.17.3
# sha256 of helm-${HELM_VERSION}-linux-<arch>.tar.gz (see the top of this file).
ARG HELM_SHA256_AMD64=""
ARG HELM_SHA256_ARM64=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    case "${TARGETARCH}" in \
      amd64) sha="${HELM_SHA256_AMD64}" ;; \
      arm64) sha="${HELM_SHA256_ARM64}" ;; \
      *) echo "unsupported architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac; \
    if [ -z "${sha}" ]; then \
      echo "set --build-arg HELM_SHA256_$(echo "${TARGETARCH}" | tr a-z A-Z)=<sha256 of helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz>" >&2; \
      exit 1; \
    fi; \
    curl -fsSLo /tmp/helm.tar.gz "https://get.helm.sh/helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz"; \
    echo "${sha}  /tmp/helm.tar.gz" | sha256sum -c -; \
    tar -xzf /tmp/helm.tar.gz -C /tmp; \
    install -D -m 0755 "/tmp/linux-${TARGETARCH}/helm" /out/helm

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE}
# ca-certificates for HTTPS Git remotes and the API server; libssl3 for
# libgit2's HTTPS transport; gnupg checks PGP commit signatures. No git binary:
# the agent uses libgit2.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 gnupg \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin nonroot \
 && install -d -o 65532 -g 65532 -m 0750 /var/cache/wavesync
COPY --from=builder /out/wavesync /usr/local/bin/wavesync
COPY --from=helm /out/helm /usr/local/bin/helm
# The root filesystem is read-only in the cluster: Git checkouts go to the
# cache volume, helm's own files under /tmp (both emptyDir volumes there).
ENV WAVESYNC_HELM=/usr/local/bin/helm \
    WAVESYNC_CACHE=/var/cache/wavesync \
    WAVESYNC_LISTEN=0.0.0.0:8080 \
    HOME=/tmp \
    HELM_CACHE_HOME=/tmp/helm/cache \
    HELM_CONFIG_HOME=/tmp/helm/config \
    HELM_DATA_HOME=/tmp/helm/data
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/wavesync"]
CMD ["run"]
