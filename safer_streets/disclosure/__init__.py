"""The disclosure policy: what each audience may see of a report, and at what precision."""
