"""Gunicorn settings for api-gateway (`gunicorn -c gunicorn.conf.py`)."""

import os

wsgi_app = "api_gateway:create_app()"
bind = f"0.0.0.0:{os.environ.get('APIGATEWAY_PORT', '3000')}"
# Threads, because a request mostly waits on inventory-app or RabbitMQ;
# workers default to one per core of a small pod, and the HPA adds pods
# rather than workers.
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
