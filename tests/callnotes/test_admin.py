"""Call-note templates in the managers' admin: the same validation as the API, an edit is a new version,
agents are kept out; calls are read-only there."""

from __future__ import annotations

import json

from callnotes.models import CallNoteTemplate
from helpdesk.tenancy import tenant_context


def _login(client, username, password):
    assert client.login(username=username, password=password)
    return client


def test_a_manager_edits_a_template_in_the_admin_and_its_version_rises(client, bob, tenant_a):
    _login(client, "bob", "pw-bob-123!")
    with tenant_context(tenant_a):
        template = CallNoteTemplate.objects.get()
    sections = template.sections
    sections["live"].append({"key": "screen_share", "label": "Screen share", "type": "link"})
    form = {"name": template.name, "sections": json.dumps(sections), "is_default": "on", "active": "on"}
    response = client.post(f"/admin/callnotes/callnotetemplate/{template.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant_a):
        template.refresh_from_db()
    assert template.version == 2 and template.sections["live"][-1]["key"] == "screen_share"


def test_the_admin_refuses_what_the_api_refuses(client, bob, tenant_a):
    _login(client, "bob", "pw-bob-123!")
    form = {"name": "Broken", "sections": json.dumps({"live": [{"key": "Bad Key", "label": "", "type": "blob"}]})}
    response = client.post("/admin/callnotes/callnotetemplate/add/", form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "lower-case letters" in page and "one of text, list, choice, link, artifact" in page
    with tenant_context(tenant_a):
        assert not CallNoteTemplate.objects.filter(name="Broken").exists()


def test_agents_are_kept_out_and_calls_are_read_only(client, alice, bob, tenant_a):
    _login(client, "alice", "pw-alice-123!")
    assert client.get("/admin/callnotes/callnotetemplate/").status_code in (302, 403)
    client.logout()
    _login(client, "bob", "pw-bob-123!")
    assert client.get("/admin/callnotes/call/").status_code == 200
    assert client.get("/admin/callnotes/call/add/").status_code == 403


def test_the_admin_index_names_every_call_notes_model_in_plain_english(client, bob):
    # Django's default plural of "knowledge entry" was "Knowledge entrys" in the managers' sidebar.
    _login(client, "bob", "pw-bob-123!")
    page = client.get("/admin/callnotes/").content.decode()
    assert "Knowledge entries" in page and "entrys" not in page
