"""gunicorn settings for the vote service: ``gunicorn -c gunicorn.conf.py``."""

import os

wsgi_app = "vote_app:create_app()"
bind = f"0.0.0.0:{os.environ.get('PORT', '80')}"
# Threaded workers: the NodePort exposes them to browsers directly, and a sync
# worker is held for as long as one client takes to send its body, so a
# handful of slow or stalled clients would stop every vote.  Each thread
# still does one short Redis round trip per vote; bench/votes measures the
# pipeline against a sync-worker ceiling in the same run.  WEB_CONCURRENCY
# and VOTE_THREADS override.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = int(os.environ.get("VOTE_THREADS", "16"))
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
