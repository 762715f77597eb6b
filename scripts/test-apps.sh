#!/usr/bin/env bash
# The apps' own tests: result's node tests, then the Python suites for both
# stacks, each against real Redis, PostgreSQL, RabbitMQ (started by the
# tests themselves on loopback) and headless Chromium, and the voting app's
# docker-compose.yml (tests/apps/compose: real compose and Docker, images
# from scripts/build-images.sh). The same stacks degraded on a real cluster
# are tests/e2e/test_apps_degraded.py (needs ORCHESTRATOR_KUBECONFIG).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "${ORCHESTRATOR_ROOT}"

log apps "result: npm ci + node --test"
(cd apps/result && npm ci --no-audit --no-fund --loglevel=error && node --test)
log apps "pytest tests/apps (vote and crud stacks)"
.venv/bin/pytest -q tests/apps
