"""The e-mail pages of the tenant admin (admins only): the sender and its webhook secret (stored hashed), inbound
addresses and mailboxes (password stored encrypted, never shown) through the one validation; mail records read
only. Another tenant's rows answer 404; managers and agents see none of it."""

from __future__ import annotations

import pytest
from django.test import Client

from helpdesk.models import Role
from helpdesk.notifications import crypto
from helpdesk.services import membership_create
from helpdesk.tenancy import tenant_context
from mail.models import InboundAddress, Mailbox, MailRecord, MailSetup
from mail.secrets import secret_hash
from tests.mail import corpus
from tests.mail.conftest import client_for, post_mail

pytestmark = pytest.mark.django_db
ADMIN = "/admin/mail/"


def _login(tenant, username: str, role: str) -> Client:
    membership_create(
        tenant=tenant, username=username, email=f"{username}@x.test", password="pw-123-long!", role=role, tier=2
    )
    client = Client()
    assert client.login(username=username, password="pw-123-long!")
    return client


@pytest.fixture
def admin_a(tenant_a):
    return _login(tenant_a, "ada", Role.ADMIN)


def test_an_admin_adds_a_mailbox_whose_password_is_encrypted_and_never_shown(tenant_a, tenant_b, admin_a):
    with tenant_context(tenant_a):
        support = InboundAddress.objects.get(address="support@acme.test")
    with tenant_context(tenant_b):
        foreign = InboundAddress.objects.get(address="help@globex.test")
    form = {
        "name": "Support inbox",
        "host": "imap.acme.test",
        "port": "993",
        "use_ssl": "on",
        "username": "support",
        "password": "imap-secret-42",
        "folder": "INBOX",
        "address": str(foreign.pk),
        "active": "on",
    }
    refused = admin_a.post(f"{ADMIN}mailbox/add/", form)
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    response = admin_a.post(f"{ADMIN}mailbox/add/", form | {"address": str(support.pk)})
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_context(tenant_a):
        box = Mailbox.objects.get(name="Support inbox")
    assert crypto.decrypt(box.password_encrypted) == "imap-secret-42" and box.address_id == support.pk
    page = admin_a.get(f"{ADMIN}mailbox/{box.pk}/change/").content.decode()
    assert "imap-secret-42" not in page and box.password_encrypted not in page
    bad = admin_a.post(f"{ADMIN}mailbox/add/", form | {"name": "Bad", "host": "imap://x/", "address": ""})
    assert bad.status_code == 200 and "A host name, without a scheme or a path." in bad.content.decode()


def test_an_inbound_address_is_checked_by_the_one_validation(tenant_a, admin_a):
    response = admin_a.post(f"{ADMIN}inboundaddress/add/", {"address": "legal+x@acme.test", "category": "legal"})
    assert response.status_code == 200 and "can&#x27;t contain &#x27;+&#x27;" in response.content.decode()
    response = admin_a.post(
        f"{ADMIN}inboundaddress/add/", {"address": "Legal@Acme.test", "category": "legal", "active": "on"}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert InboundAddress.objects.get(category="legal").address == "legal@acme.test"


def test_the_webhook_secret_is_stored_as_a_hash_and_kept_when_left_empty(tenant_a, admin_a):
    with tenant_context(tenant_a):
        setup = MailSetup.objects.get()
    form = {
        "from_address": "help@acme.test",
        "from_name": "Acme Help",
        "closed_reply": "reopen",
        "sender_limit_per_hour": "50",
        "webhook_secret": "",
    }
    assert admin_a.post(f"{ADMIN}mailsetup/{setup.pk}/change/", form).status_code == 302
    with tenant_context(tenant_a):
        kept = MailSetup.objects.get()
    assert (kept.from_address, kept.closed_reply) == ("help@acme.test", "reopen")
    assert kept.webhook_secret_hash == setup.webhook_secret_hash  # left empty: kept
    form["webhook_secret"] = "new-user:new-password"
    assert admin_a.post(f"{ADMIN}mailsetup/{setup.pk}/change/", form).status_code == 302
    with tenant_context(tenant_a):
        assert MailSetup.objects.get().webhook_secret_hash == secret_hash("new-user:new-password")


def test_mail_records_are_read_only_and_another_tenants_are_404(tenant_a, tenant_b, admin_a):
    post_mail(client_for(tenant_b), corpus.plain("theirs", to="help@globex.test"))
    post_mail(client_for(tenant_a), corpus.plain("original-body-7731"))
    with tenant_context(tenant_b):
        theirs = MailRecord.objects.get()
        their_box = Mailbox(tenant=tenant_b, name="B", host="imap.globex.test", username="b", password_encrypted="x")
        their_box.save()
    with tenant_context(tenant_a):
        ours = MailRecord.objects.get()
    assert admin_a.get(f"{ADMIN}mailrecord/{theirs.pk}/change/").status_code == 404
    assert admin_a.get(f"{ADMIN}mailbox/{their_box.pk}/change/").status_code == 404
    listing = admin_a.get(f"{ADMIN}mailrecord/").content.decode()
    assert "Invoice question" in listing and "help@globex.test" not in listing
    assert admin_a.get(f"{ADMIN}mailrecord/add/").status_code == 403
    page = admin_a.get(f"{ADMIN}mailrecord/{ours.pk}/change/").content.decode()
    assert "jane@customer.test" in page and "original-body-7731" not in page  # the original is not shown
    assert admin_a.get(f"{ADMIN}mailrecord/?raw__startswith=Fr").status_code == 400


@pytest.mark.parametrize("role", [Role.MANAGER, Role.AGENT])
def test_below_admin_sees_no_mail_admin(tenant_a, role):
    client = _login(tenant_a, f"user-{role}", role)
    for page in ("mailsetup/", "inboundaddress/", "mailbox/", "mailrecord/"):
        assert client.get(ADMIN + page).status_code in (302, 403)
