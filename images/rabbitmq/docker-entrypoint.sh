#!/usr/bin/env bash
# Entrypoint of orchestrator-k3s/rabbitmq, after the official image's: started
# as root it takes ownership of the data directory and drops to rabbitmq
# (999). The Erlang cookie, the secret that lets a CLI or another node
# control this one, is RABBITMQ_ERLANG_COOKIE when given, else one generated
# at the first start and kept with the data.
set -euo pipefail

if [[ "${1:-}" != rabbitmq-server ]]; then
  exec "$@"
fi

if [[ "$(id -u)" == 0 ]]; then
  find /var/lib/rabbitmq \! -user rabbitmq -exec chown rabbitmq:rabbitmq '{}' +
  exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "${BASH_SOURCE[0]}" "$@"
fi

cookie_file="${HOME}/.erlang.cookie"
umask 0077
if [[ -n "${RABBITMQ_ERLANG_COOKIE:-}" ]]; then
  if [[ ! -f "${cookie_file}" || "$(< "${cookie_file}")" != "${RABBITMQ_ERLANG_COOKIE}" ]]; then
    rm -f "${cookie_file}"
    printf '%s' "${RABBITMQ_ERLANG_COOKIE}" > "${cookie_file}"
  fi
  # The file is the one source from here on, for the server and the CLIs.
  unset RABBITMQ_ERLANG_COOKIE
elif [[ ! -s "${cookie_file}" ]]; then
  # 32 random bytes as hex: an atom Erlang accepts, 256 bits of secret.
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "${cookie_file}"
fi
chmod 0400 "${cookie_file}"
exec "$@"
