"""The admin console: partners, categories and named areas, every change kept with its why."""
