#!/usr/bin/env bash
# Build promtool (Prometheus' rule checker) from its Go module into .tools/bin (git-ignored);
# idempotent.
#   deploy/monitoring/install-promtool.sh     # prints the binary's path
set -euo pipefail
# Prometheus 3.x publishes its Go module as v0.3xx.y: v0.316.0 is Prometheus 3.16.0.
VERSION="v0.316.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${ROOT}/.tools/bin"
BIN="${BIN_DIR}/promtool"
STAMP="${BIN_DIR}/.promtool-${VERSION}"
if [[ -x "${BIN}" && -f "${STAMP}" ]]; then
  echo "${BIN}"
  exit 0
fi
# shellcheck source=deploy/tools/go-install.sh
source "${ROOT}/deploy/tools/go-install.sh"
# remove_all_sd leaves out the service-discovery plugins (cloud SDKs, Kubernetes client):
# checking and testing rules needs none of them, and the build is a fraction of the size.
go_install promtool "the monitoring tests check the alert rules with it" "${BIN_DIR}" \
  "github.com/prometheus/prometheus/cmd/promtool@${VERSION}" -tags remove_all_sd
"${BIN}" --version >&2
touch "${STAMP}"
echo "${BIN}"
