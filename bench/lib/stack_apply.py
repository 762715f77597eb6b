"""bench/apply: the stacks phase as a user runs it, against kubernetes.core.k8s and kubectl, on one cluster.

One local kube-apiserver 1.34 (tests/support/apiserver.py, simulated nodes) and three ways of
putting both stacks into both namespaces, dev and prod, one after the other into the same namespaces:

(a) the stacks phase of site.yml: ``ansible-playbook -i inventory/hosts.yml playbooks/stacks.yml``
    with this cluster's kubeconfig, its storage class and a scratch secrets file (one task for the
    four stacks: apply, prune, wait for the rollouts);
(b) kubernetes.core.k8s with server-side apply on the same rendered manifests (stacks.yml's own task
    with ``dest:``, same values and secrets), one task looping over the four manifests, no wait;
(c) ``kubectl apply --server-side --applyset=secret/<stack> --prune``, one per namespace and stack
    (the ApplySet prune, as the module does), then ``kubectl rollout status`` of the set's workloads
    (the module waits too): the module's job done with kubectl. Its apply-only time is printed too.

The clock is the wall time of each command as a user types it (ansible-playbook, the kubectl
commands), so Ansible's own start-up counts; an ansible.builtin.ping play on the same inventory
shows that floor. Every first apply starts from namespaces emptied of the stacks' objects (their
claims kept, as a redeploy finds them) after their pods are gone: median of FIRST_RUNS. Every no-op
runs on the settled cluster: median of NOOP_RUNS.

Targets (issue 12): the stacks phase's no-op at least 4x faster than kubernetes.core.k8s doing the
same work, and under 2 s in all; its first apply no slower than kubectl's. A missed target prints
where the time goes: the playbook's task durations and a cProfile of the module process.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import (  # noqa: E402
    PART_OF_LABEL,
    applyset_id,
)
from tests.support.apiserver import KUBECTL, LocalCluster  # noqa: E402

NOOP_RUNS = 3
FIRST_RUNS = 3
SETTLE_SECONDS = 180
BIN = Path(sys.executable).parent
STACKS = ("vote", "crud")
NAMESPACES = ("dev", "prod")
# What the stacks render, and so what is deleted before each first apply (claims stay).
MEMBER_KINDS = "secrets,configmaps,services,deployments,statefulsets,hpa,ingresses,networkpolicies"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}
PING_PLAY = """- name: Ansible's own floor on this inventory
  hosts: k3s_servers[0]
  gather_facts: false
  tasks:
    - name: Nothing but a task
      ansible.builtin.ping:
      delegate_to: localhost
"""
K8S_PLAY = """- name: Deploy both stacks into every environment with kubernetes.core.k8s
  hosts: k3s_servers[0]
  gather_facts: false
  tasks:
    - name: Apply each rendered stack with server-side apply
      kubernetes.core.k8s:
        src: "{{{{ item }}}}"
        apply: true
        server_side_apply: {{field_manager: bench-k8s}}
        kubeconfig: {kubeconfig}
      loop: {files}
      delegate_to: localhost
