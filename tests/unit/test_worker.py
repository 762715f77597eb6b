"""worker.py and worker_client.py: real worker processes on a private socket (no cluster: render-only runs)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack import worker_client
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.entry import run_module
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.runner import execute
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.worker import (
    HEADER,
    RequestModule,
    receive_message,
    send_message,
)
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.worker_client import (
    WorkerClient,
    WorkerLost,
    environment_digest,
    run_in_worker,
    stop_workers,
    worker_status,
)
from ansible_collections.orchestrator.k3s.plugins.modules.stack import argument_spec
from tests.unit.conftest import PLACEHOLDER_SECRETS, STACKS, stack_values
from tests.unit.recording_module import RecordingModule


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private ORCHESTRATOR_CACHE with a short path (unix socket paths are limited to ~100 bytes)."""
    root = Path(tempfile.mkdtemp(prefix="ow-", dir="/tmp"))
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(root))
    yield root / "stack-worker"
    stop_workers(root / "stack-worker")
    shutil.rmtree(root, ignore_errors=True)


def render_params(dest: Path, **overrides: Any) -> dict[str, Any]:
    params = {name: spec.get("default") for name, spec in argument_spec().items()}
    params.update(
        name="vote",
        namespace="dev",
        src=str(STACKS / "vote"),
        values=stack_values("dev"),
        secrets=PLACEHOLDER_SECRETS["vote"],
        dest=str(dest),
    )
    params.update(overrides)
    return params


def wait_until(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent, this test) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def only_worker(folder: Path) -> dict[str, Any]:
    status = worker_status(folder)
    assert len(status) == 1, status
    return next(iter(status.values()))


# -- wire format ----------------------------------------------------------------------------


def test_messages_round_trip_over_a_socket() -> None:
    left, right = socket.socketpair()
    with left, right:
        # Larger than a socket buffer: the receiver reassembles it from several reads.
        message = {"params": {"name": "vote", "secrets": {"a": "é" * 700000}}, "check_mode": True}
        sender = threading.Thread(target=send_message, args=(left, message))
        sender.start()
        assert receive_message(right) == message
        sender.join()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (HEADER.pack(2**40), "refused"),
        (HEADER.pack(2) + b"[]", "not a JSON object"),
        (HEADER.pack(10) + b"{}", "closed the connection"),
    ],
)
def test_bad_messages_are_refused(raw: bytes, reason: str) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(raw)
        left.shutdown(socket.SHUT_WR)
        with pytest.raises(ConnectionError, match=reason):
            receive_message(right)


# -- one worker, reused ------------------------------------------------------------------------


def test_the_worker_answers_what_the_module_process_would(cache: Path, tmp_path: Path) -> None:
    here = execute(RequestModule(render_params(tmp_path / "here"), check_mode=True, diff=False))
    there = run_in_worker(render_params(tmp_path / "there"), check_mode=True, diff=False)
    assert there is not None and there["failure"] is None
    assert there["result"]["objects"] == here["result"]["objects"]
    assert len(there["result"]["objects"]) > 10
    assert not (tmp_path / "there").exists()  # check mode reached the worker


def test_a_second_run_reuses_the_worker_and_a_changed_environment_gets_its_own(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_in_worker(render_params(tmp_path / "a"), check_mode=False, diff=False)
    first = only_worker(cache)
    run_in_worker(render_params(tmp_path / "b"), check_mode=False, diff=False)
    assert only_worker(cache) == {"pid": first["pid"], "served": 2}
    assert sorted((tmp_path / "b").glob("*.yaml"))  # it did write the files

    monkeypatch.setenv("KUBECONFIG", "/elsewhere/config")
    run_in_worker(render_params(tmp_path / "c"), check_mode=False, diff=False)
    assert len(worker_status(cache)) == 2


def test_the_environment_digest_ignores_only_what_differs_between_shells() -> None:
    base = {"HOME": "/root", "KUBECONFIG": "/a"}
    assert environment_digest({**base, "PWD": "/x", "SHLVL": "3", "PYTEST_CURRENT_TEST": "t"}) == environment_digest(
        base
    )
    assert environment_digest({**base, "KUBECONFIG": "/b"}) != environment_digest(base)


def test_a_killed_worker_is_replaced_by_the_next_run(cache: Path, tmp_path: Path) -> None:
    run_in_worker(render_params(tmp_path / "a"), check_mode=False, diff=False)
    pid = only_worker(cache)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not pid_alive(pid))
    outcome = run_in_worker(render_params(tmp_path / "b"), check_mode=False, diff=False)
    assert outcome is not None and outcome["failure"] is None
    assert only_worker(cache)["pid"] != pid


