# One image for every role: web, worker and beat differ only in their command.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 safer
COPY pyproject.toml README.md ./
COPY safer_streets ./safer_streets
COPY geo ./geo
COPY workers ./workers
COPY templates ./templates
RUN pip install --editable .
USER safer
EXPOSE 5000
CMD ["gunicorn", "--workers", "4", "--bind", "0.0.0.0:5000", "safer_streets.web.app:create_app()"]
