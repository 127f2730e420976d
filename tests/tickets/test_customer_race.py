"""Two first tickets from one new address at the same moment, on two real connections, end with one
customer: the second INSERT waits for the first, meets the conflict and takes the first one's row."""

import threading
import time

import pytest
from django.db import connection, transaction

from helpdesk.tenancy import tenant_context
from tickets import services
from tickets.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)

# A session of this database waiting for another transaction to end: the second INSERT on the first's row.
WAITING_INSERT = """
SELECT count(*) FROM pg_locks
WHERE NOT granted AND locktype = 'transactionid'
  AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())
"""


def _someone_waits_on_our_row() -> bool:
    with connection.cursor() as cursor:
        # Inside a transaction the statistics views are a snapshot taken once: clear it to see the present.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(WAITING_INSERT)
        return cursor.fetchone()[0] > 0


def _race(tenant, first_name: str, second_name: str) -> dict:
    """The first request inserts the address and holds its transaction open until the second one's INSERT
    waits on it, then commits. Returns both results and whether the wait was seen."""
    first_inserted, second_started = threading.Event(), threading.Event()
    results: dict = {}

    def first():
        try:
            with tenant_context(tenant):
                results["first"] = services.customer_find_or_create(
                    tenant=tenant, email="New@Example.test", name=first_name
                )
                first_inserted.set()
                second_started.wait(timeout=30)
                deadline = time.monotonic() + 20
                while not (seen := _someone_waits_on_our_row()) and time.monotonic() < deadline:
                    time.sleep(0.02)
                results["wait_seen"] = seen
        finally:
            connection.close()

    def second():
        try:
            first_inserted.wait(timeout=30)
            second_started.set()
            with tenant_context(tenant):
                results["second"] = services.customer_find_or_create(
                    tenant=tenant, email="new@example.test", name=second_name
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_first_tickets_from_one_new_address_make_one_customer(tenant_a):
    results = _race(tenant_a, first_name="A", second_name="")
    assert results["wait_seen"] is True  # the second INSERT really met the first one's uncommitted row
    assert results["second"].pk == results["first"].pk
    assert results["second"].name == "A"
    with tenant_context(tenant_a), transaction.atomic():
        assert list(Customer.objects.values_list("email", "name")) == [("new@example.test", "A")]


def test_the_losing_request_still_fills_a_missing_name(tenant_a):
    results = _race(tenant_a, first_name="", second_name="B")
    assert results["wait_seen"] is True
    assert (results["second"].pk, results["second"].name) == (results["first"].pk, "B")
    with tenant_context(tenant_a), transaction.atomic():
        assert list(Customer.objects.values_list("email", "name")) == [("new@example.test", "B")]


def test_a_new_address_becomes_a_customer_and_a_known_one_gets_its_missing_name(tenant_a):
    with tenant_context(tenant_a):
        created = services.customer_find_or_create(tenant=tenant_a, email="Pat@Example.test")
        named = services.customer_find_or_create(tenant=tenant_a, email="pat@example.test", name="Pat")
        kept = services.customer_find_or_create(tenant=tenant_a, email="PAT@example.test", name="Someone else")
        stored = Customer.objects.get()
    assert created.pk == named.pk == kept.pk == stored.pk
    assert (stored.email, stored.name) == ("pat@example.test", "Pat")
    assert created.created_at == stored.created_at
