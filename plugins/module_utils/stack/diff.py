"""Before/after views of objects for ``--diff``, with Secret values masked.

Masking follows ``kubectl diff``: every value of a Secret's data or
stringData becomes ``***``; when a value changed, the two sides read
``*** (before)`` and ``*** (after)`` so the reader sees *that* it changed
without seeing it.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.manifest import plain_copy

try:
    import yaml
except ImportError:  # render.py reports the missing library first
    yaml = None

MASK = "***"
# Server-owned bookkeeping that changes on every write and says nothing to a reviewer.
_NOISE = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")


def trim(body: dict[str, Any] | None) -> dict[str, Any]:
    if not body:
        return {}
    trimmed = plain_copy(body)
    trimmed.pop("status", None)
    metadata = trimmed.get("metadata", {})
    for key in _NOISE:
        metadata.pop(key, None)
    return trimmed


def mask_secrets(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copies of both sides with Secret values replaced (only when the object is a Secret)."""
    before, after = plain_copy(before), plain_copy(after)
    if (after or before).get("kind") != "Secret":
        return before, after
    for field in ("data", "stringData"):
        old = before.get(field) or {}
        new = after.get(field) or {}
        for key in set(old) | set(new):
            changed = key in old and key in new and old[key] != new[key]
            if key in old:
                old[key] = f"{MASK} (before)" if changed else MASK
            if key in new:
                new[key] = f"{MASK} (after)" if changed else MASK
    return before, after


def _text(body: dict[str, Any]) -> str:
    return yaml.safe_dump(body, sort_keys=True, default_flow_style=False) if body else ""


def diff_entry(header: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, str]:
    """One Ansible diff item; an absent side (creation, deletion) is empty."""
    old, new = mask_secrets(trim(before), trim(after))
    return {
        "before_header": f"{header} (live)" if before else f"{header} (absent)",
        "after_header": f"{header} (applied)" if after else f"{header} (deleted)",
        "before": _text(old),
        "after": _text(new),
    }
