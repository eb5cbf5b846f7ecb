"""Residents' reports coming in: validation and storage (``submission``), photos, "add my voice"
(``support``), the abuse list, similar-report checks, CSV import, and the resident pages
(``views``, ``forms``) and their JSON helpers (``resident_api``)."""
