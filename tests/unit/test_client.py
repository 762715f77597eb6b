"""client.py: each task's own Configuration (no process-wide default), and a timeout on every request."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.client import configuration_for, connect
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.exceptions import StackError
from tests.unit.recording_module import RecordingModule


def kubeconfig(path: Path, server: str, token: str) -> str:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


def module(**params: Any) -> RecordingModule:
    return RecordingModule({"field_manager": "orchestrator.k3s.stack", "force_conflicts": False, **params})


def test_two_tasks_credentials_never_meet(tmp_path: Path) -> None:
    """2c: the second configuration has only its own server and token, and the process-wide default is untouched."""
    default_before = kubernetes.client.Configuration.get_default_copy()
    first = configuration_for({"kubeconfig": kubeconfig(tmp_path / "a", "https://a.example:6443", "token-a")})
    second = configuration_for({"kubeconfig": kubeconfig(tmp_path / "b", "https://b.example:6443", "token-b")})
    assert (first.host, second.host) == ("https://a.example:6443", "https://b.example:6443")
    assert list(first.api_key.values()) == ["Bearer token-a"]
    assert list(second.api_key.values()) == ["Bearer token-b"]
    default_after = kubernetes.client.Configuration.get_default_copy()
    assert (default_after.host, default_after.api_key) == (default_before.host, default_before.api_key)
    # Options given on the task win over the kubeconfig, in that task only.
    third = configuration_for({"kubeconfig": str(tmp_path / "a"), "api_key": "token-c", "host": "https://c.example/"})
    assert (third.host, third.api_key) == ("https://c.example", {"authorization": "Bearer token-c"})
    assert list(first.api_key.values()) == ["Bearer token-a"]


def test_a_stalled_api_server_fails_within_the_request_timeout(tmp_path: Path) -> None:
    """2h: a server that accepts and never answers cannot hang the task past wait_timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    outcome: list[Any] = []
    try:
        url = f"https://127.0.0.1:{server.getsockname()[1]}"
        started = time.monotonic()

        def call() -> None:
            try:
                # The dynamic client asks for /version (discovery) when built: that request times out too.
                stalled = module(kubeconfig=kubeconfig(tmp_path / "k", url, "t"))
                connect(stalled, 1, False).list("v1", "ConfigMap", "dev")
            except StackError as error:
                outcome.append(error)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(timeout=30)
        elapsed = time.monotonic() - started
        assert not caller.is_alive(), "the request hung"
        assert outcome and elapsed < 15
    finally:
        stop.set()
        acceptor.join()
        for connection in accepted:
            connection.close()
        server.close()
