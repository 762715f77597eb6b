"""cache.py: the per-user cache that keeps a no-op run fast, and refuses unsafe folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cache import (
    ValidationMemo,
    cache_dir,
    validation_key,
)


def test_the_cache_lives_under_orchestrator_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path))
    folder = cache_dir("jinja-bytecode")
    assert folder == tmp_path / "jinja-bytecode" and folder.is_dir()


def test_a_folder_others_can_write_to_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path))
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared").chmod(0o777)
    assert cache_dir("shared") is None


def test_an_unusable_location_means_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path / "file"))
    assert cache_dir("x") is None


def test_the_validation_memo_remembers_warnings_by_exact_input(tmp_path: Path) -> None:
    memo = ValidationMemo(tmp_path)
    key = validation_key([{"kind": "ConfigMap"}], "dev", "1.34")
    assert memo.recall(key) is None
    memo.remember(key, ["a warning"])
    assert memo.recall(key) == ["a warning"]
    assert validation_key([{"kind": "ConfigMap"}], "prod", "1.34") != key
    assert validation_key([{"kind": "ConfigMap"}], "dev", "1.33") != key
    assert validation_key([{"kind": "Secret"}], "dev", "1.34") != key
    assert ValidationMemo(None).recall(key) is None
