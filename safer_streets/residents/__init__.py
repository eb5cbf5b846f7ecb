"""Talking with residents: the public map and list of reports, area alerts and Atom feeds."""
