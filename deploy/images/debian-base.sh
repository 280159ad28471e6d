#!/usr/bin/env bash
# Builds localhost/careflow-debian:bookworm, a minimal Debian image, from Debian's packages
# with debootstrap: for machines that reach Debian's archive but no container registry.
# The Python, Kafka and PostgreSQL images are built on it (deploy/images/*.Containerfile).
# Needs root (debootstrap, chroot). Usage: deploy/images/debian-base.sh [image-name]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=engine.sh
. "$here/engine.sh"
pick_engine
IMAGE=${1:-localhost/careflow-debian:bookworm}
SUITE=bookworm

if "$ENGINE" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE is already built"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Building a base image from Debian packages needs root: sudo $0" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends debootstrap \
    || { apt-get update && apt-get install -y --no-install-recommends debootstrap; }
fi

# The archive this machine already uses (its apt sources), so nothing else is contacted.
sources=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
# shellcheck disable=SC2086
mirror=$(grep -hoE '^(URIs:|deb)\s+\S+' $sources /dev/null | awk '{print $2}' \
  | grep -E '/debian/?$' | head -n1 || true)
if [ -z "$mirror" ]; then
  echo "cannot find a Debian mirror in /etc/apt/sources.list*" >&2
  exit 1
fi

rootfs=$(mktemp -d /var/tmp/careflow-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap $SUITE from $mirror (about a minute) ..."
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$mirror" >/dev/null
# Security updates from the same place the machine takes them.
cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
if ls "$rootfs"/etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
  : >"$rootfs/etc/apt/sources.list"
fi
# Images stay small: no documentation, no apt caches.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-careflow-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/*
# Keep /usr/share/man/man1: some packages (Java) link their manual pages there.
find "$rootfs"/usr/share/man -type f -delete
tar --numeric-owner -C "$rootfs" -c . | "$ENGINE" import \
  --change 'ENV DEBIAN_FRONTEND=noninteractive' --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "built $IMAGE"
