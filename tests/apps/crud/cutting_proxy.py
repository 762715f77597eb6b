"""A TCP proxy in front of RabbitMQ that can cut a connection at the worst moment.

Armed with a marker, it forwards the client's bytes holding that marker (a
publish) to the broker, then drops the connection before anything the
broker answers (the publisher confirm) reaches the client: the broker has
the message, the client cannot know it.  While `refusing`, new connections
are closed at once, as if the broker were unreachable.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType


class CuttingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.refusing = False
        self.cuts = 0
        self._marker: bytes | None = None
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []

    def arm(self, marker: bytes) -> None:
        """Cut the connection that next sends marker, after it reached the broker."""
        with self._lock:
            self._marker = marker

    def drop_connections(self) -> None:
        """Close every open connection, as a broker restart would."""
        for sock in list(self._sockets):
            _close(sock)

    def __enter__(self) -> CuttingProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._listener.close()
        self.drop_connections()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                _close(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                _close(client)
                continue
            self._sockets += [client, server]
            link = {"cut": False}
            threading.Thread(target=self._client_to_server, args=(client, server, link), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(server, client, link), daemon=True).start()

    def _client_to_server(self, client: socket.socket, server: socket.socket, link: dict[str, bool]) -> None:
        while data := _recv(client):
            with self._lock:
                cut = self._marker is not None and self._marker in data
                if cut:
                    self._marker = None
                    # From now on nothing the broker says reaches the client.
                    link["cut"] = True
            try:
                server.sendall(data)
            except OSError:
                break
            if cut:
                time.sleep(0.5)  # the broker takes the message in, and confirms it to nobody
                self.cuts += 1
                break
        _close(client)
        _close(server)

    def _server_to_client(self, server: socket.socket, client: socket.socket, link: dict[str, bool]) -> None:
        while data := _recv(server):
            if link["cut"]:
                continue
            try:
                client.sendall(data)
            except OSError:
                break
        _close(client)
        _close(server)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
