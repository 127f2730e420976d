"""Full-text search (`?q=`) through `tickets_search_ids`: the tenant's matches only, nothing without a tenant,
and the GIN index serving the match for the app role (row-level security keeps `@@` off the index when the
match runs in the app role's own query; bench/WORKSPACE.md measured 3.4 s on 100,000 tickets)."""

import json

from django.db import connection

from helpdesk import workflows
from helpdesk.tenancy import tenant_context
from tickets import selectors


def _open(tenant, subject, description="Nothing more to say."):
    with tenant_context(tenant):
        return workflows.ticket_open(
            tenant=tenant,
            actor=None,
            subject=subject,
            description=description,
            requester_email="pat@example.test",
            requester_name="Pat",
        )


def _search(tenant, text):
    with tenant_context(tenant):
        return sorted(t.subject for t in selectors.ticket_search(selectors.ticket_list(tenant=tenant), text))


def test_it_finds_the_tenants_own_matches_by_subject_and_description(tenant_a, tenant_b):
    _open(tenant_a, "Gateway timeout on checkout")
    _open(tenant_a, "Printer setup", "The gateway printer jams")
    _open(tenant_a, "Invoice copy")
    _open(tenant_b, "Gateway down for globex")
    assert _search(tenant_a, "gateway") == ["Gateway timeout on checkout", "Printer setup"]
    assert _search(tenant_a, '"gateway timeout"') == ["Gateway timeout on checkout"]
    assert _search(tenant_a, "gateway -printer") == ["Gateway timeout on checkout"]
    assert _search(tenant_b, "gateway") == ["Gateway down for globex"]
    assert _search(tenant_a, "nonexistentword") == []


def test_the_function_returns_nothing_without_a_tenant(tenant_a):
    _open(tenant_a, "Gateway timeout")
    with connection.cursor() as cursor:
        cursor.execute(selectors.SEARCH_IDS, ["gateway", 10])
        assert cursor.fetchall() == []
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute(selectors.SEARCH_IDS, ["gateway", 10])
        assert len(cursor.fetchall()) == 1


def test_the_function_keeps_to_the_transactions_tenant_whatever_the_query(tenant_a, tenant_b):
    secret = _open(tenant_b, "Globex merger plans")
    with tenant_context(tenant_a), connection.cursor() as cursor:
        for text in ("merger", "merger | plans", "globex", "*", "' OR 1=1 --"):
            cursor.execute(selectors.SEARCH_IDS, [text, 10])
            assert secret.pk not in [row[0] for row in cursor.fetchall()]


# The match alone: for the app role, RLS adds the tenant's policy; for the owner nothing is added.
MATCH = "SELECT id FROM tickets_ticket WHERE search_vector @@ websearch_to_tsquery('english'::regconfig, %s)"


def _match_plan(cursor) -> str:
    cursor.execute("EXPLAIN (FORMAT JSON) " + MATCH, ["gateway"])
    return json.dumps(cursor.fetchone()[0])


def test_the_match_is_served_by_the_search_index_only_as_the_functions_owner(tenant_a):
    """Why the match lives in a SECURITY DEFINER function: even with sequential scans off, the app role's plan
    for a match cannot use the search index (RLS keeps the non-LEAKPROOF `@@` out of an index condition);
    the owner's plan, which is how the function runs, does."""
    _open(tenant_a, "Gateway timeout")
    app_role = connection.settings_dict.get("OPTIONS", {}).get("assume_role") or "helpdesk_app"
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        assert '"Index Name": "ticket_search"' not in _match_plan(cursor)
        cursor.execute(
            "SELECT r.rolname FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner "
            "WHERE p.proname = 'tickets_search_ids' AND p.prosecdef"
        )
        owner = cursor.fetchone()[0]
        cursor.execute(f'SET LOCAL ROLE "{owner}"')
        try:
            assert '"Index Name": "ticket_search"' in _match_plan(cursor)
        finally:
            cursor.execute(f'SET LOCAL ROLE "{app_role}"')


def test_a_search_holds_its_newest_matches_up_to_the_cap(tenant_a, settings):
    """A word in 40 % of 100,000 tickets returned 40,000 ids (1.8 s a queue page): the function returns the
    newest matches up to the cap, and one more, so the caller can say there are more."""
    settings.SEARCH_CAP = 10
    opened = [_open(tenant_a, f"Refund request {n}") for n in range(12)]
    _open(tenant_a, "Printer jam")
    with tenant_context(tenant_a):
        ids = selectors.search_ids("refund")
        found = list(selectors.ticket_search(selectors.ticket_list(tenant=tenant_a), "refund").order_by("-id"))
        assert selectors.search_ids("printer") == [opened[-1].pk + 1]
    assert ids == [t.pk for t in reversed(opened)][:11]  # newest first, the cap and one more
    assert [t.pk for t in found] == [t.pk for t in reversed(opened)][:10]  # the search holds the cap


def test_the_api_search_is_capped_like_the_queues(tenant_a, settings):
    from rest_framework.test import APIClient

    from helpdesk.models import Role
    from helpdesk.services import api_token_create

    settings.SEARCH_CAP = 10
    for n in range(12):
        _open(tenant_a, f"Refund request {n}")
    _, key = api_token_create(tenant=tenant_a, role=Role.AGENT, label="search")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = client.get("/api/v1/tickets/", {"q": "refund", "page_size": 50}).json()
    subjects = sorted(int(t["subject"].split()[-1]) for t in body["results"])
    assert subjects == list(range(2, 12))  # the newest ten of twelve
