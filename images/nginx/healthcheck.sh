#!/usr/bin/env bash
# Health check without curl or wget (not in the image): one HTTP request to
# the default server's /healthz over bash's /dev/tcp.
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/80
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 2 status <&3
[[ "${status}" == "HTTP/1.1 200"* ]]
