"""playbooks/tasks/generate-secrets.yml: random credentials on the first run, the same ones afterwards."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from tests.unit.conftest import REPO

PLAYBOOK = """
- name: Provide the stacks' secrets
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    stacks_secrets_file: {secrets_file}
    stacks_environments: [dev, prod]
    stacks_secret_keys: {{vote: [db_password, redis_password], crud: [billing_queue_password]}}
  tasks:
    - name: Include the task file under test
      ansible.builtin.include_tasks: {tasks}
    - name: Show what the play sees
      ansible.builtin.debug:
        msg: "{{{{ stacks_secrets | to_json }}}}"
"""


def play(tmp_path: Path, *extra: str) -> tuple[dict, dict]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        PLAYBOOK.format(
            secrets_file=tmp_path / "state" / "secrets.yml", tasks=REPO / "playbooks/tasks/generate-secrets.yml"
        )
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json"}
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(playbook), *extra]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = json.loads(result.stdout)
    tasks = output["plays"][0]["tasks"]
    return output["stats"]["localhost"], json.loads(tasks[-1]["hosts"]["localhost"]["msg"])


def test_first_run_generates_private_random_secrets_and_later_runs_reuse_them(tmp_path: Path) -> None:
    stats, secrets = play(tmp_path)
    assert stats["changed"] == 2  # the folder and the file
    secrets_file = tmp_path / "state" / "secrets.yml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    values = [v for env in secrets.values() for stack in env.values() for v in stack.values()]
    assert sorted(secrets) == ["dev", "prod"] and sorted(secrets["dev"]) == ["crud", "vote"]
    assert len(values) == 6 and len(set(values)) == 6
    assert all(len(v) == 32 and v.isalnum() for v in values)
    assert yaml.safe_load(secrets_file.read_text())["stacks_secrets"] == secrets

    stats, again = play(tmp_path)
    assert stats["changed"] == 0 and again == secrets


def test_secrets_from_the_inventory_or_vault_win_and_nothing_is_written(tmp_path: Path) -> None:
    given = {"dev": {"vote": {"db_password": "from-the-vault"}}}  # pragma: allowlist secret (placeholder)
    _stats, secrets = play(tmp_path, "-e", json.dumps({"stacks_secrets": given}))
    assert secrets == given
    assert not (tmp_path / "state").exists()
