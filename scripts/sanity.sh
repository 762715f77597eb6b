#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection, with no ignore file.
# ansible-test needs the collection at a path ending in
# ansible_collections/orchestrator/k3s, and kubernetes.core next to it (our
# module and its docs import it), so both are copied under the cache:
#   $ORCHESTRATOR_CACHE/sanity/ansible_collections/{orchestrator/k3s,kubernetes/core}
# The copy holds the files git tracks or would track (untracked, not ignored),
# so uncommitted work is checked too. Extra arguments go to ansible-test
# (e.g. --test validate-modules).
#
# ansible-test runs from a venv of its own in the cache, with the same
# ansible-core as .venv: its pinned linters (pylint, yamllint...) would clash
# with ansible-lint's in .venv, and its --venv mode needs a pip bootstrap
# script from ci-files.testing.ansible.com, which is not reachable here.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "${ORCHESTRATOR_ROOT}"
bin="${ORCHESTRATOR_ROOT}/.venv/bin"
venv="${ORCHESTRATOR_CACHE}/sanity/venv"
root="${ORCHESTRATOR_CACHE}/sanity/ansible_collections"
collection="${root}/orchestrator/k3s"
core="$("${bin}/python" -c 'import ansible_collections.kubernetes.core as c, os; print(os.path.dirname(c.__file__) if c.__file__ else list(c.__path__)[0])')"

log sanity "copying the collection to ${collection}"
rm -rf "${collection}"
mkdir -p "${collection}" "${root}/kubernetes/core"
# .collections/ is the checkout's own symlink to itself: a loop, not collection content.
git ls-files -z --cached --others --exclude-standard -- . ':!:.collections' \
  | rsync -a --from0 --ignore-missing-args --files-from=- ./ "${collection}/"
rsync -a --delete --exclude '__pycache__' "${core}/" "${root}/kubernetes/core/"

core_version="$("${bin}/python" -c 'import ansible; print(ansible.__version__)')"
if [[ "$("${venv}/bin/python" -c 'import ansible; print(ansible.__version__)' 2>/dev/null)" != "${core_version}" ]]; then
  log sanity "creating ${venv} with ansible-core ${core_version}"
  rm -rf "${venv}"
  "$("${bin}/python" -c 'import sys; print(sys._base_executable)')" -m venv "${venv}"
  "${venv}/bin/pip" install -q --disable-pip-version-check "ansible-core==${core_version}"
fi

# ansible-test bootstraps pip into each test's venv with get-pip.py from
# ci-files.testing.ansible.com, which this machine cannot reach; it takes a
# cached copy first. The stand-in installs pip from the interpreter's own
# ensurepip, then the pinned packages ansible-test asks for from PyPI.
pip_version="$("${venv}/bin/python" -c 'import re, ansible_test._internal.python_requirements as r, inspect
print(re.search(r"pip=.([0-9.]+)", inspect.getsource(r)).group(1))')"
get_pip="${HOME}/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [[ ! -f "${get_pip}" ]]; then
  mkdir -p "$(dirname "${get_pip}")"
  cat > "${get_pip}" <<'PY'
"""Stand-in for get-pip.py written by orchestrator.k3s scripts/sanity.sh: ensurepip, then pip install."""
import ensurepip
import os
import subprocess
import sys

# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; pip itself must see the machine's pip.conf.
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments], env=environment))
PY
fi

cd "${collection}"
log sanity "ansible-test sanity --python 3.11"
"${venv}/bin/ansible-test" sanity --local --python 3.11 --requirements --color no "$@"
log sanity "passed"
