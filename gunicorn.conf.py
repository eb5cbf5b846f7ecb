"""gunicorn's configuration: the Procfile, docker-compose.yml, the Dockerfile and the intake
benchmark all start the web app with ``gunicorn -c gunicorn.conf.py``.

Processes, threads and the address come from the settings (``SAFER_STREETS_WEB_*``, in the
environment or ``.env``), the same settings that size each process's database pool to its
threads, so the two cannot drift apart.
"""

from safer_streets.settings import Settings

_settings = Settings.from_env()

wsgi_app = "safer_streets.web.app:create_app()"
bind = _settings.web_bind
workers = _settings.web_workers
# Requests mostly wait on PostgreSQL and Redis: threads overlap those waits.
worker_class = "gthread"
threads = _settings.web_threads
# The TLS proxy in front keeps its connections to gunicorn open between requests; with
# gunicorn's 2 s default it would meet connections just closed idle.
keepalive = 75
accesslog = "-" if _settings.web_access_log else None
