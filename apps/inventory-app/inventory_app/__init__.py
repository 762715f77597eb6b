"""inventory-app: the movie catalogue of the crud stack (Flask + SQLAlchemy on PostgreSQL)."""

from flask import Flask

from inventory_app import health, movies
from inventory_app.config import InventorySettings
from inventory_app.database import Database
from inventory_app.errors import register_error_handlers

# A movie is a title and a description: a body beyond this is a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: InventorySettings | None = None) -> Flask:
    settings = settings or InventorySettings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, APP_VERSION=settings.app_version)
    app.extensions["inventory_db"] = Database(settings.database_url)
    register_error_handlers(app)
    app.register_blueprint(movies.bp)
    app.register_blueprint(health.bp)
    return app
