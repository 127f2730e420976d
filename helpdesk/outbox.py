"""Writing to the outbox: the bottom layer, imported by any app, importing none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

INSERT = """
INSERT INTO helpdesk_outboxevent (tenant_id, type, dedupe_key, payload, created_at)
SELECT %s, t.type, t.dedupe_key, t.payload::jsonb, %s
FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(type, dedupe_key, payload)
ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
RETURNING dedupe_key
"""


@dataclass(frozen=True)
class Emission:
    type: str
    dedupe_key: str
    payload: dict


def outbox_emit_many(*, tenant_id: int, emissions: list[Emission], at: datetime | None = None) -> list[str]:
    """Inserts the events not there yet (by dedupe key) in one statement; returns the new keys.
    Safe under concurrency: the unique index decides, not a read before the write."""
    if not emissions:
        return []
    payloads = [json.dumps(e.payload, cls=DjangoJSONEncoder) for e in emissions]
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT,
            [tenant_id, at or timezone.now(), [e.type for e in emissions], [e.dedupe_key for e in emissions], payloads],
        )
        return [row[0] for row in cursor.fetchall()]


INSERT_ACROSS = """
INSERT INTO helpdesk_outboxevent (tenant_id, type, dedupe_key, payload, created_at)
SELECT t.tenant_id, t.type, t.dedupe_key, t.payload::jsonb, %s
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS t(tenant_id, type, dedupe_key, payload)
ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
RETURNING dedupe_key
"""


def outbox_emit_across(*, emissions: list[tuple[int, Emission]], at: datetime | None = None) -> int:
    """outbox_emit_many for (tenant id, emission) pairs of several tenants, in one statement: the sweep's
    set-based SLA stage (inside tenancy.tenant_batch, whose RLS policy checks every row). Returns how
    many were new."""
    if not emissions:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_ACROSS,
            [
                at or timezone.now(),
                [tenant_id for tenant_id, _ in emissions],
                [e.type for _, e in emissions],
                [e.dedupe_key for _, e in emissions],
                [json.dumps(e.payload, cls=DjangoJSONEncoder) for _, e in emissions],
            ],
        )
        return len(cursor.fetchall())


def outbox_emit(*, tenant_id: int, type: str, dedupe_key: str, payload: dict, at: datetime | None = None) -> bool:
    return bool(outbox_emit_many(tenant_id=tenant_id, emissions=[Emission(type, dedupe_key, payload)], at=at))
