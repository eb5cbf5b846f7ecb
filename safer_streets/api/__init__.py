"""The JSON API ``/api/v1``: submission and look-up for clients, its OpenAPI document and API keys.

``keys`` (issuing, verifying and revoking API keys) and ``schemas`` are Flask-free; ``views`` and
``keys_views`` (the admin page for keys) are the blueprints; ``openapi`` builds the document."""
