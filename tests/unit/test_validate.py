"""validate.py: schema (Kubernetes 1.34, strict) and stack rules, one line per problem naming file, object, field."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import (
    StackError,
    StackValidationError,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import Manifest
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.validate import (
    SchemaValidator,
    field_path,
    stack_rule_problems,
    validate_stack,
)

NAMESPACE = "dev"
PASSWORD = "s3cret-placeholder-value"  # pragma: allowlist secret (placeholder)


@pytest.fixture(scope="module")
def schema() -> SchemaValidator:
    return SchemaValidator("1.34")


def container(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "web",
        "image": "example/web:1",
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        "livenessProbe": {"tcpSocket": {"port": 80}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}},
    }
    body.update(overrides)
    return body


def deployment(name: str = "web", **container_overrides: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container(**container_overrides)]},
            },
        },
    }


def secret(name: str = "creds", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "stringData": data or {"password": PASSWORD},
    }


def configmap(name: str = "settings", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NAMESPACE}, "data": data}


def manifests(*bodies: dict[str, Any]) -> list[Manifest]:
    return [Manifest("web", "stacks/demo/web.yaml.j2", copy.deepcopy(b)) for b in bodies]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [(["spec", "containers", 0, "image"], "spec.containers[0].image"), ([], "(object)"), ([0, "a"], "[0].a")],
)
def test_field_paths_read_like_kubectl(parts: list, expected: str) -> None:
    assert field_path(parts) == expected


def test_a_valid_deployment_has_no_problem(schema: SchemaValidator) -> None:
    assert schema.problems(deployment()) == []
    assert validate_stack(manifests(deployment()), NAMESPACE, "1.34", schema) == []


def edit(body: dict[str, Any], path: list, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["spec", "replica"], 2, "spec.replica: unknown field"),
        (["spec", "template", "spec", "containers", 0, "imagePullPolicy"], 3, "imagePullPolicy: 3 is not of type"),
        (["spec", "selector"], KeyError, "spec.selector: required field is missing"),
        (
            ["spec", "template", "spec", "containers", 0, "ports"],
            [{"containerPort": "http"}],
            "spec.template.spec.containers[0].ports[0].containerPort: 'http' is not of type 'integer'",
        ),
    ],
    ids=["unknown-field", "wrong-type", "required", "nested-list"],
)
def test_schema_problems_name_the_field(schema: SchemaValidator, path: list, value: Any, expected: str) -> None:
    problems = schema.problems(edit(deployment(), path, value))
    assert any(expected in p for p in problems), problems


def test_a_schema_error_fails_the_stack_naming_file_object_and_field(schema: SchemaValidator) -> None:
    with pytest.raises(StackValidationError) as error:
        validate_stack(manifests(edit(deployment(), ["spec", "replica"], 2)), NAMESPACE, "1.34", schema)
    assert error.value.details["errors"] == ["stacks/demo/web.yaml.j2: Deployment dev/web: spec.replica: unknown field"]
    assert error.value.message.startswith("1 problem in the rendered stack, nothing was applied:")


def test_kinds_without_a_schema_are_warned_about_not_failed(schema: SchemaValidator) -> None:
    custom = {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": {"name": "r", "namespace": NAMESPACE},
    }
    (warning,) = validate_stack(manifests(custom), NAMESPACE, "1.34", schema)
    assert "no schema for traefik.io/v1alpha1 IngressRoute" in warning


@pytest.mark.parametrize(("version", "folder"), [("1.34", "v1.34.0"), ("v1.34.5", "v1.34.0"), ("1.99", "v1.")])
def test_the_schema_is_the_newest_not_newer_than_the_target(version: str, folder: str) -> None:
    assert SchemaValidator(version).folder.name.startswith(folder)


@pytest.mark.parametrize("version", ["1.2", "latest"])
def test_a_version_without_schema_is_a_clear_error(version: str) -> None:
    with pytest.raises(StackError, match="kubernetes"):
        SchemaValidator(version)


def without(body: dict[str, Any], *path: Any) -> dict[str, Any]:
    return edit(body, list(path), KeyError)


CONTAINER = ["spec", "template", "spec", "containers", 0]


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        (
            [without(deployment(), *CONTAINER, "resources", "limits")],
            [
                "Deployment dev/web: spec.template.spec.containers[0].resources.limits.cpu: missing",
                "Deployment dev/web: spec.template.spec.containers[0].resources.limits.memory: missing",
            ],
        ),
        (
            [without(deployment(), *CONTAINER, "readinessProbe")],
            ["Deployment dev/web: spec.template.spec.containers[0].readinessProbe: missing"],
        ),
        (
            [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"name": "once", "namespace": NAMESPACE},
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [without(without(container(), "livenessProbe"), "readinessProbe")],
                            }
                        }
                    },
                }
            ],
            [],
        ),
        (
            [secret(), configmap(url=f"postgres://app:{PASSWORD}@db/app")],
            ["ConfigMap dev/settings: data.url: holds the value of Secret creds key password"],
        ),
        (
            [secret(), deployment(env=[{"name": "DB_PASSWORD", "value": PASSWORD}])],
            [
                "spec.template.spec.containers[0].env[0].value (DB_PASSWORD): holds the value of Secret creds key "
                "password; use valueFrom.secretKeyRef"
            ],
        ),
        (
            [secret(), deployment(args=["--requirepass", PASSWORD])],
            ["spec.template.spec.containers[0].args[1]: holds the value of Secret creds key password"],
        ),
        (
            [
                {**secret(), "stringData": None, "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}},
                configmap(copy=PASSWORD),
            ],
            ["ConfigMap dev/settings: data.copy: holds the value of Secret creds key password"],
        ),
        # A user name is rightly part of a host name; only an exact copy of a short value leaks.
        ([secret(username="inventory"), configmap(host="inventory-app")], []),
        (
            [secret(username="inventory"), configmap(user="inventory")],
            ["ConfigMap dev/settings: data.user: holds the value of Secret creds key username"],
        ),
        (
            [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}],
            ["Namespace other: kind: Namespace is cluster-scoped"],
        ),
        (
            [edit(configmap(), ["metadata", "namespace"], "prod")],
            ["ConfigMap prod/settings: metadata.namespace: is 'prod' but the stack deploys into 'dev'"],
        ),
        ([configmap(), configmap()], ["ConfigMap dev/settings: metadata.name: already rendered by stacks/demo"]),
        (
            [edit(configmap(), ["metadata", "labels"], {"applyset.kubernetes.io/part-of": "x"})],
            ["metadata.labels.applyset.kubernetes.io/part-of: set by the module"],
        ),
        (
            [
                {
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": "api", "namespace": NAMESPACE},
                    "spec": {
                        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                        "maxReplicas": 3,
                    },
                }
            ],
            ["HorizontalPodAutoscaler dev/api: spec.scaleTargetRef: Deployment api is not a workload of this stack"],
        ),
    ],
    ids=[
        "limits",
        "probe",
        "job-needs-no-probe",
        "secret-in-configmap-url",
        "secret-in-env",
        "secret-in-args",
        "secret-data-base64",
        "short-user-in-host",
        "short-user-exact",
        "cluster-scoped",
        "other-namespace",
        "duplicate",
        "applyset-label",
        "hpa-target",
    ],
)
def test_stack_rules(bodies: list[dict[str, Any]], expected: list[str]) -> None:
    problems = stack_rule_problems(manifests(*bodies), NAMESPACE)
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected, strict=True):
        assert problem.startswith("stacks/demo/web.yaml.j2: ")
        assert fragment in problem


def test_every_problem_is_reported_at_once(schema: SchemaValidator) -> None:
    broken = edit(without(deployment(), *CONTAINER, "livenessProbe"), ["spec", "paused"], "yes")
    with pytest.raises(StackValidationError) as error:
        validate_stack(manifests(broken, secret(), configmap(p=PASSWORD)), NAMESPACE, "1.34", schema)
    assert len(error.value.details["errors"]) == 3
