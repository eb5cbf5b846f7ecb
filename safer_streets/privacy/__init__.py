"""Personal data over time: retention (contact details and emails removed when their time is up)
and subject access exports."""
