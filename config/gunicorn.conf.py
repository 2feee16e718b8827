"""gunicorn settings for the production web process. From the project directory:

    .venv/bin/gunicorn -c config/gunicorn.conf.py config.asgi:application

Uvicorn workers serve the ASGI application, where an open live-offer stream holds
neither a thread nor a database connection while it waits. The access log goes to
stdout and the error log to stderr, both without link tokens (config/access_log.py):
under uvicorn workers the access lines are written by the `uvicorn.access` logger
through the handlers configured here for `gunicorn.access`.

Behind a proxy on another host, set FORWARDED_ALLOW_IPS (read by gunicorn itself) to
its address, so the client address and scheme it forwards are believed.
"""

from config.access_log import RedactTokens
from config.env import env_choice, env_int, env_list

bind = env_list("GUNICORN_BIND", "127.0.0.1:8000")
workers = env_int("GUNICORN_WORKERS", 2, minimum=1)
worker_class = "uvicorn_worker.UvicornWorker"
# A worker that has not reported alive for this many seconds is restarted.
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=1)
# Live streams stay open for minutes; a restart cuts them after this (browsers
# reconnect) rather than waiting them out.
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 5, minimum=0)
keepalive = env_int("GUNICORN_KEEPALIVE", 5, minimum=1)
# No control socket: its default path is one per user, so several gunicorns on a host
# would contend for it, and nothing here drives gunicorn through it.
control_socket_disable = True
loglevel = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical"))

DATEFMT = "[%Y-%m-%d %H:%M:%S %z]"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": RedactTokens}},
    "formatters": {
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": DATEFMT,
        },
        "access": {"format": "%(asctime)s [%(process)d] %(message)s", "datefmt": DATEFMT},
    },
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "filters": ["redact_tokens"],
            "stream": "ext://sys.stderr",
        },
        "access_console": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "filters": ["redact_tokens"],
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"level": loglevel.upper(), "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {
            "level": loglevel.upper(),
            "handlers": ["error_console"],
            "propagate": False,
        },
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["access_console"],
            "propagate": False,
        },
    },
}
