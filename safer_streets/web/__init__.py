"""Flask plumbing: the app factory, per-request context, rate limits, security headers,
translations and static file delivery. No domain logic lives here."""
