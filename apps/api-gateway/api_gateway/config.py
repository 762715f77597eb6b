"""Settings of api-gateway, read from the environment in this one place."""

import os
from collections.abc import Mapping
from dataclasses import dataclass


class MissingSettingError(RuntimeError):
    """A required environment variable is unset; the service cannot start."""


@dataclass(frozen=True)
class GatewaySettings:
    port: int
    inventory_url: str
    rabbitmq_host: str
    rabbitmq_port: int
    rabbitmq_user: str
    rabbitmq_password: str
    rabbitmq_vhost: str
    rabbitmq_queue: str
    app_version: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "GatewaySettings":
        if environ is None:
            environ = os.environ
        # Credentials have no default: they come from a Secret, and a silent
        # fallback (RabbitMQ's guest) would only hide a deployment mistake.
        missing = [name for name in ("RABBITMQ_USER", "RABBITMQ_PASSWORD") if not environ.get(name)]
        if missing:
            raise MissingSettingError(f"required environment variables are not set: {', '.join(missing)}")
        inventory_host = environ.get("INVENTORY_APP_HOST", "inventory-app")
        inventory_port = int(environ.get("INVENTORY_APP_PORT", "8080"))
        return cls(
            port=int(environ.get("APIGATEWAY_PORT", "3000")),
            inventory_url=f"http://{inventory_host}:{inventory_port}",
            rabbitmq_host=environ.get("RABBITMQ_HOST", "billing-queue"),
            rabbitmq_port=int(environ.get("RABBITMQ_PORT", "5672")),
            rabbitmq_user=environ["RABBITMQ_USER"],
            rabbitmq_password=environ["RABBITMQ_PASSWORD"],
            rabbitmq_vhost=environ.get("RABBITMQ_VHOST", "/"),
            rabbitmq_queue=environ.get("RABBITMQ_QUEUE", "billing_queue"),
            app_version=environ.get("APP_VERSION", "dev"),
        )
