# syntax=docker/dockerfile:1
#
# bcq as a container image running `bcq serve` (README: "Always on").
#
#   docker build -t bcq .
#   docker run --env-file bcq.env -p 8080:8080 bcq
#
# The image is FROM scratch: one static binary, the user bcq (10001), CA
# roots and a writable /var/lib/bcq. No shell, no libc, no package manager.
# scripts/image-root assembles that tree in the build stage and the final
# stage copies it whole, so the list lives in one place
# (crates/bcq/tests/deploy_manifests.rs checks both).
#
# Settings come from the environment as everywhere else (README's settings
# table; a .env or bcq.toml in the working directory, /var/lib/bcq, works
# too). The ones a container needs besides BC's and the destination's:
#
#   BCQ_STATE_URL   sync state in PostgreSQL, e.g.
#                   postgres://bcq:PASSWORD@db.example.internal:5432/bcq?sslmode=verify-full
#                   TLS is chosen in the URL (sslmode); the server's
#                   certificate is checked against Mozilla's roots, built
#                   in, plus the PEM file named by sslrootcert= (Amazon RDS
#                   needs its CA bundle there). Keep the URL in a secret
#                   store, it holds the password. Required when more
#                   than one container shares the work (deploy/k8s,
#                   deploy/ecs). Unset, the state is the SQLite file
#                   /var/lib/bcq/.bcq/state.db: mount a volume there
#                   (-v bcq-state:/var/lib/bcq) or every restart starts over
#                   with a full sync.
#   BCQ_LISTEN      set below to 0.0.0.0:8080: bcq's default, 127.0.0.1,
#                   cannot be reached from outside the container.
#   BCQ_PUBLIC_URL  the https URL at which BC reaches /webhooks/bc (through
#                   your load balancer or ingress); unset, bcq polls only.
#   AWS credentials from the standard chain: the ECS task role, EKS pod
#                   identity / IRSA, or AWS_* variables.
#
# Stopping: SIGTERM ends the run in flight within BCQ_GRACE_SECONDS (20 s)
# and exits 0; give the container at least 30 s (docker stop -t 40).

ARG RUST_VERSION=1.95

# --- build: a static bcq and the image's root filesystem -------------------
# Debian bookworm's glibc (2.36) has the "files" and "dns" name services
# built into its static libc, so the static binary resolves names with only
# the /etc/hosts and /etc/resolv.conf the container runtime provides.
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Only what the build reads: the build context's target/ never goes in.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY scripts/image-root scripts/image-root
# crt-static links glibc into the binary (the workspace uses rustls, so no
# OpenSSL is linked). --target keeps RUSTFLAGS off build scripts and proc
# macros, which must stay dynamic. The caches keep crates and compiled
# dependencies between builds; the binary leaves the cache in this same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS='-C target-feature=+crt-static' \
      cargo build --release --locked --target x86_64-unknown-linux-gnu -p bcq \
 && bin=target/x86_64-unknown-linux-gnu/release/bcq \
 && readelf -lW "$bin" >/tmp/program-headers \
 && if grep -q 'Requesting program interpreter' /tmp/program-headers; then \
      echo "$bin is dynamically linked: it cannot run FROM scratch" >&2; exit 1; \
    fi \
 && scripts/image-root /rootfs "$bin"

# --- runtime: exactly what scripts/image-root assembled ---------------------
FROM scratch
# COPY --from keeps the build stage's owners and modes: root's files, and
# /var/lib/bcq (0700) owned by 10001:10001.
COPY --from=build /rootfs/ /
USER 10001:10001
WORKDIR /var/lib/bcq
# TMPDIR: the image has no /tmp (and the root is read-only in deploy/):
# scratch files (bcq sync --dry-run, bcq export) go to the writable home.
ENV BCQ_LISTEN=0.0.0.0:8080 TMPDIR=/var/lib/bcq
# Webhooks (/webhooks/bc) and operations (/healthz, /readyz, /metrics) share
# this one listener.
EXPOSE 8080
# No curl in a scratch image: bcq checks itself. `bcq health --url URL`
# GETs URL and exits 0 on a 2xx answer, 1 otherwise (it needs no other
# setting). /healthz is liveness; /readyz (BC token, state store,
# destination) is for load balancers, not for restarting the container.
# A different BCQ_LISTEN port, or BCQ_TLS_CERT (https), needs this URL changed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/bcq", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/bcq"]
CMD ["serve"]
