"""Settings of inventory-app, read from the environment in this one place."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import URL


class MissingSettingError(RuntimeError):
    """A required environment variable is unset; the service cannot start."""


@dataclass(frozen=True)
class InventorySettings:
    db_host: str
    db_port: int
    db_user: str
    db_password: str
    db_name: str
    port: int
    app_version: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "InventorySettings":
        if environ is None:
            environ = os.environ
        # Credentials have no default: they come from a Secret, and a silent
        # fallback would only turn a deployment mistake into a login error.
        missing = [name for name in ("INVENTORY_DB_USER", "INVENTORY_DB_PASSWORD") if not environ.get(name)]
        if missing:
            raise MissingSettingError(f"required environment variables are not set: {', '.join(missing)}")
        return cls(
            db_host=environ.get("INVENTORY_DB_HOST", "inventory-db"),
            db_port=int(environ.get("INVENTORY_DB_PORT", "5432")),
            db_user=environ["INVENTORY_DB_USER"],
            db_password=environ["INVENTORY_DB_PASSWORD"],
            db_name=environ.get("INVENTORY_DB_NAME", "movies"),
            port=int(environ.get("INVENTORY_APP_PORT", "8080")),
            app_version=environ.get("APP_VERSION", "dev"),
        )

    @property
    def database_url(self) -> URL:
        # URL.create quotes the password, which may hold '@' or '/'.
        return URL.create(
            "postgresql+psycopg",
            username=self.db_user,
            password=self.db_password,
            host=self.db_host,
            port=self.db_port,
            database=self.db_name,
        )