"""


class Bench:
    """The cluster, the scratch folder and the extra vars every Ansible run of the bench gets."""

    def __init__(self, cluster: LocalCluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        kube = workdir / "kube"
        kube.mkdir()
        (kube / "bench.yaml").write_text(Path(cluster.kubeconfig).read_text())
        self.extra = {
            "k3s_kubeconfig_dir": str(kube),
            "k3s_kubeconfig_cluster_name": "bench",
            "stacks_secrets_file": str(workdir / "secrets.yml"),
            # The inventory's `shared` class is roles/shared_storage's; this API server has local-path.
            "stacks_storage_class": "local-path",
        }

    def playbook(self, playbook: Path, keep: str | None = None) -> dict[str, Any]:
        """Run a playbook as a user does; its wall time, task durations, results and (keep) module payloads."""
        extra_file = self.workdir / "extra.json"
        extra_file.write_text(json.dumps(self.extra))
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json"}
        if keep:
            env.update(ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(self.workdir / keep))
        command = [str(BIN / "ansible-playbook"), "-i", "inventory/hosts.yml", str(playbook), "-e", f"@{extra_file}"]
        started = time.monotonic()
        process = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200, check=False)
        wall = time.monotonic() - started
        if process.returncode != 0:
            raise SystemExit(f"{playbook.name} failed:\n{process.stdout[-4000:]}\n{process.stderr[-2000:]}")
        tasks = json.loads(process.stdout)["plays"][0]["tasks"]
        return {
            "wall": wall,
            "tasks": [(t["task"]["name"], seconds(t["task"]["duration"])) for t in tasks],
            "results": [result for t in tasks for result in t["hosts"].values()],
            # The duration of the task that ran orchestrator.k3s.stack with `stacks:` (none in other plays).
            "module_task": next(
                (seconds(t["task"]["duration"]) for t in tasks if any("stacks" in r for r in t["hosts"].values())),
                None,
            ),
            "payloads": sorted((self.workdir / keep).glob("ansible-tmp-*/AnsiballZ_*.py")) if keep else [],
        }

    def kubectl(self, *args: str, env: dict[str, str] | None = None) -> float:
        started = time.monotonic()
        subprocess.run(
            [str(KUBECTL), f"--kubeconfig={self.cluster.kubeconfig}", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, **(env or {})},
        )
        return time.monotonic() - started

    # -- the cluster between runs ----------------------------------------------------
    def empty(self) -> None:
        """Delete the stacks' objects (parents included) and wait until their pods are gone, so no first apply
        competes with the garbage collector."""
        for namespace in NAMESPACES:
            self.cluster.kubectl("delete", MEMBER_KINDS, "--all", "-n", namespace, "--wait=true")
        wait_quiet("emptied namespaces", lambda: self.names("pods"))

    def names(self, kinds: str) -> list[str]:
        return [
            f"{ns}/{name}"
            for ns in NAMESPACES
            for name in self.cluster.kubectl("get", kinds, "-n", ns, "-o", "name").split()
        ]

    def settle(self) -> None:
        """Wait until every workload is rolled out and ready: a no-op is timed as a second run finds the cluster."""

        def not_rolled_out() -> list[str]:
            busy = []
            for namespace in NAMESPACES:
                listed = self.cluster.kubectl("get", "deployments,statefulsets", "-n", namespace, "-o", "json")
                for item in json.loads(listed)["items"]:
                    status = item.get("status") or {}
                    if status.get("observedGeneration") != item["metadata"]["generation"] or status.get(
                        "readyReplicas", 0
                    ) != item["spec"].get("replicas", 1):
                        busy.append(f"{namespace}/{item['metadata']['name']}")
            return busy

        wait_quiet("rollouts", not_rolled_out)


def seconds(duration: dict[str, str]) -> float:
    start, end = (datetime.fromisoformat(duration[k].replace("Z", "+00:00")) for k in ("start", "end"))
    return (end - start).total_seconds()


def wait_quiet(what: str, still_busy: Callable[[], list[str]]) -> None:
    """Poll until still_busy() names nothing, then give the controllers a second more."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while busy := still_busy():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: {', '.join(busy[:10])} still busy after {SETTLE_SECONDS} s")
        time.sleep(0.3)
    time.sleep(1.0)


