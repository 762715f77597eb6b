"""The warm worker: a per-user background process that runs stack requests.

A module process pays for Python, Ansible's module runtime, the ``kubernetes``
package and a TLS handshake before it sends its first useful request; for a
run with nothing to do that is most of the time. The worker pays it once: it
keeps the imports, kubernetes.core's client pool (keyed by the kubeconfig's
content), the discovery cache and open connections, and serves one request
per connection from module processes of the same user. kubernetes.core's
"turbo mode" did the same for its modules.

Safety: the socket lives in a private (0700) folder of the user's cache, and
a peer of another uid is refused where the OS tells it (SO_PEERCRED). The
worker writes nothing about a request anywhere: params (secrets included)
and rendered objects live in memory for the request only; what stays is
kubernetes.core's clients, built from the kubeconfig. It exits after ``idle`` seconds without
a request, or as soon as its socket file is removed or replaced.

Wire format, both ways: an 8-byte big-endian length, then that many bytes of
JSON. A request is ``{"params", "check_mode", "diff"}``, answered with an
outcome (see ``runner.execute``), or ``{"op": "status"}`` (pid and runs
served) or ``{"op": "stop"}``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
import traceback
from typing import Any

HEADER = struct.Struct(">Q")
# A request carries params only; anything this large is not one.
MAX_MESSAGE = 256 * 1024 * 1024
ACCEPT_TICK = 0.5


def send_message(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message, separators=(",", ":")).encode("utf-8")
    sock.sendall(HEADER.pack(len(data)) + data)


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("the peer closed the connection mid-message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive_message(sock: socket.socket) -> dict[str, Any]:
    (size,) = HEADER.unpack(_receive_exactly(sock, HEADER.size))
    if size > MAX_MESSAGE:
        raise ConnectionError(f"message of {size} bytes refused")
    message = json.loads(_receive_exactly(sock, size).decode("utf-8"))
    if not isinstance(message, dict):
        raise ConnectionError("message is not a JSON object")
    return message


class RequestModule:
    """What the runner and kubernetes.core's get_api_client need of a module, for one request."""

    def __init__(self, params: dict[str, Any], check_mode: bool, diff: bool) -> None:
        self.params = params
        self.check_mode = check_mode
        self._diff = diff

    @property
    def server_side_dry_run(self) -> bool:
        return self.check_mode

    def requires(self, *_args: Any, **_kwargs: Any) -> None:
        """get_api_client asks for a minimum kubernetes version for some options; it is imported already here."""
        return None


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """One request's outcome; never raises (a bug becomes a failure with its traceback)."""
    try:
        from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.runner import execute

        module = RequestModule(request["params"], bool(request.get("check_mode")), bool(request.get("diff")))
        return execute(module)
    except Exception as error:  # the worker must answer whatever happened
        return {
            "result": {},
            "failure": f"internal error in the stack worker: {error!r}",
            "exception": traceback.format_exc(),
            "warnings": [],
        }


def peer_is_us(conn: socket.socket) -> bool:
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:  # not Linux: the 0700 folder is the guard
        return True
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    return uid == os.getuid()


class Worker:
    """Accepts connections on a unix socket, one thread per request, until idle."""

    def __init__(self, path: str, idle: float) -> None:
        self.path = path
        self.idle = idle
        self.active = 0
        self.served = 0
        self.last_used = time.monotonic()
        self.stopping = False
        self.lock = threading.Lock()
        self.inode = os.stat(path).st_ino

    def serve_connection(self, conn: socket.socket) -> None:
        try:
            with conn:
                if not peer_is_us(conn):
                    return
                request = receive_message(conn)
                if request.get("op") == "status":
                    send_message(conn, {"pid": os.getpid(), "served": self.served})
                    return
                if request.get("op") == "stop":
                    self.stopping = True
                    self.release_path()  # the next module process starts a new worker
                    send_message(conn, {"stopped": True})
                    return
                outcome = handle(request)
                with self.lock:
                    self.served += 1
                send_message(conn, outcome)
        except (OSError, ValueError):
            pass  # the module process went away; nothing to answer
        finally:
            with self.lock:
                self.active -= 1
                self.last_used = time.monotonic()

    def still_ours(self, inode: int) -> bool:
        try:
            return os.stat(self.path).st_ino == inode
        except OSError:
            return False

    def release_path(self) -> None:
        """Unlink the socket file if it is still this worker's (a new worker may own the name already)."""
        if self.still_ours(self.inode):
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def should_exit(self) -> bool:
        with self.lock:
            idle = self.active == 0 and time.monotonic() - self.last_used > self.idle
        return self.stopping or idle or not self.still_ours(self.inode)

    def accept(self, listener: socket.socket) -> None:
        conn, _address = listener.accept()
        conn.settimeout(None)
        with self.lock:
            self.active += 1
            self.last_used = time.monotonic()
        threading.Thread(target=self.serve_connection, args=(conn,), daemon=True).start()

    def run(self, listener: socket.socket) -> None:
        listener.settimeout(ACCEPT_TICK)
        while not self.should_exit():
            try:
                self.accept(listener)
            except TimeoutError:
                continue
        # Unlink first, so no new client can connect, then answer those already queued.
        self.release_path()
        listener.settimeout(0)
        while True:
            try:
                self.accept(listener)
            except (BlockingIOError, TimeoutError):
                break
        while True:
            with self.lock:
                if self.active == 0:
                    return
            time.sleep(0.05)


def preload() -> None:
    """Import what every request needs before listening, so the first request is as fast as the next."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s import client  # noqa: F401

    from ansible_collections.orchestrator.k3s.plugins.module_utils.stack import runner  # noqa: F401


def serve(path: str, idle: float) -> None:
    """Listen on ``path`` (created 0600) and serve until idle; the caller holds the start lock."""
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(64)
    with listener:
        Worker(path, idle).run(listener)
