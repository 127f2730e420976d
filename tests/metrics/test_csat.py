"""CSAT: POST /tickets/{id}/csat/ and the customer's e-mail link (a signed token), with the request e-mail
written to the outbox when an escalated ticket is solved."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from escalation import services as escalations
from helpdesk import workflows
from helpdesk.models import OutboxEvent
from helpdesk.tenancy import tenant_context
from metrics import csat
from metrics.models import CsatResponse
from tests.metrics.dataset import SUMMARY

pytestmark = pytest.mark.django_db


def _ticket(tenant, subject="Printer on fire"):
    with tenant_context(tenant):
        return workflows.ticket_open(
            tenant=tenant, actor=None, subject=subject, description="It smokes.", requester_email="c@x.test"
        )


def _scores(tenant):
    with tenant_context(tenant):
        return list(CsatResponse.objects.values_list("ticket_id", "score", "source"))


def test_a_score_is_recorded_then_replaced(tenant_a, api_a):
    ticket = _ticket(tenant_a)
    first = api_a.post(f"/api/v1/tickets/{ticket.pk}/csat/", {"score": 4}, format="json")
    assert first.status_code == 201 and first.json()["score"] == 4 and first.json()["ticket"] == ticket.pk
    again = api_a.post(f"/api/v1/tickets/{ticket.pk}/csat/", {"score": 2}, format="json")
    assert again.status_code == 200 and again.json()["score"] == 2
    assert _scores(tenant_a) == [(ticket.pk, 2, "api")]


@pytest.mark.parametrize("body", [{"score": 0}, {"score": 6}, {"score": "five"}, {}, {"score": 3, "extra": 1}])
def test_a_bad_score_is_a_400_and_writes_nothing(tenant_a, api_a, body):
    ticket = _ticket(tenant_a)
    answer = api_a.post(f"/api/v1/tickets/{ticket.pk}/csat/", body, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid"
    assert _scores(tenant_a) == []


def test_another_tenants_ticket_is_a_404_and_writes_nothing(tenant_a, tenant_b, api_b):
    ticket = _ticket(tenant_a)
    answer = api_b.post(f"/api/v1/tickets/{ticket.pk}/csat/", {"score": 5}, format="json")
    assert answer.status_code == 404
    assert _scores(tenant_a) == [] and _scores(tenant_b) == []


def test_the_link_shows_the_choice_and_records_on_post(tenant_a):
    ticket = _ticket(tenant_a)
    url = csat.links(ticket)[4].removeprefix("http://localhost:8000")
    browser = Client()
    page = browser.get(url)
    assert page.status_code == 200 and b"Printer on fire" in page.content
    assert re.search(rb'value="4"[^>]*checked', page.content)  # the score clicked in the e-mail, pre-selected
    assert _scores(tenant_a) == []  # a GET (a mail scanner) records nothing
    done = browser.post(url.split("?")[0], {"score": "4"})
    assert done.status_code == 200 and b"Thank you" in done.content
    assert _scores(tenant_a) == [(ticket.pk, 4, "email")]


def test_a_forged_or_foreign_token_is_a_404(tenant_a, tenant_b):
    ticket = _ticket(tenant_a)
    token = csat.token_for(ticket)
    browser = Client()
    assert browser.post(f"/csat/{token[:-2]}xx/", {"score": "5"}).status_code == 404
    assert browser.get("/csat/not-a-token/").status_code == 404
    bad = browser.post(f"/csat/{token}/", {"score": "9"})
    assert bad.status_code == 400
    assert _scores(tenant_a) == []


def test_solving_an_escalated_ticket_asks_the_customer_once(tenant_a):
    ticket = _ticket(tenant_a)
    quiet = _ticket(tenant_a, subject="Never escalated")
    with tenant_context(tenant_a):
        escalations.escalation_create(ticket=ticket, actor=None, kind="functional", trigger="manual",
                                      summary_fields=SUMMARY, target_tier=2)  # fmt: skip
        ticket.refresh_from_db()
        workflows.ticket_change_status(ticket=ticket, actor=None, status="solved")
        workflows.ticket_change_status(ticket=quiet, actor=None, status="solved")
        workflows.ticket_change_status(ticket=ticket, actor=None, status="open")
        workflows.ticket_change_status(ticket=ticket, actor=None, status="solved")
        rows = list(OutboxEvent.objects.filter(type="csat.request"))
    assert len(rows) == 1 and rows[0].payload["ticket"] == ticket.pk and rows[0].payload["to"] == "c@x.test"
    link = re.search(r"3 - Neutral: (\S+)", rows[0].payload["text"]).group(1)
    answer = Client().post(link.removeprefix("http://localhost:8000").split("?")[0], {"score": "3"})
    assert answer.status_code == 200
    assert _scores(tenant_a) == [(ticket.pk, 3, "email")]
