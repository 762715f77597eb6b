"""Render a stack's templates into objects, with no API call.

A stack is a folder of Jinja2 templates, one per component
(``<component>.yaml.j2``); files starting with ``_`` are helpers for
``{% import %}`` and render nothing by themselves. Undefined variables are
errors (StrictUndefined), and every error names the template file and line.
The whole stack is rendered before anything talks to a cluster.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import RenderError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import (
    CLUSTER_SCOPED_KINDS,
    Manifest,
)

try:
    import jinja2
    import yaml

    HAS_RENDER_LIBS = True
    RENDER_IMPORT_ERROR = None
except ImportError as error:  # reported by the module with missing_required_lib
    HAS_RENDER_LIBS = False
    RENDER_IMPORT_ERROR = error

TEMPLATE_SUFFIX = ".yaml.j2"
MANIFEST_HEADER = "# Rendered by orchestrator.k3s.stack from {source}; edit the template, not this file.\n"
_DOCUMENT_SEPARATOR = re.compile(r"^---\s*$")


def display_path(path: str | Path) -> str:
    """The path relative to the working directory when it is below it: shorter messages."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def discover_components(src: str | Path) -> dict[str, Path]:
    """Component name -> template path, sorted by name."""
    folder = Path(src)
    if not folder.is_dir():
        raise RenderError(f"stack folder {display_path(folder)} does not exist or is not a folder")
    found = {
        path.name[: -len(TEMPLATE_SUFFIX)]: path
        for path in folder.iterdir()
        if path.name.endswith(TEMPLATE_SUFFIX) and not path.name.startswith("_") and path.is_file()
    }
    if not found:
        raise RenderError(f"stack folder {display_path(folder)} has no *{TEMPLATE_SUFFIX} template")
    return dict(sorted(found.items()))


def select_components(available: Mapping[str, Path], wanted: Iterable[str] | None) -> dict[str, Path]:
    if wanted is None:
        return dict(available)
    wanted = list(wanted)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        raise RenderError(f"unknown component(s) {', '.join(unknown)}; the stack has: {', '.join(available)}")
    return {name: path for name, path in available.items() if name in wanted}


def _undefined_is_an_error(value: Any) -> Any:
    """json.dumps' fallback: an undefined value inside a structure fails as undefined, not as a TypeError."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def _json(value: Any, **options: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_undefined_is_an_error, **options)


def _sha256(value: Any) -> str:
    text = value if isinstance(value, str) else _json(value, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _b64encode(value: Any) -> str:
    return base64.b64encode(str(value).encode("utf-8")).decode("ascii")


def _to_json(value: Any) -> str:
    # A JSON string is a valid double-quoted YAML scalar: safe for any text.
    return _json(value)


# One Jinja environment per stack folder for the module process: the stacks of one task that share a
# folder (vote in dev and in prod) compile its templates once. The process is the task's: nothing of
# it outlives the task (no bytecode cache on disk either), and Jinja reloads a template whose file changed.
_ENVIRONMENTS: dict[str, jinja2.Environment] = {}


def environment_for(src: Path) -> jinja2.Environment:
    key = os.path.realpath(src)
    if key not in _ENVIRONMENTS:
        _ENVIRONMENTS[key] = make_environment(src)
    return _ENVIRONMENTS[key]


def make_environment(src: Path) -> jinja2.Environment:
    # The stack folder first, then its parent, so stacks can share helpers
    # (``{% import "_lib/pod.j2" as pod %}``) kept next to them.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(src), str(src.parent)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # YAML, not HTML
    )
    environment.filters.update({"b64encode": _b64encode, "sha256": _sha256, "to_json": _to_json})
    return environment


def _template_line(error: BaseException) -> tuple[str, int] | None:
    """The innermost template frame of a render-time error (Jinja maps frames to template lines)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith(".j2")]
    if not frames:
        return None
    return frames[-1].filename, frames[-1].lineno or 0


def render_template(environment: jinja2.Environment, path: Path, context: Mapping[str, Any]) -> str:
    name = path.name
    try:
        return environment.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as error:
        where = f"{display_path(error.filename or path)}:{error.lineno}"
        raise RenderError(f"{where}: template syntax error: {error.message}") from None
    except jinja2.TemplateNotFound as error:
        raise RenderError(f"{display_path(path)}: included template {error.name} not found") from None
    except Exception as error:  # any failure inside a template is bad input: report its line
        located = _template_line(error)
        where = f"{display_path(located[0])}:{located[1]}" if located else display_path(path)
        kind = "undefined variable" if isinstance(error, jinja2.UndefinedError) else type(error).__name__
        raise RenderError(f"{where}: {kind}: {error}") from None


