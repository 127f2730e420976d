"""Tenancy enforced twice: the manager refuses to run without a tenant, and PostgreSQL's row-level
security hides every tenant's rows from a query that forgot it."""

import re

import pytest
from django.apps import apps
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone

from helpdesk.models import Team, Tenant
from helpdesk.rls import POLICY_NAME
from helpdesk.services import team_create
from helpdesk.tenancy import TenantModel, TenantNotSet, tenant_context


def _count_raw(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


@pytest.fixture
def two_teams(tenant_a, tenant_b):
    return team_create(tenant=tenant_a, name="Billing A"), team_create(tenant=tenant_b, name="Billing B")


def test_it_runs_queries_as_a_role_that_rls_applies_to(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        user, is_super, bypasses = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user")
        owned = cursor.fetchone()[0]
    assert user == "helpdesk_app"
    assert not is_super and not bypasses
    assert owned == 0


def test_it_returns_no_rows_to_an_unscoped_query(two_teams):
    assert Team.unscoped.count() == 0
    assert _count_raw("helpdesk_team") == 0


def test_it_refuses_a_scoped_query_without_a_tenant(two_teams):
    with pytest.raises(TenantNotSet):
        list(Team.objects.all())


def test_it_shows_only_the_active_tenants_rows(two_teams, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        assert [t.name for t in Team.objects.all()] == ["Billing A"]
        # Even the unscoped manager and raw SQL see only tenant A: the database enforces it.
        assert [t.name for t in Team.unscoped.all()] == ["Billing A"]
        assert _count_raw("helpdesk_team") == 1
    with tenant_context(tenant_b):
        assert [t.name for t in Team.unscoped.all()] == ["Billing B"]


def test_it_forgets_the_tenant_when_the_context_ends(two_teams, tenant_a):
    with tenant_context(tenant_a):
        assert Team.unscoped.count() == 1
    assert Team.unscoped.count() == 0


def test_it_restores_the_outer_tenant_after_a_nested_context(two_teams, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        with tenant_context(tenant_b):
            assert [t.name for t in Team.objects.all()] == ["Billing B"]
        assert [t.name for t in Team.objects.all()] == ["Billing A"]


def test_it_rejects_writing_a_row_into_another_tenant(tenant_a, tenant_b):
    with (
        tenant_context(tenant_a),
        pytest.raises(ProgrammingError, match="row-level security"),
        transaction.atomic(),
    ):
        Team.unscoped.create(tenant=tenant_b, name="smuggled")
    with tenant_context(tenant_b):
        assert Team.objects.count() == 0


def test_it_cannot_update_or_delete_another_tenants_rows(two_teams, tenant_a, tenant_b):
    _, team_b = two_teams
    with tenant_context(tenant_a):
        assert Team.unscoped.filter(pk=team_b.pk).update(name="hijacked") == 0
        assert Team.unscoped.filter(pk=team_b.pk).delete()[0] == 0
    with tenant_context(tenant_b):
        assert Team.objects.get(pk=team_b.pk).name == "Billing B"


def test_it_enforces_unique_names_per_tenant_only(two_teams, tenant_a, tenant_b):
    # Same name in another tenant is fine (see two_teams); a second one in A is not.
    with tenant_context(tenant_a), pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(tenant=tenant_a, name="Billing A")


def test_every_tenant_table_has_the_policy(db):
    tenant_tables = {model._meta.db_table for model in apps.get_models() if issubclass(model, TenantModel)}
    assert "helpdesk_team" in tenant_tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid "
            "WHERE c.relrowsecurity AND p.polname = %s",
            [POLICY_NAME],
        )
        protected = {row[0] for row in cursor.fetchall()}
    assert tenant_tables - protected == set()


def test_a_tenant_batch_opens_only_its_tenants_and_only_the_sweep_tables(two_teams, tenant_a, tenant_b):
    from helpdesk.models import OutboxEvent
    from helpdesk.tenancy import (
        BATCH_READ_TABLES,
        BATCH_TABLES,
        CALL_BATCH_TABLES,
        CLAIM_BATCH_TABLES,
        FAN_OUT_READ_TABLES,
        RULES_BATCH_READ_TABLES,
        RULES_BATCH_TABLES,
        tenant_batch,
    )

    tenant_c = Tenant.objects.create(slug="c", name="C")
    for tenant in (tenant_a, tenant_b, tenant_c):
        with tenant_context(tenant):
            OutboxEvent.objects.create(tenant=tenant, type="t", dedupe_key=tenant.slug, created_at=timezone.now())

    def raw(table, column):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} ORDER BY 1")
            return [row[0] for row in cursor.fetchall()]

    assert "helpdesk_outboxevent" in BATCH_TABLES and "helpdesk_team" not in BATCH_TABLES
    with transaction.atomic(), tenant_batch([tenant_a.pk, tenant_b.pk]):
        assert raw("helpdesk_outboxevent", "dedupe_key") == [tenant_a.slug, tenant_b.slug]
        assert raw("helpdesk_team", "name") == []  # not a table of the batch: closed as without a tenant
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            OutboxEvent.unscoped.create(tenant=tenant_c, type="t", dedupe_key="smuggled", created_at=timezone.now())
    assert raw("helpdesk_outboxevent", "dedupe_key") == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid WHERE p.polname = 'tenant_batch'"
        )
        opened = sorted(
            BATCH_TABLES + BATCH_READ_TABLES + FAN_OUT_READ_TABLES + RULES_BATCH_TABLES + RULES_BATCH_READ_TABLES
            + CLAIM_BATCH_TABLES + CALL_BATCH_TABLES
        )  # fmt: skip
        assert sorted(row[0] for row in cursor.fetchall()) == opened


def test_a_failed_tenant_batch_leaves_no_tenant_open_for_the_rest_of_the_transaction(tenant_a):
    from helpdesk.models import OutboxEvent
    from helpdesk.tenancy import tenant_batch

    with tenant_context(tenant_a):
        OutboxEvent.objects.create(tenant=tenant_a, type="t", dedupe_key="a", created_at=timezone.now())
    with transaction.atomic():
        with pytest.raises(RuntimeError, match="the batch failed"), tenant_batch([tenant_a.pk]):
            assert OutboxEvent.unscoped.count() == 1
            raise RuntimeError("the batch failed")
        assert OutboxEvent.unscoped.count() == 0  # the caller went on: the batch's tenant is closed again


def test_a_list_query_still_finds_its_rows_through_the_tenant_index(tenant_a):
    """The batch policy (a subquery) is OR'ed with the tenant policy: it must not keep the scoped
    managers' own `tenant_id = …` from using an index (a sequential scan per list request)."""
    from tickets.models import Ticket

    with tenant_context(tenant_a), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny test tables: make the planner show its options
        sql, params = Ticket.objects.filter(tenant=tenant_a).order_by("-created_at", "-id")[:50].query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    assert re.search(r"Index Cond: .*tenant_id = ", plan), plan  # the tenant narrows the index scan itself
