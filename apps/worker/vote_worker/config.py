"""The worker's whole configuration, read from the environment in one place."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

# Redis's Lua unpack() and Postgres's parameter arrays stay comfortable below this.
MAX_BATCH_SIZE = 5000


@dataclass(frozen=True)
class Settings:
    redis_host: str = "redis"
    redis_port: int = 6379
    redis_password: str | None = None
    postgres_host: str = "db"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str | None = None
    postgres_db: str = "postgres"
    # Must be unique per running worker: it names the worker's processing list.
    # A pod's hostname is.
    worker_id: str = socket.gethostname()
    batch_size: int = 500
    block_timeout: float = 1.0
    # When fewer than batch_size votes are queued, wait this long before
    # claiming, so that a trickle of votes becomes one commit instead of
    # many: a commit per vote would take the CPU the front door needs.
    batch_linger: float = 0.05
    heartbeat_ttl: int = 30
    health_file: str = "/tmp/vote-worker-alive"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(name) or default

        batch_size = int(get("WORKER_BATCH_SIZE", str(cls.batch_size)))
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"WORKER_BATCH_SIZE must be between 1 and {MAX_BATCH_SIZE}")
        return cls(
            redis_host=get("REDIS_HOST", cls.redis_host),
            redis_port=int(get("REDIS_PORT", str(cls.redis_port))),
            redis_password=env.get("REDIS_PASSWORD") or None,
            postgres_host=get("POSTGRES_HOST", cls.postgres_host),
            postgres_port=int(get("POSTGRES_PORT", str(cls.postgres_port))),
            postgres_user=get("POSTGRES_USER", cls.postgres_user),
            postgres_password=env.get("POSTGRES_PASSWORD") or None,
            postgres_db=get("POSTGRES_DB", cls.postgres_db),
            worker_id=get("WORKER_ID", socket.gethostname()),
            batch_size=batch_size,
            block_timeout=float(get("WORKER_BLOCK_TIMEOUT", str(cls.block_timeout))),
            batch_linger=float(get("WORKER_BATCH_LINGER", str(cls.batch_linger))),
            heartbeat_ttl=int(get("WORKER_HEARTBEAT_TTL", str(cls.heartbeat_ttl))),
            health_file=get("WORKER_HEALTH_FILE", cls.health_file),
            log_level=get("LOG_LEVEL", cls.log_level).upper(),
        )
