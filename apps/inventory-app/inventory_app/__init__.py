"""inventory-app: the movie catalogue of the crud stack (Flask + SQLAlchemy on PostgreSQL)."""

from flask import Flask, Response
from werkzeug.routing import BaseConverter

from inventory_app import health, movies
from inventory_app.config import InventorySettings
from inventory_app.database import Database
from inventory_app.errors import register_error_handlers

# A movie is a title and a description: a body beyond this is a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024


class AsciiIdConverter(BaseConverter):
    """A movie id: ASCII digits only.  werkzeug's int converter matches any
    Unicode digit: ARABIC-INDIC DIGIT THREE would be movie 3."""

    regex = "[0-9]{1,10}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: object) -> str:
        return str(int(value))  # type: ignore[call-overload]


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


def create_app(settings: InventorySettings | None = None) -> Flask:
    settings = settings or InventorySettings.from_env()
    app = Flask(__name__, static_folder=None)
    app.url_map.converters["id"] = AsciiIdConverter
    app.after_request(_security_headers)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, APP_VERSION=settings.app_version)
    app.extensions["inventory_db"] = Database(settings.database_url)
    register_error_handlers(app)
    app.register_blueprint(movies.bp)
    app.register_blueprint(health.bp)
    return app
