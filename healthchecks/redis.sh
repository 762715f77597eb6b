#!/bin/sh
# Health check of the redis service (docker-compose.yml): Redis answers PONG.
# redis-cli reads the password from REDISCLI_AUTH, so it is not on the
# command line. POSIX sh: the image has no bash requirement.
set -eu
answer="$(redis-cli -h 127.0.0.1 ping 2>&1)" || {
  echo "redis-cli failed: ${answer}"
  exit 1
}
[ "${answer}" = PONG ] || {
  echo "redis answered: ${answer}"
  exit 1
}
