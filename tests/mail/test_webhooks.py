"""The providers' inbound webhooks (django-anymail), per tenant: /api/v1/inbound/email/<provider>/<slug>/ with the
tenant's own basic-auth secret. A wrong secret, another tenant's, or an unknown slug: the same 401, nothing written."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from helpdesk.tenancy import tenant_context
from mail.models import MailRecord
from tests.mail import corpus
from tests.mail.conftest import WEBHOOK_SECRET_A
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


def _postmark(raw: bytes) -> str:
    return json.dumps(
        {
            "FromFull": {"Email": "jane@customer.test", "Name": "Jane Doe"},
            "ToFull": [{"Email": "support@acme.test", "Name": ""}],
            "Subject": "ignored: RawEmail wins",
            "RawEmail": raw.decode(),
            "OriginalRecipient": "support@acme.test",
        }
    )


def _post(path: str, body: str, secret: str | None):
    headers = {}
    if secret is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(secret.encode()).decode()
    return Client().post(path, data=body, content_type="application/json", **headers)


def test_a_postmark_inbound_mail_opens_and_threads_tickets(tenant_a):
    raw = corpus.plain("Please call me about the refund.", message_id="<pm-1@customer.test>")
    response = _post("/api/v1/inbound/email/postmark/acme/", _postmark(raw), WEBHOOK_SECRET_A)
    assert response.status_code == 200, response.content
    [receipt] = response.json()["received"]
    assert receipt["outcome"] == "created"
    reply = corpus.gmail_reply("Any news?", "x", in_reply_to="pm-1@customer.test", subject="Re: Invoice question")
    again = _post("/api/v1/inbound/email/postmark/acme/", _postmark(reply), WEBHOOK_SECRET_A).json()["received"]
    assert (again[0]["outcome"], again[0]["ticket"]) == ("appended", receipt["ticket"])
    duplicate = _post("/api/v1/inbound/email/postmark/acme/", _postmark(raw), WEBHOOK_SECRET_A).json()
    assert duplicate["received"][0]["outcome"] == "duplicate"
    with tenant_context(tenant_a):
        ticket = Ticket.objects.get(pk=receipt["ticket"])
        assert (ticket.channel, ticket.description) == ("email", "Please call me about the refund.")
        assert Message.objects.get(ticket=ticket, author_type="customer").body == "Any news?"
        assert set(MailRecord.objects.filter(direction="in").values_list("source", flat=True)) == {"postmark"}


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("/api/v1/inbound/email/postmark/acme/", None),
        ("/api/v1/inbound/email/postmark/acme/", "acme-inbound:wrong"),
        ("/api/v1/inbound/email/postmark/globex/", WEBHOOK_SECRET_A),  # A's secret for B (B has none)
        ("/api/v1/inbound/email/postmark/nobody/", WEBHOOK_SECRET_A),
    ],
    ids=["no-auth", "wrong-secret", "other-tenant", "unknown-tenant"],
)
def test_the_wrong_credentials_are_one_401_and_write_nothing(tenant_a, tenant_b, path, secret):
    response = _post(path, _postmark(corpus.plain("inject")), secret)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            assert not MailRecord.objects.exists() and not Ticket.objects.exists()


def test_an_unreadable_payload_is_a_400_and_an_unknown_provider_a_404(tenant_a):
    bad = _post("/api/v1/inbound/email/postmark/acme/", "{not json", WEBHOOK_SECRET_A)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_request"
    assert _post("/api/v1/inbound/email/nosuch/acme/", "{}", WEBHOOK_SECRET_A).status_code == 404
    with tenant_context(tenant_a):
        assert not MailRecord.objects.exists()


def test_a_get_is_refused(tenant_a):
    assert Client().get("/api/v1/inbound/email/postmark/acme/").status_code == 405
