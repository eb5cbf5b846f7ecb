"""Celery worker and beat for Safer Streets."""
