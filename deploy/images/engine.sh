# Sourced by the image scripts: picks the container engine and the flags this machine needs.
# A working Docker daemon wins; else podman. Where neither runs, root installs Debian's podman,
# anyone else is told the exact command.
# shellcheck shell=bash

pick_engine() {
  if [ -n "${CONTAINER_ENGINE:-}" ]; then
    ENGINE=$CONTAINER_ENGINE
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then
    ENGINE=podman
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "no container engine: installing Debian's podman ..." >&2
    apt-get install -y --no-install-recommends podman runc \
      || { apt-get update && apt-get install -y --no-install-recommends podman runc; }
    ENGINE=podman
  else
    echo "No container engine found. Install one: sudo apt-get install -y --no-install-recommends podman runc" >&2
    return 1
  fi
  # Package downloads inside a build go through this machine's TLS proxy when there is one:
  # the machine's CA bundle is mounted into every build step that downloads.
  CA_BUNDLE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
  BUILD_FLAGS=(--network host)
  if [ "$ENGINE" = podman ]; then
    podman_config
    BUILD_FLAGS+=(--layers)
    [ -f "$CA_BUNDLE" ] && BUILD_FLAGS+=(-v "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro")
  fi
  export ENGINE CA_BUNDLE
}

# Debian's podman defaults to crun, which fails on hosts with cgroups in hybrid mode, and sets
# rlimits a nested container may not raise. Root writes a system config once; others are told.
podman_config() {
  local conf=/etc/containers/containers.conf
  if [ -f "$conf" ] || [ -f "${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ]; then
    mkdir -p /etc/containers
    printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$conf"
    echo "wrote $conf (runc runtime, no default ulimits)" >&2
  fi
}

# True when the engine has the image locally, or can pull it.
have_or_pull() {
  "$ENGINE" image inspect "$1" >/dev/null 2>&1 && return 0
  timeout 60 "$ENGINE" pull -q "$1" >/dev/null 2>&1
}
