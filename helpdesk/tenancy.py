"""Fail-closed tenant scoping, enforced twice.

1. In Python: a context variable holds the current tenant; the default manager of every tenant-owned
   model filters by it and raises `TenantNotSet` without one. Cross-tenant reads need the loudly
   named `Model.unscoped` manager.
2. In PostgreSQL: every tenant table has a row-level security policy `tenant_id = app.tenant_id`;
   `tenant_context` sets that setting with SET LOCAL, i.e. for the current transaction only, so a
   pooled connection can never carry one tenant's id into another's request.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.db import connection, models, transaction

if TYPE_CHECKING:
    from helpdesk.models import Tenant

_current_tenant: ContextVar[Tenant | None] = ContextVar("helpdesk_current_tenant", default=None)

RLS_SETTING = "app.tenant_id"


class TenantNotSet(RuntimeError):
    """A tenant-scoped query ran outside `tenant_context`."""


def current_tenant() -> Tenant:
    tenant = _current_tenant.get()
    if tenant is None:
        raise TenantNotSet("no tenant is active: wrap the work in helpdesk.tenancy.tenant_context(tenant)")
    return tenant


def current_tenant_or_none() -> Tenant | None:
    return _current_tenant.get()


def _set_db_tenant(tenant_id: int | None) -> str | None:
    """SET LOCAL app.tenant_id; returns the previous value so a nested context can restore it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting(%s, true), set_config(%s, %s, true)",
            [RLS_SETTING, RLS_SETTING, "" if tenant_id is None else str(tenant_id)],
        )
        previous, _ = cursor.fetchone()
    return previous or None


@contextmanager
def tenant_context(tenant: Tenant):
    """Run the block as `tenant`: in one transaction, with the RLS setting and the context variable set."""
    token = _current_tenant.set(tenant)
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            previous = _set_db_tenant(tenant.pk)
            yield tenant
            if nested:
                # SET LOCAL lasts until the outermost transaction ends, so inside another transaction
                # (a nested context, a test's wrapper) restore the outer value on the way out.
                _set_db_tenant(int(previous) if previous else None)
    finally:
        _current_tenant.reset(token)


BATCH_SETTING = "app.tenant_batch"
# The tables whose rows tenant_batch opens (migration slas/0004_tenant_batch): what the SLA stage of the
# sweep reads and writes. Every other table stays closed in a batch transaction.
BATCH_TABLES = (
    "slas_slatimer",
    "slas_businesscalendar",
    "tickets_ticket",
    "tickets_ticketevent",
    "helpdesk_outboxevent",
)
# Read-only in a batch (migration slas/0005_tenant_batch_reads): the requester and account of the fired
# tickets, for the notification context (`ticket_context`) of the sla.* outbox events.
BATCH_READ_TABLES = ("tickets_customer", "tickets_account")
# Read-only in a fan-out batch (migration helpdesk 0011): whether a claimed event's tenant has any active
# destination at all (notifications.dispatcher: a tenant with none is not visited).
FAN_OUT_READ_TABLES = ("helpdesk_webhooksubscription", "helpdesk_notificationchannel")
# The escalation stage's pass over a whole claim (migration escalation 0015; workflows._sweep_rules): the tenants'
# shares write their tickets, events, clocks, messages and outbox rows together at the end (bulk.gathered), so the
# customers' milestone messages and the firings' links join the batch tables; the claimed tenants' configuration
# versions, matrices and SLA policies are read in one statement each (read-only). Everything else a share reads or
# writes stays behind its own tenant (tenant_shares).
RULES_BATCH_TABLES = ("tickets_message", "escalation_rulefiring")
RULES_BATCH_READ_TABLES = ("helpdesk_configversion", "escalation_escalationrule", "slas_slapolicy")
# Read-only, and only while tenant_reads is open (migration escalation 0019_claim_reads; rls.READS_PREDICATE):
# what the escalation pass reads once for its whole claim before any share runs (escalation/claim_reads.py) and
# that the batch tables do not hold already: the tickets' resolution attempts, the routing boards (members, teams,
# team memberships), the senders of the milestone mail.
CLAIM_READ_TABLES = (
    "tickets_resolutionattempt",
    "helpdesk_membership",
    "helpdesk_teammember",
    "helpdesk_team",
    "mail_mailsetup",
)
READS_SETTING = "app.tenant_reads"
# Read and written by the whole pass, as RULES_BATCH_TABLES (migration escalation 0019_claim_reads): the
# escalations, read for the claim (with the ladder's flag) and written for it on the way out with the other gathered
# rows; the moved tickets' stale time watches, deleted for the claim in one statement (escalation.watches._unwatch).
CLAIM_BATCH_TABLES = ("escalation_escalation", "escalation_timewatch")
# The same for the calls (migration callnotes 0004): read for the claim, the requests written for it at the end.
CALL_BATCH_TABLES = ("callnotes_call",)


_batch_open: ContextVar[bool] = ContextVar("helpdesk_tenancy_batch_open", default=False)


@contextmanager
def tenant_batch(tenant_ids: list[int]):
    """Inside the caller's transaction, the rows of these tenants in BATCH_TABLES become visible at once
    (RLS policy tenant_batch), for set-based work across the tenants of a claimed batch. No tenant is
    current: the tenant-scoped managers refuse to run, so code in the block names its rows explicitly
    (`.unscoped` filtered by the claimed ids). The setting is cleared on the way out."""
    if not connection.in_atomic_block:
        raise RuntimeError("tenant_batch() needs an open transaction (SET LOCAL)")
    ids = "{" + ",".join(str(int(pk)) for pk in sorted(set(tenant_ids))) + "}"
    # In its own savepoint: if the block fails, rolling the savepoint back also undoes the SET LOCAL, so
    # a caller that catches the error and goes on in the same transaction has no batch tenants open.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [BATCH_SETTING, ids])
        token = _batch_open.set(True)
        try:
            yield
        finally:
            _batch_open.reset(token)
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, '', true)", [BATCH_SETTING])


