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
# Go's own install places are often missing from a normal user's PATH: look there too.
GO="$(command -v go || true)"
for candidate in /usr/local/go/bin/go "${HOME:-/nonexistent}/go/bin/go" /usr/lib/go/bin/go; do
  [[ -n "${GO}" ]] && break
  [[ -x "${candidate}" ]] && GO="${candidate}"
done
# kustomize's module needs Go 1.22; Go 1.21 and later fetch a newer toolchain themselves.
GO_MINOR="$([[ -n "${GO}" ]] && "${GO}" env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p' || true)"
if [[ -z "${GO_MINOR}" || "${GO_MINOR}" -lt 21 ]]; then
  cat >&2 <<'MSG'
install-kustomize: Go 1.21 or later is needed to build kustomize (the deploy tests render the
overlays with it), and none was found on PATH or in /usr/local/go. Install it, then run again:
  Debian 13 or Ubuntu 24.04, as root:  apt-get install -y golang-go
  elsewhere: unpack Go's release archive (go1.22 or later, linux-amd64) into /usr/local/go
MSG
  exit 1
fi
mkdir -p "${BIN_DIR}"
GOBIN="${BIN_DIR}" GOFLAGS="-mod=mod" "${GO}" install "sigs.k8s.io/kustomize/kustomize/v5@${VERSION}" >&2
"${BIN}" version >&2
echo "${BIN}"
