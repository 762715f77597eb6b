"""The two stacks as shipped: rendered for dev and prod with the inventory's values, valid against
Kubernetes 1.34 (strict) and the stack rules, and shaped as apps-spec.md demands."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import RenderError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import Manifest
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.render import manifest_text, render_stack
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.validate import (
    SchemaValidator,
    containers,
    pod_spec,
    validate_stack,
)
from tests.unit.conftest import ENVIRONMENTS, PLACEHOLDER_SECRETS, STACK_NAMES, STACKS

CASES = [(stack, environment) for stack in STACK_NAMES for environment in ENVIRONMENTS]
WORKLOADS = {"Deployment", "StatefulSet"}


@pytest.fixture(scope="module")
def schema() -> SchemaValidator:
    return SchemaValidator("1.34")


def render(stack: str, environment: str, values: dict[str, Any], **overrides: Any) -> list[Manifest]:
    merged = {**copy.deepcopy(values), **overrides, "secrets": PLACEHOLDER_SECRETS[stack]}
    return render_stack(STACKS / stack, merged, stack=stack, namespace=environment)


@pytest.fixture(scope="module")
def rendered(values_by_environment: dict) -> dict[tuple[str, str], list[Manifest]]:
    return {(s, e): render(s, e, values_by_environment[e]) for s, e in CASES}


def find(manifests: list[Manifest], kind: str, name: str) -> dict[str, Any]:
    (match,) = [m.body for m in manifests if (m.kind, m.name) == (kind, name)]
    return match


@pytest.mark.parametrize(("stack", "environment"), CASES)
def test_every_object_is_valid_for_kubernetes_1_34_and_the_stack_rules(
    rendered: dict, schema: SchemaValidator, stack: str, environment: str
) -> None:
    assert validate_stack(rendered[stack, environment], environment, "1.34", schema) == []


@pytest.mark.parametrize(
    ("stack", "components"),
    [
        ("vote", ["db", "default-deny", "redis", "result", "vote", "worker"]),
        (
            "crud",
            [
                "api-gateway",
                "billing-app",
                "billing-db",
                "billing-queue",
                "default-deny",
                "inventory-app",
                "inventory-db",
            ],
        ),
    ],
)
def test_one_template_per_component(rendered: dict, stack: str, components: list[str]) -> None:
    assert sorted({m.component for m in rendered[stack, "dev"]}) == components
    assert sorted(p.name[: -len(".yaml.j2")] for p in (STACKS / stack).glob("*.yaml.j2")) == components


@pytest.mark.parametrize(
    ("stack", "kind", "names"),
    [
        ("vote", "Deployment", ["result", "vote", "worker"]),
        ("vote", "StatefulSet", ["db", "redis"]),
        ("vote", "Service", ["db", "redis", "result", "vote"]),
        ("crud", "Deployment", ["api-gateway", "inventory-app"]),
        ("crud", "StatefulSet", ["billing-app", "billing-db", "billing-queue", "inventory-db"]),
        ("crud", "HorizontalPodAutoscaler", ["api-gateway", "inventory-app"]),
        (
            "crud",
            "Service",
            ["api-gateway", "billing-app", "billing-db", "billing-queue", "inventory-app", "inventory-db"],
        ),
    ],
)
def test_kubernetes_shape_demanded_by_the_spec(rendered: dict, stack: str, kind: str, names: list[str]) -> None:
    for environment in ENVIRONMENTS:
        assert sorted(m.name for m in rendered[stack, environment] if m.kind == kind) == names


@pytest.mark.parametrize(
    ("stack", "service", "dev_port", "prod_port"),
    [("vote", "vote", 31000, 32000), ("vote", "result", 31001, 32001), ("crud", "api-gateway", 31300, 32300)],
)
def test_public_services_are_nodeports_with_the_documented_ports(
    rendered: dict, stack: str, service: str, dev_port: int, prod_port: int
) -> None:
    for environment, port in (("dev", dev_port), ("prod", prod_port)):
        spec = find(rendered[stack, environment], "Service", service)["spec"]
        assert spec["type"] == "NodePort" and spec["ports"][0]["nodePort"] == port


@pytest.mark.parametrize(("stack", "environment"), CASES)
def test_everything_else_is_cluster_internal(rendered: dict, stack: str, environment: str) -> None:
    public = {"vote", "result", "api-gateway"}
    for m in rendered[stack, environment]:
        if m.kind == "Service" and m.name not in public:
            assert m.body["spec"]["type"] == "ClusterIP", m.name


def test_the_hpas_scale_on_cpu_between_one_and_three(rendered: dict) -> None:
    for environment in ENVIRONMENTS:
        for name in ("api-gateway", "inventory-app"):
            spec = find(rendered["crud", environment], "HorizontalPodAutoscaler", name)["spec"]
            assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 3)
            assert spec["metrics"][0]["resource"] == {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60},
            }
            deployment = find(rendered["crud", environment], "Deployment", name)
            assert "replicas" not in deployment["spec"]
            assert all(c["resources"]["requests"]["cpu"] for c, _p in containers(Manifest("x", "x", deployment)))


def test_prod_runs_the_current_release_with_more_replicas_and_dev_the_next(rendered: dict) -> None:
    for name in ("vote", "result", "worker"):
        dev = find(rendered["vote", "dev"], "Deployment", name)
        prod = find(rendered["vote", "prod"], "Deployment", name)
        assert prod["spec"]["replicas"] > dev["spec"]["replicas"]
        assert dev["spec"]["template"]["spec"]["containers"][0]["image"] == f"orchestrator-k3s/{name}:0.2.0"
        assert prod["spec"]["template"]["spec"]["containers"][0]["image"] == f"orchestrator-k3s/{name}:0.1.0"


@pytest.mark.parametrize(("stack", "environment"), CASES)
def test_every_container_is_locked_down(rendered: dict, stack: str, environment: str) -> None:
    servers = {"postgres", "redis", "rabbitmq"}
    for manifest in rendered[stack, environment]:
        found = pod_spec(manifest)
        if found is None:
            continue
        spec, _path = found
        pod_security = spec["securityContext"]
        assert spec["automountServiceAccountToken"] is False
        assert pod_security["runAsNonRoot"] is True and pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
        for container, _path in containers(manifest):
            uid = 999 if container["name"] in servers else 10001
            assert pod_security["runAsUser"] == uid, manifest.name
            if uid == 999:
                assert pod_security["fsGroup"] == 999
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert security["readOnlyRootFilesystem"] is (container["name"] != "rabbitmq"), manifest.name
            assert container["imagePullPolicy"] == "IfNotPresent"
            for probe in ("livenessProbe", "readinessProbe"):
                assert container[probe]


@pytest.mark.parametrize(("stack", "environment"), CASES)
def test_front_doors_are_ready_while_their_dependencies_are_down(rendered: dict, stack: str, environment: str) -> None:
    """Readiness asks the process (/livez), never the dependency check (/healthz): a
    front door whose database is down must stay in its Service to answer its 503."""
    front_doors = {"vote": {"vote", "result"}, "crud": {"api-gateway", "inventory-app"}}[stack]
    for name in front_doors:
        (container,) = find(rendered[stack, environment], "Deployment", name)["spec"]["template"]["spec"]["containers"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/livez", (name, probe)


def test_vote_and_result_listen_on_port_80_as_non_root(rendered: dict) -> None:
    for name in ("vote", "result"):
        spec = find(rendered["vote", "dev"], "Deployment", name)["spec"]["template"]["spec"]
        assert spec["securityContext"]["sysctls"] == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
        assert spec["containers"][0]["ports"][0]["containerPort"] == 80


def env_names(manifests: list[Manifest], workload: str) -> set[str]:
    body = next(m for m in manifests if m.kind in WORKLOADS and m.name == workload)
    container = body.body["spec"]["template"]["spec"]["containers"][0]
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        names |= set(find(manifests, "ConfigMap", source["configMapRef"]["name"])["data"])
    return names


@pytest.mark.parametrize(
    ("stack", "workload", "expected"),
    [
        ("vote", "vote", {"OPTION_A", "OPTION_B", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "PORT"}),
        (
            "vote",
            "worker",
            {
                "REDIS_HOST",
                "REDIS_PORT",
                "REDIS_PASSWORD",
                "POSTGRES_HOST",
                "POSTGRES_PORT",
                "POSTGRES_USER",
                "POSTGRES_PASSWORD",
                "POSTGRES_DB",
            },
        ),
        (
            "vote",
            "result",
            {
                "POSTGRES_HOST",
                "POSTGRES_PORT",
                "POSTGRES_USER",
                "POSTGRES_PASSWORD",
                "POSTGRES_DB",
                "OPTION_A",
                "OPTION_B",
                "PORT",
            },
        ),
        (
            "crud",
            "inventory-app",
            {
                "INVENTORY_DB_HOST",
                "INVENTORY_DB_PORT",
                "INVENTORY_DB_USER",
                "INVENTORY_DB_PASSWORD",
                "INVENTORY_DB_NAME",
                "INVENTORY_APP_PORT",
            },
        ),
        (
            "crud",
            "billing-app",
            {
                "BILLING_DB_HOST",
                "BILLING_DB_PORT",
                "BILLING_DB_USER",
                "BILLING_DB_PASSWORD",
                "BILLING_DB_NAME",
                "RABBITMQ_HOST",
                "RABBITMQ_PORT",
                "RABBITMQ_USER",
                "RABBITMQ_PASSWORD",
                "RABBITMQ_QUEUE",
            },
        ),
        (
            "crud",
            "api-gateway",
            {
                "APIGATEWAY_PORT",
                "INVENTORY_APP_HOST",
                "INVENTORY_APP_PORT",
                "RABBITMQ_HOST",
                "RABBITMQ_PORT",
                "RABBITMQ_USER",
                "RABBITMQ_PASSWORD",
                "RABBITMQ_QUEUE",
            },
        ),
        ("vote", "db", {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PGDATA"}),
        ("crud", "billing-queue", {"RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS"}),
    ],
)
def test_app_env_uses_the_names_of_the_spec(rendered: dict, stack: str, workload: str, expected: set[str]) -> None:
    assert expected <= env_names(rendered[stack, "dev"], workload)


@pytest.mark.parametrize(("stack", "environment"), CASES)
def test_credentials_are_only_in_secrets_and_reached_by_secret_key_ref(
    rendered: dict, stack: str, environment: str
) -> None:
    manifests = rendered[stack, environment]
    not_secrets = manifest_text([m for m in manifests if m.kind != "Secret"], "x")
    for value in PLACEHOLDER_SECRETS[stack].values():
        assert value not in not_secrets
    for manifest in manifests:
        for container, _path in containers(manifest):
            for variable in container.get("env", []):
                if re.search(r"PASSWORD|PASS$|_USER$|AUTH", variable["name"]):
                    assert "secretKeyRef" in variable["valueFrom"], (manifest.name, variable["name"])


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_the_templates_hold_no_credential_of_their_own(values_by_environment: dict, stack: str) -> None:
    # Without the caller's secrets there is nothing to fall back on: rendering fails.
    with pytest.raises(RenderError, match="undefined variable"):
        render_stack(STACKS / stack, {**values_by_environment["dev"], "secrets": {}}, stack=stack, namespace="dev")


@pytest.mark.parametrize(("stack", "environment"), CASES)
def test_every_password_in_a_secret_is_one_the_caller_supplied(rendered: dict, stack: str, environment: str) -> None:
    supplied = set(PLACEHOLDER_SECRETS[stack].values())
    passwords = [
        value
        for m in rendered[stack, environment]
        if m.kind == "Secret"
        for key, value in m.body["stringData"].items()
        if key == "password"
    ]
    assert passwords and set(passwords) <= supplied


@pytest.mark.parametrize(("stack", "environment"), CASES)
def test_data_servers_keep_their_data_on_claims_that_outlive_them(rendered: dict, stack: str, environment: str) -> None:
    data_paths = {"postgres": "/var/lib/postgresql/data", "redis": "/data", "rabbitmq": "/var/lib/rabbitmq"}
    for manifest in rendered[stack, environment]:
        if manifest.kind != "StatefulSet" or manifest.name == "billing-app":
            continue
        spec = manifest.body["spec"]
        assert [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["data"]
        assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
        container = spec["template"]["spec"]["containers"][0]
        mounts = {v["name"]: v["mountPath"] for v in container["volumeMounts"]}
        assert mounts["data"] == data_paths[container["name"]]


@pytest.mark.parametrize(("stack", "environment"), CASES)
def test_network_policies_deny_by_default_and_allow_dns(rendered: dict, stack: str, environment: str) -> None:
    policy = find(rendered[stack, environment], "NetworkPolicy", f"{stack}-default-deny")["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": stack}}
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert {p["port"] for p in policy["egress"][0]["ports"]} == {53}
    workloads = {m.name for m in rendered[stack, environment] if m.kind in WORKLOADS}
    policies = {m.name for m in rendered[stack, environment] if m.kind == "NetworkPolicy"}
    assert workloads <= policies


def peers(policy: dict, direction: str) -> set[str]:
    key = "from" if direction == "ingress" else "to"
    return {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["spec"].get(direction, [])
        for p in rule.get(key, [])
    }


@pytest.mark.parametrize(
    ("stack", "component", "ingress_from", "egress_to"),
    [
        ("vote", "redis", {"vote", "worker"}, set()),
        ("vote", "db", {"worker", "result"}, set()),
        ("vote", "worker", set(), {"redis", "db"}),
        ("crud", "inventory-db", {"inventory-app"}, set()),
        ("crud", "billing-queue", {"api-gateway", "billing-app"}, set()),
        ("crud", "api-gateway", set(), {"inventory-app", "billing-queue"}),
        ("crud", "billing-app", set(), {"billing-db", "billing-queue"}),
    ],
)
def test_network_policies_allow_only_the_flows_of_the_app(
    rendered: dict, stack: str, component: str, ingress_from: set, egress_to: set
) -> None:
    policy = find(rendered[stack, "dev"], "NetworkPolicy", component)
    assert peers(policy, "ingress") == ingress_from
    assert peers(policy, "egress") == egress_to


def test_the_upstream_image_set_uses_stock_servers_and_the_registry(values_by_environment: dict) -> None:
    values = copy.deepcopy(values_by_environment["dev"])
    values["image_registry"] = "registry.example.com/team"
    values["images"] = {
        **{name: {"repository": name} for name in ("vote", "result", "worker")},
        "postgres": {"registry": "docker.io/library", "repository": "postgres", "tag": "15"},
        "redis": {"registry": "docker.io/library", "repository": "redis", "tag": "7"},
    }
    manifests = render("vote", "dev", values)
    images = {
        m.name: m.body["spec"]["template"]["spec"]["containers"][0]["image"] for m in manifests if m.kind in WORKLOADS
    }
    assert images == {
        "vote": "registry.example.com/team/vote:0.2.0",
        "result": "registry.example.com/team/result:0.2.0",
        "worker": "registry.example.com/team/worker:0.2.0",
        "db": "docker.io/library/postgres:15",
        "redis": "docker.io/library/redis:7",
    }


def test_ingress_hosts_are_per_environment_and_can_be_switched_off(rendered: dict, values_by_environment: dict) -> None:
    hosts = {m.name: m.body["spec"]["rules"][0]["host"] for m in rendered["vote", "prod"] if m.kind == "Ingress"}
    assert hosts == {"vote": "vote.prod.localhost", "result": "result.prod.localhost"}
    assert find(rendered["vote", "prod"], "Ingress", "vote")["spec"]["ingressClassName"] == "traefik"
    values = copy.deepcopy(values_by_environment["dev"])
    values["ingress"]["enabled"] = False
    assert not [m for m in render("crud", "dev", values) if m.kind == "Ingress"]
