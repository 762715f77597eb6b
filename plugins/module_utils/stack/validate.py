"""Check rendered objects before anything is applied.

Two layers, both offline:

* the Kubernetes OpenAPI schema of the target version, strict (unknown fields
  are errors), from the schema files that PyPI ``kubernetes-validate`` ships;
* the stack rules: no Secret value in a ConfigMap or a literal in a container
  spec, CPU/memory requests and limits on every container, liveness and
  readiness probes on every container of a long-running workload, one
  namespace, no duplicates, HPAs that point at a workload of the stack.

Every problem is one line naming the template file, the object and the field.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.applyset import PARENT_ID_LABEL, PART_OF_LABEL
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import (
    StackError,
    StackValidationError,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import (
    CLUSTER_SCOPED_KINDS,
    SCALABLE_KINDS,
    Manifest,
    ObjectKey,
)

# The schema libraries are imported when a render needs validating, not on
# every run: a render that already passed (cache.ValidationMemo) skips them.
_SCHEMA_LIBS = ("jsonschema", "kubernetes_validate", "referencing")
_MISSING = [name for name in _SCHEMA_LIBS if importlib.util.find_spec(name) is None]
HAS_SCHEMA_LIBS = not _MISSING
SCHEMA_IMPORT_ERROR = f"cannot import {', '.join(_MISSING)}" if _MISSING else None

# Bump when the rules below change: a render applied under older rules is then
# validated again even though it did not change (runner: the fast path).
RULES_REVISION = "2"

# A Secret value leaks when a ConfigMap value or a container literal equals it,
# or contains it once it is long enough to be a password rather than a word
# (the user name "inventory" is rightly inside the host name "inventory-app").
# Values shorter than MIN_SECRET_LENGTH are not checked at all.
MIN_SECRET_LENGTH = 4
MIN_EMBEDDED_SECRET_LENGTH = 12
_MAX_SHOWN = 120

# Where the pod spec sits in each workload kind.
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}
# Containers of these run until stopped, so they need probes; a Job's do not.
LONG_RUNNING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"})


def field_path(parts: Iterable[Any]) -> str:
    """['spec', 'containers', 0, 'image'] -> 'spec.containers[0].image'."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(object)"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


class SchemaValidator:
    """Validators for one Kubernetes version, built once and reused per kind.

    kubernetes_validate.validate() re-reads the 1.5 MB definitions file for
    every object (about 18 ms each); building the registry once makes a
    whole stack cost a few milliseconds.
    """

    def __init__(self, kubernetes_version: str) -> None:
        import jsonschema
        from referencing import Registry, Resource

        self._validator_class = jsonschema.Draft202012Validator
        self.folder = self._schema_folder(kubernetes_version)
        definitions = json.loads((self.folder / "_definitions.json").read_text(encoding="utf-8"))
        self._registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
        self._validators: dict[tuple[str, str], Any] = {}

    @staticmethod
    def _schema_folder(kubernetes_version: str) -> Path:
        wanted = _version_tuple(kubernetes_version)
        if wanted is None:
            raise StackError(f"kubernetes_version {kubernetes_version!r} is not a version such as 1.34")
        import kubernetes_validate

        root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
        available = {}
        for folder in root.glob("v*-local-strict"):
            version = _version_tuple(folder.name[1:])
            if version is not None:
                available[version] = folder
        usable = [version for version in available if version <= wanted]
        if not usable:
            known = ", ".join(".".join(map(str, v)) for v in sorted(available))
            raise StackError(f"kubernetes-validate has no schema for Kubernetes {kubernetes_version} (it has {known})")
        return available[max(usable)]

    def _validator(self, api_version: str, kind: str) -> Any | None:
        key = (api_version, kind)
        if key not in self._validators:
            # The file naming of kubernetes-validate: networking.k8s.io/v1 -> networking-v1.
            suffix = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
            path = self.folder / f"{kind.lower()}-{suffix}.json"
            if path.exists():
                schema = json.loads(path.read_text(encoding="utf-8"))
                self._validators[key] = self._validator_class(schema, registry=self._registry)
            else:
                self._validators[key] = None
        return self._validators[key]

    def has_schema(self, api_version: str, kind: str) -> bool:
        return self._validator(api_version, kind) is not None

    def problems(self, body: dict[str, Any]) -> list[str]:
        """'field: problem' for every schema violation of one object."""
        validator = self._validator(body.get("apiVersion", ""), body.get("kind", ""))
        if validator is None:
            return []
        found = []
        for error in sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path]):
            path = list(error.absolute_path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = error.schema.get("properties", {})
                for extra in sorted(set(error.instance) - set(known)):
                    found.append(f"{field_path([*path, extra])}: unknown field")
            elif error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else error.message
                found.append(f"{field_path([*path, missing])}: required field is missing")
            else:
                found.append(f"{field_path(path)}: {_shorten(error.message)}")
        return found


def _version_tuple(text: str) -> tuple[int, int] | None:
    match = re.match(r"^v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _dig(body: Any, path: Iterable[str]) -> Any:
    for part in path:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def pod_spec(manifest: Manifest) -> tuple[dict[str, Any], list[Any]] | None:
    """The pod spec of a workload and its field path, or None for other kinds."""
    if manifest.kind not in POD_TEMPLATE_PATHS:
        return None
    template_path = list(POD_TEMPLATE_PATHS[manifest.kind])
    spec = _dig(manifest.body, [*template_path, "spec"])
    return (spec, [*template_path, "spec"]) if isinstance(spec, dict) else None


def containers(manifest: Manifest, include_init: bool = True) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """(container, field path) for each container of a workload."""
    found = pod_spec(manifest)
    if found is None:
        return
    spec, path = found
    groups = ("containers", "initContainers") if include_init else ("containers",)
    for group in groups:
        for index, container in enumerate(spec.get(group) or []):
            if isinstance(container, dict):
                yield container, [*path, group, index]


def secret_values(manifests: Iterable[Manifest]) -> dict[str, str]:
    """Secret value -> 'Secret name key KEY', for values long enough to be credentials."""
    found: dict[str, str] = {}
    for manifest in manifests:
        if manifest.kind != "Secret":
            continue
        for key, value in (manifest.body.get("stringData") or {}).items():
            found.setdefault(str(value), f"Secret {manifest.name} key {key}")
        for key, value in (manifest.body.get("data") or {}).items():
            try:
                decoded = base64.b64decode(str(value), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
            found.setdefault(decoded, f"Secret {manifest.name} key {key}")
    return {value: origin for value, origin in found.items() if len(value) >= MIN_SECRET_LENGTH}


def _leaked(text: Any, secrets: dict[str, str]) -> str | None:
    if not isinstance(text, str):
        return None
    for value, origin in secrets.items():
        if text == value or (len(value) >= MIN_EMBEDDED_SECRET_LENGTH and value in text):
            return origin
    return None


def secret_leaks(manifests: list[Manifest]) -> list[str]:
    known_values = secret_values(manifests)
    if not known_values:
        return []
    problems = []
    for manifest in manifests:
        if manifest.kind == "ConfigMap":
            for key, value in (manifest.body.get("data") or {}).items():
                origin = _leaked(value, known_values)
                if origin:
                    problems.append(
                        f"{manifest.where()}: data.{key}: holds the value of {origin}; "
                        "a credential belongs in the Secret only"
                    )
            for key, value in (manifest.body.get("binaryData") or {}).items():
                try:
                    decoded = base64.b64decode(str(value)).decode("utf-8", "replace")
                except binascii.Error:
                    continue
                origin = _leaked(decoded, known_values)
                if origin:
                    problems.append(
                        f"{manifest.where()}: binaryData.{key}: holds the value of {origin}; "
                        "a credential belongs in the Secret only"
                    )
        for container, path in containers(manifest):
            for index, variable in enumerate(container.get("env") or []):
                origin = _leaked(variable.get("value"), known_values)
                if origin:
                    problems.append(
                        f"{manifest.where()}: {field_path([*path, 'env', index, 'value'])} "
                        f"({variable.get('name')}): holds the value of {origin}; use valueFrom.secretKeyRef"
                    )
            for group in ("command", "args"):
                for index, word in enumerate(container.get(group) or []):
                    origin = _leaked(word, known_values)
                    if origin:
                        problems.append(
                            f"{manifest.where()}: {field_path([*path, group, index])}: holds the "
                            f"value of {origin}; pass it through an env var from the Secret"
                        )
    return problems


def resource_problems(manifest: Manifest) -> list[str]:
    problems = []
    for container, path in containers(manifest):
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if not (resources.get(section) or {}).get(resource):
                    problems.append(
                        f"{manifest.where()}: {field_path([*path, 'resources', section, resource])}: missing "
                        f"(container {container.get('name')} needs CPU and memory requests and limits)"
                    )
    return problems


def probe_problems(manifest: Manifest) -> list[str]:
    if manifest.kind not in LONG_RUNNING_KINDS:
        return []
    problems = []
    for container, path in containers(manifest, include_init=False):
        for probe in ("livenessProbe", "readinessProbe"):
            if not container.get(probe):
                problems.append(
                    f"{manifest.where()}: {field_path([*path, probe])}: missing "
                    f"(container {container.get('name')} of a long-running workload needs one)"
                )
    return problems


def placement_problems(manifest: Manifest, namespace: str) -> list[str]:
    if manifest.kind in CLUSTER_SCOPED_KINDS:
        return [
            f"{manifest.where()}: kind: {manifest.kind} is cluster-scoped; a stack holds objects of "
            "one namespace (the module creates the namespace itself)"
        ]
    if manifest.namespace != namespace:
        return [
            f"{manifest.where()}: metadata.namespace: is {manifest.namespace!r} but the stack deploys "
            f"into {namespace!r}"
        ]
    return []


def label_problems(manifest: Manifest) -> list[str]:
    labels = manifest.body.get("metadata", {}).get("labels") or {}
    return [
        f"{manifest.where()}: metadata.labels.{label}: set by the module to track the stack; "
        "remove it from the template"
        for label in (PART_OF_LABEL, PARENT_ID_LABEL)
        if label in labels
    ]


def duplicate_problems(manifests: list[Manifest]) -> list[str]:
    first: dict[ObjectKey, Manifest] = {}
    problems = []
    for manifest in manifests:
        if manifest.key in first:
            problems.append(f"{manifest.where()}: metadata.name: already rendered by {first[manifest.key].source}")
        else:
            first[manifest.key] = manifest
    return problems


def autoscaler_problems(manifests: list[Manifest]) -> list[str]:
    workloads = {(m.kind, m.name) for m in manifests if m.kind in SCALABLE_KINDS}
    problems = []
    for manifest in manifests:
        if manifest.kind != "HorizontalPodAutoscaler":
            continue
        target = _dig(manifest.body, ["spec", "scaleTargetRef"]) or {}
        if (target.get("kind"), target.get("name")) not in workloads:
            problems.append(
                f"{manifest.where()}: spec.scaleTargetRef: {target.get('kind')} {target.get('name')} "
                "is not a workload of this stack"
            )
    return problems


def stack_rule_problems(manifests: list[Manifest], namespace: str) -> list[str]:
    problems = duplicate_problems(manifests)
    for manifest in manifests:
        problems += placement_problems(manifest, namespace)
        problems += label_problems(manifest)
        problems += resource_problems(manifest)
        problems += probe_problems(manifest)
    problems += secret_leaks(manifests)
    problems += autoscaler_problems(manifests)
    return problems


def validate_stack(
    manifests: list[Manifest],
    namespace: str,
    kubernetes_version: str,
    schema: SchemaValidator | None = None,
) -> list[str]:
    """Raise StackValidationError listing every problem; return warnings (kinds with no schema)."""
    schema = schema or SchemaValidator(kubernetes_version)
    problems: list[str] = []
    warnings = []
    for manifest in manifests:
        if not schema.has_schema(manifest.api_version, manifest.kind):
            warnings.append(
                f"{manifest.where()}: no schema for {manifest.api_version} {manifest.kind} in "
                f"Kubernetes {kubernetes_version}; only the stack rules were checked"
            )
            continue
        problems += [f"{manifest.where()}: {problem}" for problem in schema.problems(manifest.body)]
    problems += stack_rule_problems(manifests, namespace)
    if problems:
        raise StackValidationError(problems)
    return warnings
