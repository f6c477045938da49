# syntax=docker/dockerfile:1
# snapsift's container images (see docs/fleet.md):
#
#   docker build -t snapsift .
#       the static binary alone, FROM scratch: ENTRYPOINT snapsift, arguments as on the
#       command line (docs/fleet/kubernetes/)
#   docker build --target batch-worker -t snapsift:batch-worker .
#       the same binary with the AWS CLI and snapsift-batch, which attaches a volume made
#       from a snapshot, scans one shard of it and stores the report (docs/fleet/aws-batch/)
#
# The build stage runs `cargo xtask dist`: a static musl build, which it checks by scanning
# the sample disk in an empty chroot.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo xtask dist

FROM debian:bookworm-slim AS batch-worker
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      awscli ca-certificates curl util-linux \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/dist/snapsift /usr/local/bin/snapsift
COPY docs/fleet/aws-batch/snapsift-batch /usr/local/bin/snapsift-batch
CMD ["snapsift-batch"]

# Last, so that it is what `docker build .` makes.
FROM scratch AS snapsift
COPY --from=build /src/target/dist/snapsift /snapsift
# Findings hold secrets: reports are written 0600 whoever runs it; the device nodes it reads
# decide the user it needs (root for most block devices).
ENTRYPOINT ["/snapsift"]
