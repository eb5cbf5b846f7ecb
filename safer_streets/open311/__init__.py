"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) with mySociety's
``servicerequestupdates`` extension, at ``/open311/v2/``.

``georeport`` is the domain (Flask-free): services from categories, requests from reports, the
request form parser, updates from partner systems (made through ``casework.workflow``, as
triage makes them). ``render`` turns its documents into the spec's XML and JSON. ``views`` is
the blueprint.
"""
