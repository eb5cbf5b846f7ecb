"""Partner admins: their team's accounts, response templates and service levels."""
