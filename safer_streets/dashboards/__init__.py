"""The safety board blueprint (its domain logic is in ``safer_streets.board``)."""
