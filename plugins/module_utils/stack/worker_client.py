"""How a module process reaches the warm worker: find it, start it if needed, ask it.

Light on purpose (standard library only): this runs in every module process
before anything heavy is imported, and when it answers, nothing heavy is.

One worker serves one combination of code, Python interpreter and
environment, so what it computes is what this process would have computed:
its socket's name is a digest of the three. A change of code (a new
collection version, an edited module_utils), of interpreter or of any
environment variable (KUBECONFIG, K8S_AUTH_*, proxies, ...) gets a worker of
its own; the old one exits when idle.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import sys
import time
import zipfile
import zipimport
from pathlib import Path
from typing import Any

from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.cache import cache_dir
from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.worker import receive_message, send_message

IDLE_SECONDS = 60.0
START_SECONDS = 20.0
# Differ between two runs of one playbook without changing what a run computes (pytest
# names the running test in its environment, which Ansible's module processes inherit).
VOLATILE_ENVIRONMENT = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "PYTEST_CURRENT_TEST"})
# sockaddr_un holds 108 bytes on Linux, 104 on the BSDs.
MAX_SOCKET_PATH = 100
BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]);"
    " from ansible_collections.orchestrator.k3s.plugins.module_utils.stack.worker import serve;"
    " serve(sys.argv[2], float(sys.argv[3]))"
)
# Files of the payload that name the run's temporary folder: not part of the code.
PER_RUN_FILES = frozenset({"sitecustomize.py"})
# Files of workers unused this long are removed when a worker starts.
STALE_SECONDS = 24 * 3600
PACKAGE_DEPTH = 6  # <root>/ansible_collections/orchestrator/k3s/plugins/module_utils/stack/<this file>


class WorkerLost(Exception):
    """The worker took the request and ended before answering."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:20]


def code_location() -> tuple[str, str]:
    """(sys.path entry holding this collection's code, digest of that code)."""
    loader = globals().get("__loader__")
    if isinstance(loader, zipimport.zipimporter):
        # The AnsiballZ payload: a temporary zip holding every module_utils the module imports.
        archive = loader.archive
        with zipfile.ZipFile(archive) as payload:
            members = sorted(
                f"{i.filename}:{i.CRC:08x}:{i.file_size}" for i in payload.infolist() if i.filename not in PER_RUN_FILES
            )
        return archive, _digest(*members)
    # Not resolved: a checkout reaches the collection through a symlinked ansible_collections tree.
    package = Path(os.path.abspath(__file__)).parent
    root = package.parents[PACKAGE_DEPTH - 1]
    sources = [f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}" for p in sorted(package.glob("*.py"))]
    return str(root), _digest(str(root), *sources)


def environment_digest(environ: dict[str, str]) -> str:
    return _digest(*(f"{k}={v}" for k, v in sorted(environ.items()) if k not in VOLATILE_ENVIRONMENT))


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


class WorkerClient:
    """The worker for this process's code, interpreter and environment."""

    def __init__(self, folder: Path, idle: float = IDLE_SECONDS) -> None:
        self.folder = folder
        self.idle = idle
        self.code_root, code_digest = code_location()
        key = _digest(code_digest, sys.executable, environment_digest(dict(os.environ)), str(os.getuid()))
        self.socket_path = folder / f"{key}.sock"
        self.lock_path = folder / f"{key}.lock"
        self.log_path = folder / f"{key}.log"
        self.code_digest = code_digest

    def connect(self) -> socket.socket | None:
        """A connection to the running worker, starting one if none runs; None if that fails."""
        if len(str(self.socket_path)) > MAX_SOCKET_PATH:
            return None
        sock = _connect(self.socket_path)
        if sock is not None:
            return sock
        with open(self.lock_path, "a+") as lock:
            # One process starts the worker; the others wait here and then connect.
            fcntl.flock(lock, fcntl.LOCK_EX)
            sock = _connect(self.socket_path)
            if sock is None:
                sock = self.start()
        return sock

    def stable_code_root(self) -> str:
        """The payload zip is deleted when the module process ends: the worker gets its own copy."""
        if not self.code_root.endswith(".zip") or not os.path.isfile(self.code_root):
            return self.code_root
        copy = self.folder / f"code-{self.code_digest}.zip"
        if copy.exists():
            os.utime(copy)  # in use: not stale
        else:
            import shutil  # only when a worker starts: every module process imports this file

            partial = copy.with_suffix(f".{os.getpid()}.part")
            shutil.copyfile(self.code_root, partial)
            os.replace(partial, copy)
        return str(copy)

    def remove_stale_files(self) -> None:
        """Code copies, logs and locks of workers nobody started for a day."""
        cutoff = time.time() - STALE_SECONDS
        for path in self.folder.iterdir():
            if path.suffix in (".zip", ".log", ".lock", ".part") and path.stem != self.socket_path.stem:
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                except OSError:
                    pass  # another process removed it

    def start(self) -> socket.socket | None:
        import subprocess  # only when a worker starts: every module process imports this file

        self.remove_stale_files()
        try:
            self.socket_path.unlink()  # a worker that died without cleaning up
        except FileNotFoundError:
            pass
        with open(self.log_path, "wb") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and code, no shell
                [sys.executable, "-c", BOOT, self.stable_code_root(), str(self.socket_path), str(self.idle)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=self.folder,
                start_new_session=True,
                close_fds=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            sock = _connect(self.socket_path)
            if sock is not None:
                return sock
            if process.poll() is not None:
                return None
            time.sleep(0.02)
        process.kill()
        return None

    def request(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The worker's answer; None if no worker could be reached (run here instead)."""
        try:
            sock = self.connect()
        except OSError:
            return None
        if sock is None:
            return None
        with sock:
            try:
                send_message(sock, message)
            except OSError:
                return None  # nothing was taken: safe to run here
            try:
                return receive_message(sock)
            except (OSError, ValueError) as error:
                raise WorkerLost(str(error)) from None


def run_in_worker(params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any] | None:
    """The outcome of the run from the warm worker, or None when the caller should run it itself."""
    folder = cache_dir("stack-worker")
    if folder is None:
        return None
    return WorkerClient(folder).request({"params": params, "check_mode": check_mode, "diff": diff})


def _ask_each(folder: Path | None, message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answers = {}
    for path in sorted(folder.glob("*.sock")) if folder else []:
        sock = _connect(path)
        if sock is None:
            continue
        with sock:
            try:
                send_message(sock, message)
                answers[path.name] = receive_message(sock)
            except (OSError, ValueError):
                pass
    return answers


def worker_status(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """Each running worker's pid and runs served, by socket name (for tests and benchmarks)."""
    return _ask_each(folder or cache_dir("stack-worker"), {"op": "status"})


def stop_workers(folder: Path | None = None) -> int:
    """Ask every worker in the folder to exit (for tests and benchmarks); how many answered."""
    return len(_ask_each(folder or cache_dir("stack-worker"), {"op": "stop"}))
