#!/usr/bin/env bash
# Install kustomize from its Go module into .infra/bin (git-ignored); idempotent.
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
# shellcheck source=deploy/tools/go-install.sh
source "${ROOT}/deploy/tools/go-install.sh"
go_install kustomize "the deploy tests render the overlays with it" "${BIN_DIR}" \
  "sigs.k8s.io/kustomize/kustomize/v5@${VERSION}"
"${BIN}" version >&2
echo "${BIN}"
