"""Every metric on a fixed dataset (tests/metrics/dataset.py, which lists the facts), asserted equal to the
values computed by hand below. The period is the local days 2026-10-24..26 in Europe/Berlin, across the end
of summer time; all instants are UTC."""

from __future__ import annotations

import csv
import io

import pytest
from rest_framework.test import APIClient

from helpdesk.models import Role
from helpdesk.services import api_token_create
from helpdesk.tenancy import tenant_context
from metrics import queries
from metrics.models import HealthThreshold
from metrics.period import Query
from slas.models import SlaTimer
from tests.metrics.dataset import NOW, PERIOD, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(db):
    return build()


def _client(tenant, role) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=role, label=f"test {role}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _metrics(dataset, **filters):
    with tenant_context(dataset.tenant):
        query = Query(start_day=PERIOD[0], end_day=PERIOD[1], timezone="Europe/Berlin", filters=filters)
        return queries.escalation_metrics(query, tenant_id=dataset.tenant.pk, now=NOW)


# The hand computation.
#
# Tickets in the period: T1, T2, T3, T4, T5, T6 = 6. T8 (23:30 CEST on the 23rd = 21:30 UTC, before the
# start at 22:00 UTC) and T7 (00:30 CET on the 27th = 23:30 UTC, after the end at 23:00 UTC) are out: an end
# computed with the summer offset (22:00 UTC) would also lose T5 (22:30 UTC).
# Escalated among them: T1, T2, T3, T4 = 4 -> escalation rate 4/6 = 66.7 %.
# Re-escalated (more than one escalation): T2 (E2, E3) -> 1/4 = 25.0 %.
# Time to escalate (creation -> first escalation, wall minutes): T1 30, T2 180 (23:30 -> 02:30 UTC, across
# the change: the local clock face says 01:30 CEST -> 03:30 CET, 120), T3 120, T4 10.
#   sorted 10, 30, 120, 180: p50 = (30 + 120) / 2 = 75.0; p90 at rank 0.9 * 3 = 2.7: 120 + 0.7 * 60 = 162.0.
# First-tier resolution: solved or closed T1, T5; never escalated T5 -> 1/2 = 50.0 %.
# CSAT after the first escalation: T1 2 (11:45 > 08:30), T2 5 -> 3.5 from 2 responses (T5's 1: never escalated).
# SLA compliance of escalated tickets, their own clocks that stopped: T1 first response met (20 of 60 min),
# T1 resolution met (210 of 600), T3 first response breached (90 of 60), T4 first response met (40 of 60);
# T2's and T4's running ones do not count -> 3/4 = 75.0 %.
#
# Escalations in the period: E1, E2, E3, E4, E5 = 5 (E0 at 21:45 UTC on the 23rd and E6 at 23:40 UTC on the
# 26th are out).
# Bounceback: E2 -> 1/5 = 20.0 %. De-escalation: E4 -> 20.0 %.
# Post-escalation resolution (created -> resolved): E1 120, E3 180 -> p50 150.0, p90 120 + 0.9 * 60 = 174.0.
# Handoff (created -> acknowledged): E1 10, E3 20, E4 120, E5 50 (E2 never) -> sorted 10, 20, 50, 120:
#   p50 (20 + 50) / 2 = 35.0; p90 at 2.7: 50 + 0.7 * 70 = 99.0.
#   High/urgent tickets now: T1 (E1 10), T2 (E3 20); T4 was lowered to normal -> p90 10 + 0.9 * 10 = 19.0.
#   Unacknowledged for over 2 h: E2 (02:30 -> returned 05:30, 180 min) = 1; E4's 120 is not over 120.
#   Over 30 min on a high/urgent ticket: E2 (urgent) = 1 (E5 is on a ticket now normal).
#   With the waiting counted (health reads it): high/urgent E1 10, E3 20, E2 180 (never acknowledged, returned
#   after 180) -> sorted 10, 20, 180: p90 at 1.8: 20 + 0.8 * 160 = 148.0.
#   First action (the escalation's first-response clock stopped): E1 120 (at its resolution), E2 180 (at
#   its return), E3 180, E4 180 (at its de-escalation), E5 30 (reply at 09:40) -> p50 180.0, p90 180.0.
# Priority mistranslation: E4 (de-escalated to tier 1, below tier 2 it came from) and E5 (its ticket lowered
#   from high to normal while it is open) -> 2/5 = 40.0 %.
# Repeats within 30 days: E1 (account A + billing, E0 on T8 the day before), E3 ("  EXPIRED CARD " = E1's
#   "Expired card", another ticket), E4 (account A + billing after E1) -> 3/5 = 60.0 %.
# Context loss: E2 returned with "Missing information: ..." -> 1/5 = 20.0 %.
# Escalation to a call: E5 -> 1/5 = 20.0 %. Root cause recorded: resolved E1, E3 both have one -> 100.0 %.
# Escalation clocks: acknowledge (30 min) met by E1 (10), E3 (20); breached by E2 (180 at its return), E4
#   (120), E5 (50) -> 2/5 = 40.0 %; first response (60 min) met by E5 only (30) -> 1/5 = 20.0 %; no
#   manager-response or customer-update targets in the policy -> null.
# By trigger: manual E1, E2, E3, E5 (returned E2: 25.0 %; acks 10, 20, 50: median 20.0); keyword-refund E4
#   (de-escalated: 100.0 %; ack 120.0).
EXPECTED = {
    "period": {"start": "2026-10-24", "end": "2026-10-27", "timezone": "Europe/Berlin"},
    "filters": {},
    "tickets": 6,
    "escalated_tickets": 4,
    "escalations": 5,
    "escalation_rate": 66.7,
    "time_to_escalate": {"p50": 75.0, "p90": 162.0},
    "post_escalation_resolution": {"p50": 150.0, "p90": 174.0},
    "re_escalation_rate": 25.0,
    "bounceback_rate": 20.0,
    "de_escalation_rate": 20.0,
    "handoff_delay": {
        "p50": 35.0,
        "p90": 99.0,
        "over_2h": 1,
        "high_priority_p90": 19.0,
        "high_priority_p90_with_waiting": 148.0,
        "over_30m_high": 1,
        "first_action_p50": 180.0,
        "first_action_p90": 180.0,
    },
    "priority_mistranslation_rate": 40.0,
    "repeat_escalation_rate": 60.0,
    "context_loss_rate": 20.0,
    "sla_compliance_escalated": 75.0,
    "sla_compliance_escalation_clocks": {
        "acknowledge": 40.0,
        "first_response": 20.0,
        "manager_response": None,
        "customer_update": None,
    },
    "post_escalation_csat": 3.5,
    "csat_responses": 2,
    "first_tier_resolution_rate": 50.0,
    "escalation_to_call_rate": 20.0,
    "root_cause_recorded_share": 100.0,
    # Reviews (escalation/reviews.py), opened by the resolutions of E1 (T1 high; repeated after E0) and E3 (T2
    # urgent; T2's second escalation): 2, none done yet -> 0.0 %.
    "reviews": 2,
    "reviews_done_share": 0.0,
    "by_trigger": {
        "manual": {"escalations": 4, "bounceback_rate": 25.0, "de_escalation_rate": 0.0, "acknowledge_p50": 20.0},
        "keyword-refund": {
            "escalations": 1,
            "bounceback_rate": 0.0,
            "de_escalation_rate": 100.0,
            "acknowledge_p50": 120.0,
        },
    },
    # The seeds' ranges (metrics/health.py): 66.7 % escalated is bad (from 35 %); 25 % re-escalated is bad
    # (over 20); bounceback 20 % is warn (over 10, not over 20); high-priority handoff p90 with the waiting
    # counted 148 min is bad (over 120: E2 waited 3 h unacknowledged); mistranslation 40 % bad (over 10);
    # repeats 60 % bad (over 20); context loss 20 % bad (over 10);
    # compliance 75 % bad (under 80); CSAT 3.5 warn (under 4, not under 3); first tier 50 % bad (under 60);
    # time to escalate p50 75 min ok (up to 240); resolution p50 150 min ok; calls 20 % ok (not over 20);
    # root causes 100 % ok.
    "health": {
        "escalation_rate": "bad",
        "time_to_escalate": "ok",
        "post_escalation_resolution": "ok",
        "re_escalation_rate": "bad",
        "bounceback_rate": "warn",
        "handoff_delay": "bad",
        "priority_mistranslation_rate": "bad",
        "repeat_escalation_rate": "bad",
        "context_loss_rate": "bad",
        "sla_compliance_escalated": "bad",
        "post_escalation_csat": "warn",
        "first_tier_resolution_rate": "bad",
        "escalation_to_call_rate": "ok",
        "root_cause_recorded_share": "ok",
        "reviews_done_share": "bad",  # 0 % (under 50)
    },
}


def test_every_metric_equals_the_hand_computation(dataset, django_assert_num_queries):
    query = Query(start_day=PERIOD[0], end_day=PERIOD[1], timezone="Europe/Berlin")
    with tenant_context(dataset.tenant), django_assert_num_queries(4):  # jit, 2 + reviews, whatever the period
        result = queries.escalation_metrics(query, tenant_id=dataset.tenant.pk, now=NOW)
    assert result == EXPECTED


def test_the_stopped_clocks_store_their_business_minutes_and_margin(dataset):
    with tenant_context(dataset.tenant):
        rows = {
            (t.ticket_id, t.escalation_id, t.metric): (t.business_minutes, t.margin_minutes)
            for t in SlaTimer.objects.all()
        }
    t, e = dataset.tickets, dataset.escalations
    assert rows[(t[1].pk, 0, "first_response")] == (20.0, 40.0)  # 08:00 -> 08:20 on 24/7, target 60
    assert rows[(t[1].pk, 0, "resolution")] == (210.0, 390.0)  # 08:00 -> 11:30
    assert rows[(t[3].pk, 0, "first_response")] == (90.0, -30.0)  # late by 30
    # Across the change of time: 02:30 -> 05:30 UTC is 180 business minutes (24/7), not the face's 120.
    assert rows[(t[2].pk, e[2].pk, "escalation_acknowledge")] == (180.0, -150.0)
    assert rows[(t[4].pk, e[5].pk, "escalation_first_response")] == (30.0, 30.0)
    assert rows[(t[2].pk, 0, "first_response")] == (None, None)  # still running


def test_the_filters_narrow_both_cohorts(dataset):
    # Billing tickets: T1, T3 (T8 is out of the period); both escalated -> 100 %; escalations E1, E4.
    billing = _metrics(dataset, category="billing")
    assert (billing["tickets"], billing["escalated_tickets"], billing["escalations"]) == (2, 2, 2)
    assert billing["escalation_rate"] == 100.0
    assert billing["repeat_escalation_rate"] == 100.0  # E1 after E0 (lookback), E4 after E1
    # By trigger: only E4; tickets escalated by it: T3 of 6.
    refund = _metrics(dataset, trigger="keyword-refund")
    assert (refund["tickets"], refund["escalated_tickets"], refund["escalations"]) == (6, 1, 1)
    assert refund["de_escalation_rate"] == 100.0
    urgent = _metrics(dataset, priority="urgent")
    assert (urgent["tickets"], urgent["escalations"], urgent["re_escalation_rate"]) == (1, 2, 100.0)


def test_a_tenants_own_range_changes_the_health(dataset):
    with tenant_context(dataset.tenant):
        HealthThreshold.objects.create(tenant=dataset.tenant, metric="escalation_rate", warn=60, bad=80, low=5)
        query = Query(start_day=PERIOD[0], end_day=PERIOD[1], timezone="Europe/Berlin")
        from metrics import selectors

        result = selectors.escalation_metrics(query, tenant=dataset.tenant, now=NOW)
    assert result["health"]["escalation_rate"] == "warn"  # 66.7: over 60, not over 80


def test_an_empty_period_gives_zeros_and_nulls(dataset):
    with tenant_context(dataset.tenant):
        query = Query(start_day=PERIOD[1].replace(day=30), end_day=PERIOD[1].replace(day=31), timezone="Europe/Berlin")
        result = queries.escalation_metrics(query, tenant_id=dataset.tenant.pk, now=NOW)
        points = queries.series(query, tenant_id=dataset.tenant.pk, interval="day")
        rules = queries.rule_rows(query, tenant_id=dataset.tenant.pk)
    assert (result["tickets"], result["escalations"], result["csat_responses"]) == (0, 0, 0)
    assert result["escalation_rate"] is None and result["time_to_escalate"] == {"p50": None, "p90": None}
    assert result["handoff_delay"]["over_2h"] == 0 and result["handoff_delay"]["p50"] is None
    assert result["by_trigger"] == {}
    assert set(result["health"].values()) == {"ok"}
    assert points == [
        {
            "start": "2026-10-30",
            "tickets": 0,
            "escalated_tickets": 0,
            "escalation_rate": None,
            "escalations": 0,
            "bounceback_rate": None,
            "handoff_p50": None,
        }
    ]
    assert rules == []


def test_the_daily_and_weekly_series_follow_local_days(dataset):
    with tenant_context(dataset.tenant):
        query = Query(start_day=PERIOD[0], end_day=PERIOD[1], timezone="Europe/Berlin")
        days = queries.series(query, tenant_id=dataset.tenant.pk, interval="day")
        weeks = queries.series(query, tenant_id=dataset.tenant.pk, interval="week")
    # Local days: the 24th T1 (E1); the 25th T2 (23:30 UTC on the 24th = 01:30 CEST), T3 (E2, E3, E4);
    # the 26th T4, T5 (22:30 UTC = 23:30 CET), T6 (E5). Handoff medians: 10; (20 + 120) / 2 = 70; 50.
    assert [(p["start"], p["tickets"], p["escalated_tickets"], p["escalations"], p["handoff_p50"]) for p in days] == [
        ("2026-10-24", 1, 1, 1, 10.0),
        ("2026-10-25", 2, 2, 3, 70.0),
        ("2026-10-26", 3, 1, 1, 50.0),
    ]
    assert days[1]["bounceback_rate"] == 33.3  # E2 of E2, E3, E4
    # Weeks start on Monday: the 24th (Sat) and 25th (Sun) are in the week of the 19th, the 26th starts one.
    assert [(p["start"], p["tickets"], p["escalations"]) for p in weeks] == [("2026-10-19", 3, 4), ("2026-10-26", 3, 1)]


def test_the_api_answers_the_same_numbers_and_csv(dataset):
    client = _client(dataset.tenant, Role.MANAGER)
    answer = client.get("/api/v1/metrics/escalations/", {"start": "2026-10-24", "end": "2026-10-27"})
    assert answer.status_code == 200
    body = answer.json()
    # The API's `now` is the real one: only the limbo counts depend on it, and E2 ended long ago.
    assert body == EXPECTED
    exported = client.get("/api/v1/metrics/escalations/", {"start": "2026-10-24", "end": "2026-10-27", "format": "csv"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(exported.content.decode()))}
    assert rows["escalation_rate"] == ["66.7", "bad"]
    assert rows["handoff_delay.p90"] == ["99.0", "bad"]  # the metric's health beside each of its numbers
    assert rows["by_trigger.keyword-refund.escalations"] == ["1", ""]
    series = client.get("/api/v1/metrics/escalations/series/", {"start": "2026-10-24", "end": "2026-10-27"})
    assert [p["tickets"] for p in series.json()["points"]] == [1, 2, 3]
    weekly = client.get(
        "/api/v1/metrics/escalations/series/",
        {"start": "2026-10-24", "end": "2026-10-27", "interval": "week", "format": "csv"},
    )
    lines = list(csv.reader(io.StringIO(weekly.content.decode())))
    assert lines[0][:3] == ["start", "tickets", "escalated_tickets"] and lines[1][:2] == ["2026-10-19", "3"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-10-27", "end": "2026-10-24"}, "end"),
        ({"start": "2026-10-24", "end": "2026-10-24"}, "end"),
        ({"start": "yesterday", "end": "2026-10-24"}, "start"),
        ({"start": "2026-10-24", "end": "2026-13-01"}, "end"),
        ({"start": "2025-10-01", "end": "2026-10-01"}, "end"),  # a year: over the 186-day limit
        ({"start": "2026-10-01", "priority": "sky-high"}, "priority"),
        ({"team": "99999999999999999999999"}, "team"),
        ({"trigger": "a b"}, "trigger"),
        ({"format": "xml"}, "format"),
        ({"stat": "1"}, "stat"),
        ({"start": ""}, "start"),  # a fuzzer's find: an empty start was taken as "the default"
        ({"end": "2026-10-24", "channel": " "}, "channel"),
    ],
)
def test_bad_periods_and_filters_are_a_400_naming_the_field(tenant_a, params, field):
    client = _client(tenant_a, Role.MANAGER)
    answer = client.get("/api/v1/metrics/escalations/", params)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]


def test_an_interval_that_is_no_day_or_week_is_a_400(tenant_a):
    answer = _client(tenant_a, Role.ADMIN).get("/api/v1/metrics/escalations/series/", {"interval": "month"})
    assert answer.status_code == 400 and "interval" in answer.json()["error"]["fields"]


def test_agents_may_not_read_the_metrics(tenant_a):
    client = _client(tenant_a, Role.AGENT)
    for url in ("/api/v1/metrics/escalations/", "/api/v1/metrics/escalations/series/", "/api/v1/metrics/rules/"):
        answer = client.get(url)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "permission_denied"


def test_another_tenant_sees_none_of_the_numbers(dataset, tenant_b):
    period = {"start": "2026-10-24", "end": "2026-10-27"}
    answer = _client(tenant_b, Role.ADMIN).get("/api/v1/metrics/escalations/", period)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["tickets"], body["escalations"], body["by_trigger"]) == (0, 0, {})
