"""The Safer Lewisham Partnership board: filters, hotspot runs, aggregates, maps, exports and
publishing. Everything but ``views`` is Flask-free; statistics come from ``geo`` and are computed by
the worker, never on the request path."""