def stack_results(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The result of stacks.yml's module task (the one with a `stacks` list)."""
    return [r for r in run["results"] if "stacks" in r]


def derived_playbooks(bench: Bench) -> tuple[Path, Path]:
    """A copy of playbooks/stacks.yml whose stack task also has `dest:` (render only), beside the real
    stacks/ and tasks/ (symlinks): the same items, values and secrets as the stacks phase."""
    root = bench.workdir / "checkout"
    (root / "playbooks").mkdir(parents=True)
    (root / "stacks").symlink_to(REPO / "stacks")
    (root / "playbooks" / "tasks").symlink_to(REPO / "playbooks" / "tasks")
    plays = yaml.safe_load((REPO / "playbooks" / "stacks.yml").read_text())
    tasks = [t for t in plays[0]["tasks"] if "orchestrator.k3s.stack" in t]
    assert len(tasks) == 1, "playbooks/stacks.yml should deploy with one orchestrator.k3s.stack task"
    rendered = bench.workdir / "rendered"
    tasks[0]["orchestrator.k3s.stack"]["dest"] = str(rendered)
    render = root / "playbooks" / "render-as-stacks.yml"
    render.write_text(yaml.safe_dump(plays, sort_keys=False))
    return render, rendered


def manifests(rendered: Path) -> dict[tuple[str, str], Path]:
    """One multi-document file per (namespace, stack) from the module's dest: layout <ns>/<stack>/<component>."""
    files = {}
    for namespace in NAMESPACES:
        for stack in STACKS:
            parts = sorted((rendered / namespace / stack).glob("*.yaml"))
            assert parts, f"nothing rendered for {stack} in {namespace}"
            path = rendered / f"{namespace}-{stack}.yaml"
            path.write_text("\n---\n".join(p.read_text() for p in parts))
            files[(namespace, stack)] = path
    return files


def kubectl_applysets(bench: Bench, files: dict[tuple[str, str], Path], wait: bool) -> float:
    """The module's job with kubectl: per namespace and stack one ApplySet applied and pruned, then (wait)
    the rollout status of its workloads."""
    started = time.monotonic()
    for (namespace, stack), path in files.items():
        bench.kubectl(
            "apply",
            "--server-side",
            "--field-manager=bench-kubectl",
            f"--namespace={namespace}",
            "--prune",
            f"--applyset=secret/kubectl-{stack}",
            "-f",
            str(path),
            env={"KUBECTL_APPLYSET": "true"},
        )
    if wait:
        for (namespace, stack), _path in files.items():
            selector = f"{PART_OF_LABEL}={applyset_id(f'kubectl-{stack}', namespace)}"
            for kind in ("deployments", "statefulsets"):
                bench.kubectl("rollout", "status", kind, "-n", namespace, "-l", selector, "--timeout=600s")
    return time.monotonic() - started


# Runs a kept AnsiballZ payload as Ansible does (as __main__, with no argument: an argument is a
# debug command to it) under cProfile, and prints the module's own functions, the imports of the
# kubernetes package and the sleeps, by cumulative time.
PROFILER = """
import cProfile, io, pstats, runpy, sys
path = sys.argv[1]
sys.argv = [path]
profile = cProfile.Profile()
try:
    profile.runcall(runpy.run_path, path, run_name="__main__")
except SystemExit:
    pass
out = io.StringIO()
stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
stats.print_stats("module_utils/stack/|kubernetes/__init__|time.sleep|modules/stack.py", 32)
sys.stderr.write(out.getvalue())
"""


def profile_payload(payload: Path) -> str:
    """cProfile of one module process (the payload Ansible ran, run again), by cumulative time."""
    process = subprocess.run(
        [sys.executable, "-c", PROFILER, str(payload)], capture_output=True, text=True, timeout=900, check=False
    )
    text = process.stderr
    start = text.find("   ncalls")
    return text[start:] if start >= 0 else text[-3000:]


def breakdown(run: dict[str, Any]) -> str:
    """Where a playbook's wall time went: Ansible's start-up and play set-up, then each task."""
    lines = [f"    {run['wall'] - sum(s for _n, s in run['tasks']):6.2f} s  ansible-playbook start-up, inventory, play"]
    lines += [f"    {s:6.2f} s  task: {name}" for name, s in run["tasks"]]
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp, LocalCluster() as cluster:
        bench = Bench(cluster, Path(tmp))
        cluster.apply(
            "\n---\n".join(
                json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": RESTRICTED}})
                for ns in NAMESPACES
            )
        )
        load_before = os.getloadavg()
        print(f"cluster up: {cluster.server}; load average {load_before[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
        ping_play = bench.workdir / "ping.yml"
        ping_play.write_text(PING_PLAY)
        floor = statistics.median(bench.playbook(ping_play)["wall"] for _run in range(NOOP_RUNS))

        # (a) the stacks phase.
        stacks_play = REPO / "playbooks" / "stacks.yml"
        firsts = []
        for _run in range(FIRST_RUNS):
            bench.empty()
            firsts.append(bench.playbook(stacks_play))
            if not all(r["changed"] for r in stack_results(firsts[-1])):
                raise SystemExit("the stacks phase's first apply reported changed=false")
        bench.settle()
        noops = [bench.playbook(stacks_play) for _run in range(NOOP_RUNS)]
        # Once more keeping the module's payload (no pipelining then: not timed), for a profile.
        noops_kept = bench.playbook(stacks_play, keep="noop-kept")
        if any(s["changed"] for run in [*noops, noops_kept] for r in stack_results(run) for s in r["stacks"]):
            raise SystemExit("the stacks phase's no-op reported a change")
        payload = next(p for p in noops_kept["payloads"] if p.name == "AnsiballZ_stack.py")
        profiles = {"noop": profile_payload(payload)}
        # The same module process into emptied namespaces is a first apply (printed if a target is missed).
        bench.empty()
        profiles["first"] = profile_payload(payload)
        objects = len(bench.names(MEMBER_KINDS))
        phase = {"first": median_run(firsts), "noop": median_run(noops)}
        print(f"stacks phase: first {phase['first']['wall']:.2f} s, no-op {phase['noop']['wall']:.2f} s", flush=True)

        # (b) kubernetes.core.k8s on the same rendered manifests.
        render_play, rendered = derived_playbooks(bench)
        bench.playbook(render_play)
        files = manifests(rendered)
        k8s_play = bench.workdir / "k8s.yml"
        k8s_play.write_text(
            K8S_PLAY.format(kubeconfig=cluster.kubeconfig, files=json.dumps([str(p) for p in files.values()]))
        )
        k8s_firsts = []
        for _run in range(FIRST_RUNS):
            bench.empty()
            k8s_firsts.append(bench.playbook(k8s_play))
        bench.settle()
        k8s_noops = [bench.playbook(k8s_play) for _run in range(NOOP_RUNS)]
        k8s_noop_changed = any(r.get("changed") for run in k8s_noops for r in run["results"])
        k8s = {"first": median_run(k8s_firsts), "noop": median_run(k8s_noops)}
        print(f"kubernetes.core.k8s: first {k8s['first']['wall']:.2f} s, no-op {k8s['noop']['wall']:.2f} s", flush=True)

        # (c) kubectl, ApplySet + prune, with and without the rollout status.
        kubectl: dict[str, list[float]] = {"first": [], "first_apply_only": [], "noop": []}
        for _run in range(FIRST_RUNS):
            bench.empty()
            kubectl["first"].append(kubectl_applysets(bench, files, wait=True))
        for _run in range(FIRST_RUNS):
            bench.empty()
            kubectl["first_apply_only"].append(kubectl_applysets(bench, files, wait=False))
        bench.settle()
        kubectl["noop"] = [kubectl_applysets(bench, files, wait=True) for _run in range(NOOP_RUNS)]
        kube = {key: statistics.median(values) for key, values in kubectl.items()}

        load_after = os.getloadavg()
        ours_first, ours_noop = phase["first"]["wall"], phase["noop"]["wall"]
        print(
            f"\nboth stacks in dev and prod: {objects} objects (4 ApplySet parents included);"
            f" first apply = median of {FIRST_RUNS}, no-op = median of {NOOP_RUNS};"
            f" load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs"
        )
        print(f"floor: an ansible-playbook run of one ansible.builtin.ping on this inventory {floor:.2f} s\n")
        print(f"{'':58}{'first apply':>14}{'no-op':>10}")
        rows = [
            ("stacks phase: ansible-playbook playbooks/stacks.yml", ours_first, ours_noop),
            ("  its module task alone", phase["first"]["module_task"], phase["noop"]["module_task"]),
            ("kubernetes.core.k8s, server-side apply, no wait", k8s["first"]["wall"], k8s["noop"]["wall"]),
            ("kubectl --applyset --prune + rollout status", kube["first"], kube["noop"]),
            ("kubectl --applyset --prune, apply only", kube["first_apply_only"], None),
        ]
        for label, first, noop in rows:
            print(f"{label:58}{first:>12.2f} s" + (f"{noop:>8.2f} s" if noop is not None else ""))
        print(f"kubernetes.core.k8s reports changed=true on a no-op: {k8s_noop_changed}")

        verdicts = [
            ("no-op stacks phase under 2 s in all", ours_noop < 2.0, f"{ours_noop:.2f} s"),
            (
                "no-op >= 4x faster than kubernetes.core.k8s",
                k8s["noop"]["wall"] >= 4 * ours_noop,
                f"{k8s['noop']['wall'] / ours_noop:.1f}x",
            ),
            (
                "first apply no slower than kubectl (same job)",
                ours_first <= kube["first"],
                f"{ours_first / kube['first']:.2f}x kubectl's",
            ),
            (
                "  than kubectl's apply alone (no wait)",
                ours_first <= kube["first_apply_only"],
                f"{ours_first / kube['first_apply_only']:.2f}x kubectl's",
            ),
        ]
        print("\ntargets (wall time as a user runs each)")
        for label, met, value in verdicts:
            print(f"  {label:48} {value:>20}   {'met' if met else 'MISSED'}")
        if not all(met for _label, met, _value in verdicts):
            print("\na target was missed; where the time goes.")
            print(f"\nstacks phase, first apply (median run):\n{breakdown(phase['first'])}")
            print(f"\nstacks phase, no-op (median run):\n{breakdown(phase['noop'])}")
            print(f"\nkubernetes.core.k8s, no-op (median run):\n{breakdown(k8s['noop'])}")
            for phase_name in ("first", "noop"):
                print(
                    f"\nthe stacks phase's module process, {'first apply' if phase_name == 'first' else 'no-op'}"
                    f" (cProfile, cumulative; its own overhead doubles the times):\n{profiles[phase_name]}"
                )
    return 0


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda run: run["wall"])[len(runs) // 2]


if __name__ == "__main__":
    raise SystemExit(main())
