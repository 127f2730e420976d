"""The commands: create_tenant installs the default templates (no channels, no webhooks), seed_demo adds
a demo e-mail channel without mailing the seeded history, and `sweep` reports the dispatch."""

import json
from io import StringIO

from django.core.management import call_command

from helpdesk.models import OutboxEvent, Tenant
from helpdesk.notifications import dispatcher, validation
from helpdesk.notifications.defaults import DEFAULT_TEMPLATES
from helpdesk.notifications.models import (
    ChannelKind,
    Delivery,
    NotificationChannel,
    NotificationTemplate,
    WebhookSubscription,
)
from helpdesk.tenancy import tenant_context


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_tenant_installs_the_default_templates_only(db):
    _run("create_tenant", "initech", "--name", "Initech")
    with tenant_context(Tenant.objects.get(slug="initech")):
        templates = set(NotificationTemplate.objects.values_list("event_type", flat=True))
        assert templates == {t["event_type"] for t in DEFAULT_TEMPLATES}
        assert not NotificationChannel.objects.exists() and not WebhookSubscription.objects.exists()


def test_seed_demo_adds_an_email_channel_and_sends_none_of_the_history(db, mailoutbox):
    _run("seed_demo", "--tickets", "12")
    tenant = Tenant.objects.get(slug="demo")
    report = dispatcher.dispatch()
    with tenant_context(tenant):
        [channel] = NotificationChannel.objects.all()
        assert (channel.kind, channel.active) == (ChannelKind.EMAIL, True)
        assert OutboxEvent.objects.exists() and not OutboxEvent.objects.filter(dispatched_at=None).exists()
        assert not Delivery.objects.exists()
    assert report.attempted == 0 and mailoutbox == []
    # The back-dated tickets' clocks caught up while seeding: the first sweep of `make run` finds no
    # breach of the seeded history to mail.
    from helpdesk import workflows

    first = workflows.sweep()
    assert (first.breached, first.escalated) == (0, 0)
    assert mailoutbox == []


def test_the_sweep_command_reports_the_dispatch(db):
    from tests.notifications.helpers import open_ticket

    _run("create_tenant", "initech", "--name", "Initech")
    open_ticket(Tenant.objects.get(slug="initech"))  # one ticket.created event, and no destination for it
    report = json.loads(_run("sweep"))
    assert report["notifications"]["events"] == 1
    assert (report["notifications"]["deliveries"], report["notifications"]["attempted"]) == (0, 0)


def test_the_demo_seeds_only_channels_that_pass_the_url_rules(db):
    """Under production settings (private networks and other ports refused), every seeded channel's
    URL passes its kind's rule, the one the sender applies again before each message."""
    from django.test import override_settings

    from helpdesk.notifications import crypto

    with override_settings(WEBHOOK_ALLOW_PRIVATE_NETWORKS=False, WEBHOOK_ALLOWED_PORTS=[80, 443]):
        _run("seed_demo", "--tickets", "5")
        with tenant_context(Tenant.objects.get(slug="demo")):
            channels = list(NotificationChannel.objects.all())
            assert channels
            for channel in channels:
                url = crypto.decrypt(channel.url_encrypted) if channel.url_encrypted else ""
                assert validation.check_channel_url(channel.kind, url) == url
            assert not WebhookSubscription.objects.exists()
