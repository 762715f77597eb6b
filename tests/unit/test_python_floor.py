"""2j: the Python the module documents as its minimum can run the code it ships."""

from __future__ import annotations

import ast
import re

import yaml

from ansible_collections.orchestrator.k3s.plugins.modules import stack
from tests.unit.conftest import REPO

CODE = [REPO / "plugins/modules/stack.py", *sorted((REPO / "plugins/module_utils/stack").glob("*.py"))]
# Keyword arguments newer than the syntax: ast.parse(feature_version=...) does not see these.
NEWER_KEYWORDS = {("zip", "strict"): (3, 10), ("dataclass", "slots"): (3, 10), ("dataclass", "kw_only"): (3, 10)}


def documented_minimum() -> tuple[int, int]:
    requirements = yaml.safe_load(stack.DOCUMENTATION)["requirements"]
    found = [re.match(r"python >= (\d+)\.(\d+)$", item) for item in requirements]
    major, minor = next(m for m in found if m).groups()
    return int(major), int(minor)


def newer_calls(tree: ast.AST, floor: tuple[int, int]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            for keyword in node.keywords:
                needs = NEWER_KEYWORDS.get((name, keyword.arg))
                if needs and needs > floor:
                    found.append(f"line {node.lineno}: {name}({keyword.arg}=) needs Python {needs[0]}.{needs[1]}")
    return found


def test_the_code_runs_on_the_documented_minimum_python() -> None:
    floor = documented_minimum()
    problems = []
    for path in CODE:
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, feature_version=floor)
        except SyntaxError as error:
            problems.append(f"{path.name}: {error}")
            continue
        problems += [f"{path.name}: {p}" for p in newer_calls(tree, floor)]
    assert problems == []


def test_the_floor_check_sees_a_newer_keyword() -> None:
    assert newer_calls(ast.parse("zip(a, b, strict=True)"), (3, 9)) == ["line 1: zip(strict=) needs Python 3.10"]
