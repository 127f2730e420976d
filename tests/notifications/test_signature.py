"""A delivered webhook verifies with the recipe of docs/WEBHOOKS.md — the very code block, executed."""

import json
import re
import time
from pathlib import Path

import pytest

from helpdesk.notifications import dispatcher
from tests.notifications.conftest import SECRET, webhook
from tests.notifications.helpers import deliveries, open_ticket

DOC = Path(__file__).resolve().parents[2] / "docs" / "WEBHOOKS.md"


def documented_verifier():
    block = re.search(r"## Verifying a delivery.*?```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    return namespace["verify_helpdesk_webhook"]


def test_the_recipe_in_the_docs_verifies_a_real_delivery(tenant_a, receiver):
    verify = documented_verifier()
    webhook(tenant_a, receiver.url + "/hooks", events=["ticket.created"])
    ticket = open_ticket(tenant_a, subject="Signed please")
    dispatcher.dispatch()
    [request] = receiver.requests
    delivery = verify(SECRET, request.headers, request.body)
    assert delivery["event"] == "ticket.created"
    assert delivery["data"]["ticket"] == ticket.pk
    assert delivery["data"]["ticket_context"]["subject"] == "Signed please"
    [row] = deliveries(tenant_a)
    assert delivery["id"] == str(row.delivery_id) == request.headers["X-Helpdesk-Delivery"]
    assert request.headers["X-Helpdesk-Event"] == "ticket.created"


def test_the_recipe_refuses_a_tampered_body_a_wrong_secret_and_a_replay(tenant_a, receiver):
    verify = documented_verifier()
    webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch()
    [request] = receiver.requests
    tampered = request.body.replace(b'"ticket.created"', b'"ticket.updated"')
    with pytest.raises(ValueError, match="bad signature"):
        verify(SECRET, request.headers, tampered)
    with pytest.raises(ValueError, match="bad signature"):
        verify("another-secret-0123456789", request.headers, request.body)
    signed_at = json.loads(request.body)["timestamp"]
    with pytest.raises(ValueError, match="replay window"):
        verify(SECRET, request.headers, request.body, now=signed_at + 301)
    assert abs(signed_at - time.time()) < 60


def test_the_signature_is_the_hmac_of_the_raw_body_as_api_md_says(tenant_a, receiver):
    import hashlib
    import hmac

    webhook(tenant_a, receiver.url, events=["ticket.created"])
    open_ticket(tenant_a)
    dispatcher.dispatch()
    [request] = receiver.requests
    digest = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Helpdesk-Signature"] == f"sha256={digest}"
    assert request.headers["X-Helpdesk-Timestamp"] == str(json.loads(request.body)["timestamp"])