def _split_documents(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each YAML document, so errors can name the rendered line."""
    documents: list[tuple[int, str]] = []
    start, lines = 1, []
    for number, line in enumerate(text.splitlines(), start=1):
        if _DOCUMENT_SEPARATOR.match(line):
            documents.append((start, "\n".join(lines)))
            start, lines = number + 1, []
        else:
            lines.append(line)
    documents.append((start, "\n".join(lines)))
    return documents


def parse_documents(text: str, source: str, component: str) -> list[Manifest]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    manifests = []
    for start, chunk in _split_documents(text):
        try:
            body = yaml.load(chunk, Loader=loader)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            # A mark past the document's last line (an unclosed bracket) points at its end.
            line = min(start + mark.line, start + max(len(chunk.splitlines()) - 1, 0)) if mark else start
            problem = getattr(error, "problem", None) or str(error)
            rendered = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
            raise RenderError(
                f"{source}: rendered output is not valid YAML at rendered line {line}: {problem}\n    {rendered}"
            ) from None
        if body is None:
            continue
        metadata = body.get("metadata") if isinstance(body, dict) else None
        if not (
            isinstance(body, dict)
            and isinstance(body.get("apiVersion"), str)
            and isinstance(body.get("kind"), str)
            and isinstance(metadata, dict)
            and isinstance(metadata.get("name"), str)
        ):
            raise RenderError(
                f"{source}: the document at rendered line {start} is not a Kubernetes object "
                "(it needs apiVersion, kind and metadata.name)"
            )
        manifests.append(Manifest(component=component, source=source, body=body))
    return manifests


def render_stack(
    src: str | Path,
    values: Mapping[str, Any],
    *,
    stack: str,
    namespace: str,
    components: Iterable[str] | None = None,
) -> list[Manifest]:
    """Render every selected component of the stack; objects get the stack's namespace."""
    folder = Path(src)
    selected = select_components(discover_components(folder), components)
    environment = environment_for(folder)
    manifests: list[Manifest] = []
    for component, path in selected.items():
        # Reserved names last, so values cannot redirect the namespace by accident.
        context = {**values, "stack": stack, "namespace": namespace, "component": component}
        source = display_path(path)
        text = render_template(environment, path, context)
        for manifest in parse_documents(text, source, component):
            if manifest.kind not in CLUSTER_SCOPED_KINDS:
                manifest.body["metadata"].setdefault("namespace", namespace)
            manifests.append(manifest)
    return manifests


def manifest_text(manifests: Iterable[Manifest], source: str) -> str:
    documents = [yaml.safe_dump(m.body, sort_keys=False, default_flow_style=False) for m in manifests]
    return MANIFEST_HEADER.format(source=source) + "---\n".join(documents)


def write_manifests(manifests: list[Manifest], dest: str | Path, check_mode: bool = False) -> list[str]:
    """Write one ``<component>.yaml`` per component; return the files that changed.

    Files of components no longer rendered are removed, but only files this
    function wrote (recognised by their header), never anything else in dest.
    """
    folder = Path(dest)
    by_component: dict[str, list[Manifest]] = {}
    for manifest in manifests:
        by_component.setdefault(manifest.component, []).append(manifest)
    changed = []
    if not check_mode:
        folder.mkdir(parents=True, exist_ok=True)
    for component, members in by_component.items():
        path = folder / f"{component}.yaml"
        text = manifest_text(members, members[0].source)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        changed.append(str(path))
        if not check_mode:
            path.write_text(text, encoding="utf-8")
            # Rendered Secrets are in these files.
            path.chmod(0o600)
    if folder.is_dir():
        header = MANIFEST_HEADER.split("{", 1)[0]
        for path in sorted(folder.glob("*.yaml")):
            if path.stem in by_component:
                continue
            with path.open(encoding="utf-8") as handle:
                first_line = handle.readline()
            if first_line.startswith(header):
                changed.append(str(path))
                if not check_mode:
                    path.unlink()
    return changed
