"""Two first tickets from one new address at the same moment, on two real connections, end with one
customer: the second INSERT waits for the first, meets the conflict and returns the first one's row."""

import threading
import time

import pytest
from django.db import connection, transaction

from helpdesk.tenancy import tenant_context
from tickets import services
from tickets.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)


def _someone_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def test_two_first_tickets_from_one_new_address_make_one_customer(tenant_a):
    first_inserted, second_started = threading.Event(), threading.Event()
    results: dict = {}

    def first():
        try:
            with tenant_context(tenant_a):
                results["first"] = services.customer_find_or_create(tenant=tenant_a, email="New@Example.test", name="A")
                first_inserted.set()
                second_started.wait(timeout=30)
                deadline = time.monotonic() + 10
                while not _someone_waits_on_a_lock() and time.monotonic() < deadline:
                    time.sleep(0.05)  # commit only once the other INSERT waits on this one's row
        finally:
            connection.close()

    def second():
        try:
            first_inserted.wait(timeout=30)
            second_started.set()
            with tenant_context(tenant_a):
                results["second"] = services.customer_find_or_create(tenant=tenant_a, email="new@example.test")
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results["second"].pk == results["first"].pk
    assert results["second"].name == "A"
    with tenant_context(tenant_a), transaction.atomic():
        assert list(Customer.objects.values_list("email", "name")) == [("new@example.test", "A")]


def test_a_new_address_becomes_a_customer_and_a_known_one_gets_its_missing_name(tenant_a):
    with tenant_context(tenant_a):
        created = services.customer_find_or_create(tenant=tenant_a, email="Pat@Example.test")
        named = services.customer_find_or_create(tenant=tenant_a, email="pat@example.test", name="Pat")
        kept = services.customer_find_or_create(tenant=tenant_a, email="PAT@example.test", name="Someone else")
        stored = Customer.objects.get()
    assert created.pk == named.pk == kept.pk == stored.pk
    assert (stored.email, stored.name) == ("pat@example.test", "Pat")
    assert created.created_at == stored.created_at
