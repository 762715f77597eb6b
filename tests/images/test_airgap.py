"""toolchain/build-airgap.sh: the kubeadm engine's air-gap folder.

Checks the folder's layout and checksums against kubeadm's own image list,
then runs every image with docker: each program reports the pinned version,
pause stops on SIGTERM, CoreDNS answers on port 53 as non-root, busybox has
what local-path-provisioner's helper pods and the tests use. A second run
must change nothing and stay quick.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from tests.images.containers import REPO, TEST_LABEL, Container, docker, unique_name

BUILD = REPO / "toolchain" / "build-airgap.sh"
CACHE = Path(os.environ.get("ORCHESTRATOR_CACHE", Path.home() / ".cache" / "orchestrator-k3s"))
DEST = CACHE / "airgap" / "kubeadm-v1.34.2"
K8S = "v1.34.2"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
VERSION_KEYS = {
    "KUBERNETES_VERSION", "ETCD_IMAGE_TAG", "COREDNS_IMAGE_TAG", "PAUSE_IMAGE", "FLANNEL_IMAGE",
    "KUBE_ROUTER_IMAGE", "METRICS_SERVER_IMAGE", "LOCAL_PATH_PROVISIONER_IMAGE", "BUSYBOX_IMAGE", "TRAEFIK_IMAGE",
}  # fmt: skip


def go_mod_version(folder: str, module: str) -> str:
    """The version toolchain/FOLDER/go.mod pins MODULE at (the source of truth)."""
    for line in (REPO / "toolchain" / folder / "go.mod").read_text().splitlines():
        words = line.replace("require ", "").split()
        if len(words) >= 2 and words[0] == module and words[1].startswith("v"):
            return words[1]
    raise AssertionError(f"toolchain/{folder}/go.mod does not pin {module}")


@pytest.fixture(scope="module")
def airgap() -> subprocess.CompletedProcess[str]:
    """Build (or find unchanged) the air-gap folder once for this module."""
    result = subprocess.run([str(BUILD)], capture_output=True, text=True, timeout=3600, check=False)
    if result.returncode != 0:
        pytest.fail(f"{BUILD} failed:\n{result.stdout}{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="module")
def versions(airgap: subprocess.CompletedProcess[str]) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (DEST / "versions.env").read_text().splitlines() if line)
    return dict(pairs)


@pytest.fixture(scope="module")
def refs(airgap: subprocess.CompletedProcess[str]) -> list[str]:
    return (DEST / "images.txt").read_text().split()


def run(ref: str, *args: str, entrypoint: str | None = None, timeout: float = 60) -> str:
    """Run an image once (removed afterwards); stdout and stderr together."""
    extra = ["--entrypoint", entrypoint] if entrypoint is not None else []
    result = docker(
        "run", "--rm", "--name", unique_name("airgap"), "--label", TEST_LABEL, "--network", "none",
        *extra, ref, *args, timeout=timeout,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_layout_is_complete_and_checksummed(airgap: subprocess.CompletedProcess[str], refs: list[str]) -> None:
    for binary in ("bin/kubelet", "bin/kubeadm", "bin/kubectl", "cni/flannel"):
        assert os.access(DEST / binary, os.X_OK), binary
    tars = {f"images/{ref.replace('/', '_').replace(':', '_')}.tar" for ref in refs}
    assert {f"images/{p.name}" for p in (DEST / "images").iterdir()} == tars
    layout = {str(p.relative_to(DEST)) for p in DEST.rglob("*") if p.is_file()}
    listed = {line.split(None, 1)[1] for line in (DEST / "sha256sum.txt").read_text().splitlines()}
    assert listed == layout - {"sha256sum.txt"}
    check = subprocess.run(["sha256sum", "--check", "--quiet", "--strict", "sha256sum.txt"], cwd=DEST,
                           capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_images_are_what_kubeadm_asks_for(refs: list[str], versions: dict[str, str]) -> None:
    wanted = subprocess.run(
        [str(DEST / "bin" / "kubeadm"), "config", "images", "list", "--kubernetes-version", K8S],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert len(wanted) == 7 and set(wanted) <= set(refs), (wanted, refs)
    assert set(versions) == VERSION_KEYS
    assert versions["KUBERNETES_VERSION"] == K8S
    assert f"registry.k8s.io/etcd:{versions['ETCD_IMAGE_TAG']}" in wanted
    assert f"registry.k8s.io/coredns/coredns:{versions['COREDNS_IMAGE_TAG']}" in wanted
    assert versions["PAUSE_IMAGE"] in wanted
    for key in VERSION_KEYS - {"KUBERNETES_VERSION", "ETCD_IMAGE_TAG", "COREDNS_IMAGE_TAG"}:
        assert versions[key] in refs, key
    assert len(refs) == 13


def test_each_tarball_holds_its_image_under_its_reference(refs: list[str]) -> None:
    for ref in refs:
        path = DEST / "images" / f"{ref.replace('/', '_').replace(':', '_')}.tar"
        with tarfile.open(path) as tar:
            member = tar.extractfile("manifest.json")
            assert member is not None
            manifest = json.load(member)
        # docker writes Docker Hub references in their short form; containerd's
        # import turns them back into docker.io/... as kubelet asks for them.
        short = ref.removeprefix("docker.io/").removeprefix("library/")
        assert manifest[0]["RepoTags"] == [short], (path.name, manifest[0]["RepoTags"])


def version_cases() -> list[tuple[str, list[str], str | None, str]]:
    """(image key, command, entrypoint, expected text) per program."""
    flannel = go_mod_version("flannel", "github.com/flannel-io/flannel")
    kube_router = go_mod_version("kube-router", "github.com/cloudnativelabs/kube-router/v2")
    return [
        *((f"registry.k8s.io/{c}:{K8S}", ["--version"], c, f"Kubernetes {K8S}") for c in CONTROL_PLANE),
        (f"registry.k8s.io/kube-proxy:{K8S}", ["--version"], None, f"Kubernetes {K8S}"),
        ("ETCD", ["--version"], None, "etcd Version: " + go_mod_version("etcd", "go.etcd.io/etcd/server/v3")[1:]),
        ("COREDNS", ["-version"], None, "CoreDNS-" + go_mod_version("coredns", "github.com/coredns/coredns")[1:]),
        ("PAUSE_IMAGE", ["-v"], None, "pause 3.10.1"),
        ("FLANNEL_IMAGE", ["--version"], None, flannel),
        ("KUBE_ROUTER_IMAGE", ["--version"], None, kube_router),
        ("METRICS_SERVER_IMAGE", ["--version"], None, go_mod_version("metrics-server", "sigs.k8s.io/metrics-server")),
        ("LOCAL_PATH_PROVISIONER_IMAGE", ["--version"], None,
         go_mod_version("local-path-provisioner", "github.com/rancher/local-path-provisioner")),
        ("TRAEFIK_IMAGE", ["version"], None, go_mod_version("traefik", "github.com/traefik/traefik/v3")),
        ("BUSYBOX_IMAGE", ["busybox"], None, "BusyBox v1.35"),
    ]  # fmt: skip


@pytest.mark.parametrize(("key", "command", "entrypoint", "expected"), version_cases(), ids=str)
def test_every_image_runs_the_pinned_version(
    versions: dict[str, str], key: str, command: list[str], entrypoint: str | None, expected: str
) -> None:
    if key == "ETCD":
        ref = f"registry.k8s.io/etcd:{versions['ETCD_IMAGE_TAG']}"
    elif key == "COREDNS":
        ref = f"registry.k8s.io/coredns/coredns:{versions['COREDNS_IMAGE_TAG']}"
    else:
        ref = versions.get(key, key)
    assert expected in run(ref, *command, entrypoint=entrypoint)


def test_node_binaries_report_their_versions(airgap: subprocess.CompletedProcess[str]) -> None:
    for name, args in (("kubelet", ["--version"]), ("kubeadm", ["version", "-o", "short"]),
                       ("kubectl", ["version", "--client"])):  # fmt: skip
        out = subprocess.run([str(DEST / "bin" / name), *args], capture_output=True, text=True, timeout=60, check=True)
        assert K8S in out.stdout, (name, out.stdout)
    # CNI's VERSION command: our flannel plugin speaks the versions containerd 1.6 uses.
    out = subprocess.run([str(DEST / "cni" / "flannel")], env={"CNI_COMMAND": "VERSION"}, input="{}",
                         capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    assert {"0.3.1", "0.4.0", "1.0.0"} <= set(json.loads(out.stdout)["supportedVersions"])


def test_images_run_as_upstream_users(versions: dict[str, str]) -> None:
    expected = {
        versions["PAUSE_IMAGE"]: "65535:65535",
        f"registry.k8s.io/coredns/coredns:{versions['COREDNS_IMAGE_TAG']}": "65532:65532",
        versions["METRICS_SERVER_IMAGE"]: "65534:65534",
        versions["TRAEFIK_IMAGE"]: "65532:65532",
        versions["LOCAL_PATH_PROVISIONER_IMAGE"]: "65534:65534",
        # kubeadm's control plane and the node agents run as root upstream too.
        f"registry.k8s.io/kube-apiserver:{K8S}": "",
        f"registry.k8s.io/etcd:{versions['ETCD_IMAGE_TAG']}": "",
        versions["FLANNEL_IMAGE"]: "",
    }
    for ref, user in expected.items():
        assert docker("image", "inspect", "-f", "{{.Config.User}}", ref).stdout.strip() == user, ref


def test_pause_stops_at_once_on_sigterm(versions: dict[str, str]) -> None:
    name = unique_name("pause")
    docker("run", "-d", "--name", name, "--label", TEST_LABEL, "--network", "none", versions["PAUSE_IMAGE"])
    try:
        time.sleep(0.5)
        assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
        started = time.monotonic()
        docker("kill", "--signal", "TERM", name)
        code = docker("wait", name, timeout=30).stdout.strip()
        assert code == "0" and time.monotonic() - started < 5
    finally:
        docker("rm", "-f", name, check=False)


def dns_query(server: str, name: str, port: int = 53) -> list[str]:
    """One A query over UDP; the IPv4 addresses of the answer."""
    query = struct.pack(">HHHHHH", 0x4B1D, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    query += struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(query, (server, port))
        reply = sock.recv(512)
    answers = struct.unpack(">H", reply[6:8])[0]
    pos = len(query)
    addresses = []
    for _answer in range(answers):
        pos += 2 if reply[pos] & 0xC0 == 0xC0 else reply.index(b"\0", pos) + 1 - pos
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", reply[pos : pos + 10])
        pos += 10
        if rtype == 1:
            addresses.append(socket.inet_ntoa(reply[pos : pos + length]))
        pos += length
    return addresses


def test_coredns_serves_port_53_as_non_root_like_kubeadm_runs_it(versions: dict[str, str]) -> None:
    ref = f"registry.k8s.io/coredns/coredns:{versions['COREDNS_IMAGE_TAG']}"
    name = unique_name("coredns")
    with tempfile.TemporaryDirectory() as conf:
        Path(conf, "Corefile").write_text(".:53 {\n  hosts {\n    10.11.12.13 airgap.test\n  }\n  errors\n}\n")
        os.chmod(conf, 0o755)
        # kubeadm's Deployment: its user, all capabilities dropped but
        # NET_BIND_SERVICE, no privilege escalation, read-only root.
        docker("run", "-d", "--name", name, "--label", TEST_LABEL, "--cap-drop", "ALL",
               "--cap-add", "NET_BIND_SERVICE", "--security-opt", "no-new-privileges", "--read-only",
               "-v", f"{conf}:/etc/coredns:ro", ref, "-conf", "/etc/coredns/Corefile")  # fmt: skip
        try:
            ip = Container(name).ip
            deadline = time.monotonic() + 20
            while True:
                try:
                    assert dns_query(ip, "airgap.test") == ["10.11.12.13"]
                    break
                except (TimeoutError, OSError):
                    logs = docker("logs", name, check=False)
                    assert time.monotonic() < deadline, logs.stdout + logs.stderr
                    time.sleep(0.5)
        finally:
            docker("rm", "-f", name, check=False)


def test_saved_coredns_layer_keeps_the_bind_capability(versions: dict[str, str]) -> None:
    """What nodes import is the tarball, not docker's image store: the layer
    holding /coredns must carry cap_net_bind_service (a multi-stage COPY
    loses it in `docker save` while `docker run` still works)."""
    ref = f"registry.k8s.io/coredns/coredns:{versions['COREDNS_IMAGE_TAG']}"
    path = DEST / "images" / f"{ref.replace('/', '_').replace(':', '_')}.tar"
    with tarfile.open(path) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        top = json.load(member)[0]["Layers"]
        capabilities = []
        for layer_name in top:
            layer = tar.extractfile(layer_name)
            assert layer is not None
            with tarfile.open(fileobj=layer) as files:
                capabilities += [
                    f.pax_headers.get("SCHILY.xattr.security.capability") for f in files if f.name == "coredns"
                ]
    # The last layer that writes /coredns decides; 0x400 = 1 << CAP_NET_BIND_SERVICE (10).
    assert capabilities and capabilities[-1] is not None, capabilities
    assert capabilities[-1].encode("latin-1")[4:8] == (1 << 10).to_bytes(4, "little")


def test_busybox_has_what_helper_pods_and_tests_use(versions: dict[str, str]) -> None:
    script = (
        "set -e; mkdir -m 0777 -p /tmp/pv/a && [ -d /tmp/pv/a ] && rm -rf /tmp/pv; [ ! -e /tmp/pv ];"
        " (nc -l -p 9000 > /tmp/got &); sleep 0.5; echo through-nc | nc -w 2 127.0.0.1 9000; sleep 0.5;"
        " cat /tmp/got; id -u"
    )
    out = run(versions["BUSYBOX_IMAGE"], "sh", "-c", script)
    assert out.split() == ["through-nc", "0"], out


@pytest.mark.parametrize(
    ("key", "tools"),
    [
        ("kube-proxy", ["iptables-restore", "iptables-save", "conntrack", "ipset"]),
        ("FLANNEL_IMAGE", ["iptables", "ipset", "cp"]),
        ("KUBE_ROUTER_IMAGE", ["iptables-save", "iptables-restore", "ipset"]),
    ],
)
def test_network_images_have_their_tools(versions: dict[str, str], key: str, tools: list[str]) -> None:
    ref = f"registry.k8s.io/kube-proxy:{K8S}" if key == "kube-proxy" else versions[key]
    out = run(ref, "-c", f"for t in {' '.join(tools)}; do command -v $t; done", entrypoint="sh")
    assert len(out.split()) == len(tools), out


def test_second_run_changes_nothing_quickly(airgap: subprocess.CompletedProcess[str]) -> None:
    before = {p: p.stat().st_mtime_ns for p in DEST.rglob("*") if p.is_file()}
    started = time.monotonic()
    result = subprocess.run([str(BUILD)], capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-4000:]
    statuses = [line.split()[1:3] for line in result.stdout.splitlines()]
    assert statuses == [["cached", "unchanged"]] * 13, result.stdout
    assert {p: p.stat().st_mtime_ns for p in DEST.rglob("*") if p.is_file()} == before
    assert elapsed < 10, f"no-op run took {elapsed:.1f} s"


CNI_TEST_IMAGE = "okimg-test/cni-plugins:bookworm"
CNI_TEST_DOCKERFILE = """\
FROM local/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends containernetworking-plugins iproute2 iputils-ping \\
    && rm -rf /var/lib/apt/lists/*
"""
CNI_SCRIPT = r"""
set -eu
mkdir -p /run/flannel /opt/cni/bin
cp /airgap/cni/flannel /opt/cni/bin/flannel
printf 'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' \
  > /run/flannel/subnet.env
ip netns add pod
conf='{"cniVersion":"1.0.0","name":"cbr0","type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}}'
export CNI_CONTAINERID=pod1 CNI_NETNS=/var/run/netns/pod CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin:/usr/lib/cni
echo "$conf" | CNI_COMMAND=ADD /opt/cni/bin/flannel
ip netns exec pod ip -4 -o addr show eth0
ip netns exec pod ip link show eth0 | grep -o 'mtu [0-9]*'
ip netns exec pod ip route show default
ip netns exec pod ping -c 1 -W 2 10.42.1.1 >/dev/null && echo gateway-answers
ls /var/lib/cni/flannel
echo "$conf" | CNI_COMMAND=DEL /opt/cni/bin/flannel
ip netns exec pod ip link show eth0 >/dev/null 2>&1 || echo eth0-gone
ls /var/lib/cni/flannel | wc -l
"""


def test_flannel_cni_plugin_networks_a_pod_with_the_real_bridge_plugin(
    airgap: subprocess.CompletedProcess[str],
) -> None:
    """Our plugin with Debian's bridge and host-local (what nodes run), in a
    network namespace inside a throwaway container: ADD gives the pod an
    address of the node's subnet, the MTU and a default route via the
    bridge; DEL takes it all away."""
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(CNI_TEST_DOCKERFILE)
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        subprocess.run(["docker", "build", "-q", "-t", CNI_TEST_IMAGE, context], env=env,
                       capture_output=True, text=True, timeout=600, check=True)  # fmt: skip
    out = docker(
        "run", "--rm", "--name", unique_name("cni"), "--label", TEST_LABEL, "--cap-add", "NET_ADMIN",
        "--cap-add", "SYS_ADMIN", "--security-opt", "apparmor=unconfined", "--security-opt", "seccomp=unconfined",
        "--security-opt", "systempaths=unconfined", "-v", f"{DEST}:/airgap:ro",
        CNI_TEST_IMAGE, "sh", "-c", CNI_SCRIPT, timeout=120,
    ).stdout  # fmt: skip
    assert "inet 10.42.1.2/24" in out, out
    assert "mtu 1450" in out, out
    assert "default via 10.42.1.1 dev eth0" in out, out
    assert "gateway-answers" in out, out
    assert "pod1" in out, out
    assert out.rstrip().endswith("eth0-gone\n0"), out
