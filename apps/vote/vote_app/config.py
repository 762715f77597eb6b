"""The vote service's whole configuration, read from the environment in one place."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Flask config keys for the service, from the environment."""
    env = os.environ if environ is None else environ
    return {
        "OPTION_A": env.get("OPTION_A") or "Cats",
        "OPTION_B": env.get("OPTION_B") or "Dogs",
        "REDIS_HOST": env.get("REDIS_HOST") or "redis",
        "REDIS_PORT": int(env.get("REDIS_PORT") or 6379),
        "REDIS_PASSWORD": env.get("REDIS_PASSWORD") or None,
        "APP_VERSION": env.get("APP_VERSION") or "dev",
        "HOSTNAME": socket.gethostname(),
        # A vote form is a dozen bytes: anything much larger is not a vote,
        # and reading it would only cost memory (werkzeug answers 413).
        "MAX_CONTENT_LENGTH": 4096,
        "MAX_FORM_PARTS": 10,
    }
