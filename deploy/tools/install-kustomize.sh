#!/usr/bin/env bash
# Install kustomize from its Go module into .infra/bin (git-ignored); idempotent.
# Needs only Go (the Go module proxy); no Docker, no prebuilt download.
#   deploy/tools/install-kustomize.sh        # prints the binary's path
set -euo pipefail
VERSION="v5.7.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${ROOT}/.infra/bin"
BIN="${BIN_DIR}/kustomize"
if [[ -x "${BIN}" ]] && "${BIN}" version 2>/dev/null | grep -qx "${VERSION}"; then
  echo "${BIN}"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "install-kustomize: Go is needed" >&2; exit 1; }
mkdir -p "${BIN_DIR}"
GOBIN="${BIN_DIR}" GOFLAGS="-mod=mod" go install "sigs.k8s.io/kustomize/kustomize/v5@${VERSION}" >&2
"${BIN}" version >&2
echo "${BIN}"
