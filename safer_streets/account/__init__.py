"""Account self-service: passwords by email and the second factor."""
