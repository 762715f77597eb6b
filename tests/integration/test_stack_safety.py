"""What only a real API server decides: SSA field ownership (the HPA hand-over), UID preconditions, adoption;
and what only a real playbook run shows: paths resolved as Ansible resolves them, one task for every stack of
playbooks/stacks.yml, and no process outliving its task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.client import connect
from tests.integration.conftest import cluster_pids, marked_processes
from tests.integration.stack_runs import STORAGE_CLASS, actions, run_stack
from tests.support.apiserver import LocalCluster
from tests.unit.conftest import REPO
from tests.unit.recording_module import RecordingModule

CONTAINER = """      containers:
        - name: web
          image: example/web:1
          resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 100m, memory: 32Mi}}
          livenessProbe: {tcpSocket: {port: 80}}
          readinessProbe: {tcpSocket: {port: 80}}
"""
WEB = (
    """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
"""
    + CONTAINER
)
HPA = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
"""
CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: calm}\n"


def small_stack(folder: Path, **templates: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in templates.items():
        (folder / f"{name}.yaml.j2").write_text(text)
    return folder


def deployment(cluster: LocalCluster, namespace: str, name: str = "web") -> dict[str, Any]:
    return json.loads(
        cluster.kubectl("get", "deployment", name, "-n", namespace, "-o", "json", "--show-managed-fields")
    )


def test_adding_an_hpa_hands_the_replicas_over_without_scaling_down(cluster: LocalCluster, tmp_path: Path) -> None:
    """2b: before, SSA deleted spec.replicas the module stopped sending, and the workload fell to 1."""
    src = small_stack(tmp_path / "hpa", web=WEB, hpa=HPA)
    options: dict[str, Any] = {"src": src, "values": {}, "namespace_labels": {}}
    first = run_stack(cluster, "hpa", "it-hpa", components=["web"], **options)
    assert not first.get("failed"), first.get("msg")
    assert deployment(cluster, "it-hpa")["spec"]["replicas"] == 3

    second = run_stack(cluster, "hpa", "it-hpa", **options)
    assert not second.get("failed"), second.get("msg")
    assert actions(second)["HorizontalPodAutoscaler/web"] == "created"
    live = deployment(cluster, "it-hpa")
    assert live["spec"]["replicas"] == 3
    owners = [
        m["manager"] for m in live["metadata"]["managedFields"] if "f:replicas" in m["fieldsV1"].get("f:spec", {})
    ]
    assert "orchestrator.k3s.stack" not in owners and owners, owners
    # The autoscaler (no metrics here, 3 is within 2..5) leaves it; nothing scaled it down meanwhile.
    time.sleep(6)
    assert deployment(cluster, "it-hpa")["spec"]["replicas"] == 3
    assert run_stack(cluster, "hpa", "it-hpa", **options)["changed"] is False


def test_a_delete_leaves_an_object_made_anew_since_it_was_listed(cluster: LocalCluster) -> None:
    """2f: deletes carry a UID precondition."""
    cluster.kubectl("create", "namespace", "it-uid")
    cluster.kubectl("create", "configmap", "victim", "-n", "it-uid", "--from-literal=a=1")
    listed = json.loads(cluster.kubectl("get", "configmap", "victim", "-n", "it-uid", "-o", "json"))
    listed.setdefault("apiVersion", "v1")
    cluster.kubectl("delete", "configmap", "victim", "-n", "it-uid")
    cluster.kubectl("create", "configmap", "victim", "-n", "it-uid", "--from-literal=a=2")
    module = RecordingModule(
        {"kubeconfig": cluster.kubeconfig, "field_manager": "orchestrator.k3s.stack", "force_conflicts": False}
    )
    api = connect(module, 30, False)
    assert api.delete(listed) is False
    now = json.loads(cluster.kubectl("get", "configmap", "victim", "-n", "it-uid", "-o", "json"))
    assert now["data"] == {"a": "2"} and now["metadata"]["uid"] != listed["metadata"]["uid"]


def test_an_object_made_by_hand_is_not_adopted_unless_asked(cluster: LocalCluster, tmp_path: Path) -> None:
    """2f: before, server-side apply took it over silently."""
    src = small_stack(tmp_path / "adopt", settings=CONFIG)
    cluster.kubectl("create", "namespace", "it-adopt")
    cluster.kubectl("create", "configmap", "settings", "-n", "it-adopt", "--from-literal=mode=wild")
    refused = run_stack(cluster, "adopt", "it-adopt", src=src, values={})
    assert refused["failed"] is True
    assert "ConfigMap it-adopt/settings exists and is not a member of this stack" in refused["msg"]
    assert "stack-adopt" not in cluster.kubectl("get", "secrets", "-n", "it-adopt", "-o", "name")
    adopted = run_stack(cluster, "adopt", "it-adopt", src=src, values={}, adopt=True)
    assert not adopted.get("failed"), adopted.get("msg")
    assert actions(adopted)["ConfigMap/settings"] == "configured"
    # Taken over: a member now, with the stack's value, though kubectl create's manager held the field.
    live = json.loads(cluster.kubectl("get", "configmap", "settings", "-n", "it-adopt", "-o", "json"))
    assert live["data"] == {"mode": "calm"}
    assert live["metadata"]["labels"]["applyset.kubernetes.io/part-of"] == adopted["applyset"]["id"]


def ansible_playbook(playbook: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json"}
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(playbook), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_relative_paths_resolve_as_for_every_module(cluster: LocalCluster, tmp_path: Path) -> None:
    """2d: src and kubeconfig are found next to the playbook (its files/ folder first), dest in the module's
    working directory; before, the warm worker resolved them against its own folder in the cache."""
    play, work = tmp_path / "play", tmp_path / "work"
    small_stack(play / "mystack", settings=CONFIG)
    (play / "files").mkdir()
    (play / "files" / "kube.yaml").write_text(Path(cluster.kubeconfig).read_text())
    work.mkdir()
    playbook = play / "paths.yml"
    playbook.write_text(
        """- hosts: localhost
  connection: local
  gather_facts: false
  vars: {ansible_python_interpreter: "{{ ansible_playbook_python }}"}
  tasks:
    - name: Render with relative paths
      orchestrator.k3s.stack: {name: paths, namespace: it-paths, src: mystack, dest: out}
    - name: Dry run with a relative kubeconfig
      orchestrator.k3s.stack: {name: paths, namespace: it-paths, src: mystack, kubeconfig: kube.yaml}
      check_mode: true
"""
    )
    process = ansible_playbook(playbook, work)
    assert process.returncode == 0, process.stdout[-3000:]
    # A module's working directory with a local connection is the playbook's folder, not the caller's.
    assert (play / "out" / "settings.yaml").exists() and not (work / "out").exists()
    tasks = json.loads(process.stdout)["plays"][0]["tasks"]
    assert {o["action"] for o in tasks[1]["hosts"]["localhost"]["objects"]} == {"created"}


def test_the_stacks_phase_is_one_task_and_leaves_no_process(cluster: LocalCluster, tmp_path: Path) -> None:
    """playbooks/stacks.yml deploys both stacks into dev and prod in one module run; no process outlives it."""
    (tmp_path / "kube").mkdir()
    (tmp_path / "kube" / "it.yaml").write_text(Path(cluster.kubeconfig).read_text())
    extra = ["-e", f"k3s_kubeconfig_dir={tmp_path / 'kube'}", "-e", "k3s_kubeconfig_cluster_name=it"]
    extra += ["-e", f"stacks_secrets_file={tmp_path / 'secrets.yml'}", "-e", f"stacks_storage_class={STORAGE_CLASS}"]
    extra += ["-e", '{"stacks_namespaces": {"dev": "it-phase-dev", "prod": "it-phase-prod"}}']
    extra += ["-e", '{"orchestrator_deploy_environments": ["dev", "prod"]}']
    # NodePorts are cluster-wide: others than test_stack_module's.
    ports = {
        env: {"vote": base, "result": base + 1, "api-gateway": base + 2}
        for env, base in (("dev", 30510), ("prod", 30520))
    }
    extra += ["-e", json.dumps({"stacks_node_ports": ports})]
    for run in ("first", "second"):
        process = ansible_playbook(REPO / "playbooks/stacks.yml", REPO, "-i", "inventory/hosts.yml", *extra)
        assert process.returncode == 0, process.stdout[-4000:]
        task = json.loads(process.stdout)["plays"][0]["tasks"][-1]
        result = next(iter(task["hosts"].values()))
        assert [(s["name"], s["namespace"]) for s in result["stacks"]] == [
            ("vote", "it-phase-dev"),
            ("crud", "it-phase-dev"),
            ("vote", "it-phase-prod"),
            ("crud", "it-phase-prod"),
        ]
        assert result["changed"] is (run == "first")
        assert marked_processes(cluster_pids(cluster)) == []


@pytest.fixture(autouse=True)
def no_process_left_by_the_test(cluster: LocalCluster) -> Any:
    yield
    assert marked_processes(cluster_pids(cluster)) == []
