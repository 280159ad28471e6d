# Shared by the scripts that build a tool from its Go module (source it, do not run it):
#   go_install NAME WHY BIN_DIR MODULE@VERSION [go install flags...]
# finds Go 1.21 or later (PATH, then Go's usual install places, which a normal user's PATH
# often lacks), or says in one message how to install it, and installs the module's binary
# into BIN_DIR. Needs only Go and the Go module proxy; no Docker, no prebuilt download.
go_install() {
  local name="$1" why="$2" bin_dir="$3" module="$4"
  shift 4
  local go candidate minor
  go="$(command -v go || true)"
  for candidate in /usr/local/go/bin/go "${HOME:-/nonexistent}/go/bin/go" /usr/lib/go/bin/go; do
    [[ -n "${go}" ]] && break
    [[ -x "${candidate}" ]] && go="${candidate}"
  done
  # Go 1.21 and later fetch a newer toolchain themselves when a module asks for one.
  minor="$([[ -n "${go}" ]] && "${go}" env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p' || true)"
  if [[ -z "${minor}" || "${minor}" -lt 21 ]]; then
    cat >&2 <<MSG
install-${name}: Go 1.21 or later is needed to build ${name} (${why}), and none was found on
PATH or in /usr/local/go. Install it, then run again:
  Debian 13 or Ubuntu 24.04, as root:  apt-get install -y golang-go
  elsewhere: unpack Go's release archive (go1.22 or later, linux-amd64) into /usr/local/go
MSG
    return 1
  fi
  mkdir -p "${bin_dir}"
  GOBIN="${bin_dir}" GOFLAGS="-mod=mod" "${go}" install "$@" "${module}" >&2
}
