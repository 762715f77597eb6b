"""Unit-test fixtures: the real stack values as Ansible resolves them (sys.path: tests/conftest.py)."""

from __future__ import annotations

import functools
import json
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


@functools.cache
def _load_plugins() -> None:
    """Ansible's plugin loader, once per session: the group_vars use builtin lookups (env)."""
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader()


def stack_values(environment: str) -> dict[str, Any]:
    """stacks_values[environment] templated by Ansible with every file of inventory/group_vars/all (stacks.yml
    refers to settings of the others, as the registry's)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    _load_plugins()
    loader = DataLoader()
    data: dict[str, Any] = {}
    for path in sorted((REPO / "inventory/group_vars/all").glob("*.yml")):
        data.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    values = Templar(loader=loader, variables=data).template(data["stacks_values"][environment])
    # Plain types, as the module receives them after Ansible's JSON transport.
    return json.loads(json.dumps(values))


@pytest.fixture(scope="session")
def values_by_environment() -> dict[str, dict[str, Any]]:
    return {environment: stack_values(environment) for environment in ENVIRONMENTS}
