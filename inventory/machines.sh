#!/usr/bin/env bash
# Ansible inventory script: the same groups as hosts.yml (k3s_servers and
# k3s_agents under k3s_cluster), with hosts named from the platform settings
# (ORCHESTRATOR_PREFIX, ORCHESTRATOR_WORKERS, from the environment or
# orchestrator.env) instead of written by hand. orchestrator.sh and the
# Vagrantfile use it, so the machines they make and the hosts Ansible
# configures are always the same:
#
#   ansible-playbook -i inventory/machines.sh site.yml
#
# Variables stay in group_vars/ next to this file.
set -euo pipefail
case "${1:---list}" in
  --list) exec "$(dirname "$0")/../orchestrator.sh" inventory ;;
  # Every host's variables come with --list (_meta), so this is never asked.
  --host) echo '{}' ;;
  *) echo "usage: $0 --list | --host HOST" >&2; exit 2 ;;
esac
