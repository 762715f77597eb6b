"""Health endpoint of billing-app on BILLING_APP_PORT (8080).

/livez: the consumer loop turned recently (it turns at least every few
seconds, backoff included), so a wedged process gets restarted.
/healthz: RabbitMQ is connected and billing-db answers now; the body also
counts the messages waiting in the dead-letter queue (<queue>.invalid).
"""

import json
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from billing_app.consumer import ConsumerState

# Longer than the longest backoff pause plus a slow database connect.
LIVENESS_WINDOW_SECONDS = 120.0


class _HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: ConsumerState, database_reachable: Callable[[], bool], version: str) -> None:
        super().__init__(("0.0.0.0", port), _HealthHandler)
        self.state = state
        self.database_reachable = database_reachable
        self.version = version


class _HealthHandler(BaseHTTPRequestHandler):
    server: _HealthServer

    def do_GET(self) -> None:
        state = self.server.state
        if self.path == "/livez":
            alive = time.monotonic() - state.last_loop < LIVENESS_WINDOW_SECONDS
            self._reply(alive, {})
        elif self.path == "/healthz":
            checks = {
                "rabbitmq": "ok" if state.rabbitmq_connected else "unavailable",
                "database": "ok" if self.server.database_reachable() else "unavailable",
            }
            self._reply(all(value == "ok" for value in checks.values()), checks)
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def _reply(self, healthy: bool, checks: dict[str, str]) -> None:
        body: dict[str, object] = {"status": "ok" if healthy else "unavailable", "version": self.server.version}
        if checks:
            state = self.server.state
            # Dead letters do not make billing-app unready (nothing a restart
            # would fix); the count tells an operator there is something to read.
            body.update(checks=checks, stored_orders=state.stored_orders, dead_letters=state.dead_letters)
        data = json.dumps(body).encode()
        self.send_response(HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        pass  # probes every few seconds would drown the consumer's own log


def start_health_server(
    port: int, state: ConsumerState, database_reachable: Callable[[], bool], version: str
) -> ThreadingHTTPServer:
    """Serve the health endpoints from a daemon thread; call shutdown() to stop."""
    server = _HealthServer(port, state, database_reachable, version)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
