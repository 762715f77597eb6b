"""render.py: templates to objects, with errors that name the template file and line."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import RenderError
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.render import (
    discover_components,
    environment_for,
    render_stack,
    select_components,
    write_manifests,
)

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name }}
data:
  greeting: {{ greeting | to_json }}
"""


def make_stack(root: Path, templates: dict[str, str]) -> Path:
    folder = root / "stack"
    for name, text in templates.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_components_are_the_yaml_templates_sorted_and_helpers_are_not(tmp_path: Path) -> None:
    folder = make_stack(tmp_path, {"web.yaml.j2": "", "api.yaml.j2": "", "_helpers.yaml.j2": "", "notes.txt": ""})
    assert list(discover_components(folder)) == ["api", "web"]


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        ({}, r"has no \*\.yaml\.j2 template"),
        (None, "does not exist"),
    ],
)
def test_a_folder_without_templates_is_refused(tmp_path: Path, templates: dict | None, expected: str) -> None:
    folder = make_stack(tmp_path, templates) if templates is not None else tmp_path / "missing"
    folder.mkdir(exist_ok=True) if templates is not None else None
    with pytest.raises(RenderError, match=expected):
        discover_components(folder)


def test_unknown_components_are_named_with_the_available_ones(tmp_path: Path) -> None:
    available = {"db": tmp_path, "web": tmp_path}
    with pytest.raises(RenderError) as error:
        select_components(available, ["web", "cache"])
    assert "cache" in error.value.message and "db, web" in error.value.message
    assert list(select_components(available, ["web"])) == ["web"]


def test_objects_get_the_stack_namespace_and_know_their_component(tmp_path: Path) -> None:
    folder = make_stack(tmp_path, {"web.yaml.j2": CONFIGMAP + "---\n" + CONFIGMAP.replace("{{ name }}", "second")})
    manifests = render_stack(folder, {"name": "first", "greeting": "hi: there"}, stack="demo", namespace="dev")
    assert [(m.component, m.name, m.namespace) for m in manifests] == [
        ("web", "first", "dev"),
        ("web", "second", "dev"),
    ]
    assert manifests[0].body["data"]["greeting"] == "hi: there"
    assert manifests[0].source.endswith("stack/web.yaml.j2")


def test_cluster_scoped_objects_are_not_given_a_namespace(tmp_path: Path) -> None:
    folder = make_stack(tmp_path, {"ns.yaml.j2": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"})
    (manifest,) = render_stack(folder, {}, stack="demo", namespace="dev")
    assert "namespace" not in manifest.body["metadata"]


def test_templates_see_stack_namespace_component_and_the_filters(tmp_path: Path) -> None:
    template = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ stack }}-{{ component }}'}\n"
        "data:\n  ns: {{ namespace }}\n  b64: {{ 'pw' | b64encode }}\n  sha: {{ {'a': 1} | sha256 }}\n"
    )
    folder = make_stack(tmp_path, {"web.yaml.j2": template})
    # Reserved names win over values: a value cannot redirect the namespace.
    (manifest,) = render_stack(folder, {"namespace": "elsewhere"}, stack="demo", namespace="dev")
    assert manifest.name == "demo-web"
    assert manifest.body["data"] == {
        "ns": "dev",
        "b64": base64.b64encode(b"pw").decode(),
        "sha": hashlib.sha256(json.dumps({"a": 1}, separators=(",", ":")).encode()).hexdigest(),
    }


def test_helpers_next_to_the_stack_can_be_imported(tmp_path: Path) -> None:
    (tmp_path / "_lib").mkdir()
    (tmp_path / "_lib" / "names.j2").write_text("{% macro full(x) %}{{ stack }}-{{ x }}{% endmacro %}")
    folder = make_stack(
        tmp_path,
        {
            "web.yaml.j2": '{% import "_lib/names.j2" as names with context %}'
            "apiVersion: v1\nkind: ConfigMap\nmetadata: "
            "{name: '{{ names.full(\"web\") }}'}\n"
        },
    )
    (manifest,) = render_stack(folder, {}, stack="demo", namespace="dev")
    assert manifest.name == "demo-web"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ missing }}\n",
            r"web\.yaml\.j2:4: undefined variable: 'missing' is undefined",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ values.nope.deeper }}\n",
            r"web\.yaml\.j2:4: undefined variable: .*'nope'",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {{ {'a': nope} | to_json }}\n",
            r"web\.yaml\.j2:4: undefined variable: 'nope' is undefined",
        ),
        ("apiVersion: v1\n{% if %}\n", r"web\.yaml\.j2:2: template syntax error"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {{ 1 / 0 }}\n",
            r"web\.yaml\.j2:4: ZeroDivisionError",
        ),
        ('{% include "_absent.j2" %}\n', r"included template _absent\.j2 not found"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   bad: indent\n",
            r"web\.yaml\.j2: rendered output is not valid YAML at rendered line 5",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
            r"the document at rendered line 1 is not a Kubernetes object",
        ),
        ("- just\n- a list\n", r"the document at rendered line 1 is not a Kubernetes object"),
    ],
    ids=[
        "undefined",
        "undefined-attribute",
        "undefined-in-filter",
        "syntax",
        "runtime",
        "include",
        "yaml",
        "no-name",
        "not-a-mapping",
    ],
)
def test_errors_name_the_template_file_and_line(tmp_path: Path, template: str, message: str) -> None:
    folder = make_stack(tmp_path, {"web.yaml.j2": template})
    with pytest.raises(RenderError, match=message):
        render_stack(folder, {"values": {}}, stack="demo", namespace="dev")


