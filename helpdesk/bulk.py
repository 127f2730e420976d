"""Many rows in one statement, built from a model's own columns: `INSERT … SELECT FROM unnest(…)` and
`UPDATE … FROM unnest(…)`, one array parameter per column, bound by PostgreSQL (connection.bound_cursor).

The one way the set-based writers (the sweep's escalations, their clocks, audit events, ticket moves) write
rows in bulk: the column list, the array types and the JSON and array casts come from the model, so a new
column needs no second hand-written statement. RLS checks every row as for any INSERT.

Imports no app (the base layer); Django's field API only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Field, JSONField, Model


def _column(field, alias: str) -> tuple[str, str]:
    """(the parameter's array type, the expression the SELECT reads the column with). JSON and arrays travel
    as JSON text: unnest would flatten an array of arrays, and a text array of JSON binds without adapters."""
    if isinstance(field, JSONField):
        return "text[]", f"{alias}::jsonb"
    if isinstance(field, ArrayField):
        element = field.base_field.db_type(connection)
        return "text[]", f"coalesce(ARRAY(SELECT jsonb_array_elements_text({alias}::jsonb))::{element}[], '{{}}')"
    return f"{field.db_type(connection)}[]", alias


_BASE_PREP_SAVE = Field.get_db_prep_save
# Fields whose get_db_prep_save hands a stored value (a str, an int, a bool, None) to the driver unchanged: read
# straight from the instance. Profiled on the sweep's storm, the field API cost ~5 us a value, 157,000 values
# for 1,000 escalations.
_PLAIN = frozenset(
    ("CharField", "TextField", "SlugField", "EmailField", "BooleanField", "IntegerField", "BigIntegerField",
     "SmallIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField",
     "AutoField", "BigAutoField")
)  # fmt: skip


def _plain(field) -> bool:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return False
    target = field.target_field if field.is_relation else field
    return target.get_internal_type() in _PLAIN and type(target).get_db_prep_save is _BASE_PREP_SAVE


def _values(field, objs: Sequence[Model], *, add: bool) -> list:
    """The column's parameter: each instance's value as Model.save would store it."""
    if _plain(field):
        name = field.attname
        return [getattr(obj, name) for obj in objs]
    if _aware_datetimes(field):
        values = [getattr(obj, field.attname) for obj in objs]
        if all(v is None or (isinstance(v, datetime) and v.tzinfo is not None) for v in values):
            return values  # what get_db_prep_save hands PostgreSQL for an aware datetime: itself
    return [_value(field, obj, add=add) for obj in objs]


def _aware_datetimes(field) -> bool:
    plain_save = type(field).get_db_prep_save is _BASE_PREP_SAVE
    auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    return field.get_internal_type() == "DateTimeField" and plain_save and not auto and settings.USE_TZ


def _value(field, obj: Model, *, add: bool):
    value = field.pre_save(obj, add)  # auto_now(_add) fill themselves in, as Model.save does
    if isinstance(field, JSONField | ArrayField):
        return None if value is None else json.dumps(value, cls=getattr(field, "encoder", None) or DjangoJSONEncoder)
    return field.get_db_prep_save(value, connection)


def _fields(model: type[Model], names: Sequence[str] | None, *, with_pk: bool):
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    return fields if names is None else [f for f in fields if f.name in names or f.attname in names]


def ids_reserve(model: type[Model], count: int) -> list[int]:
    """`count` primary keys from the table's own sequence, in one statement: the writer then knows every row's
    id before its INSERT (and can point the rows of other tables to it in the same round)."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def insert_rows(model: type[Model], objs: Sequence[Model], *, on_conflict: str = "", returning: str = "") -> list:
    """Inserts the unsaved instances in one statement (their pk too when set: see ids_reserve). `on_conflict`
    is the statement's ON CONFLICT clause (e.g. "(tenant_id, dedupe_key) DO NOTHING"), `returning` its
    RETURNING list; returns the rows RETURNING gave, or [] without one."""
    if not objs:
        return []
    with_pk = objs[0].pk is not None
    fields = _fields(model, None, with_pk=with_pk)
    columns = [_column(f, f"c{i}") for i, f in enumerate(fields)]
    statement = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(f.column for f in fields)}) "
        f"SELECT {', '.join(expr for _, expr in columns)} "
        f"FROM unnest({', '.join(f'%s::{kind}' for kind, _ in columns)}) "
        f"AS u({', '.join(f'c{i}' for i in range(len(fields)))})"
    )
    if on_conflict:
        statement += f" ON CONFLICT {on_conflict}"
    if returning:
        statement += f" RETURNING {returning}"
    params = [_values(f, objs, add=True) for f in fields]
    with connection.bound_cursor() as cursor:
        cursor.execute(statement.replace("%s", "%b"), params)
        return cursor.fetchall() if returning else []


def update_rows(model: type[Model], objs: Sequence[Model], names: Sequence[str]) -> int:
    """Stores the named fields of the instances in one UPDATE … FROM unnest(…), by primary key (auto_now
    fields named there are refreshed, as Model.save does). Returns the rows updated."""
    if not objs:
        return 0
    fields = _fields(model, names, with_pk=False)
    pk = model._meta.pk
    columns = [_column(f, f"u.c{i}") for i, f in enumerate(fields)]
    table = model._meta.db_table
    sets = ", ".join(f"{f.column} = {expr}" for f, (_, expr) in zip(fields, columns, strict=True))
    statement = (
        f"UPDATE {table} t SET {sets} "
        f"FROM unnest(%b::{pk.db_type(connection)}[], {', '.join(f'%b::{kind}' for kind, _ in columns)}) "
        f"AS u(pk, {', '.join(f'c{i}' for i in range(len(fields)))}) WHERE t.{pk.column} = u.pk"
    )
    params = [[obj.pk for obj in objs], *(_values(f, objs, add=False) for f in fields)]
    with connection.bound_cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount
