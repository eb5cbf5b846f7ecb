"""Saved views: staff name the queue filters they use every day and open them in one click."""

from __future__ import annotations

import re

from safer_streets.models import Role
from tests.helpers import login

OWNER = "met-snt-rushey-green"


def test_a_saved_view_opens_the_queue_with_its_filters(client, make_user):
    make_user("views@rg.example", OWNER, Role.STAFF)
    login(client, "views@rg.example")
    saved = client.post(
        "/triage/views",
        data={"view_name": "  Dealing,   due soonest ", "category": "drug-dealing", "sort": "due"},
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == "/triage?category=drug-dealing&sort=due"
    page = client.get("/triage").text
    link = re.search(r'<a href="(/triage\?[^"]+)">Dealing, due soonest</a>', page)
    assert link and link.group(1).replace("&amp;", "&") == "/triage?category=drug-dealing&sort=due"
    opened = client.get(link.group(1).replace("&amp;", "&")).text
    assert '<option value="due" selected>' in opened

    # Saving the name again replaces what it holds.
    client.post("/triage/views", data={"view_name": "Dealing, due soonest", "status": "any"})
    assert "/triage?status=any" in client.get("/triage").text


def test_a_view_with_bad_filters_or_no_name_is_not_saved(client, make_user):
    make_user("refused@rg.example", OWNER, Role.STAFF)
    login(client, "refused@rg.example")
    refused = client.post("/triage/views", data={"view_name": "Odd", "category": "Not A Slug!"})
    assert refused.status_code == 303
    page = client.get(refused.headers["Location"]).text
    assert "View not saved: " in page and "not a valid name" in page
    nameless = client.post("/triage/views", data={"view_name": "   ", "sort": "due"})
    assert "give the view a name" in client.get(nameless.headers["Location"]).text
    assert "saved-view-list" not in client.get("/triage").text


def test_nobody_deletes_anothers_view(client, app, make_user):
    make_user("pc@rg.example", OWNER, Role.STAFF)
    make_user("other@rg.example", OWNER, Role.STAFF)
    login(client, "pc@rg.example")
    client.post("/triage/views", data={"view_name": "Mine", "sort": "oldest"})
    view_id = re.search(r"/triage/views/(\d+)/delete", client.get("/triage").text).group(1)
    other = app.test_client()
    login(other, "other@rg.example")
    assert other.post(f"/triage/views/{view_id}/delete").status_code == 404
    assert "Mine</a>" in client.get("/triage").text
    assert client.post(f"/triage/views/{view_id}/delete").status_code == 303
    assert "Mine</a>" not in client.get("/triage").text
