"""diff.py: what --diff shows, Secret values masked as kubectl diff does."""

from __future__ import annotations

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.diff import diff_entry, mask_secrets, trim


def secret(**data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "data": data}


@pytest.mark.parametrize(
    ("before", "after", "masked_before", "masked_after"),
    [
        (secret(a="eA=="), secret(a="eA=="), {"a": "***"}, {"a": "***"}),
        (secret(a="eA=="), secret(a="eQ=="), {"a": "*** (before)"}, {"a": "*** (after)"}),
        ({}, secret(a="eA=="), None, {"a": "***"}),
        (secret(a="eA==", b="eg=="), secret(a="eA=="), {"a": "***", "b": "***"}, {"a": "***"}),
    ],
    ids=["same", "changed", "created", "key-removed"],
)
def test_secret_values_are_masked(before: dict, after: dict, masked_before: dict | None, masked_after: dict) -> None:
    old, new = mask_secrets(before, after)
    assert old.get("data") == masked_before
    assert new["data"] == masked_after
    assert after["data"] != masked_after  # the inputs are not modified


def test_string_data_is_masked_too() -> None:
    _old, new = mask_secrets({}, {"kind": "Secret", "stringData": {"password": "placeholder"}})
    assert new["stringData"] == {"password": "***"}


def test_other_kinds_are_shown_as_they_are() -> None:
    configmap = {"kind": "ConfigMap", "data": {"a": "b"}}
    assert mask_secrets({}, configmap) == ({}, configmap)


def test_server_bookkeeping_is_trimmed() -> None:
    live = {
        "kind": "ConfigMap",
        "metadata": {
            "name": "a",
            "uid": "u",
            "resourceVersion": "9",
            "managedFields": [],
            "creationTimestamp": "t",
            "generation": 2,
        },
        "status": {"x": 1},
    }
    assert trim(live) == {"kind": "ConfigMap", "metadata": {"name": "a"}}
    assert trim(None) == {}


def test_a_diff_entry_names_the_object_and_never_shows_a_secret_value() -> None:
    entry = diff_entry(
        "Secret dev/creds [configured]",
        secret(password="cGxhY2Vob2xkZXIx"),  # pragma: allowlist secret (placeholder)
        secret(password="cGxhY2Vob2xkZXIy"),  # pragma: allowlist secret (placeholder)
    )
    assert entry["before_header"] == "Secret dev/creds [configured] (live)"
    assert entry["after_header"] == "Secret dev/creds [configured] (applied)"
    assert "cGxhY2Vob2xkZXI" not in entry["before"] + entry["after"]
    assert "*** (after)" in entry["after"]
    deleted = diff_entry("ConfigMap dev/a [pruned]", {"kind": "ConfigMap"}, None)
    assert deleted["after"] == "" and deleted["after_header"].endswith("(deleted)")
