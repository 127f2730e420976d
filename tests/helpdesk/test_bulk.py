"""helpdesk.bulk: the rows the set-based writers build and write."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.postgres.fields import ArrayField
from django.db.models import JSONField
from django.utils import timezone

from escalation.models import Escalation, EscalationRule
from helpdesk import bulk
from helpdesk.models import Membership, Team, Tenant
from helpdesk.tenancy import tenant_context
from slas.models import BusinessCalendar, SLAPolicy, SlaTimer
from tickets.models import Ticket, TicketEvent

AT = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)


def _built(obj):
    """Everything an instance carries: its field values, the related objects cached on it, its state."""
    values = {name: value for name, value in vars(obj).items() if name != "_state"}
    related = {name: (value, value and value._state.db) for name, value in obj._state.fields_cache.items()}
    return values, related, obj._state.adding, obj._state.db


def _cast():
    tenant = Tenant(pk=7, slug="acme")
    ticket = Ticket(pk=11, tenant=tenant, tier=1, subject="Printer")
    return {
        "tenant": tenant,
        "ticket": ticket,
        "rule": EscalationRule(pk=3, tenant=tenant, slug="breach"),
        "team": Team(pk=5, tenant=tenant, name="Billing"),
        "agent": Membership(pk=9, tenant=tenant),
        "calendar": BusinessCalendar(pk=2, tenant=tenant, name="24/7"),
        "policy": SLAPolicy(pk=4, tenant=tenant, name="Urgent"),
    }


def _escalation_values(cast, *, agent=True):
    return dict(
        tenant_id=cast["tenant"].pk, ticket=cast["ticket"], kind="hierarchical", trigger="breach", rule=cast["rule"],
        reason="breached", cycle=0, level=1, from_tier=1, to_tier=3, from_agent_id=None, team=cast["team"],
        agent=cast["agent"] if agent else None, requested_by=None, requested_by_label="system",
        summary={"problem": "printer"}, summary_drafted=True, to_call=False, fallback_reason="",
        customer_updater_id=None, overseer_id=None, created_at=AT,
    )  # fmt: skip


def _timer_values(cast):
    return dict(
        tenant_id=cast["tenant"].pk, ticket=cast["ticket"], escalation_id=0, policy=cast["policy"],
        calendar=cast["calendar"], metric="escalation_acknowledge", target_minutes=30, started_at=AT,
        warn_percents=[75], status="running",
    )  # fmt: skip


def _event_values(cast):
    return dict(
        tenant_id=cast["tenant"].pk, ticket_id=cast["ticket"].pk, kind="escalated", actor=None, actor_label="system",
        before={"tier": 1}, after={"tier": 3}, created_at=AT,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Escalation, _escalation_values),
        (Escalation, lambda cast: _escalation_values(cast, agent=False)),
        (SlaTimer, _timer_values),
        (TicketEvent, _event_values),
    ],
)
def test_it_builds_the_instance_the_model_constructor_builds(model, values):
    # Each from its own objects: the descriptor also stamps the related objects' database.
    assert _built(bulk.new(model, **values(_cast()))) == _built(model(**values(_cast())))


def test_it_gives_each_row_its_own_callable_default():
    cast = _cast()
    first, second = bulk.new(SlaTimer, **_timer_values(cast)), bulk.new(SlaTimer, **_timer_values(cast))
    first.pauses.append(["2026-12-06T17:00:00+00:00", "2026-12-06T18:00:00+00:00"])
    assert second.pauses == [] and first.pauses is not second.pauses


def test_it_refuses_a_related_object_of_another_model_as_the_constructor_does():
    cast = _cast()
    values = {**_escalation_values(cast), "team": cast["calendar"]}
    error = re.escape('"Escalation.team" must be a "Team" instance')
    with pytest.raises(ValueError, match=error):
        Escalation(**values)
    with pytest.raises(ValueError, match=error):
        bulk.new(Escalation, **values)


def test_it_refuses_a_name_that_is_not_a_concrete_field():
    with pytest.raises(TypeError, match="no field 'pk'"):
        bulk.new(TicketEvent, pk=1, kind="escalated")


def test_it_reads_plain_columns_straight_from_the_instance():
    """A review's rename had given the model check (`_plain(model)`) the name of the column check, so every column
    went through the field API again (~1,000,000 calls in the full storm). Plain ones are read as they are."""
    plain = {f.name for f in Escalation._meta.concrete_fields if bulk._stored_as_is(f)}
    assert {"id", "tenant", "ticket", "kind", "reason", "cycle", "to_tier", "agent", "to_call"} <= plain
    assert not plain & {"summary", "created_at", "acknowledged_at"}  # JSON, datetimes


@pytest.mark.parametrize(("model", "values"), [(Escalation, _escalation_values), (SlaTimer, _timer_values)])
def test_it_passes_each_column_as_save_would_store_it(model, values):
    from django.db import connection

    """Every column but JSON and arrays (they travel as JSON text: tests/escalation/test_batch.py reads them back)
    and the ones stamped with the time of the call (auto_now)."""
    obj = bulk.new(model, **values(_cast()))
    for field in model._meta.concrete_fields:
        stamped = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        if stamped or isinstance(field, JSONField | ArrayField):
            continue
        stored = field.get_db_prep_save(field.pre_save(obj, True), connection)
        assert bulk._values(field, [obj], add=True) == [stored], field.name


@pytest.mark.parametrize(
    "value",
    [[], [75, 90], [0, -3, 10**20], [True, 1], [1.0, 2], ["75"], [[1]], {}, {"tier": 1}, {"at": AT}, "x", 5, None],
)
def test_it_writes_json_as_the_encoder_writes_it(value):
    """The shortcuts (lists of integers, an empty dict) write the text DjangoJSONEncoder writes."""
    from django.core.serializers.json import DjangoJSONEncoder

    for field in (SlaTimer._meta.get_field("warn_percents"), TicketEvent._meta.get_field("after")):
        expected = None if value is None else DjangoJSONEncoder().encode(value)
        assert bulk._json_texts(field, [value]) == [expected]


def test_it_fills_auto_now_columns_as_save_does(db):
    """created_at (auto_now_add) and updated_at (auto_now) of a clock inserted in bulk: stamped on the way in."""
    from helpdesk import workflows

    tenant_a = workflows.tenant_bootstrap(slug="acme", name="Acme")
    with tenant_context(tenant_a):
        ticket = workflows.ticket_open(
            tenant=tenant_a, actor=None, subject="Printer", description="How do I add a printer?", priority="urgent",
            requester_email="c@example.test",
        )  # fmt: skip
        template = SlaTimer.objects.filter(ticket=ticket).first()
        before = timezone.now()
        timer = bulk.new(
            SlaTimer, tenant_id=tenant_a.pk, ticket=ticket, escalation_id=0, policy_id=template.policy_id,
            calendar_id=template.calendar_id, metric="escalation_acknowledge", target_minutes=30, started_at=AT,
            due_at=AT + timedelta(minutes=30), next_check_at=AT + timedelta(minutes=30),
        )  # fmt: skip
        bulk.insert_rows(SlaTimer, [timer])
        stored = SlaTimer.objects.get(ticket=ticket, metric="escalation_acknowledge")
    assert before <= stored.created_at <= timezone.now() and stored.updated_at >= stored.created_at
    assert (stored.due_at, stored.started_at, stored.target_minutes) == (AT + timedelta(minutes=30), AT, 30)


def test_it_calls_the_constructor_when_someone_listens_to_instances_being_built():
    from django.db.models.signals import post_init

    built = []

    def listener(sender, instance, **kwargs):
        built.append(instance)

    post_init.connect(listener, sender=TicketEvent)
    try:
        event = bulk.new(TicketEvent, tenant_id=7, ticket_id=11, kind="escalated", created_at=AT)
    finally:
        post_init.disconnect(listener, sender=TicketEvent)
    assert built == [event]


def test_it_calls_the_constructor_of_a_model_that_has_its_own(monkeypatch):
    """A review's find: a model that defines __init__ (change tracking, say) would have been built without it."""
    from django.db.models import Model

    calls = []

    def own_init(self, *args, **kwargs):
        calls.append(kwargs)
        Model.__init__(self, *args, **kwargs)

    monkeypatch.setattr(TicketEvent, "__init__", own_init)
    bulk._blank.cache_clear()
    try:
        event = bulk.new(TicketEvent, tenant_id=7, ticket_id=11, kind="escalated", created_at=AT)
    finally:
        monkeypatch.undo()
        bulk._blank.cache_clear()
    assert calls == [{"tenant_id": 7, "ticket_id": 11, "kind": "escalated", "created_at": AT}]
    assert (event.tenant_id, event.ticket_id, event.kind) == (7, 11, "escalated")
