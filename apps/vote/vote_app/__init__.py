"""The vote front end: a Flask app that queues each browser's vote in Redis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from .config import settings_from_env
from .queue import VoteQueue
from .routes import bp, register_error_handlers


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(settings_from_env())
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.extensions["vote_queue"] = VoteQueue.connect(
        app.config["REDIS_HOST"], app.config["REDIS_PORT"], app.config["REDIS_PASSWORD"]
    )
    app.register_blueprint(bp)
    register_error_handlers(app)
    return app