def test_a_yaml_error_in_a_later_document_names_its_rendered_line(tmp_path: Path) -> None:
    text = CONFIGMAP + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n"
    folder = make_stack(tmp_path, {"web.yaml.j2": text})
    with pytest.raises(RenderError) as error:
        render_stack(folder, {"name": "a", "greeting": "x"}, stack="demo", namespace="dev")
    assert "at rendered line 10:" in error.value.message
    assert "metadata: {name: [unclosed" in error.value.message


def test_empty_documents_are_skipped(tmp_path: Path) -> None:
    folder = make_stack(tmp_path, {"web.yaml.j2": "---\n# nothing here\n---\n" + CONFIGMAP})
    assert len(render_stack(folder, {"name": "a", "greeting": "x"}, stack="demo", namespace="dev")) == 1


def test_dest_gets_one_private_file_per_component_and_only_changes_are_reported(tmp_path: Path) -> None:
    folder = make_stack(tmp_path, {"web.yaml.j2": CONFIGMAP, "db.yaml.j2": CONFIGMAP.replace("{{ name }}", "db")})
    manifests = render_stack(folder, {"name": "web", "greeting": "x"}, stack="demo", namespace="dev")
    dest = tmp_path / "out"
    written = write_manifests(manifests, dest)
    assert sorted(Path(p).name for p in written) == ["db.yaml", "web.yaml"]
    assert stat.S_IMODE((dest / "web.yaml").stat().st_mode) == 0o600
    assert "kind: ConfigMap" in (dest / "web.yaml").read_text()
    assert write_manifests(manifests, dest) == []


def test_dest_removes_files_of_dropped_components_but_nothing_it_did_not_write(tmp_path: Path) -> None:
    folder = make_stack(tmp_path, {"web.yaml.j2": CONFIGMAP, "db.yaml.j2": CONFIGMAP.replace("{{ name }}", "db")})
    dest = tmp_path / "out"
    write_manifests(render_stack(folder, {"name": "web", "greeting": "x"}, stack="demo", namespace="dev"), dest)
    (dest / "mine.yaml").write_text("kind: Mine\n")
    only_web = render_stack(folder, {"name": "web", "greeting": "x"}, stack="demo", namespace="dev", components=["web"])
    assert [Path(p).name for p in write_manifests(only_web, dest)] == ["db.yaml"]
    assert sorted(p.name for p in dest.iterdir()) == ["mine.yaml", "web.yaml"]


def test_dest_in_check_mode_reports_but_writes_nothing(tmp_path: Path) -> None:
    folder = make_stack(tmp_path, {"web.yaml.j2": CONFIGMAP})
    manifests = render_stack(folder, {"name": "web", "greeting": "x"}, stack="demo", namespace="dev")
    assert len(write_manifests(manifests, tmp_path / "out", check_mode=True)) == 1
    assert not (tmp_path / "out").exists()


def test_stacks_of_one_folder_share_compiled_templates_and_see_template_edits(tmp_path: Path) -> None:
    """vote in dev and in prod: one task compiles the folder's templates once; an edited file is read again."""
    src = make_stack(tmp_path, {"a.yaml.j2": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1'}\n"})
    dev = render_stack(src, {}, stack="s", namespace="dev")
    environment = environment_for(src)
    assert render_stack(src, {}, stack="s", namespace="prod")[0].body["metadata"]["namespace"] == "prod"
    assert environment_for(src) is environment and dev[0].body["data"] == {"x": "1"}
    template = src / "a.yaml.j2"
    template.write_text(template.read_text().replace("'1'", "'2'"))
    os.utime(template, (template.stat().st_atime, template.stat().st_mtime + 5))
    assert render_stack(src, {}, stack="s", namespace="dev")[0].body["data"] == {"x": "2"}
