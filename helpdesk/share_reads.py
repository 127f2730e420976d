"""What a pass over a claim of many tenants read once for all of them, handed to each tenant's share (issue 17:
the sweep's escalation pass, workflows._rules_all, reads its claim's tickets, escalations, routing boards… in one
statement each instead of one each per share; escalation/claim_reads.py).

The share's readers ask `take(name, read)`: the value handed to the current share under `name`, else `read()` — so
every path that runs one tenant alone (the watches stage, the tenant-by-tenant fallback, the dry run, the tests)
reads its own, as before. A value is given out once: whatever asks again later in the share reads its own, since
the share may have written meanwhile. The current tenant (tenancy.current_tenant) is the one trusted: a value is
given only to the tenant it was read for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from helpdesk.tenancy import current_tenant_or_none

T = TypeVar("T")

_handed: ContextVar[tuple[int, dict[str, object]] | None] = ContextVar("helpdesk_share_reads", default=None)


@contextmanager
def handed(tenant_id: int, reads: dict[str, object]) -> Iterator[None]:
    """Inside the block, the share of `tenant_id` takes its reads from `reads` (consumed as taken)."""
    token = _handed.set((tenant_id, dict(reads)))
    try:
        yield
    finally:
        _handed.reset(token)


def take(name: str, read: Callable[[], T]) -> T:
    """The value handed to the current tenant's share under `name` (once), else what `read()` reads."""
    share = _handed.get()
    tenant = current_tenant_or_none()
    if share is None or tenant is None or share[0] != tenant.pk or name not in share[1]:
        return read()
    return share[1].pop(name)  # type: ignore[return-value]


def drop(name: str) -> None:
    """The value handed under `name` is no longer current (the share wrote what it was read from)."""
    share = _handed.get()
    if share is not None:
        share[1].pop(name, None)
