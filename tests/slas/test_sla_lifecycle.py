"""SLA timers through the API: back-dated tickets, sweeps, pauses, replies, policy changes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from helpdesk.models import OutboxEvent
from helpdesk.tenancy import tenant_context
from helpdesk.workflows import sweep
from slas.models import SlaTimer
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(tenant_a):
    """Tenant A with the default calendar and policies (what create_tenant installs)."""
    from slas import defaults

    with tenant_context(tenant_a):
        defaults.install(tenant=tenant_a)
    return tenant_a


def _open(api, **extra):
    body = {"subject": "VPN down", "description": "Nobody can connect", "requester": {"email": "p@x.test"}}
    body.update(extra)
    response = api.post("/api/v1/tickets/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _sla(api, ticket_id) -> dict[str, dict]:
    return {t["metric"]: t for t in api.get(f"/api/v1/tickets/{ticket_id}/").json()["sla"]}


def test_it_starts_the_clocks_of_a_new_ticket(api_a, acme):
    ticket = _open(api_a, priority="urgent")
    sla = _sla(api_a, ticket["id"])
    assert set(sla) == {"first_response", "resolution"}
    first = sla["first_response"]
    assert first["target_minutes"] == 30 and first["status"] == "running"
    created = datetime.fromisoformat(ticket["created_at"])
    # Urgent runs on the 24/7 calendar: 30 real minutes.
    assert datetime.fromisoformat(first["due_at"]) == created + timedelta(minutes=30)
    assert datetime.fromisoformat(first["warn_at"]) == created + timedelta(minutes=22)


def test_a_backdated_ticket_is_breached_by_the_next_sweep_at_its_real_deadline(api_a_admin, acme):
    created = timezone.now() - timedelta(hours=3)
    ticket = _open(api_a_admin, priority="urgent", created_at=created.isoformat())
    assert _sla(api_a_admin, ticket["id"])["first_response"]["status"] == "running"
    call_command("sweep")
    first = _sla(api_a_admin, ticket["id"])["first_response"]
    assert first["status"] == "breached"
    assert datetime.fromisoformat(first["breached_at"]) == created.replace(microsecond=created.microsecond) + timedelta(
        minutes=30
    )
    body = api_a_admin.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert body["sla_breached"] is True
    listed = api_a_admin.get("/api/v1/tickets/?sla_breached=true").json()["results"]
    assert [t["id"] for t in listed] == [ticket["id"]]
    with tenant_context(acme):
        kinds = set(TicketEvent.objects.filter(ticket_id=ticket["id"]).values_list("kind", flat=True))
        outbox = list(OutboxEvent.objects.values_list("type", flat=True))
    assert "sla_breached" in kinds
    assert "sla.breached" in outbox


def test_a_sweep_fires_each_breach_exactly_once(api_a_admin, acme):
    created = timezone.now() - timedelta(days=2)
    ticket = _open(api_a_admin, priority="urgent", created_at=created.isoformat())
    first, second = sweep(), sweep()
    assert first.breached == 2 and second.breached == 0 and second.claimed == 0
    with tenant_context(acme):
        assert OutboxEvent.objects.filter(type="sla.breached").count() == 2
        assert TicketEvent.objects.filter(ticket_id=ticket["id"], kind="sla_breached").count() == 2


def test_a_warning_fires_before_the_breach(api_a_admin, acme):
    created = timezone.now() - timedelta(minutes=25)
    ticket = _open(api_a_admin, priority="urgent", created_at=created.isoformat())
    report = sweep()
    assert report.warned == 1 and report.breached == 0
    first = _sla(api_a_admin, ticket["id"])["first_response"]
    assert first["status"] == "running"
    body = api_a_admin.get(f"/api/v1/tickets/{ticket['id']}/").json()
    assert body["sla_at_risk"] is True and body["sla_breached"] is False
    at_risk = api_a_admin.get("/api/v1/tickets/?sla_at_risk=true").json()["results"]
    assert [t["id"] for t in at_risk] == [ticket["id"]]
    # The next threshold (90 % = 27 min) is the next check.
    assert datetime.fromisoformat(first["warn_at"]) == created + timedelta(minutes=27)


def test_an_agent_reply_meets_the_first_response_target(api_a, acme):
    ticket = _open(api_a, priority="urgent")
    api_a.post(f"/api/v1/tickets/{ticket['id']}/messages/", {"body": "On it"}, format="json")
    sla = _sla(api_a, ticket["id"])
    assert sla["first_response"]["status"] == "met" and sla["first_response"]["met_at"]
    assert sla["resolution"]["status"] == "running"


def test_an_internal_note_does_not_meet_the_first_response_target(api_a, acme):
    ticket = _open(api_a, priority="urgent")
    api_a.post(f"/api/v1/tickets/{ticket['id']}/messages/", {"body": "hmm", "internal": True}, format="json")
    assert _sla(api_a, ticket["id"])["first_response"]["status"] == "running"


def test_a_customer_reply_starts_the_next_response_clock(api_a, acme):
    ticket = _open(api_a, priority="urgent")
    url = f"/api/v1/tickets/{ticket['id']}/messages/"
    api_a.post(url, {"body": "On it"}, format="json")
    api_a.post(url, {"body": "Still down", "author_type": "customer"}, format="json")
    api_a.post(url, {"body": "Hello??", "author_type": "customer"}, format="json")
    next_response = _sla(api_a, ticket["id"])["next_response"]
    assert next_response["status"] == "running" and next_response["target_minutes"] == 60
    first_customer = api_a.get(url).json()["results"][1]["created_at"]
    assert next_response["started_at"] == first_customer
    api_a.post(url, {"body": "Fixed on our side"}, format="json")
    assert _sla(api_a, ticket["id"])["next_response"]["status"] == "met"


def test_pending_pauses_the_resolution_clock_and_a_reply_resumes_it(api_a, acme):
    ticket = _open(api_a, priority="urgent")
    tid = ticket["id"]
    before = datetime.fromisoformat(_sla(api_a, tid)["resolution"]["due_at"])
    api_a.patch(f"/api/v1/tickets/{tid}/", {"status": "pending"}, format="json")
    paused = _sla(api_a, tid)["resolution"]
    assert paused["status"] == "paused" and paused["due_at"] is None
    api_a.post(f"/api/v1/tickets/{tid}/messages/", {"body": "here you go", "author_type": "customer"}, format="json")
    resumed = _sla(api_a, tid)["resolution"]
    assert resumed["status"] == "running"
    assert datetime.fromisoformat(resumed["due_at"]) >= before
    kinds = [e["kind"] for e in api_a.get(f"/api/v1/tickets/{tid}/events/").json()["results"]]
    assert "sla_paused" in kinds and "sla_resumed" in kinds


def test_solving_meets_the_clocks_and_reopening_resumes_resolution(api_a, acme):
    ticket = _open(api_a, priority="urgent")
    tid = ticket["id"]
    api_a.patch(f"/api/v1/tickets/{tid}/", {"status": "solved"}, format="json")
    assert {t["status"] for t in _sla(api_a, tid).values()} == {"met"}
    api_a.post(f"/api/v1/tickets/{tid}/reopen/", {"reason": "back again"}, format="json")
    assert _sla(api_a, tid)["resolution"]["status"] == "running"


def test_raising_the_priority_applies_the_stricter_policy(api_a, acme):
    ticket = _open(api_a, priority="normal")
    assert _sla(api_a, ticket["id"])["first_response"]["target_minutes"] == 240
    api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"priority": "urgent"}, format="json")
    first = _sla(api_a, ticket["id"])["first_response"]
    assert first["target_minutes"] == 30
    assert datetime.fromisoformat(first["due_at"]) == datetime.fromisoformat(ticket["created_at"]) + timedelta(
        minutes=30
    )


@pytest.mark.django_db(transaction=True)
def test_editing_a_policy_recalculates_running_clocks(api_a, api_a_manager, acme, celery_eager):
    ticket = _open(api_a, priority="urgent")
    policy = next(p for p in api_a_manager.get("/api/v1/sla-policies/").json()["results"] if p["name"] == "Urgent")
    targets = {**policy["targets"], "first_response": 15}
    response = api_a_manager.patch(f"/api/v1/sla-policies/{policy['id']}/", {"targets": targets}, format="json")
    assert response.status_code == 200
    first = _sla(api_a, ticket["id"])["first_response"]
    assert first["target_minutes"] == 15
    assert datetime.fromisoformat(first["due_at"]) == datetime.fromisoformat(ticket["created_at"]) + timedelta(
        minutes=15
    )
    kinds = [e["kind"] for e in api_a.get(f"/api/v1/tickets/{ticket['id']}/events/").json()["results"]]
    assert "sla_recalculated" in kinds


def test_business_hours_clocks_skip_the_weekend(api_a_admin, acme):
    # Friday 2026-11-20 16:00 UTC (the tenant is UTC): 4 business hours -> Monday 12:00.
    created = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    ticket = _open(api_a_admin, priority="normal", created_at=created.isoformat())
    first = _sla(api_a_admin, ticket["id"])["first_response"]
    assert datetime.fromisoformat(first["due_at"]) == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_timers_stay_inside_their_tenant(api_a, api_b, acme, tenant_b):
    _open(api_a, priority="urgent")
    with tenant_context(tenant_b):
        assert SlaTimer.objects.count() == 0
    assert SlaTimer.unscoped.count() == 0


def test_on_hold_pauses_only_the_clocks_the_policy_names(api_a, acme):
    with tenant_context(acme):
        from slas.models import SLAPolicy

        SLAPolicy.objects.filter(name="Urgent").update(on_hold_pauses=["first_response"])
    ticket = _open(api_a, priority="urgent")
    api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"status": "on_hold"}, format="json")
    sla = _sla(api_a, ticket["id"])
    assert sla["first_response"]["status"] == "paused"
    assert sla["resolution"]["status"] == "running"


def test_a_vip_account_can_run_on_its_own_calendar(api_a_admin, acme):
    from slas.models import BusinessCalendar, SLAPolicy
    from tickets import services as tickets

    with tenant_context(acme):
        account = tickets.account_create(tenant=acme, name="Initech", vip=True)
        tickets.customer_create(actor=None, tenant=acme, email="ceo@initech.test", account=account)
        BusinessCalendar.objects.create(
            tenant=acme,
            name="Initech Tokyo",
            timezone="Asia/Tokyo",
            account=account,
            hours={"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]]},
        )
        SLAPolicy.objects.filter(name="VIP").update(clock_source="account")
    # Monday 2026-11-16 08:00 UTC = 17:00 in Tokyo: one working hour left that day, so a 60-minute
    # first response is due at Tokyo's closing time, 18:00 JST = 09:00 UTC.
    created = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    ticket = _open(api_a_admin, requester={"email": "ceo@initech.test"}, created_at=created.isoformat())
    first = _sla(api_a_admin, ticket["id"])["first_response"]
    assert datetime.fromisoformat(first["due_at"]) == datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_pending_then_solved_then_reopened_does_not_count_the_waiting_time(api_a_admin, acme):
    # All on the 24/7 calendar (urgent), at fixed instants through back-dating and the workflow.
    from helpdesk import workflows
    from tickets.models import Ticket

    created = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ticket = _open(api_a_admin, priority="urgent", created_at=created.isoformat())
    with tenant_context(acme):
        row = Ticket.objects.get(pk=ticket["id"])
        workflows.ticket_change_status(ticket=row, actor=None, status="pending", at=created + timedelta(hours=1))
        workflows.ticket_change_status(ticket=row, actor=None, status="solved", at=created + timedelta(hours=3))
        workflows.ticket_change_status(ticket=row, actor=None, status="open", at=created + timedelta(hours=4))
    resolution = _sla(api_a_admin, ticket["id"])["resolution"]
    # 8 h target; the clock ran 09:00-10:00 only, then waited (pending 2 h, solved 1 h): due 7 h after 13:00.
    assert resolution["status"] == "running"
    assert datetime.fromisoformat(resolution["due_at"]) == created + timedelta(hours=4 + 7)


def test_solving_a_ticket_stops_its_escalation_clocks_too(api_a, acme):
    ticket = _open(api_a, priority="urgent")
    summary = {f: "x" for f in ("problem", "tried", "emotional_state", "desired_outcome", "account_context")}
    escalation = api_a.post(
        f"/api/v1/tickets/{ticket['id']}/escalate/",
        {"kind": "functional", "reason": "r", "target_tier": 2, "summary": summary},
        format="json",
    ).json()
    api_a.patch(f"/api/v1/tickets/{ticket['id']}/", {"status": "solved"}, format="json")
    statuses = {t["status"] for t in api_a.get(f"/api/v1/escalations/{escalation['id']}/").json()["sla"]}
    assert statuses == {"met"}
    later = timezone.now() + timedelta(days=2)
    assert sweep(now=later).escalated == 0


def test_a_policy_whose_target_the_calendar_cannot_meet_is_refused(api_a_manager, acme):
    sparse = api_a_manager.post(
        "/api/v1/calendars/",
        {"name": "Mondays, one minute", "timezone": "UTC", "hours": {"mon": [["09:00", "09:01"]]}},
        format="json",
    )
    assert sparse.status_code == 201, sparse.content
    body = {"name": "Impossible", "calendar": sparse.json()["id"], "targets": {"resolution": 525_600}}
    response = api_a_manager.post("/api/v1/sla-policies/", body, format="json")
    assert response.status_code == 400
    assert "Over 10 years" in response.json()["error"]["fields"]["targets.resolution"][0]
    with tenant_context(acme):
        from slas.models import SLAPolicy

        assert not SLAPolicy.objects.filter(name="Impossible").exists()


def test_a_clock_that_cannot_come_due_runs_without_a_deadline():
    from slas import clock
    from slas.services import schedule

    sparse = clock.Calendar(timezone="UTC", hours={"mon": [("09:00", "09:01")]})
    timer = SlaTimer(started_at=timezone.now(), target_minutes=525_600, pauses=[], warn_percents=[75])
    schedule(timer, sparse)  # returns at once instead of walking ten thousand years of Mondays
    assert (timer.due_at, timer.warn_at, timer.next_check_at) == (None, None, None)


@pytest.mark.django_db(transaction=True)
def test_a_policy_edit_keeps_the_response_time_an_escalation_rule_set(api_a, api_a_manager, acme, celery_eager):
    from slas import services as slas
    from tickets.models import Ticket

    ticket = _open(api_a, priority="urgent")
    with tenant_context(acme):
        row = Ticket.objects.get(pk=ticket["id"])
        timers = slas.escalation_timers_plan(
            ticket=row, metrics=["escalation_acknowledge"], at=row.created_at, overrides={"escalation_acknowledge": 7}
        )
        slas.escalation_timers_save(timers=timers, escalation_id=999)
    policy = next(p for p in api_a_manager.get("/api/v1/sla-policies/").json()["results"] if p["name"] == "Urgent")
    targets = {**policy["targets"], "escalation_acknowledge": 45, "first_response": 15}
    response = api_a_manager.patch(f"/api/v1/sla-policies/{policy['id']}/", {"targets": targets}, format="json")
    assert response.status_code == 200
    with tenant_context(acme):
        ack = SlaTimer.objects.get(ticket_id=ticket["id"], escalation_id=999)
        first = SlaTimer.objects.get(ticket_id=ticket["id"], escalation_id=0, metric="first_response")
    assert (ack.target_minutes, first.target_minutes) == (7, 15)
