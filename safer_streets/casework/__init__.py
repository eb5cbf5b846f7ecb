"""Partner triage: who may see and act on a report, the queues, the one status workflow, service
levels and moderation. ``views`` is the ``/triage`` blueprint; the rest is Flask-free."""
