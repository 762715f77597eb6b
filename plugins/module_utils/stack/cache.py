"""A per-user cache folder, so a run with nothing to do stays well under a second.

Two things are kept: Jinja's compiled templates (keyed by template source, so
an edit recompiles) and the fact that an exact rendered stack already passed
validation (keyed by the objects, the Kubernetes version and the rules'
revision). Losing the folder only costs time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

# Bump when validate.py's rules change, so older "validated" entries no longer count.
RULES_REVISION = "1"


def cache_dir(name: str) -> Path | None:
    """$ORCHESTRATOR_CACHE/<name> (default ~/.cache/orchestrator-k3s/<name>), private to the user; None if unusable."""
    root = os.environ.get("ORCHESTRATOR_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "orchestrator-k3s")
    folder = Path(root) / name
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Compiled templates are code: never use a folder someone else can write to.
        if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o022:
            return None
    except OSError:
        return None
    return folder


def validation_key(bodies: list[dict[str, Any]], namespace: str, kubernetes_version: str) -> str:
    text = json.dumps([RULES_REVISION, namespace, kubernetes_version, bodies], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ValidationMemo:
    """Remembers renders that passed validation, with the warnings they produced."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def recall(self, key: str) -> list[str] | None:
        if self.folder is None:
            return None
        try:
            return json.loads((self.folder / key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def remember(self, key: str, warnings: list[str]) -> None:
        if self.folder is None:
            return
        try:
            (self.folder / key).write_text(json.dumps(warnings), encoding="utf-8")
        except OSError:
            pass
