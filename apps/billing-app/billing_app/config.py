"""Settings of billing-app, read from the environment in this one place."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from psycopg.conninfo import make_conninfo


class MissingSettingError(RuntimeError):
    """A required environment variable is unset; the service cannot start."""


_REQUIRED = ("BILLING_DB_USER", "BILLING_DB_PASSWORD", "RABBITMQ_USER", "RABBITMQ_PASSWORD")


@dataclass(frozen=True)
class BillingSettings:
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    db_name: str
    rabbitmq_host: str
    rabbitmq_port: int
    rabbitmq_user: str
    rabbitmq_password: str
    rabbitmq_vhost: str
    rabbitmq_queue: str
    health_port: int
    batch_size: int
    retry_max_seconds: float
    app_version: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "BillingSettings":
        if environ is None:
            environ = os.environ
        # Credentials have no default: they come from Secrets, and a silent
        # fallback would only turn a deployment mistake into a login error.
        missing = [name for name in _REQUIRED if not environ.get(name)]
        if missing:
            raise MissingSettingError(f"required environment variables are not set: {', '.join(missing)}")
        return cls(
            db_host=environ.get("BILLING_DB_HOST", "billing-db"),
            db_port=int(environ.get("BILLING_DB_PORT", "5432")),
            db_user=environ["BILLING_DB_USER"],
            db_password=environ["BILLING_DB_PASSWORD"],
            db_name=environ.get("BILLING_DB_NAME", "orders"),
            rabbitmq_host=environ.get("RABBITMQ_HOST", "billing-queue"),
            rabbitmq_port=int(environ.get("RABBITMQ_PORT", "5672")),
            rabbitmq_user=environ["RABBITMQ_USER"],
            rabbitmq_password=environ["RABBITMQ_PASSWORD"],
            rabbitmq_vhost=environ.get("RABBITMQ_VHOST", "/"),
            rabbitmq_queue=environ.get("RABBITMQ_QUEUE", "billing_queue"),
            health_port=int(environ.get("BILLING_APP_PORT", "8080")),
            batch_size=int(environ.get("BILLING_BATCH_SIZE", "100")),
            retry_max_seconds=float(environ.get("BILLING_RETRY_MAX_SECONDS", "15")),
            app_version=environ.get("APP_VERSION", "dev"),
        )

    @property
    def db_conninfo(self) -> str:
        # make_conninfo quotes values, so a password may hold spaces or quotes.
        return make_conninfo(
            host=self.db_host,
            port=self.db_port,
            user=self.db_user,
            password=self.db_password,
            dbname=self.db_name,
            connect_timeout=3,
            application_name="billing-app",
        )
