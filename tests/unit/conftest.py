"""Unit-test fixtures: the real stack values as Ansible resolves them (sys.path: tests/conftest.py)."""

from __future__ import annotations

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


def stack_values(environment: str) -> dict[str, Any]:
    """stacks_values[environment] from inventory/group_vars/all/stacks.yml, templated by Ansible."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    loader = DataLoader()
    data = loader.load_from_file(str(REPO / "inventory/group_vars/all/stacks.yml"), trusted_as_template=True)
    values = Templar(loader=loader, variables=data).template(data["stacks_values"][environment])
    # Plain types, as the module receives them after Ansible's JSON transport.
    return json.loads(json.dumps(values))


@pytest.fixture(scope="session")
def values_by_environment() -> dict[str, dict[str, Any]]:
    return {environment: stack_values(environment) for environment in ENVIRONMENTS}
