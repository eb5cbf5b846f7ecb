"""Staff accounts: sign-in, sessions, two-step codes, password resets and partner teams.

``users`` is the domain; ``views`` (sign-in security, password reset) and ``team_views`` (a partner
admin's team, response templates and email preferences) are the blueprints."""
