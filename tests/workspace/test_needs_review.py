"""The Needs review queue (/tickets/?view=needs_review, issue 20): a flag rule puts a ticket there with its reason,
the queue lists it with its count and tags, the ticket page says why and clears it; a person's tag from the page
fires the tag_added rules. Another tenant's ticket: 404, nothing written."""

from __future__ import annotations

import re

from escalation.models import Escalation, EscalationRule
from helpdesk import workflows
from helpdesk.tenancy import tenant_context
from tests.workspace.conftest import open_ticket
from tests.workspace.test_queues import QUEUE_QUERIES, _counts, _subjects
from tickets.models import Ticket, TicketEvent


def _flag_rule(tenant) -> None:
    """An event flag rule (the time-based one is exercised through the sweep in tests/escalation)."""
    with tenant_context(tenant):
        workflows.rule_create(
            tenant=tenant, actor=None, name="Flag renewals", slug="flag-renewal", trigger="keyword",
            conditions={"keywords": ["renewal"]}, action="flag",
        )  # fmt: skip


def test_the_needs_review_queue_lists_the_flagged_ticket_with_its_reason_and_tags(
    acme, alice, as_alice, django_assert_max_num_queries
):
    _flag_rule(acme)
    flagged = open_ticket(acme, subject="Renewal terms", description="Question about our renewal, asap please.")
    open_ticket(acme, subject="Printer setup")
    as_alice.get("/tickets/?view=needs_review")  # warm the configuration cache

    with django_assert_max_num_queries(QUEUE_QUERIES):
        response = as_alice.get("/tickets/?view=needs_review")

    html = response.content.decode()
    assert response.status_code == 200
    assert _subjects(response) == ["Renewal terms"]
    assert _counts(response)["Needs review"] == 1
    assert re.search(r"Needs review: flag-renewal: customer wrote &#x27;renewal&#x27;", html)
    assert re.search(r'<ul class="tags" aria-label="Tags">.*?>urgent</a>', html, re.S)  # the auto-tag, on the row
    assert _subjects(as_alice.get("/tickets/?view=all&tags=urgent")) == ["Renewal terms"]

    page = as_alice.get(f"/tickets/{flagged.pk}/").content.decode()
    assert 'aria-label="Needs review"' in page and "flag-renewal: customer wrote" in page
    assert as_alice.post(f"/tickets/{flagged.pk}/review/clear/").status_code == 302
    after = as_alice.get("/tickets/?view=needs_review")
    assert _subjects(after) == [] and _counts(after)["Needs review"] == 0
    with tenant_context(acme):
        assert Ticket.objects.get(pk=flagged.pk).review_flagged_at is None
        assert TicketEvent.objects.filter(ticket=flagged, kind="review_cleared").count() == 1


def test_a_tag_added_on_the_page_fires_the_bug_confirmed_rule(acme, as_alice):
    ticket = open_ticket(acme, subject="Export rows", description="Export of 1000 rows.")
    assert as_alice.post(f"/tickets/{ticket.pk}/tags/", {"tag": "Bug_Confirmed"}).status_code == 302
    with tenant_context(acme):
        assert Ticket.objects.get(pk=ticket.pk).tags == ["bug_confirmed"]
        assert list(Escalation.objects.filter(ticket=ticket).values_list("trigger", flat=True)) == ["bug-confirmed"]
    assert '<span class="badge tag">bug_confirmed</span>' in as_alice.get(f"/tickets/{ticket.pk}/").content.decode()
    assert as_alice.post(f"/tickets/{ticket.pk}/tags/", {"tag": "no spaces!"}).status_code == 302
    with tenant_context(acme):
        assert Ticket.objects.get(pk=ticket.pk).tags == ["bug_confirmed"]


def test_another_tenants_ticket_takes_no_tag_and_no_clearing(acme, as_alice, globex, globex_ticket):
    with tenant_context(globex):
        Ticket.objects.filter(pk=globex_ticket.pk).update(
            review_reason="x: y", review_flagged_at=globex_ticket.created_at
        )
        assert EscalationRule.objects.filter(trigger="tag_added").exists()
    assert as_alice.post(f"/tickets/{globex_ticket.pk}/tags/", {"tag": "bug_confirmed"}).status_code == 404
    assert as_alice.post(f"/tickets/{globex_ticket.pk}/review/clear/").status_code == 404
    assert "Globex" not in as_alice.get("/tickets/?view=needs_review").content.decode()
    with tenant_context(globex):
        theirs = Ticket.objects.get(pk=globex_ticket.pk)
        assert theirs.tags == [] and theirs.review_flagged_at is not None
        assert not Escalation.objects.filter(ticket=theirs).exists()


def test_signed_out_visitors_are_sent_to_sign_in(acme, client):
    ticket = open_ticket(acme)
    response = client.post(f"/tickets/{ticket.pk}/review/clear/")
    assert response.status_code in (302, 401, 403)
    with tenant_context(acme):
        assert not TicketEvent.objects.filter(ticket=ticket, kind="review_cleared").exists()
