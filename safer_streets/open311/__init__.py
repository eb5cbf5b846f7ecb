"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) with mySociety's
``servicerequestupdates`` extension, at ``/open311/v2/``.

The domain is Flask-free: ``georeport`` holds services from categories, requests from reports
and the request parameters; ``updates`` the updates feed and updates posted by partner systems
(made through ``casework.workflow``, as triage makes them). ``render`` turns their documents
into the spec's XML and JSON. ``views`` is the blueprint.
"""
