"""A per-process cache of each tenant's configuration: what every ticket event reads and managers
rarely change (SLA policies with their calendars, the escalation matrix).

Correctness first: an entry is used only while the tenant's configuration version is the one it was
loaded under. The version lives in `helpdesk_configversion` and is bumped by database triggers on every
INSERT, UPDATE and DELETE of the configuration tables (migration helpdesk 0006), whatever wrote them:
API, admin, services, a bulk `update()`, raw SQL. So an edit takes effect on the very next read, in the
editing transaction itself and in every process once it commits. Versions come from a sequence, so a
rolled-back edit's version is never handed out again and can't revive what that edit had loaded.

Entries are keyed by tenant: one tenant's configuration is never served to another. The version is
read (one indexed row, under row-level security) before loading, so what gets cached is at least as new
as its version. Cached values are shared by the threads of a worker: they must be immutable, or treated
as read-only by every caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import connection

from helpdesk.tenancy import current_tenant

T = TypeVar("T")

# (tenant id, name) -> (version, value). Bounded: past the limit the whole cache starts over.
_entries: dict[tuple[int, str], tuple[int | None, object]] = {}
MAX_ENTRIES = 10_000


def config_version(tenant_id: int) -> int | None:
    """The tenant's configuration version; None for a tenant whose configuration was never written."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM helpdesk_configversion WHERE tenant_id = %s", [tenant_id])
        row = cursor.fetchone()
    return row[0] if row else None


def tenant_config(name: str, load: Callable[[], T]) -> T:
    """`load()` run in the current tenant, cached until the tenant's configuration changes."""
    tenant_id = current_tenant().pk
    version = config_version(tenant_id)
    key = (tenant_id, name)
    entry = _entries.get(key)
    if entry is not None and entry[0] == version:
        return entry[1]  # type: ignore[return-value]
    value = load()
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[key] = (version, value)
    return value
