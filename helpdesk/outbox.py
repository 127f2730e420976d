"""Writing to the outbox: the bottom layer, imported by any app, importing none.

The row is written in the caller's transaction, so a rolled-back change leaves no notification. After
commit a dispatch task is queued to deliver it now; if that fails (Redis down), the row waits in
PostgreSQL for the next sweep, which dispatches too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import bulk

logger = logging.getLogger(__name__)
DISPATCH_EXPIRES_S = 60


@dataclass(frozen=True)
class Emission:
    type: str
    dedupe_key: str
    payload: dict


def _queue_dispatch() -> None:
    from helpdesk.notifications.tasks import dispatch_task  # the task module imports the ORM-heavy dispatcher

    try:
        # A dispatch still queued after a minute is dropped: a later one (or the sweep) does its work.
        dispatch_task.apply_async(expires=DISPATCH_EXPIRES_S)
    except Exception:  # the broker is down: the rows are safe in PostgreSQL and the sweep will deliver them
        logger.warning("could not queue the dispatch task; the next sweep delivers", exc_info=True)


def dispatch_on_commit() -> None:
    """Queues one dispatch per transaction, after it commits (never for a transaction rolled back)."""
    if any(callback is _queue_dispatch for _, callback, _ in connection.run_on_commit):
        return
    transaction.on_commit(_queue_dispatch, robust=True)


# Parameters in binary (%b, for connection.bound_cursor): as text, every quote of every payload is escaped.
INSERT_ACROSS = """
INSERT INTO helpdesk_outboxevent (tenant_id, type, dedupe_key, payload, created_at)
SELECT t.tenant_id, t.type, t.dedupe_key, t.payload::jsonb, %b::timestamptz
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[]) AS t(tenant_id, type, dedupe_key, payload)
ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
RETURNING dedupe_key
"""


def outbox_emit_across(
    *, emissions: list[tuple[int, Emission]], at: datetime | None = None, gather: bool = False
) -> int:
    """Inserts the (tenant id, emission) pairs not there yet (by tenant and dedupe key) in one statement;
    returns how many were new. Safe under concurrency: the unique index decides, not a read before the
    write. RLS checks every row: one tenant's context, or the sweep's tenancy.tenant_batch. With `gather`,
    inside bulk.gathered() (the sweep's escalation pass): written with the block's other emissions at its end,
    the unique index deciding then; returns how many were handed over."""
    if not emissions:
        return 0
    at = at or timezone.now()
    if gather and bulk.defer(("outbox", at), emissions, lambda rows: outbox_emit_across(emissions=rows, at=at)):
        return len(emissions)
    # One encoder for the statement: json.dumps(cls=…) builds one per payload (40,000 in the storm), same text.
    encode = DjangoJSONEncoder().encode
    with connection.bound_cursor() as cursor:
        cursor.execute(
            INSERT_ACROSS,
            [
                at,
                [tenant_id for tenant_id, _ in emissions],
                [e.type for _, e in emissions],
                [e.dedupe_key for _, e in emissions],
                [encode(e.payload) for _, e in emissions],
            ],
        )
        created = len(cursor.fetchall())
    if created:
        dispatch_on_commit()
    return created


def outbox_emit(*, tenant_id: int, type: str, dedupe_key: str, payload: dict, at: datetime | None = None) -> bool:
    return bool(outbox_emit_across(emissions=[(tenant_id, Emission(type, dedupe_key, payload))], at=at))
