"""Gunicorn settings for inventory-app (`gunicorn -c gunicorn.conf.py`)."""

import os

wsgi_app = "inventory_app:create_app()"
bind = f"0.0.0.0:{os.environ.get('INVENTORY_APP_PORT', '8080')}"
# Threads, because a request mostly waits on PostgreSQL; workers default to
# one per core of a small pod, and the HPA adds pods rather than workers.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
# Gunicorn's control socket lives under $HOME, which the image's user lacks,
# and every instance on one host would share it; nothing here uses it.
control_socket_disable = True
