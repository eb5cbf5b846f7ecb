"""Safer Streets: community-safety reporting and triage for Lewisham and its partners."""
