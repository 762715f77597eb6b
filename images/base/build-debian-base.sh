#!/usr/bin/env bash
# Build local/debian:bookworm, the root of every image in this project, from
# Debian's own archive: no container registry is reachable here, so the usual
# `FROM debian:bookworm` has to be made locally. Also tagged debian:bookworm so
# Dockerfiles written for a normal Docker Hub setup build unchanged.
#
#   images/base/build-debian-base.sh [--force]
#
# A no-op when the image exists, unless --force. The rootfs is shaped like the
# official debian:bookworm-slim (no docs, man pages or locales; apt caches
# cleaned; services never started by package scripts) so images built on it
# stay small and behave the same on a user's laptop and here.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"

image="local/debian:bookworm"
alias_image="debian:bookworm"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) die "usage: $0 [--force]" ;;
esac

ensure_docker
if [[ "${force}" == 0 ]] && docker image inspect "${image}" >/dev/null 2>&1; then
  docker tag "${image}" "${alias_image}"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
apt_install debootstrap
rootfs="$(mktemp -d "${TMPDIR:-/tmp}/orchestrator-rootfs.XXXXXX")"
build_log="${rootfs}.log"
trap 'rm -rf "${rootfs}" "${build_log}"' EXIT
# quietly CMD...: run a noisy step with its output kept for when it fails.
quietly() {
  "$@" >"${build_log}" 2>&1 || { cat "${build_log}" >&2; die "failed: $*"; }
}
# The .debs are kept between runs so a forced rebuild does not download again.
debs="${ORCHESTRATOR_CACHE}/debootstrap/bookworm"
mkdir -p "${debs}"

log base "debootstrap bookworm (minbase) from ${mirror}"
quietly debootstrap --variant=minbase --components=main --cache-dir="${debs}" \
  bookworm "${rootfs}" "${mirror}"

# Package scripts must not start daemons while an image is being built.
printf '#!/bin/sh\nexit 101\n' > "${rootfs}/usr/sbin/policy-rc.d"
chmod 0755 "${rootfs}/usr/sbin/policy-rc.d"

# The slim variant's exclusions: keep copyright files (the licences), drop
# the rest of the documentation.
cat > "${rootfs}/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
find "${rootfs}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "${rootfs}/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "${rootfs}"/usr/share/{man,groff,info,lintian,linda,locale}/*

# Layers stay small only if apt leaves no caches behind in each RUN.
cat > "${rootfs}/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
CFG

# Security fixes come from bookworm-security: a base built from the release
# suite alone would ship every CVE fixed since the point release.
rm -f "${rootfs}/etc/apt/sources.list"
cat > "${rootfs}/etc/apt/sources.list.d/debian.sources" <<CFG
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${security_mirror}
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
cp /etc/resolv.conf "${rootfs}/etc/resolv.conf"
log base "applying bookworm-updates and bookworm-security"
# (apt's _apt sandbox user cannot write into the chroot's partial dirs.)
quietly chroot "${rootfs}" /bin/sh -c \
  'apt-get -o APT::Sandbox::User=root update && DEBIAN_FRONTEND=noninteractive apt-get -o APT::Sandbox::User=root -y upgrade'

# Docker provides these per container; baked-in copies would leak the host's.
rm -f "${rootfs}/etc/resolv.conf" "${rootfs}/etc/hostname"
rm -rf "${rootfs}"/var/lib/apt/lists/* "${rootfs}"/var/cache/apt/* "${rootfs}"/var/log/* "${rootfs}"/tmp/*

log base "importing ${image}"
tar --numeric-owner -C "${rootfs}" -c . \
  | docker import --change 'CMD ["bash"]' \
      --message "debootstrap --variant=minbase bookworm ${mirror}" - "${image}" >/dev/null
docker tag "${image}" "${alias_image}"
log base "${image} ready ($(docker image inspect -f '{{.Size}}' "${image}" | numfmt --to=iec))"
