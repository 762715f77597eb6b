"""The module file is documentation: ansible-doc renders it, and it matches the argument spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from ansible_collections.orchestrator.k3s.plugins.modules import stack
from tests.unit.conftest import REPO

ENV = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}


def ansible_doc(*args: str) -> subprocess.CompletedProcess[str]:
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-doc"), *args, "orchestrator.k3s.stack"]
    return subprocess.run(command, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120, check=False)


def test_ansible_doc_renders_the_module() -> None:
    result = ansible_doc()
    assert result.returncode == 0, result.stderr
    for fragment in (
        "orchestrator.k3s.stack",
        "prune_pvcs",
        "rollback_on_failure",
        "kubeconfig",
        "EXAMPLES",
        "RETURN VALUES",
    ):
        assert fragment in result.stdout


def test_documented_options_are_the_argument_spec() -> None:
    result = ansible_doc("--json")
    assert result.returncode == 0, result.stderr
    documented = json.loads(result.stdout)["orchestrator.k3s.stack"]["doc"]["options"]
    spec = stack.argument_spec()
    assert set(documented) == set(spec)
    for name, option in spec.items():
        assert documented[name].get("type", "str") == option.get("type", "str"), name
        if "default" in option:
            assert documented[name].get("default") == option["default"], name


def test_examples_and_return_are_yaml() -> None:
    assert isinstance(yaml.safe_load(stack.EXAMPLES), list)
    assert "objects" in yaml.safe_load(stack.RETURN)
