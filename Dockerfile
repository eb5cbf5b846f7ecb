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
COPY gunicorn.conf.py ./
RUN pip install --editable .
USER safer
EXPOSE 5000
ENV SAFER_STREETS_WEB_BIND=0.0.0.0:5000
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
