#!/usr/bin/env bash
# `make image`: builds the careflow image (and, with --infra, the Kafka and PostgreSQL images)
# with a working Docker engine, else podman. Where the official base images cannot be pulled
# (no registry reachable), their stand-ins are built from Debian's packages first:
#   localhost/careflow-debian:bookworm       debootstrap (deploy/images/debian-base.sh)
#   localhost/careflow-python:3.11-bookworm  python.Containerfile
#   localhost/careflow-kafka:<version>       kafka.Containerfile + the jars of deploy/kafka/pom.xml
#   localhost/careflow-postgres:15           postgres.Containerfile (Debian's postgresql)
# Every step reuses what is already built. Usage: deploy/images/build.sh [careflow|infra|all]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=engine.sh
. "$here/engine.sh"
pick_engine
what=${1:-careflow}

OFFICIAL_PYTHON=python:3.11-slim-bookworm
DEBIAN_IMAGE=localhost/careflow-debian:bookworm
CAREFLOW_IMAGE=${CAREFLOW_IMAGE:-careflow}
CAREFLOW_VERSION=${CAREFLOW_VERSION:-dev}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/deploy/kafka/pom.xml")

# Builds $2 from Containerfile $1 unless it exists; the rest are extra build flags.
build_local() {
  local file=$1 image=$2
  shift 2
  if "$ENGINE" image inspect "$image" >/dev/null 2>&1 && [ -z "${REBUILD:-}" ]; then
    echo "$image is already built"
    return 0
  fi
  "$here/debian-base.sh" "$DEBIAN_IMAGE"
  "$ENGINE" build "${BUILD_FLAGS[@]}" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" "$@" \
    -f "$here/$file" -t "$image" "$here"
}

build_careflow() {
  local base=$OFFICIAL_PYTHON
  if ! have_or_pull "$base"; then
    base=localhost/careflow-python:3.11-bookworm
    echo "$OFFICIAL_PYTHON cannot be pulled: using $base, built from Debian's packages"
    build_local python.Containerfile "$base"
  fi
  local start=$SECONDS
  "$ENGINE" build "${BUILD_FLAGS[@]}" --build-arg "PYTHON_IMAGE=$base" \
    -f "$root/Dockerfile" -t "$CAREFLOW_IMAGE:$CAREFLOW_VERSION" "$root"
  echo "built $CAREFLOW_IMAGE:$CAREFLOW_VERSION in $((SECONDS - start)) s on $base;" \
    "size $("$ENGINE" image inspect --format '{{.Size}}' "$CAREFLOW_IMAGE:$CAREFLOW_VERSION" \
    | awk '{printf "%.0f MB", $1 / 1e6}')"
}

build_kafka() {
  local image=localhost/careflow-kafka:$KAFKA_VERSION
  if "$ENGINE" image inspect "$image" >/dev/null 2>&1 && [ -z "${REBUILD:-}" ]; then
    echo "$image is already built"
    return 0
  fi
  # The broker's jars, resolved on this machine by Maven exactly as `careflow infra up` does.
  local ctx
  ctx=$(mktemp -d /var/tmp/careflow-kafka-ctx.XXXXXX)
  trap 'rm -rf "$ctx"' RETURN
  mvn -q -f "$root/deploy/kafka/pom.xml" -Pimage dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$ctx/libs"
  cp "$here/kafka.Containerfile" "$here/kafka-entrypoint.sh" "$ctx/"
  cp -r "$here/kafka-bin" "$ctx/bin"
  "$here/debian-base.sh" "$DEBIAN_IMAGE"
  "$ENGINE" build "${BUILD_FLAGS[@]}" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
    -f "$ctx/kafka.Containerfile" -t "$image" "$ctx"
}

case $what in
  careflow) build_careflow ;;
  infra)
    build_kafka
    build_local postgres.Containerfile localhost/careflow-postgres:15
    ;;
  all)
    build_careflow
    build_kafka
    build_local postgres.Containerfile localhost/careflow-postgres:15
    ;;
  *) echo "usage: $0 [careflow|infra|all]" >&2; exit 2 ;;
esac
