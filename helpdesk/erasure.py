"""The database half of helpdesk.redaction: masking a customer's data in rows that are kept.

Used by every layer's part of an erasure (workflows.customer_erase lists them): each names its rows and
text or JSON columns, and this writes back only the rows that changed, in batches.
"""

from __future__ import annotations

from django.db.models import QuerySet

from helpdesk.redaction import Redactor

BATCH = 500


def mask_rows(rows: QuerySet, fields: tuple[str, ...], redactor: Redactor, *, stamp: dict | None = None) -> int:
    """Masks `fields` (text or JSON) of `rows`; `stamp` is set on the rows that changed (e.g. redacted_at).
    Returns how many changed."""
    stamp = stamp or {}
    changed = []
    for row in rows.only(*fields):
        masked = {name: redactor.json(getattr(row, name)) for name in fields}
        if any(value != getattr(row, name) for name, value in masked.items()):
            for name, value in {**masked, **stamp}.items():
                setattr(row, name, value)
            changed.append(row)
    rows.model.objects.bulk_update(changed, [*fields, *stamp], batch_size=BATCH)
    return len(changed)
