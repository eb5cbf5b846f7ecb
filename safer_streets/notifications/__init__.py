"""Email: the outbox (one row per message, committed with the change that causes it), composing
and delivering it over SMTP, partner digests."""
