"""Entry point: ``python -m vote_worker``."""

from __future__ import annotations

import logging
import signal
import threading

from .config import Settings
from .worker import Worker


def main() -> None:
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    # SIGTERM (Kubernetes, docker stop) finishes the batch in hand, then exits.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Worker.from_settings(settings).run(stop)


if __name__ == "__main__":
    main()
