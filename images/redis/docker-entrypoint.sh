#!/usr/bin/env bash
# Entrypoint of orchestrator-k3s/redis, after the official redis image's: a
# first argument that is a flag or a *.conf file means redis-server with it;
# started as root it takes ownership of /data and drops to redis (999).
set -euo pipefail

if [[ "${1:-}" == -* || "${1:-}" == *.conf ]]; then
  set -- redis-server "$@"
fi
if [[ "${1:-}" != redis-server ]]; then
  exec "$@"
fi

if [[ "$(id -u)" == 0 ]]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# The official image compiles protected mode off, so other containers can
# connect when no password is set; Debian's build keeps it on. Without a
# config file the same default is given here, first, so arguments still
# override it. With a config file that file decides, as it says.
if [[ "${2:-}" != *.conf ]]; then
  set -- "$1" --protected-mode no "${@:2}"
fi
# Dumps and AOF files readable by the owner only, unless a umask was chosen.
if [[ "$(umask)" == 0022 ]]; then
  umask 0077
fi
exec "$@"