def test_a_worker_exits_when_idle_and_when_its_socket_is_removed(cache: Path) -> None:
    client = WorkerClient(cache_folder(cache), idle=0.5)
    client.connect().close()
    pid = only_worker(cache)["pid"]
    assert wait_until(lambda: not pid_alive(pid))
    assert not client.socket_path.exists()

    client = WorkerClient(cache, idle=600)
    client.connect().close()
    pid = only_worker(cache)["pid"]
    client.socket_path.unlink()
    assert wait_until(lambda: not pid_alive(pid))


def cache_folder(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def test_stop_workers_stops_them_and_the_next_run_starts_a_new_one(cache: Path, tmp_path: Path) -> None:
    run_in_worker(render_params(tmp_path / "a"), check_mode=False, diff=False)
    pid = only_worker(cache)["pid"]
    assert stop_workers(cache) == 1
    assert wait_until(lambda: not pid_alive(pid))
    assert worker_status(cache) == {}


def test_the_socket_is_private_and_no_request_data_is_written(cache: Path, tmp_path: Path) -> None:
    run_in_worker(render_params(tmp_path / "a", check_mode=True), check_mode=True, diff=False)
    assert cache.stat().st_mode & 0o777 == 0o700
    sockets = list(cache.glob("*.sock"))
    assert len(sockets) == 1 and sockets[0].stat().st_mode & 0o777 == 0o600
    secrets = [value.encode() for value in PLACEHOLDER_SECRETS["vote"].values()]
    for path in cache.iterdir():
        if path.is_file():
            content = path.read_bytes()
            assert not any(secret in content for secret in secrets), path


# -- failures --------------------------------------------------------------------------------


def test_a_bug_in_a_request_becomes_a_failure_with_its_traceback(cache: Path) -> None:
    outcome = run_in_worker({"name": "vote"}, check_mode=False, diff=False)
    assert outcome is not None
    assert outcome["failure"].startswith("internal error in the stack worker: KeyError")
    assert "Traceback" in outcome["exception"]


def test_a_worker_that_dies_mid_request_is_reported_not_retried(cache: Path) -> None:
    client = WorkerClient(cache_folder(cache))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(client.socket_path))
    listener.listen(1)

    def take_and_die() -> None:
        conn, _address = listener.accept()
        receive_message(conn)
        conn.close()

    thread = threading.Thread(target=take_and_die)
    thread.start()
    with listener, pytest.raises(WorkerLost):
        client.request({"params": {}, "check_mode": False, "diff": False})
    thread.join()


def test_no_worker_when_the_socket_path_would_be_too_long(tmp_path: Path) -> None:
    folder = cache_folder(tmp_path / ("x" * 120))
    assert WorkerClient(folder).request({"op": "status"}) is None
    assert list(folder.glob("*.sock")) == []


def test_no_worker_when_the_cache_folder_is_not_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "stack-worker").mkdir(mode=0o777)
    (tmp_path / "stack-worker").chmod(0o777)
    monkeypatch.setenv("ORCHESTRATOR_CACHE", str(tmp_path))
    assert run_in_worker(render_params(tmp_path / "out"), check_mode=False, diff=False) is None


@pytest.mark.parametrize("warm", [True, False])
def test_the_module_reports_the_same_either_way(cache: Path, tmp_path: Path, warm: bool) -> None:
    module = RecordingModule(render_params(tmp_path / "out", warm_worker=warm))
    run_module(module)
    assert module.failure is None and module.exit is not None
    assert module.exit["changed"] is True and len(module.exit["files"]) > 5
    assert len(worker_status(cache)) == (1 if warm else 0)


def test_the_module_fails_clearly_when_the_worker_is_lost(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(*_args: Any) -> None:
        raise WorkerLost("the peer closed the connection mid-message")

    monkeypatch.setattr("ansible_collections.orchestrator.k3s.plugins.module_utils.stack.entry.run_in_worker", lost)
    module = RecordingModule(render_params(tmp_path / "out"))
    run_module(module)
    assert module.exit is None
    assert "stack worker ended before answering" in module.failure["msg"]
    assert "warm_worker=false" in module.failure["msg"]


def test_the_client_module_stays_light() -> None:
    """What every module process imports before the worker answers: no kubernetes, no Jinja."""
    source = Path(worker_client.__file__).read_text()
    assert "import kubernetes" not in source and "jinja2" not in source
