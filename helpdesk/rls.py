"""Migration helpers for row-level security. Every app's migration that creates a tenant table uses
`enable_tenant_rls("<table>")`; tests/helpdesk/test_rls.py checks no tenant table was forgotten.

The tenant policy is plain equality against a per-transaction setting: a subquery in it would turn
list queries into sequential scans. An unset setting compares as NULL, so a forgotten tenant sees
nothing rather than everything.

The sweep's opt-in batch policy (below) is the one exception, and a measured one: a subquery, read once
per statement. OR'ed with the tenant policy it is only ever a filter, never an index condition, so a
query must find its rows by its own conditions: the tenant-scoped managers always add `tenant_id = …`
(tests/helpdesk/test_rls.py checks a list query still uses the tenant index) and the batch code names
rows by id. Written as `= ANY((SELECT …)::bigint[])`, which indexes could use, the SLA stage took 29 s
instead of 3 s: every row checked scans the array of up to 10,000 tenants.
"""

from django.db import migrations

POLICY_NAME = "tenant_isolation"
TENANT_PREDICATE = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint"


def enable_tenant_rls(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        sql=[
            f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY;',
            f'CREATE POLICY {POLICY_NAME} ON "{table}" USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE});',
        ],
        reverse_sql=[
            f'DROP POLICY IF EXISTS {POLICY_NAME} ON "{table}";',
            f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY;',
        ],
    )


# A second, opt-in policy on the few tables the sweep's SLA stage works on across tenants: rows of the
# tenants named in app.tenant_batch (set by tenancy.tenant_batch for one transaction, to the tenants whose
# due clocks it has claimed). PostgreSQL ORs permissive policies, so outside such a transaction — the
# setting unset, ANY(NULL) is never true — nothing changes. One statement then does for a thousand tenants
# what would otherwise take a thousand (bench/SWEEP.md).
BATCH_POLICY_NAME = "tenant_batch"
# The list is read once per statement (a hashed subplan), not once per row: `= ANY(setting::bigint[])`
# re-parsed a thousand-tenant array for every row it checked, which cost the sweep's SLA stage ~2 s for
# 10,000 clocks (bench/SWEEP.md). unnest(NULL) yields no row, so an unset setting still admits nothing.
BATCH_PREDICATE = "tenant_id IN (SELECT unnest(NULLIF(current_setting('app.tenant_batch', true), '')::bigint[]))"


def enable_tenant_batch(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        sql=[
            f'CREATE POLICY {BATCH_POLICY_NAME} ON "{table}" USING ({BATCH_PREDICATE}) WITH CHECK ({BATCH_PREDICATE});'
        ],
        reverse_sql=[f'DROP POLICY IF EXISTS {BATCH_POLICY_NAME} ON "{table}";'],
    )


def batch_predicate_update(table: str, *, read_only: bool) -> migrations.RunSQL:
    """Brings an existing batch policy to the current BATCH_PREDICATE (idempotent on a fresh database)."""
    check = "" if read_only else f" WITH CHECK ({BATCH_PREDICATE})"
    return migrations.RunSQL(
        sql=[f'ALTER POLICY {BATCH_POLICY_NAME} ON "{table}" USING ({BATCH_PREDICATE}){check};'],
        reverse_sql=migrations.RunSQL.noop,
    )


def enable_tenant_batch_read(table: str) -> migrations.RunSQL:
    """The batch policy, for reading only (FOR SELECT): a batch may see these rows, never write them.
    Idempotent, because slas/0004 created the full policy from BATCH_TABLES as it was then."""
    return migrations.RunSQL(
        sql=[
            f'DROP POLICY IF EXISTS {BATCH_POLICY_NAME} ON "{table}";',
            f'CREATE POLICY {BATCH_POLICY_NAME} ON "{table}" FOR SELECT USING ({BATCH_PREDICATE});',
        ],
        reverse_sql=[f'DROP POLICY IF EXISTS {BATCH_POLICY_NAME} ON "{table}";'],
    )


# A third, narrower opt-in policy, for reading only: the escalation pass's reads of a whole claim
# (escalation/claim_reads.py) open these tables for the claimed tenants in app.tenant_reads, which
# tenancy.tenant_reads sets for those few statements alone and clears before any tenant's share runs: inside
# a share, these tables still show that tenant alone, as without the policy. The same shape as BATCH_PREDICATE
# (a list read once per statement).
READS_POLICY_NAME = "tenant_reads"
READS_PREDICATE = "tenant_id IN (SELECT unnest(NULLIF(current_setting('app.tenant_reads', true), '')::bigint[]))"


def enable_tenant_reads(table: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        sql=[f'CREATE POLICY {READS_POLICY_NAME} ON "{table}" FOR SELECT USING ({READS_PREDICATE});'],
        reverse_sql=[f'DROP POLICY IF EXISTS {READS_POLICY_NAME} ON "{table}";'],
    )
