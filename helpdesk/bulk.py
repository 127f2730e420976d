"""Many rows in one statement, built from a model's own columns: `INSERT … SELECT FROM unnest(…)` and
`UPDATE … FROM unnest(…)`, one array parameter per column, bound by PostgreSQL (connection.bound_cursor).

The one way the set-based writers (the sweep's escalations, their clocks, audit events, ticket moves) write
rows in bulk: the column list, the array types and the JSON and array casts come from the model, so a new
column needs no second hand-written statement. RLS checks every row as for any INSERT.

Imports no app (the base layer); Django's field API only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, router
from django.db.models import DateTimeField, Field, JSONField, Model, signals
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute

from helpdesk.tenancy import across


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
_DATETIME_PRE_SAVE = DateTimeField.pre_save
# Fields whose get_db_prep_save hands a stored value (a str, an int, a bool, None) to the driver unchanged: read
# straight from the instance. Profiled on the sweep's storm, the field API cost ~5 us a value, 157,000 values
# for 1,000 escalations.
_PLAIN = frozenset(
    ("CharField", "TextField", "SlugField", "EmailField", "BooleanField", "IntegerField", "BigIntegerField",
     "SmallIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField",
     "AutoField", "BigAutoField")
)  # fmt: skip


def _stored_as_is(field) -> bool:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return False
    target = field.target_field if field.is_relation else field
    return target.get_internal_type() in _PLAIN and type(target).get_db_prep_save is _BASE_PREP_SAVE


def _values(field, objs: Sequence[Model], *, add: bool) -> list:
    """The column's parameter: each instance's value as Model.save would store it."""
    if _stored_as_is(field):
        name = field.attname
        return [getattr(obj, name) for obj in objs]
    if _aware_datetimes(field):
        values = _datetimes(field, objs, add=add)
        if all(v is None or (isinstance(v, datetime) and v.tzinfo is not None) for v in values):
            return values  # what get_db_prep_save hands PostgreSQL for an aware datetime: itself
    if isinstance(field, JSONField | ArrayField):
        return _json_texts(field, [field.pre_save(obj, add) for obj in objs])
    return [_value(field, obj, add=add) for obj in objs]


def _json_texts(field, values: list) -> list:
    """The JSON text of each value, as the column's encoder writes it. One encoder for the column: json.dumps(cls=…)
    builds one per value (30,000 in a 2,000-escalation sweep). A list of integers (a clock's warning percents, its
    pauses: 60,000 in the storm) or an empty dict is written directly, as DjangoJSONEncoder would write it."""
    encoder = getattr(field, "encoder", None) or DjangoJSONEncoder
    encode = encoder().encode
    if encoder is not DjangoJSONEncoder:
        return [None if v is None else encode(v) for v in values]
    texts = []
    for value in values:
        if value is None:
            texts.append(None)
        elif type(value) is list and all(type(item) is int for item in value):
            texts.append("[" + ", ".join(map(str, value)) + "]")
        elif type(value) is dict and not value:
            texts.append("{}")
        else:
            texts.append(encode(value))
    return texts


def _datetimes(field, objs: Sequence[Model], *, add: bool) -> list:
    """The column's values as pre_save leaves them: auto_now(_add) fill themselves in (with an aware now), as
    Model.save does; any other DateTimeField's pre_save is the attribute itself (half a million calls in the
    storm: a clock has ten datetime columns)."""
    if field.auto_now or (field.auto_now_add and add) or type(field).pre_save is not _DATETIME_PRE_SAVE:
        return [field.pre_save(obj, add) for obj in objs]
    name = field.attname
    return [getattr(obj, name) for obj in objs]


def _aware_datetimes(field) -> bool:
    plain_save = type(field).get_db_prep_save is _BASE_PREP_SAVE
    return field.get_internal_type() == "DateTimeField" and plain_save and settings.USE_TZ


def _value(field, obj: Model, *, add: bool):
    value = field.pre_save(obj, add)  # auto_now(_add) fill themselves in, as Model.save does
    return field.get_db_prep_save(value, connection)


def _fields(model: type[Model], names: Sequence[str] | None, *, with_pk: bool):
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    return fields if names is None else [f for f in fields if f.name in names or f.attname in names]


@cache
def _layout(model: type[Model], names: tuple[str, ...] | None, with_pk: bool, alias: str) -> tuple[list, list]:
    """(the fields, their (array type, expression) pairs): the same for every statement on these columns, so
    worked out once (the field API's db_type cost ~1 ms a statement, 400 statements in a 2,000-escalation
    sweep)."""
    fields = _fields(model, names, with_pk=with_pk)
    return fields, [_column(f, f"{alias}{i}") for i, f in enumerate(fields)]


# --- the rows: unsaved instances, built cheaply ----------------------------------------------------


@dataclass(frozen=True)
class _Blank:
    """What Model.__init__ works out per field on every call, once per model: the constant defaults by
    attname, the callable ones (a fresh dict or list per row), the forward many-to-one relations by name (as
    (attname, the related model, its column's attname)), the other relations."""

    constants: dict[str, object]
    calls: tuple[tuple[str, Callable[[], object]], ...]
    foreign: dict[str, tuple[str, type[Model], str]]
    relations: frozenset[str]
    attnames: frozenset[str]
    plain: bool  # nothing of its own runs in Model.__init__ (see _built_plainly): else new() calls it


# The descriptors Django puts on concrete fields: plain attributes on a new instance (the foreign key's id clears
# a cached related object, and a new instance has none).
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute)


def _built_plainly(model: type[Model]) -> bool:
    """Whether setting a new instance's attributes directly is all Model.__init__ would do: no __init__ of the
    model's own, no generated field (the constructor leaves it deferred), no field with a descriptor of its own."""
    return model.__init__ is Model.__init__ and all(
        not getattr(f, "generated", False) and f.descriptor_class in _PLAIN_DESCRIPTORS
        for f in model._meta.concrete_fields
    )


@cache
def _blank(model: type[Model]) -> _Blank:
    constants, calls, foreign = {}, [], {}
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            calls.append((f.attname, f.default))
        else:
            constants[f.attname] = f.get_default()
        if f.many_to_one and len(f.related_fields) == 1 and f.cache_name == f.name:
            foreign[f.name] = (f.attname, f.remote_field.model._meta.concrete_model, f.related_fields[0][1].attname)
    relations = frozenset(f.name for f in model._meta.concrete_fields if f.is_relation)
    attnames = frozenset(constants) | {a for a, _ in calls}
    return _Blank(constants, tuple(calls), foreign, relations, attnames, _built_plainly(model))


def new(model: type[Model], **values) -> Model:
    """`model(**values)`, the same instance (every concrete field set, a related object given by name cached on
    it), without Model.__init__'s work per field and call: profiled on the sweep's storm, ~15 instances an
    escalation at ~0.1 ms each, mostly defaults that are the same for every row and the related-object
    descriptor's router calls. Takes concrete fields only, by name (a related object) or attname (its id)."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return model(**values)  # someone watches instances being built: the full constructor
    blank = _blank(model)
    if not blank.plain:
        return model(**values)  # the model does something of its own when built
    obj = model.__new__(model)
    obj._state = ModelState()
    state = obj.__dict__
    state.update(blank.constants)
    for attname, default in blank.calls:
        state[attname] = default()
    for name, value in values.items():
        if name in blank.relations:
            if not (name in blank.foreign and _relate(obj, name, value, blank.foreign[name])):
                setattr(obj, name, value)  # the descriptor: its checks and errors
        elif name in blank.attnames:
            state[name] = value
        else:
            raise TypeError(f"{model.__name__} has no field {name!r}")
    return obj


def _relate(obj: Model, name: str, value, foreign: tuple[str, type[Model], str]) -> bool:
    """What ForwardManyToOneDescriptor.__set__ does on a new instance when no database router is configured (the
    databases are then the instances' own or the default, and a relation is allowed between instances of the
    same database); False, having done nothing, for anything else (the descriptor then decides)."""
    attname, related, column = foreign
    if router.routers:
        return False
    if value is None:
        obj.__dict__[attname] = None
        obj._state.fields_cache[name] = None
        return True
    if not isinstance(value, related):
        return False
    db = obj._state.db or value._state.db or DEFAULT_DB_ALIAS
    if (value._state.db or db) != db:
        return False
    obj._state.db = value._state.db = db
    obj.__dict__[attname] = getattr(value, column)
    obj._state.fields_cache[name] = value
    return True


# Inside gathered(id_chunk=ID_CHUNK) (the sweep's pass over a claim), ids are reserved this many at a time: the
# claim's shares then share a few round trips. The ids a block leaves unused are never handed out (a sequence has
# gaps anyway: rollbacks leave them).
ID_CHUNK = 256


def ids_reserve(model: type[Model], count: int) -> list[int]:
    """`count` primary keys from the table's own sequence, in one statement: the writer then knows every row's
    id before its INSERT (and can point the rows of other tables to it in the same round). Inside
    `gathered(id_chunk=…)`, taken from the chunks the block reserved, in ascending order."""
    if count == 0:
        return []
    pending = _gathering.get()
    if pending is None or not pending.id_chunk:
        return _nextvals(model, count)
    pool = pending.ids.setdefault(model, [])
    if len(pool) < count:
        pool.extend(_nextvals(model, max(count - len(pool), pending.id_chunk)))
    taken, pool[:] = pool[:count], pool[count:]
    return taken


def _nextvals(model: type[Model], count: int) -> list[int]:
    table = model._meta.db_table
    with across(), connection.cursor() as cursor:  # a sequence belongs to no tenant: a share need not enter its own
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


# --- gathering: many callers' rows of a table in one statement --------------------------------------


@dataclass
class _Gathered:
    """The writes of a `gathered()` block, by table: inserts in call order, updates by primary key (the union of
    the fields named for the rows, read from the instances when written), computed columns by primary key."""

    inserts: dict[tuple[type[Model], bool], list[Model]] = field(default_factory=dict)
    updates: dict[type[Model], dict[object, Model]] = field(default_factory=dict)
    fields: dict[type[Model], set[str]] = field(default_factory=dict)
    computed: dict[tuple[type[Model], str], tuple[str, dict[object, list[str]]]] = field(default_factory=dict)
    later: dict[Hashable, tuple[Callable[[list], object], list]] = field(default_factory=dict)
    ids: dict[type[Model], list[int]] = field(default_factory=dict)
    id_chunk: int = 0
    rows_by: dict[Hashable, dict] = field(default_factory=dict)


_gathering: ContextVar[_Gathered | None] = ContextVar("helpdesk_bulk_gathering", default=None)


@contextmanager
def gathered(*, id_chunk: int = 0):
    """Inside the block, `insert_rows` without ON CONFLICT or RETURNING, `update_rows` and `update_computed` only
    record their rows; on the way out (not after an error) each table is written with one INSERT and one UPDATE
    for everything the block recorded, whoever recorded it: a row updated by three callers (a ticket's triage,
    its escalation move, its search document) is rewritten once, with all its indexes, instead of three times.
    Code in the block must not read back what it recorded. Nested blocks write with the outermost one. Foreign
    keys are checked at commit (Django's constraints are deferred), so the tables' order does not matter. With
    `id_chunk`, ids_reserve takes ids from the sequence that many at a time (see ID_CHUNK)."""
    if _gathering.get() is not None:
        yield
        return
    pending = _Gathered(id_chunk=id_chunk)
    token = _gathering.set(pending)
    try:
        yield
    finally:
        _gathering.reset(token)
    _flush(pending)


def flush() -> None:
    """Inside `gathered()`: writes what the block recorded so far, before code that reads those rows back (a rare
    path: the ladder's climb reads its ticket). Outside one, nothing to do."""
    pending = _gathering.get()
    if pending is None:
        return
    done = _Gathered(pending.inserts, pending.updates, pending.fields, pending.computed, pending.later, {})
    pending.inserts, pending.updates, pending.fields, pending.computed, pending.later = {}, {}, {}, {}, {}
    pending.rows_by = {}  # what they index is written now
    _flush(done)


def gathering() -> bool:
    """Whether the caller runs inside `gathered()` (its writes recorded for the block's end)."""
    return _gathering.get() is not None


def defer(key: Hashable, rows: list, write: Callable[[list], object]) -> bool:
    """Inside `gathered()`: records `rows` for one `write(rows of every call with this key)` on the way out (a
    writer of its own SQL: the outbox, the firings' links) and returns True; outside one, False (write now)."""
    pending = _gathering.get()
    if pending is None:
        return False
    _, recorded = pending.later.setdefault(key, (write, []))
    recorded.extend(rows)
    return True


def deferred_rows(key: Hashable) -> dict | None:
    """Inside `gathered()`: a dict of the caller's own (`key`) for the rows it deferred and that are not written
    yet -- a later caller may complete such a row in place instead of updating it once written (the firings'
    links). Emptied when the rows are written (`flush`). Outside one, None."""
    pending = _gathering.get()
    return None if pending is None else pending.rows_by.setdefault(key, {})


def _flush(pending: _Gathered) -> None:
    for (model, _), objs in pending.inserts.items():
        _insert(model, objs)
    models = list(pending.updates) + [m for m, _ in pending.computed if m not in pending.updates]
    for model in dict.fromkeys(models):
        rows = pending.updates.get(model, {})
        computed = {column: spec for (m, column), spec in pending.computed.items() if m is model}
        alone = {pk for _, by_pk in computed.values() for pk in by_pk if pk not in rows}
        if rows:
            _written(model, _update(model, list(rows.values()), sorted(pending.fields[model]), computed), len(rows))
        if alone:  # computed columns of rows no field update named: their own statement
            only = {
                c: (expr, {pk: v for pk, v in by_pk.items() if pk in alone}) for c, (expr, by_pk) in computed.items()
            }
            _written(model, _update_computed(model, sorted(alone), only), len(alone))
    for write, rows in pending.later.values():
        write(rows)


def _written(model: type[Model], count: int, expected: int) -> None:
    """A gathered UPDATE must find every row it was given: row-level security skips a row it hides without an
    error (a table outside the batch policy, a row of a tenant not in the batch), which must not pass silently."""
    if count != expected:
        raise RuntimeError(f"bulk: {count} of {expected} {model._meta.db_table} rows updated (row-level security?)")


def insert_rows(
    model: type[Model], objs: Sequence[Model], *, on_conflict: str = "", returning: str = "", gather: bool = True
) -> list:
    """Inserts the unsaved instances in one statement (their pk too when set: see ids_reserve). `on_conflict`
    is the statement's ON CONFLICT clause (e.g. "(tenant_id, dedupe_key) DO NOTHING"), `returning` its
    RETURNING list; returns the rows RETURNING gave, or [] without one. Inside `gathered()`, a plain insert
    (neither) is recorded and written on the way out, unless `gather` is False (rows the block reads back)."""
    if not objs:
        return []
    pending = _gathering.get() if gather else None
    if pending is not None and not on_conflict and not returning:
        pending.inserts.setdefault((model, objs[0].pk is not None), []).extend(objs)
        return []
    return _insert(model, objs, on_conflict=on_conflict, returning=returning)


def _insert(model: type[Model], objs: Sequence[Model], *, on_conflict: str = "", returning: str = "") -> list:
    with_pk = objs[0].pk is not None
    fields, columns = _layout(model, None, with_pk, "c")
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


def update_rows(model: type[Model], objs: Sequence[Model], names: Sequence[str], *, gather: bool = True) -> int:
    """Stores the named fields of the instances in one UPDATE … FROM unnest(…), by primary key (auto_now
    fields named there are refreshed, as Model.save does). Returns the rows updated. Inside `gathered()`, the
    rows are recorded (returns 0) and written on the way out, the same instance's fields with the others'
    (`gather` False: at once)."""
    if not objs:
        return 0
    pending = _gathering.get() if gather else None
    if pending is not None:
        rows = pending.updates.setdefault(model, {})
        for obj in objs:
            rows[obj.pk] = obj
        pending.fields.setdefault(model, set()).update(names)
        return 0
    return _update(model, objs, names, {})


def update_computed(model: type[Model], column: str, expression: str, values: dict[object, list[str]]) -> None:
    """`column = <expression>` for the rows of these primary keys, where `{old}` in the expression is the
    column's current value and `{value}` the row's texts joined by spaces (a search document's appended words).
    Several calls for one row within `gathered()` join their texts."""
    if not values:
        return
    pending = _gathering.get()
    if pending is None:
        _update_computed(model, list(values), {column: (expression, values)})
        return
    _, by_pk = pending.computed.setdefault((model, column), (expression, {}))
    for pk, texts in values.items():
        by_pk.setdefault(pk, []).extend(texts)


def _computed_sets(pks: list, computed: dict, first: int) -> tuple[list[str], list[str], list]:
    """The SET items, the unnest columns and their parameters of the computed columns, for rows `pks`."""
    sets, kinds, params = [], [], []
    for i, (column, (expression, by_pk)) in enumerate(sorted(computed.items()), start=first):
        value = f"u.c{i}"
        new = expression.format(old=f"t.{column}", value=value)
        sets.append(f"{column} = CASE WHEN {value} IS NULL THEN t.{column} ELSE {new} END")
        kinds.append("text[]")
        params.append([" ".join(by_pk[pk]) if pk in by_pk else None for pk in pks])
    return sets, kinds, params


def _update_computed(model: type[Model], pks: list, computed: dict) -> int:
    pk = model._meta.pk
    sets, kinds, params = _computed_sets(pks, computed, 0)
    statement = (
        f"UPDATE {model._meta.db_table} t SET {', '.join(sets)} "
        f"FROM unnest(%b::{pk.db_type(connection)}[], {', '.join(f'%b::{k}' for k in kinds)}) "
        f"AS u(pk, {', '.join(f'c{i}' for i in range(len(kinds)))}) WHERE t.{pk.column} = u.pk"
    )
    with connection.bound_cursor() as cursor:
        cursor.execute(statement, [pks, *params])
        return cursor.rowcount


def _update(model: type[Model], objs: Sequence[Model], names: Sequence[str], computed: dict) -> int:
    fields, columns = _layout(model, tuple(sorted(names)), False, "u.c")
    pk = model._meta.pk
    pks = [obj.pk for obj in objs]
    extra_sets, extra_kinds, extra_params = _computed_sets(pks, computed, len(fields))
    kinds = [kind for kind, _ in columns] + extra_kinds
    table = model._meta.db_table
    sets = [f"{f.column} = {expr}" for f, (_, expr) in zip(fields, columns, strict=True)] + extra_sets
    statement = (
        f"UPDATE {table} t SET {', '.join(sets)} "
        f"FROM unnest(%b::{pk.db_type(connection)}[], {', '.join(f'%b::{kind}' for kind in kinds)}) "
        f"AS u(pk, {', '.join(f'c{i}' for i in range(len(kinds)))}) WHERE t.{pk.column} = u.pk"
    )
    params = [pks, *(_values(f, objs, add=False) for f in fields), *extra_params]
    with connection.bound_cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount
