"""The 30-day escalation audit (metrics/audit.py: API JSON and CSV, the admin's page and download) and the share
of post-escalation reviews done, on the fixed dataset of tests/metrics/dataset.py (the facts are listed there).

The audit's rows, by hand (period: local days 2026-10-24..26, Europe/Berlin; E0 and E6 are outside):
    E1  T1 billing, high, account "Acme A"; 08:00 -> 08:30 = 30.0 min; manual (a person: "system" here, the
        dataset's services run without an actor); resolved "New card." / "Expired card". Signals: CSAT 2 at 11:45
        (negative); E4 on T3 of the same account the next day. Not reopened, not escalated again.
    E2  T2 login, urgent, no account; 23:30 -> 02:30 = 180.0 min (across the change of time: wall minutes);
        returned. Signal: E3 on the same ticket at 06:00.
    E3  T2; 23:30 -> 06:00 = 390.0; resolved, root cause "  EXPIRED CARD " as typed. CSAT 5: no signal.
    E4  T3 billing, normal, Acme A; 12:00 -> 14:00 = 120.0; trigger keyword-refund with no rule row (the dataset's
        escalation names no rule), so "system"; de-escalated. No account escalation after it: no signal.
    E5  T4 login, now normal; 09:00 -> 09:10 = 10.0; acknowledged. No signal.
Recurring issue types: login 3 (60.0 %: T2, T4; root cause "EXPIRED CARD" once; trigger manual 3; minutes 10,
180, 390 -> median 180.0; 1 with a signal), billing 2 (40.0 %: T1, T3; "Expired card" once; triggers manual 1
and keyword-refund 1 -> the tie to the first name, keyword-refund; minutes 30, 120 -> 75.0; 1 with a signal):
both at least twice, together 100.0 % of 5.
Reviews: E1 (T1 high, and repeated after E0) and E3 (T2 urgent, its second escalation) -> 2, none done: 0.0 %.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from rest_framework.test import APIClient

from escalation import services as escalations
from escalation.models import Review
from helpdesk import workflows
from helpdesk.models import Role
from helpdesk.services import api_token_create, membership_create, tenant_create
from helpdesk.tenancy import tenant_context
from metrics import audit, queries
from metrics.period import Query
from tests.metrics.dataset import NOW, PERIOD, SUMMARY, build

pytestmark = pytest.mark.django_db

URL = "/api/v1/metrics/escalations/audit/?start=2026-10-24&end=2026-10-27"


@pytest.fixture
def dataset(db):
    return build()


def _api(tenant, role) -> APIClient:
    _, key = api_token_create(tenant=tenant, role=role, label=f"test {role}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _signed_in(tenant, username, role) -> Client:
    membership_create(tenant=tenant, username=username, password=f"pw-{username}-123!", role=role, tier=2)
    client = Client()
    assert client.login(username=username, password=f"pw-{username}-123!")
    return client


def _row(e, t, **values) -> dict:
    base = {
        "escalation": e.pk,
        "ticket": t.pk,
        "subject": t.subject,
        "account": "",
        "escalated_by": "person",
        "escalated_by_name": "system",
        "kind": "functional",
        "resolution": "",
        "root_cause": "",
        "reopened": False,
        "negative_csat": False,
        "escalated_again": False,
        "account_escalated_again": False,
        "signal": False,
    }
    return {**base, **values}


def _expected_rows(dataset) -> list[dict]:
    t, e = dataset.tickets, dataset.escalations
    return [
        _row(
            e[1], t[1], issue_type="billing", priority="high", account="Acme A",
            ticket_created_at="2026-10-24T08:00:00Z", escalated_at="2026-10-24T08:30:00Z",
            minutes_before_escalation=30.0, status="resolved", resolution="New card.", root_cause="Expired card",
            negative_csat=True, account_escalated_again=True, signal=True,
        ),
        _row(
            e[2], t[2], issue_type="login", priority="urgent", ticket_created_at="2026-10-24T23:30:00Z",
            escalated_at="2026-10-25T02:30:00Z", minutes_before_escalation=180.0, status="returned",
            escalated_again=True, signal=True,
        ),
        _row(
            e[3], t[2], issue_type="login", priority="urgent", ticket_created_at="2026-10-24T23:30:00Z",
            escalated_at="2026-10-25T06:00:00Z", minutes_before_escalation=390.0, status="resolved",
            resolution="New card.", root_cause="  EXPIRED CARD ",
        ),
        _row(
            e[4], t[3], issue_type="billing", priority="normal", account="Acme A",
            ticket_created_at="2026-10-25T12:00:00Z", escalated_at="2026-10-25T14:00:00Z",
            minutes_before_escalation=120.0, escalated_by="system", status="de_escalated",
        ),
        _row(
            e[5], t[4], issue_type="login", priority="normal", ticket_created_at="2026-10-26T09:00:00Z",
            escalated_at="2026-10-26T09:10:00Z", minutes_before_escalation=10.0, status="acknowledged",
        ),
    ]  # fmt: skip


EXPECTED_GROUPS = [
    {
        "issue_type": "login",
        "escalations": 3,
        "share": 60.0,
        "tickets": 2,
        "top_root_cause": "EXPIRED CARD",
        "top_root_cause_escalations": 1,
        "top_trigger": "manual",
        "minutes_before_escalation_p50": 180.0,
        "with_signal": 1,
    },
    {
        "issue_type": "billing",
        "escalations": 2,
        "share": 40.0,
        "tickets": 2,
        "top_root_cause": "Expired card",
        "top_root_cause_escalations": 1,
        "top_trigger": "keyword-refund",
        "minutes_before_escalation_p50": 75.0,
        "with_signal": 1,
    },
]


def test_the_audit_lists_each_escalation_with_its_facts_and_the_recurring_issue_types(dataset):
    response = _api(dataset.tenant, Role.MANAGER).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"start": "2026-10-24", "end": "2026-10-27", "timezone": "Europe/Berlin"}
    assert (body["escalations"], body["groups_share"], body["groups"]) == (5, 100.0, EXPECTED_GROUPS)
    assert body["rows"] == _expected_rows(dataset)


def test_the_csv_streams_the_groups_at_the_top_then_the_rows(dataset):
    response = _api(dataset.tenant, Role.ADMIN).get(URL + "&format=csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="escalation-audit-2026-10-24-2026-10-27.csv"'
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[:7] == [
        ["Escalation audit 2026-10-24 to 2026-10-27 (end excluded, Europe/Berlin)"],
        ["5 escalations; the recurring issue types below account for 100.0 %"],
        ["recurring issue types"],
        list(audit.GROUP_COLUMNS),
        ["login", "3", "60.0", "2", "EXPIRED CARD", "1", "manual", "180.0", "1"],
        ["billing", "2", "40.0", "2", "Expired card", "1", "keyword-refund", "75.0", "1"],
        [],
    ]
    assert lines[7] == list(audit.COLUMNS)
    t, e = dataset.tickets, dataset.escalations
    assert lines[8] == [
        str(e[1].pk), str(t[1].pk), "T1 subject", "billing", "high", "Acme A", "2026-10-24T08:00:00Z",
        "2026-10-24T08:30:00Z", "30.0", "person", "system", "functional", "resolved", "New card.", "Expired card",
        "no", "yes", "no", "yes", "yes",
    ]  # fmt: skip
    assert [line[0] for line in lines[8:]] == [str(e[n].pk) for n in (1, 2, 3, 4, 5)]


def test_the_rows_are_read_a_page_at_a_time(dataset, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(audit, "PAGE", 2)  # 5 rows: pages of 2, 2, 1
    query = Query(start_day=PERIOD[0], end_day=PERIOD[1], timezone="Europe/Berlin")
    # Per page: its read in a tenant context of its own (savepoint, SET LOCAL tenant and jit, restore, release).
    with django_assert_max_num_queries(3 * 6):
        rows = list(audit.audit_rows(query, tenant=dataset.tenant))
    assert rows == _expected_rows(dataset)  # E1's follower on the account (E4) is on the next page: still seen


def test_the_filters_narrow_the_audit(dataset):
    body = _api(dataset.tenant, Role.MANAGER).get(URL + "&category=billing").json()
    assert [r["escalation"] for r in body["rows"]] == [dataset.escalations[1].pk, dataset.escalations[4].pk]
    assert body["groups"] == [{**EXPECTED_GROUPS[1], "share": 100.0}]


def test_cells_that_a_spreadsheet_would_run_are_written_as_text(db):
    tenant = tenant_create(slug="evil", name="Evil", timezone="UTC")
    with tenant_context(tenant):
        ticket = workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject='=HYPERLINK("http://x.test","click")',
            description="Hi.",
            requester_email="e@x.test",
            category="-cmd",
            created_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
        )
        escalation = escalations.escalation_create(
            ticket=ticket, actor=None, kind="functional", trigger="manual", summary_fields=SUMMARY, target_tier=2,
            at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        )  # fmt: skip
        escalations.escalation_resolve(
            escalation=escalation, actor=None, resolution="+1 the refund", root_cause="@SUM(A1)",
            at=datetime(2026, 11, 2, 10, tzinfo=UTC),
        )  # fmt: skip
    response = _api(tenant, Role.MANAGER).get(
        "/api/v1/metrics/escalations/audit/?start=2026-11-01&end=2026-11-03&format=csv"
    )
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[3:5] == [list(audit.GROUP_COLUMNS), []]  # one escalation: no recurring issue type
    row = dict(zip(lines[5], lines[6], strict=True))
    assert (row["subject"], row["issue_type"], row["resolution"], row["root_cause"]) == (
        '\'=HYPERLINK("http://x.test","click")',
        "'-cmd",
        "'+1 the refund",
        "'@SUM(A1)",
    )
    assert row["minutes_before_escalation"] == "30.0"
    assert audit.safe_cell(-5) == -5 and audit.safe_cell("a=b") == "a=b" and audit.safe_cell(None) == ""


def _escalated(tenant, category: str, hour: int) -> None:
    with tenant_context(tenant):
        ticket = workflows.ticket_open(
            tenant=tenant, actor=None, subject=f"About {category or 'something'}", description="Hi.",
            requester_email=f"r{hour}@x.test", category=category, created_at=datetime(2026, 11, 2, hour, tzinfo=UTC),
        )  # fmt: skip
        escalations.escalation_create(
            ticket=ticket, actor=None, kind="functional", trigger="manual", summary_fields=SUMMARY, target_tier=2,
            at=datetime(2026, 11, 2, hour, 30, tzinfo=UTC),
        )  # fmt: skip


def test_uncategorised_escalations_are_counted_apart_and_never_ranked_as_an_issue_type(db):
    # A tester saw "uncategorised" ranked first among the recurring issue types: no category is no issue type.
    tenant = tenant_create(slug="plain", name="Plain", timezone="UTC")
    for hour, category in enumerate(["", "", "", "billing", "billing", "login"], start=8):
        _escalated(tenant, category, hour)
    api = _api(tenant, Role.MANAGER)
    url = "/api/v1/metrics/escalations/audit/?start=2026-11-01&end=2026-11-03"

    body = api.get(url).json()

    assert body["escalations"] == 6
    assert [group["issue_type"] for group in body["groups"]] == ["billing"]
    assert body["groups_share"] == 33.3
    assert {k: body["uncategorised"][k] for k in ("issue_type", "escalations", "share", "tickets", "with_signal")} == {
        "issue_type": "uncategorised", "escalations": 3, "share": 50.0, "tickets": 3, "with_signal": 0,
    }  # fmt: skip
    assert [row["issue_type"] for row in body["rows"]].count("uncategorised") == 3
    lines = list(csv.reader(io.StringIO(b"".join(api.get(url + "&format=csv").streaming_content).decode())))
    assert lines[2:8] == [
        ["recurring issue types"],
        list(audit.GROUP_COLUMNS),
        ["billing", "2", "33.3", "2", "", "0", "manual", "30.0", "0"],
        ["not ranked: escalations of tickets without a category"],
        ["uncategorised", "3", "50.0", "3", "", "0", "manual", "30.0", "0"],
        [],
    ]
    manager = _signed_in(tenant, "maya", Role.MANAGER)
    html = manager.get("/admin/metrics/escalationaudit/?start=2026-11-01&end=2026-11-03").content.decode()
    assert ">uncategorised</td><td>" not in html.split("<h2>Escalations</h2>")[0]
    assert "Not ranked: 3 escalations (50.0 %) of tickets without a category" in html


def test_agents_get_403_and_another_tenant_sees_only_its_own(dataset, tenant_b):
    agent = _api(dataset.tenant, Role.AGENT).get(URL + "&format=csv")
    assert agent.status_code == 403
    theirs = _api(tenant_b, Role.ADMIN).get(URL).json()
    assert (theirs["escalations"], theirs["groups"], theirs["rows"], theirs["uncategorised"]) == (0, [], [], None)


def test_bad_parameters_are_400s_naming_them(dataset):
    client = _api(dataset.tenant, Role.MANAGER)
    assert "format" in client.get(URL + "&format=xlsx").json()["error"]["fields"]
    assert (
        "end"
        in client.get("/api/v1/metrics/escalations/audit/?start=2026-10-27&end=2026-10-24").json()["error"]["fields"]
    )
    assert "stauts" in client.get(URL + "&stauts=1").json()["error"]["fields"]


def test_the_admin_shows_the_audit_and_downloads_its_csv(dataset):
    manager = _signed_in(dataset.tenant, "maya", Role.MANAGER)
    page = manager.get("/admin/metrics/escalationaudit/?start=2026-10-24&end=2026-10-27")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<td class="free">login</td><td>3</td><td>60.0 %</td>' in html
    assert 'href="?start=2026-10-24&amp;end=2026-10-27&amp;format=csv">Download CSV</a>' in html
    assert len(re.findall(r'href="/admin/escalation/escalation/\d+/change/"', html)) == 5
    download = manager.get("/admin/metrics/escalationaudit/?start=2026-10-24&end=2026-10-27&format=csv")
    assert download.status_code == 200 and download["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(download.streaming_content).decode()
    assert body.splitlines()[4] == "login,3,60.0,2,EXPIRED CARD,1,manual,180.0,1"
    bad = manager.get("/admin/metrics/escalationaudit/?start=2026-10-27&end=2026-10-24&format=csv")
    assert bad.status_code == 400 and "end: Must be after start" in bad.content.decode()


def test_the_admin_audit_is_closed_to_agents_and_shows_another_tenant_nothing(dataset, tenant_b):
    agent = _signed_in(dataset.tenant, "al", Role.AGENT)
    refused = agent.get("/admin/metrics/escalationaudit/?start=2026-10-24&end=2026-10-27&format=csv", follow=True)
    assert refused.status_code == 403 and b"T1 subject" not in refused.content
    other = _signed_in(tenant_b, "gus", Role.MANAGER)
    html = other.get("/admin/metrics/escalationaudit/?start=2026-10-24&end=2026-10-27").content.decode()
    assert "No escalations in the period." in html and "T1 subject" not in html


# --- the share of reviews done ---------------------------------------------------------------------------


def _metrics(dataset, **filters) -> dict:
    with tenant_context(dataset.tenant):
        query = Query(start_day=PERIOD[0], end_day=PERIOD[1], timezone="Europe/Berlin", filters=filters)
        return queries.escalation_metrics(query, tenant_id=dataset.tenant.pk, now=NOW)


def test_the_share_of_reviews_done_follows_the_reviews(dataset):
    with tenant_context(dataset.tenant):
        reviewed = sorted(Review.objects.values_list("escalation_id", flat=True))
        assert reviewed == [dataset.escalations[1].pk, dataset.escalations[3].pk]
        first = Review.objects.get(escalation=dataset.escalations[1])
        workflows.review_update(review=first, actor=None, status="done", what_worked="Fast.", what_failed="Late ack.")
    result = _metrics(dataset)
    assert (result["reviews"], result["reviews_done_share"], result["health"]["reviews_done_share"]) == (
        2,
        50.0,
        "warn",  # 50 is not under 50 (bad), but under 80
    )
    billing = _metrics(dataset, category="billing")  # E1 only
    assert (billing["reviews"], billing["reviews_done_share"], billing["health"]["reviews_done_share"]) == (
        1,
        100.0,
        "ok",
    )
    assert _metrics(dataset, priority="low")["reviews_done_share"] is None


def test_the_api_and_the_dashboard_show_the_share(dataset):
    body = _api(dataset.tenant, Role.MANAGER).get("/api/v1/metrics/escalations/?start=2026-10-24&end=2026-10-27")
    assert body.json()["reviews_done_share"] == 0.0
    html = _signed_in(dataset.tenant, "maya", Role.MANAGER).get("/dashboard/?start=2026-10-24&end=2026-10-27")
    text = html.content.decode()
    assert '<h2 id="tile-reviews_done_share">Reviews done share</h2>' in text
    start = text.index('<h2 id="tile-reviews_done_share">')
    region = text[text.rfind("<section", 0, start) : text.index("</section>", start)]
    assert '<p class="tile-value">0 %</p>' in region and "Health: </span>bad</p>" in region
    assert "of 2 post-escalation reviews" in region


def test_a_category_named_uncategorised_is_an_issue_type_like_any_other(db):
    # A review found it: the groups were told apart by their label, so a tenant's own category "uncategorised"
    # was merged with the tickets that have none and never ranked.
    tenant = tenant_create(slug="named", name="Named", timezone="UTC")
    for hour, category in enumerate(["uncategorised", "uncategorised", "uncategorised", ""], start=8):
        _escalated(tenant, category, hour)
    body = _api(tenant, Role.MANAGER).get("/api/v1/metrics/escalations/audit/?start=2026-11-01&end=2026-11-03").json()
    assert [(group["issue_type"], group["escalations"]) for group in body["groups"]] == [("uncategorised", 3)]
    assert body["uncategorised"]["escalations"] == 1 and body["groups_share"] == 75.0
