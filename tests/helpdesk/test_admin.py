"""The tenant-aware admin: a tenant's managers edit their own tenant's data; agents, visitors and other
tenants see nothing. Requests go through the real URLconf and middleware, so every admin view runs in
the principal's tenant_context; reading rows here needs `tenant_context` too (RLS applies to tests)."""

from __future__ import annotations

import hashlib
import re

import pytest
from django import forms
from django.test import Client

from helpdesk import workflows
from helpdesk.audit import audit_record
from helpdesk.models import ApiToken, Membership, Role, Team, TeamMember, Tenant
from helpdesk.services import api_token_create, membership_create, team_create
from helpdesk.tenancy import tenant_context
from tickets.models import Account, Customer, Message, Status, Ticket, TicketEvent
from tickets.services import (
    account_create,
    attempt_record,
    message_post,
    ticket_change_status,
    ticket_open,
)
from tickets.validation import ERR_TRANSITION

ACME_SUBJECT = "Acme printer is on fire"
GLOBEX_SUBJECT = "Globex secret merger leaked"


def _login(username: str, password: str) -> Client:
    client = Client()
    assert client.login(username=username, password=password)
    return client


def _text(response) -> str:
    return response.content.decode()


def _form_data(response) -> dict:
    """What a browser would post back from an admin change page, unchanged."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    return data


def _options(html: str, select_name: str) -> dict[str, str]:
    """value -> label of the non-empty options of one <select>."""
    select = re.search(rf'<select name="{re.escape(select_name)}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {select_name}"
    pairs = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))
    return {value: label for value, label in pairs if value}


def _open(tenant, subject: str, **fields) -> Ticket:
    with tenant_context(tenant):
        return ticket_open(
            tenant=tenant,
            actor=None,
            subject=subject,
            description="It started this morning.",
            requester_email=f"someone@{tenant.slug}.example",
            **fields,
        )


@pytest.fixture
def acme_ticket(tenant_a):
    return _open(tenant_a, ACME_SUBJECT)


@pytest.fixture
def globex_ticket(tenant_b):
    return _open(tenant_b, GLOBEX_SUBJECT)


@pytest.fixture
def erin(tenant_a):
    """An admin of acme."""
    return membership_create(tenant=tenant_a, username="erin", password="pw-erin-123!", role=Role.ADMIN, tier=3)


@pytest.fixture
def dana(tenant_b):
    """A manager of globex."""
    return membership_create(tenant=tenant_b, username="dana", password="pw-dana-123!", role=Role.MANAGER, tier=2)


@pytest.fixture
def as_bob(bob):
    return _login("bob", "pw-bob-123!")


@pytest.fixture
def as_erin(erin):
    return _login("erin", "pw-erin-123!")


# --- who gets in ----------------------------------------------------------------------------------


def test_it_lets_a_manager_in_by_membership_not_by_the_staff_flag(as_bob, bob):
    response = as_bob.get("/admin/")
    html = _text(response)
    assert response.status_code == 200
    assert not bob.user.is_staff and not bob.user.is_superuser
    assert "Acme Corp · Helpdesk admin" in html
    assert "/admin/tickets/ticket/" in html and "/admin/helpdesk/team/" in html
    # Users are global, tokens are for admins only: neither is offered to a manager.
    assert "/admin/auth/" not in html
    assert "/admin/helpdesk/apitoken/" not in html


def test_it_refuses_an_agent_and_shows_no_data(alice, acme_ticket):
    client = _login("alice", "pw-alice-123!")
    for url in ("/admin/", "/admin/tickets/ticket/", f"/admin/tickets/ticket/{acme_ticket.pk}/change/"):
        response = client.get(url, follow=True)
        assert response.status_code == 403, url
        assert ACME_SUBJECT not in _text(response)


def test_it_writes_nothing_for_an_agent(alice, tenant_a):
    client = _login("alice", "pw-alice-123!")
    response = client.post("/admin/tickets/account/add/", {"name": "Sneaky Ltd", "plan": "free"}, follow=True)
    assert response.status_code == 403
    with tenant_context(tenant_a):
        assert not Account.objects.filter(name="Sneaky Ltd").exists()


def test_it_refuses_a_member_of_another_tenant(charlie, acme_ticket, globex_ticket):
    client = _login("charlie", "pw-charlie-123!")
    for url in ("/admin/", "/admin/tickets/ticket/", f"/admin/tickets/ticket/{acme_ticket.pk}/change/"):
        response = client.get(url, follow=True)
        assert response.status_code == 403, url
        assert ACME_SUBJECT not in _text(response) and GLOBEX_SUBJECT not in _text(response)


def test_it_sends_a_visitor_to_the_apps_login_page(client, acme_ticket):
    response = client.get("/admin/tickets/ticket/", follow=True)
    final_url, _ = response.redirect_chain[-1]
    assert final_url.startswith("/login/?next=")
    assert "admin/tickets/ticket/" in final_url
    assert response.status_code == 200 and "Sign in" in _text(response)
    assert ACME_SUBJECT not in _text(response)


# --- tenant isolation -----------------------------------------------------------------------------


def test_it_lists_only_the_managers_tenant_tickets(as_bob, acme_ticket, globex_ticket):
    response = as_bob.get("/admin/tickets/ticket/")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert ACME_SUBJECT in _text(response)
    assert GLOBEX_SUBJECT not in _text(response)


def test_it_finds_nothing_of_another_tenant_by_search(as_bob, acme_ticket, globex_ticket):
    response = as_bob.get("/admin/tickets/ticket/", {"q": "merger"})
    assert response.context["cl"].result_count == 0
    assert GLOBEX_SUBJECT not in _text(response)


def test_it_answers_404_for_another_tenants_ticket_and_leaks_nothing(as_bob, acme_ticket, globex_ticket):
    for action in ("change", "history"):
        response = as_bob.get(f"/admin/tickets/ticket/{globex_ticket.pk}/{action}/")
        assert response.status_code == 404, action
        assert GLOBEX_SUBJECT not in _text(response)
    missing = as_bob.get(f"/admin/tickets/ticket/{globex_ticket.pk + 1000}/change/")
    assert missing.status_code == 404
    # Deleting tickets is refused before any lookup: the same 403 for one's own and another's ticket.
    for ticket in (acme_ticket, globex_ticket):
        response = as_bob.get(f"/admin/tickets/ticket/{ticket.pk}/delete/")
        assert response.status_code == 403 and GLOBEX_SUBJECT not in _text(response)


def test_it_changes_nothing_of_another_tenant_by_post(as_bob, globex_ticket, tenant_b):
    response = as_bob.post(f"/admin/tickets/ticket/{globex_ticket.pk}/change/", {"subject": "pwned", "status": "open"})
    assert response.status_code == 404
    with tenant_context(tenant_b):
        ticket = Ticket.objects.get(pk=globex_ticket.pk)
        assert (ticket.subject, ticket.status) == (GLOBEX_SUBJECT, Status.NEW)
        assert list(TicketEvent.objects.values_list("kind", flat=True)) == ["created"]


def test_it_shows_the_other_tenants_manager_only_their_own_tickets(dana, acme_ticket, globex_ticket):
    client = _login("dana", "pw-dana-123!")
    listing = _text(client.get("/admin/tickets/ticket/"))
    assert GLOBEX_SUBJECT in listing and ACME_SUBJECT not in listing
    response = client.get(f"/admin/tickets/ticket/{acme_ticket.pk}/change/")
    assert response.status_code == 404 and ACME_SUBJECT not in _text(response)


def test_it_offers_only_the_tenants_memberships_for_a_team(as_bob, alice, bob, charlie):
    html = _text(as_bob.get("/admin/helpdesk/team/add/"))
    offered = _options(html, "teammember_set-0-membership")
    assert set(offered) == {str(alice.pk), str(bob.pk)}
    assert "charlie" not in html


def _team_post(name: str, *membership_ids: int) -> dict:
    data = {
        "name": name,
        "tier": "2",
        "skills": "billing",
        "teammember_set-TOTAL_FORMS": str(len(membership_ids)),
        "teammember_set-INITIAL_FORMS": "0",
        "teammember_set-MIN_NUM_FORMS": "0",
        "teammember_set-MAX_NUM_FORMS": "1000",
    }
    for i, membership_id in enumerate(membership_ids):
        data[f"teammember_set-{i}-membership"] = str(membership_id)
    return data


def test_it_refuses_another_tenants_membership_in_a_team(as_bob, charlie, tenant_a, tenant_b):
    response = as_bob.post("/admin/helpdesk/team/add/", _team_post("Billing", charlie.pk))
    assert response.status_code == 200
    assert "Select a valid choice" in _text(response)
    with tenant_context(tenant_a):
        assert not Team.objects.exists()
    with tenant_context(tenant_b):
        assert not TeamMember.objects.exists()


def test_it_creates_a_team_with_members_in_the_managers_tenant(as_bob, alice, tenant_a):
    response = as_bob.post("/admin/helpdesk/team/add/", _team_post("Billing", alice.pk))
    assert response.status_code == 302
    with tenant_context(tenant_a):
        team = Team.unscoped.get(name="Billing")
        assert (team.tenant_id, team.tier, team.skills) == (tenant_a.pk, 2, ["billing"])
        assert list(TeamMember.unscoped.values_list("tenant_id", "membership_id")) == [(tenant_a.pk, alice.pk)]


def test_it_reports_a_duplicate_team_name_as_a_form_error(as_bob, tenant_a):
    assert as_bob.post("/admin/helpdesk/team/add/", _team_post("Billing")).status_code == 302
    response = as_bob.post("/admin/helpdesk/team/add/", _team_post("Billing"))
    assert response.status_code == 200
    assert "already exists" in _text(response)
    with tenant_context(tenant_a):
        assert Team.objects.filter(name="Billing").count() == 1


def test_it_creates_an_account_in_the_managers_tenant(as_bob, tenant_a, tenant_b):
    data = {"name": "Road Runner Inc", "plan": "business", "vip": "on", "annual_contract_value": "1200.00"}
    response = as_bob.post("/admin/tickets/account/add/", {**data, "lifetime_value": "0", "customer_since": ""})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        account = Account.unscoped.get(name="Road Runner Inc")
        assert (account.tenant_id, account.plan, account.vip) == (tenant_a.pk, "business", True)
    with tenant_context(tenant_b):
        assert not Account.unscoped.filter(name="Road Runner Inc").exists()


def test_it_stores_customer_emails_lower_cased(as_bob, tenant_a):
    response = as_bob.post("/admin/tickets/customer/add/", {"email": "Wile.E@Acme.TEST", "name": "Wile"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Customer.objects.get(name="Wile").email == "wile.e@acme.test"


ADMIN_MODELS = (
    "helpdesk/tenant",
    "helpdesk/membership",
    "helpdesk/team",
    "helpdesk/apitoken",
    "helpdesk/auditevent",
    "tickets/account",
    "tickets/customer",
    "tickets/ticket",
    "tickets/message",
    "tickets/resolutionattempt",
    "tickets/ticketevent",
)
READ_ONLY_MODELS = {"helpdesk/tenant", "helpdesk/auditevent", "tickets/ticketevent"}


def _fill(tenant, marker: str) -> None:
    """One row of every model, each carrying `marker` where it shows."""
    ticket = _open(tenant, f"{marker} ticket", tags=[marker.lower()])
    with tenant_context(tenant):
        message_post(ticket=ticket, actor=None, body=f"{marker} message", author_type="customer")
        attempt_record(ticket=ticket, actor=None, outcome="failed", tier=1, note=f"{marker} attempt")
        account_create(tenant=tenant, name=f"{marker} account")
    team = team_create(tenant=tenant, name=f"{marker} team")
    api_token_create(tenant=tenant, label=f"{marker} token")
    with tenant_context(tenant):
        audit_record(
            tenant_id=tenant.pk,
            kind="team.noted",
            actor=None,
            object_type="team",
            object_id=team.pk,
            after={"name": marker},
        )


def test_it_renders_every_page_of_the_tenant_and_nothing_of_another(as_erin, tenant_a, tenant_b):
    _fill(tenant_a, "Roadrunner")
    _fill(tenant_b, "Initech")
    for model in ADMIN_MODELS:
        listing = as_erin.get(f"/admin/{model}/")
        assert listing.status_code == 200, model
        assert listing.context["cl"].result_count >= 1, model
        changes = [as_erin.get(f"/admin/{model}/{obj.pk}/change/") for obj in listing.context["cl"].result_list]
        assert [page.status_code for page in changes] == [200] * len(changes), model
        add = as_erin.get(f"/admin/{model}/add/")
        assert add.status_code == (403 if model in READ_ONLY_MODELS else 200), model
        for page in [listing, *changes, add]:
            assert "initech" not in _text(page).lower(), model
    with tenant_context(tenant_a):
        ticket = Ticket.objects.get()
    trail = _text(as_erin.get(f"/admin/tickets/ticket/{ticket.pk}/change/"))
    assert "Roadrunner ticket" in trail
    assert all(kind in trail for kind in ("created", "message_posted", "attempt_recorded"))


def test_it_autocompletes_only_the_tenants_tickets(as_bob, acme_ticket, globex_ticket):
    response = as_bob.get(
        "/admin/autocomplete/",
        {"app_label": "tickets", "model_name": "message", "field_name": "ticket", "term": ""},
    )
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(acme_ticket.pk)]
    assert GLOBEX_SUBJECT not in _text(response)


# --- the tenant itself ----------------------------------------------------------------------------


def test_it_shows_and_edits_only_the_managers_own_tenant(as_bob, tenant_a, tenant_b):
    listing = as_bob.get("/admin/helpdesk/tenant/")
    assert [t.slug for t in listing.context["cl"].result_list] == ["acme"]
    assert "Globex" not in _text(listing)
    assert as_bob.get(f"/admin/helpdesk/tenant/{tenant_b.pk}/change/").status_code == 404
    assert as_bob.get("/admin/helpdesk/tenant/add/").status_code == 403

    response = as_bob.post(
        f"/admin/helpdesk/tenant/{tenant_a.pk}/change/", {"name": "Acme Corporation", "timezone": "Europe/Berlin"}
    )
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    tenant_b.refresh_from_db()
    assert (tenant_a.name, tenant_a.timezone, tenant_a.slug) == ("Acme Corporation", "Europe/Berlin", "acme")
    assert tenant_b.name == "Globex"


def test_it_refuses_an_unknown_time_zone(as_bob, tenant_a):
    response = as_bob.post(f"/admin/helpdesk/tenant/{tenant_a.pk}/change/", {"name": "Acme", "timezone": "Mars/Base"})
    assert response.status_code == 200 and "is not an IANA time zone" in _text(response)
    assert Tenant.objects.get(pk=tenant_a.pk).timezone == "UTC"


# --- the audit trail --------------------------------------------------------------------------------


def test_it_keeps_ticket_events_read_only(as_bob, acme_ticket, tenant_a):
    with tenant_context(tenant_a):
        event = TicketEvent.objects.get(ticket=acme_ticket)
    url = f"/admin/tickets/ticketevent/{event.pk}/"
    page = as_bob.get(url + "change/")
    assert page.status_code == 200
    assert "created" in _text(page) and 'name="_save"' not in _text(page)

    assert as_bob.post(url + "change/", {"kind": "tampered", "actor_label": "nobody"}).status_code == 403
    assert as_bob.post(url + "delete/", {"post": "yes"}).status_code == 403
    assert as_bob.get("/admin/tickets/ticketevent/add/").status_code == 403
    with tenant_context(tenant_a):
        assert list(TicketEvent.objects.values_list("pk", "kind", "actor_label")) == [(event.pk, "created", "system")]


def test_it_does_not_let_anyone_delete_a_ticket(as_bob, acme_ticket, tenant_a):
    assert as_bob.post(f"/admin/tickets/ticket/{acme_ticket.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = as_bob.post(
        "/admin/tickets/ticket/", {"action": "delete_selected", "_selected_action": [acme_ticket.pk], "post": "yes"}
    )
    assert changelist.status_code == 200  # Django answers "no action selected": delete_selected isn't offered
    with tenant_context(tenant_a):
        assert Ticket.objects.filter(pk=acme_ticket.pk).exists()


def test_it_records_a_status_change_made_in_the_admin(as_bob, bob, acme_ticket, tenant_a):
    url = f"/admin/tickets/ticket/{acme_ticket.pk}/change/"
    data = {**_form_data(as_bob.get(url)), "status": "open", "priority": "high"}
    response = as_bob.post(url, data)
    assert response.status_code == 302
    with tenant_context(tenant_a):
        ticket = Ticket.objects.get(pk=acme_ticket.pk)
        events = list(TicketEvent.objects.filter(ticket=ticket).order_by("id"))
    assert (ticket.status, ticket.priority) == (Status.OPEN, "high")
    status_changed = next(e for e in events if e.kind == "status_changed")
    assert (status_changed.before, status_changed.after) == ({"status": "new"}, {"status": "open"})
    assert status_changed.actor_id == bob.pk and status_changed.actor_label == "bob @ acme (manager)"
    updated = next(e for e in events if e.kind == "updated")
    assert (updated.before, updated.after) == ({"priority": "normal"}, {"priority": "high"})


def test_it_records_an_assignment_made_in_the_admin(as_bob, alice, bob, charlie, acme_ticket, tenant_a):
    url = f"/admin/tickets/ticket/{acme_ticket.pk}/change/"
    page = as_bob.get(url)
    assert set(_options(_text(page), "assignee")) == {str(alice.pk), str(bob.pk)}
    response = as_bob.post(url, {**_form_data(page), "assignee": str(alice.pk)})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Ticket.objects.get(pk=acme_ticket.pk).assignee_id == alice.pk
        assigned = TicketEvent.objects.get(ticket_id=acme_ticket.pk, kind="assigned")
    assert assigned.after == {"assignee": alice.pk, "team": None}


def test_it_refuses_a_status_change_the_services_forbid(as_bob, acme_ticket, tenant_a):
    with tenant_context(tenant_a):
        ticket_change_status(ticket=acme_ticket, actor=None, status=Status.CLOSED)
    url = f"/admin/tickets/ticket/{acme_ticket.pk}/change/"
    response = as_bob.post(url, {**_form_data(as_bob.get(url)), "status": "open"})
    assert response.status_code == 200
    assert ERR_TRANSITION.format(before="closed", after="open") in _text(response)
    with tenant_context(tenant_a):
        assert Ticket.objects.get(pk=acme_ticket.pk).status == Status.CLOSED
        assert TicketEvent.objects.filter(ticket_id=acme_ticket.pk).count() == 2  # created, status_changed


def test_it_opens_a_ticket_from_the_admin_through_the_workflow(as_bob, tenant_a):
    response = as_bob.post(
        "/admin/tickets/ticket/add/",
        {
            "subject": "Invoice twice charged",
            "description": "I was charged twice for March.",
            "requester_email": "Road.Runner@Example.COM",
            "requester_name": "Road Runner",
            "priority": "high",
            "channel": "phone",
            "category": "billing",
            "tags": "invoice,march",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        ticket = Ticket.unscoped.select_related("requester").get(subject="Invoice twice charged")
        created = TicketEvent.objects.get(ticket=ticket, kind="created")
    assert ticket.tenant_id == tenant_a.pk
    assert (ticket.priority, ticket.channel, ticket.category) == ("high", "phone", "billing")
    assert ticket.tags == ["invoice", "march"]
    assert ticket.requester.email == "road.runner@example.com"
    assert (created.kind, created.actor_label) == ("created", "bob @ acme (manager)")


def test_it_posts_a_message_through_the_conversation_service(as_bob, bob, acme_ticket, tenant_a):
    response = as_bob.post(
        "/admin/tickets/message/add/", {"ticket": acme_ticket.pk, "author_type": "agent", "body": "We're on it."}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        ticket = Ticket.objects.get(pk=acme_ticket.pk)
        message = Message.objects.get(ticket=ticket)
        kinds = list(TicketEvent.objects.filter(ticket=ticket).order_by("id").values_list("kind", flat=True))
    assert message.body == "We're on it." and message.author_id == bob.pk
    assert ticket.first_response_at is not None and ticket.status == Status.OPEN
    assert kinds == ["created", "message_posted"]


def test_it_refuses_a_message_on_another_tenants_ticket(as_bob, globex_ticket, tenant_b):
    response = as_bob.post(
        "/admin/tickets/message/add/", {"ticket": globex_ticket.pk, "author_type": "agent", "body": "hello"}
    )
    assert response.status_code == 200 and "Select a valid choice" in _text(response)
    assert GLOBEX_SUBJECT not in _text(response)
    with tenant_context(tenant_b):
        assert not Message.objects.exists()


# --- memberships and roles --------------------------------------------------------------------------


def _membership_url(membership: Membership) -> str:
    return f"/admin/helpdesk/membership/{membership.pk}/change/"


def test_it_lists_memberships_with_their_routing_attributes(as_bob, alice, bob, charlie):
    html = _text(as_bob.get("/admin/helpdesk/membership/"))
    for column in ("Username", "Role", "Tier", "Skills", "Capacity", "Available", "Active"):
        assert column in html
    assert "alice" in html and "bob" in html and "charlie" not in html


def test_it_does_not_let_a_manager_make_anyone_admin(as_bob, alice, tenant_a):
    page = as_bob.get(_membership_url(alice))
    assert set(_options(_text(page), "role")) == {"agent", "manager"}
    response = as_bob.post(_membership_url(alice), {**_form_data(page), "role": "admin"})
    assert response.status_code == 200 and "Select a valid choice" in _text(response)
    with tenant_context(tenant_a):
        assert Membership.objects.get(pk=alice.pk).role == Role.AGENT

    response = as_bob.post(_membership_url(alice), {**_form_data(page), "role": "manager", "skills": "billing,legal"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        alice_now = Membership.objects.get(pk=alice.pk)
    assert (alice_now.role, alice_now.skills) == (Role.MANAGER, ["billing", "legal"])


def test_it_does_not_let_a_manager_change_an_admins_seat(as_bob, erin, tenant_a):
    page = as_bob.get(_membership_url(erin))
    assert page.status_code == 200 and 'name="_save"' not in _text(page)
    response = as_bob.post(_membership_url(erin), {"role": "agent", "tier": "1", "capacity": "20", "active": ""})
    assert response.status_code == 403
    with tenant_context(tenant_a):
        erin_now = Membership.objects.get(pk=erin.pk)
    assert (erin_now.role, erin_now.active) == (Role.ADMIN, True)


def test_it_lets_an_admin_grant_the_admin_role(as_erin, alice, tenant_a):
    page = as_erin.get(_membership_url(alice))
    assert set(_options(_text(page), "role")) == {"agent", "manager", "executive", "admin"}
    assert as_erin.post(_membership_url(alice), {**_form_data(page), "role": "admin"}).status_code == 302
    with tenant_context(tenant_a):
        assert Membership.objects.get(pk=alice.pk).role == Role.ADMIN


def test_it_adds_a_member_with_a_new_user(as_bob, tenant_a):
    data = {"username": "dave", "password": "pw-dave-123!", "role": "agent", "tier": "2", "capacity": "10"}
    response = as_bob.post("/admin/helpdesk/membership/add/", {**data, "skills": "billing", "email": "d@acme.test"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        dave = Membership.unscoped.select_related("user").get(user__username="dave")
    assert (dave.tenant_id, dave.role, dave.tier, dave.capacity) == (tenant_a.pk, "agent", 2, 10)
    assert dave.skills == ["billing"]
    assert dave.user.check_password("pw-dave-123!") and not dave.user.is_staff


def test_it_does_not_pull_an_existing_user_into_the_tenant(as_bob, charlie, tenant_a):
    data = {"username": "charlie", "role": "agent", "tier": "1", "capacity": "20", "skills": ""}
    response = as_bob.post("/admin/helpdesk/membership/add/", data)
    assert response.status_code == 200 and "This username is taken" in _text(response)
    with tenant_context(tenant_a):
        assert not Membership.objects.filter(user__username="charlie").exists()


def test_it_does_not_let_a_manager_add_an_admin(as_bob, tenant_a):
    data = {"username": "mallory", "role": "admin", "tier": "1", "capacity": "20", "skills": ""}
    response = as_bob.post("/admin/helpdesk/membership/add/", data)
    assert response.status_code == 200 and "Select a valid choice" in _text(response)
    with tenant_context(tenant_a):
        assert not Membership.objects.filter(user__username="mallory").exists()


def test_the_admins_add_form_applies_the_members_validation(as_erin, tenant_a):
    """One validation for a member: the admin refuses what the API refuses, with the same messages."""
    from helpdesk.members import ERR_EMAIL_FOR_INVITATION

    base = {"username": "dave", "password": "pw-dave-123!", "role": "agent", "tier": "1", "capacity": "10"}
    cases = [
        ({"tier": "4"}, "less than or equal to 3"),
        ({"capacity": "-1"}, "greater than or equal to 0"),
        ({"skills": "not a slug"}, "Enter a valid"),
        ({"password": "dave"}, "too short"),
        ({"password": "", "email": ""}, ERR_EMAIL_FOR_INVITATION),
    ]
    for change, message in cases:
        response = as_erin.post("/admin/helpdesk/membership/add/", {**base, "skills": "", **change})
        assert response.status_code == 200 and message in _text(response), change
    with tenant_context(tenant_a):
        assert not Membership.objects.filter(user__username="dave").exists()


def test_a_member_added_in_the_admin_without_a_password_is_invited_and_audited(as_erin, erin, tenant_a):
    from helpdesk.invitations import INVITED
    from helpdesk.models import AuditEvent, OutboxEvent

    data = {"username": "dave", "email": "dave@acme.test", "role": "agent", "tier": "1", "capacity": "10"}
    assert as_erin.post("/admin/helpdesk/membership/add/", {**data, "skills": ""}).status_code == 302
    with tenant_context(tenant_a):
        dave = Membership.objects.get(user__username="dave")
        assert OutboxEvent.objects.get(type=INVITED).payload["membership"] == dave.pk
        added = AuditEvent.objects.get(kind="member.added")
    assert (added.object_id, added.actor_id) == (dave.pk, erin.pk)


def test_the_admin_keeps_the_last_admin_an_admin(as_erin, erin, tenant_a):
    page = as_erin.get(_membership_url(erin))
    for change in ({"role": "manager"}, {"active": ""}):
        data = {**_form_data(page), **change}
        data = {k: v for k, v in data.items() if not (k == "active" and v == "")}
        response = as_erin.post(_membership_url(erin), data)
        assert response.status_code == 200 and "last admin" in _text(response), change
    with tenant_context(tenant_a):
        stored = Membership.objects.get(pk=erin.pk)
    assert (stored.role, stored.active) == (Role.ADMIN, True)


def test_a_change_in_the_admin_is_audited_like_one_through_the_api(as_erin, alice, tenant_a):
    from helpdesk.models import AuditEvent

    page = as_erin.get(_membership_url(alice))
    assert as_erin.post(_membership_url(alice), {**_form_data(page), "tier": "2"}).status_code == 302
    with tenant_context(tenant_a):
        event = AuditEvent.objects.get(kind="member.updated", object_id=alice.pk)
    assert (event.before, event.after) == ({"tier": 1}, {"tier": 2})


def test_the_tenant_audit_trail_is_for_admins_and_read_only(as_bob, as_erin, alice, tenant_a):
    from helpdesk.models import AuditEvent

    with tenant_context(tenant_a):
        workflows.member_update(membership=alice, actor=None, tier=2)
        event = AuditEvent.objects.get()
    assert as_bob.get("/admin/helpdesk/auditevent/").status_code == 403
    page = as_erin.get(f"/admin/helpdesk/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in _text(page)
    assert as_erin.post(f"/admin/helpdesk/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(pk=event.pk).exists()


# --- API tokens -------------------------------------------------------------------------------------


def test_it_keeps_api_tokens_from_managers(as_bob, tenant_a):
    token, _ = api_token_create(tenant=tenant_a, role=Role.ADMIN, label="zapier")
    for url in ("/admin/helpdesk/apitoken/", f"/admin/helpdesk/apitoken/{token.pk}/change/"):
        response = as_bob.get(url)
        assert response.status_code == 403 and token.prefix not in _text(response)


def test_it_shows_admins_token_prefixes_but_never_hashes(as_erin, tenant_a, tenant_b):
    token, _ = api_token_create(tenant=tenant_a, role=Role.AGENT, label="zapier")
    foreign, _ = api_token_create(tenant=tenant_b, role=Role.ADMIN, label="globex-sync")
    listing = _text(as_erin.get("/admin/helpdesk/apitoken/"))
    assert token.prefix in listing and "zapier" in listing
    assert foreign.prefix not in listing and "globex-sync" not in listing
    detail = _text(as_erin.get(f"/admin/helpdesk/apitoken/{token.pk}/change/"))
    assert token.prefix in detail
    assert token.key_hash not in listing and token.key_hash not in detail
    assert as_erin.get(f"/admin/helpdesk/apitoken/{foreign.pk}/change/").status_code == 404


def test_it_issues_a_token_and_shows_its_key_once(as_erin, tenant_a):
    response = as_erin.post("/admin/helpdesk/apitoken/add/", {"label": "zapier", "role": "manager"}, follow=True)
    key = re.search(r"(hd_[A-Za-z0-9_-]{40,})", _text(response)).group(1)
    with tenant_context(tenant_a):
        token = ApiToken.objects.get(label="zapier")
    assert (token.tenant_id, token.role) == (tenant_a.pk, "manager")
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in _text(as_erin.get("/admin/helpdesk/apitoken/"))
    assert as_erin.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").json()["role"] == "manager"


def test_it_revokes_tokens(as_erin, tenant_a):
    token, key = api_token_create(tenant=tenant_a, role=Role.AGENT, label="old")
    response = as_erin.post(
        "/admin/helpdesk/apitoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]}, follow=True
    )
    assert "1 token(s) revoked." in _text(response)
    with tenant_context(tenant_a):
        assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
