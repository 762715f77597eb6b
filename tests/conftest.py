"""For every test: the collection importable as Ansible finds it, ansible_collections.orchestrator.k3s."""

from __future__ import annotations

import sys
from pathlib import Path

# .collections/ansible_collections/orchestrator/k3s is a committed symlink to the repo root.
COLLECTIONS = Path(__file__).resolve().parents[1] / ".collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
