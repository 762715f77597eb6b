"""Unit-test fixtures: the real stack values as Ansible resolves them (sys.path: tests/conftest.py)."""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

STACKS = REPO / "stacks"
STACK_NAMES = ("vote", "crud")
ENVIRONMENTS = ("dev", "prod")

# Obvious placeholders of the shape generate-secrets.yml produces.
PLACEHOLDER_SECRETS: dict[str, dict[str, str]] = {
    "vote": {
        "db_password": "placeholder-db-password",  # pragma: allowlist secret (placeholder)
        "redis_password": "placeholder-redis-password",  # pragma: allowlist secret (placeholder)
    },
    "crud": {
        "inventory_db_password": "placeholder-inventory-db-password",  # pragma: allowlist secret (placeholder)
        "billing_db_password": "placeholder-billing-db-password",  # pragma: allowlist secret (placeholder)
        "billing_queue_password": "placeholder-billing-queue-password",  # pragma: allowlist secret (placeholder)
    },
}


# Run in a process of its own: the group_vars use builtin lookups (env), which need Ansible's plugin
# loader, and that loader's collection finder would take over the imports of this test process.
_TEMPLATE_VALUES = """
import json, pathlib, sys
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar

init_plugin_loader()
loader = DataLoader()
data = {}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.yml")):
    data.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
templar = Templar(loader=loader, variables=data)
print(json.dumps({env: templar.template(data["stacks_values"][env]) for env in sys.argv[2:]}))
"""


@functools.cache
def _templated_values() -> dict[str, dict[str, Any]]:
    process = subprocess.run(
        [sys.executable, "-c", _TEMPLATE_VALUES, str(REPO / "inventory/group_vars/all"), *ENVIRONMENTS],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(process.stdout)


def stack_values(environment: str) -> dict[str, Any]:
    """stacks_values[environment] as Ansible templates it with every file of inventory/group_vars/all
    (stacks.yml refers to settings of the others, as the registry's); a fresh copy each call."""
    return copy.deepcopy(_templated_values()[environment])


@pytest.fixture(scope="session")
def values_by_environment() -> dict[str, dict[str, Any]]:
    return {environment: stack_values(environment) for environment in ENVIRONMENTS}
