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

A use case that reads the configuration many times (a ticket opened: its clocks, its watches, the matrix,
the escalations' clocks) runs inside `pinned()`: there the version is read once per tenant, and the whole
use case sees the configuration as it was at its first read. Only for use cases that write no configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from django.db import connection, migrations

from helpdesk.tenancy import current_tenant

T = TypeVar("T")

# (tenant id, name) -> (version, value). Bounded: past the limit the whole cache starts over.
_entries: dict[tuple[int, str], tuple[int | None, object]] = {}
MAX_ENTRIES = 10_000
# Inside pinned(): tenant id -> the version read at the block's first read.
_pins: ContextVar[dict[int, int | None] | None] = ContextVar("config_pins", default=None)


def config_version(tenant_id: int) -> int | None:
    """The tenant's configuration version; None for a tenant whose configuration was never written."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM helpdesk_configversion WHERE tenant_id = %s", [tenant_id])
        row = cursor.fetchone()
    return row[0] if row else None


@contextmanager
def pinned() -> Iterator[None]:
    """Reads each tenant's configuration version once for the whole block (a nested block joins the outer
    one). The block must not write configuration: it would not see its own edit."""
    if _pins.get() is not None:
        yield
        return
    token = _pins.set({})
    try:
        yield
    finally:
        _pins.reset(token)


def pin_many(tenant_ids: list[int]) -> None:
    """Inside pinned(), the versions of these tenants in one statement rather than one at each tenant's first read
    (the sweep's escalation stage, inside tenancy.tenant_batch: a read-only batch policy opens the table)."""
    pins = _pins.get()
    missing = [pk for pk in tenant_ids if pk not in pins] if pins is not None else []
    if not missing:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id, version FROM helpdesk_configversion WHERE tenant_id = ANY(%s)", [missing])
        found = dict(cursor.fetchall())
    for pk in missing:
        pins[pk] = found.get(pk)


def _version(tenant_id: int) -> int | None:
    pins = _pins.get()
    if pins is None:
        return config_version(tenant_id)
    if tenant_id not in pins:
        pins[tenant_id] = config_version(tenant_id)
    return pins[tenant_id]


def pinned_entry(name: str, tenant_id: int) -> object | None:
    """Inside pinned(): the `name` entry of this tenant if cached under its pinned version (as preload leaves it),
    else None; reads nothing."""
    pins = _pins.get()
    entry = _entries.get((tenant_id, name))
    if pins is None or tenant_id not in pins or entry is None or entry[0] != pins[tenant_id]:
        return None
    return entry[1]


def tenant_config(name: str, load: Callable[[], T]) -> T:
    """`load()` run in the current tenant, cached until the tenant's configuration changes."""
    tenant_id = current_tenant().pk
    version = _version(tenant_id)
    key = (tenant_id, name)
    entry = _entries.get(key)
    if entry is not None and entry[0] == version:
        return entry[1]  # type: ignore[return-value]
    value = load()
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[key] = (version, value)
    return value


def preload(name: str, tenant_ids: list[int], load_many: Callable[[list[int]], dict[int, T]], empty: T) -> None:
    """Inside pinned(): the `name` entries of these tenants that are missing or stale, loaded with one call of
    `load_many` (their values by tenant id; `empty` for a tenant it returns nothing for) — one statement for a
    claim's tenants instead of one at each tenant's first read (the sweep's escalation pass, whose batch policy
    opens the configuration tables read-only). Each entry is keyed by its tenant, under the version pinned before
    the load, as tenant_config does."""
    pins = _pins.get()
    if pins is None:
        return
    stale = [
        pk for pk in tenant_ids if pk in pins and ((pk, name) not in _entries or _entries[(pk, name)][0] != pins[pk])
    ]
    if not stale:
        return
    values = load_many(stale)
    if len(_entries) + len(stale) >= MAX_ENTRIES:
        _entries.clear()
    for pk in stale:
        _entries[(pk, name)] = (pins[pk], values.get(pk, empty))


def version_trigger(table: str) -> migrations.RunSQL:
    """Migration operation: every INSERT, UPDATE and DELETE on `table` bumps its tenant's configuration
    version (the trigger function of migration helpdesk 0006), so cached reads of it are refreshed."""
    return migrations.RunSQL(
        f'CREATE TRIGGER helpdesk_configversion AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
        "FOR EACH ROW EXECUTE FUNCTION helpdesk_configversion_bump();",
        f'DROP TRIGGER IF EXISTS helpdesk_configversion ON "{table}";',
    )
