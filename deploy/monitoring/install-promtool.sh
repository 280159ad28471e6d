#!/usr/bin/env bash
# Build promtool (Prometheus' rule checker) from its Go module into .tools/bin (git-ignored);
# idempotent. Needs only Go and the Go module proxy, as deploy/tools/install-kustomize.sh.
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
GO="$(command -v go || true)"
for candidate in /usr/local/go/bin/go "${HOME:-/nonexistent}/go/bin/go" /usr/lib/go/bin/go; do
  [[ -n "${GO}" ]] && break
  [[ -x "${candidate}" ]] && GO="${candidate}"
done
GO_MINOR="$([[ -n "${GO}" ]] && "${GO}" env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p' || true)"
if [[ -z "${GO_MINOR}" || "${GO_MINOR}" -lt 21 ]]; then
  cat >&2 <<'MSG'
install-promtool: Go 1.21 or later is needed to build promtool (the monitoring tests check the
alert rules with it), and none was found on PATH or in /usr/local/go. Install it, then run again:
  Debian 13 or Ubuntu 24.04, as root:  apt-get install -y golang-go
  elsewhere: unpack Go's release archive (linux-amd64) into /usr/local/go
MSG
  exit 1
fi
mkdir -p "${BIN_DIR}"
# remove_all_sd leaves out the service-discovery plugins (cloud SDKs, Kubernetes client):
# checking and testing rules needs none of them, and the build is a fraction of the size.
GOBIN="${BIN_DIR}" GOFLAGS="-mod=mod" "${GO}" install -tags remove_all_sd \
  "github.com/prometheus/prometheus/cmd/promtool@${VERSION}" >&2
"${BIN}" --version >&2
touch "${STAMP}"
echo "${BIN}"