@contextmanager
def tenant_reads(tenant_ids: list[int]):
    """Inside tenant_batch, for a pass's reads of the whole claim before its shares run: CLAIM_READ_TABLES show
    these tenants' rows too (read only). In its own savepoint, as tenant_batch, and closed on the way out, so no
    share ever runs with another tenant's rows of those tables in view."""
    if not connection.in_atomic_block:
        raise RuntimeError("tenant_reads() needs an open transaction (SET LOCAL)")
    if not _batch_open.get():
        raise RuntimeError("tenant_reads() needs tenant_batch() open")
    ids = "{" + ",".join(str(int(pk)) for pk in sorted(set(tenant_ids))) + "}"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [READS_SETTING, ids])
        yield
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, '', true)", [READS_SETTING])


_across: ContextVar[bool] = ContextVar("helpdesk_tenancy_across", default=False)


@contextmanager
def across():
    """Inside a share of tenant_shares: the block's statements name their tenant in every row and touch batch tables
    only (the firings' claim: escalation.batch._claim; the ids from the sequences: helpdesk.bulk._nextvals), so
    they need no tenant entered in the database: they don't enter it, unless it holds another share's tenant
    (tenant_shares)."""
    token = _across.set(True)
    try:
        yield
    finally:
        _across.reset(token)


@contextmanager
def tenant_shares():
    """Inside tenant_batch: yields `share(tenant)`, which enters one tenant of the batch for its share of a
    cross-tenant pass as tenant_context does, but without a transaction of its own: the tenant-scoped managers and
    every table outside the batch's see that tenant alone. The database's app.tenant_id is set on the share's first
    statement (one statement, no savepoint), not on entering it: a share whose statements all run `across()` (the
    escalation pass's shares, whose reads came with the claim's: escalation.claim_reads) costs none — unless a
    share before it left its own tenant in the database: then an `across()` statement enters the current share's
    first, so no statement of a share ever runs as another tenant. The caller's
    app.tenant_id is restored on the way out (after an error, tenant_batch's savepoint undoes it)."""
    if not connection.in_atomic_block:
        raise RuntimeError("tenant_shares() needs an open transaction (SET LOCAL)")
    first: list[str | None] = []
    entering: list[int | None] = [None]
    # The tenant the database has: the caller's (tenant_context sets both), then the last share entered.
    caller = current_tenant_or_none()
    in_db: list[int | None] = [caller.pk if caller is not None else None]

    def enter_first(execute, sql, params, many, context):
        # An `across()` statement needs no tenant, but must not run as another one: a share entered before
        # left its tenant in the database, and a read of a table outside the batch's would see that tenant's rows.
        if entering[0] is not None and (not _across.get() or in_db[0] not in (None, entering[0])):
            tenant_id, entering[0] = entering[0], None
            previous = _set_db_tenant(tenant_id)
            in_db[0] = tenant_id
            if not first:
                first.append(previous)
        return execute(sql, params, many, context)

    @contextmanager
    def share(tenant: Tenant):
        token = _current_tenant.set(tenant)
        entering[0] = tenant.pk
        try:
            yield tenant
        finally:
            entering[0] = None
            _current_tenant.reset(token)

    with connection.execute_wrapper(enter_first):
        yield share
    if first:
        _set_db_tenant(int(first[0]) if first[0] else None)


def claim_by_tenant(sql: str, params: list) -> dict[int, list[int]]:
    """Runs a cross-tenant claim (one of the SECURITY DEFINER functions of docs/SECURITY.md, each returning
    `(row id, tenant id)` pairs locked in the caller's transaction) and groups the ids by tenant, in the
    order the function returned them."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    claimed: dict[int, list[int]] = {}
    for row_id, tenant_id in rows:
        claimed.setdefault(tenant_id, []).append(row_id)
    return claimed


@contextmanager
def introspection_only():
    """For code that builds querysets to describe them, never to run them (the OpenAPI generator):
    a tenant id no tenant has, so anything that does run returns nothing."""
    from helpdesk.models import Tenant

    token = _current_tenant.set(Tenant(pk=0, slug="-introspection-"))
    try:
        yield
    finally:
        _current_tenant.reset(token)


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """The default manager of tenant-owned models: always filtered to the current tenant."""

    def get_queryset(self):
        return super().get_queryset().filter(tenant_id=current_tenant().pk)

    def none(self):
        # An empty queryset reveals nothing, so it needs no tenant (schema generation asks for one).
        return self._queryset_class(model=self.model, using=self._db).none()


def tenant_key(*, db_index: bool = True) -> models.ForeignKey:
    """A tenant table's tenant column. db_index=False for a table whose other indexes lead with it (they serve a
    tenant's deletion and its RLS filter as well): an index of its own would only be one more written by every
    insert and every update that cannot be HOT."""
    return models.ForeignKey(
        "helpdesk.Tenant", on_delete=models.CASCADE, editable=False, related_name="+", db_index=db_index
    )


class TenantModel(models.Model):
    """Base of every tenant-owned table. Its migration must call helpdesk.rls.enable_tenant_rls."""

    tenant = tenant_key()

    objects = TenantManager()
    # Escape hatch for deliberate cross-tenant work (still subject to RLS in the database).
    unscoped = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"
