"""A member added without a password is invited: an outbox row in the request's transaction, an e-mail
after commit through the notifications dispatcher (no channel needed), a link to Django's set-password
page that works once, and never for a seat that was withdrawn."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import authenticate
from django.core import mail

from helpdesk.invitations import INVITED
from helpdesk.models import OutboxEvent
from helpdesk.notifications import dispatcher
from helpdesk.notifications.models import Delivery, DeliveryStatus
from helpdesk.tenancy import tenant_context

LINK = re.compile(re.escape(settings.PUBLIC_URL) + r"(/invite/[^/\s]+/[^/\s]+/)")
NEW_PASSWORD = "a-long-and-unusual-passphrase-42"


def _invite(api, username="dave", email="Dave@Acme.test"):
    response = api.post("/api/v1/members/", {"username": username, "email": email, "role": "agent"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _link(message) -> str:
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def test_the_invitation_leaves_through_the_outbox_after_the_request(api_a_admin, tenant_a):
    member = _invite(api_a_admin)
    assert mail.outbox == []  # nothing is sent inside the request
    with tenant_context(tenant_a):
        event = OutboxEvent.objects.get(type=INVITED)
    # Django normalises the domain of the stored address; the delivery lower-cases the whole of it.
    assert event.payload == {"membership": member["id"], "to": "Dave@acme.test", "username": "dave"}
    report = dispatcher.dispatch()
    assert report.delivered == 1
    [message] = mail.outbox
    assert message.to == ["dave@acme.test"]
    assert message.subject == "You're invited to the Acme Corp helpdesk"
    assert "dave" in message.body and _link(message)
    with tenant_context(tenant_a):
        delivery = Delivery.objects.get(event=event)
    assert (delivery.destination, delivery.status) == ("direct:dave@acme.test", DeliveryStatus.DELIVERED)
    # The link is made when the mail is sent: the stored row holds no usable credential.
    assert _link(message).split("/")[-2] not in str(event.payload)


def test_the_link_sets_a_password_once(client, api_a_admin, tenant_a):
    _invite(api_a_admin)
    dispatcher.dispatch()
    link = _link(mail.outbox[0])
    assert authenticate(username="dave", password=NEW_PASSWORD) is None
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert b"Choose your password" in form_page.content and b"dave" in form_page.content
    weak = client.post(form_page.redirect_chain[-1][0], {"new_password1": "dave", "new_password2": "dave"})
    assert weak.status_code == 200 and b"too short" in weak.content
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert done.redirect_chain[-1][0] == "/invite/done/" and b"Your password is saved" in done.content
    assert authenticate(username="dave", password=NEW_PASSWORD) is not None
    again = client.get(link, follow=True)
    assert b"This link no longer works" in again.content


def test_a_seat_withdrawn_before_delivery_sends_nothing(api_a_admin, tenant_a):
    member = _invite(api_a_admin)
    api_a_admin.delete(f"/api/v1/members/{member['id']}/")
    report = dispatcher.dispatch()
    assert mail.outbox == [] and report.failed == 1
    with tenant_context(tenant_a):
        delivery = Delivery.objects.get(event__type=INVITED)
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == dispatcher.ERR_SETTLED


def test_a_seat_withdrawn_before_the_link_is_used_kills_the_link(client, api_a_admin, tenant_a):
    member = _invite(api_a_admin)
    dispatcher.dispatch()
    api_a_admin.delete(f"/api/v1/members/{member['id']}/")
    page = client.get(_link(mail.outbox[0]), follow=True)
    assert b"This link no longer works" in page.content
    assert authenticate(username="dave", password=NEW_PASSWORD) is None


def test_a_member_added_with_a_password_gets_no_invitation(api_a_admin, tenant_a):
    body = {"username": "dave", "email": "dave@acme.test", "password": NEW_PASSWORD}
    assert api_a_admin.post("/api/v1/members/", body, format="json").status_code == 201
    dispatcher.dispatch()
    assert mail.outbox == []
    with tenant_context(tenant_a):
        assert not OutboxEvent.objects.filter(type=INVITED).exists()
