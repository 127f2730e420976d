"""The demo tenant shows calls: the matrix's call requests scheduled, the oldest held and completed."""

from __future__ import annotations

import io

from django.core.management import call_command

from callnotes.models import ActionItem, Call, KnowledgeEntry
from helpdesk.models import Tenant
from helpdesk.tenancy import tenant_context


def test_the_demo_has_calls_scheduled_and_one_completed_with_notes_and_action_items(db):
    call_command("seed_demo", "--tickets", "120", stdout=io.StringIO())
    with tenant_context(Tenant.objects.get(slug="demo")):
        statuses = list(Call.objects.order_by("created_at").values_list("status", flat=True))
        completed = Call.objects.filter(status="completed").first()
        assert "scheduled" in statuses and completed is not None, statuses
        assert completed.note.values["live"]["issue_confirmation"]
        assert ActionItem.objects.filter(call=completed).count() == 2
        assert KnowledgeEntry.objects.filter(kind="call", call=completed).exists()
        assert KnowledgeEntry.objects.filter(kind="ticket").count() > 50
