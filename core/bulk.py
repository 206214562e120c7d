"""Fast multi-row inserts with their change-history rows, for the services' bulk writes (roster import).

Django's bulk_create compiles every value through the ORM's SQL compiler, which for tens of thousands of
rows costs more than the database itself. `insert_rows` prepares each column's conversion once, sends
multi-row INSERT … VALUES … RETURNING statements (as many rows as the database's parameter limit allows)
and sets the new primary keys on the instances. `insert_history` writes simple_history rows for them the
same way (who, when, why, "+" or "~"), as simple_history's bulk_history_create would, and records in each
new row the many-to-many sets the history keeps (an enterprise's key processes), as a single save would.
"""

import itertools
import sqlite3

from django.db import connections, router
from django.db.models import AutoField, BigAutoField, DateTimeField, SmallAutoField
from django.utils import timezone
from simple_history.utils import get_history_model_for_model

from core.history import history_m2m_fields, record_m2m_history

#: Column types whose Python value the database adapter takes as it is.
_PLAIN_TYPES = {
    "CharField",
    "TextField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "PositiveBigIntegerField",
    "BooleanField",
    "ForeignKey",
    "OneToOneField",
}
_AUTO_FIELDS = (AutoField, BigAutoField, SmallAutoField)


def _max_params(connection) -> int:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        try:
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # Python < 3.11
            return 999
    return 30000


def _converter(field, connection):
    if field.get_internal_type() in _PLAIN_TYPES:
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def _execute(model, connection, fields, value_rows, *, returning: bool) -> list:
    """Send `value_rows` (an iterable, consumed batch by batch: memory stays flat) in multi-row INSERTs."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    batch = max(1, min(1000, _max_params(connection) // max(1, len(fields))))
    pk_column = quote(model._meta.pk.column)
    ids = []
    rows = iter(value_rows)
    with connection.cursor() as cursor:
        while chunk := list(itertools.islice(rows, batch)):
            sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(chunk))}"
            params = [value for row in chunk for value in row]
            if returning:
                cursor.execute(f"{sql} RETURNING {pk_column}", params)
                ids.extend(row[0] for row in cursor.fetchall())
            else:
                cursor.execute(sql, params)
            if connection.queries_logged and connection.queries_log:
                # DEBUG keeps the last 9,000 statements; a thousand rows' values each would hold gigabytes.
                connection.queries_log[-1]["sql"] = f"INSERT INTO {table} ({columns}) … {len(chunk)} rows"
    return ids


def insert_rows(model, objs: list) -> list:
    """INSERT the unsaved instances `objs` in multi-row statements; set their primary keys; return them.

    auto_now / auto_now_add fields are set as save() would; related instances saved since they were
    assigned are picked up (as bulk_create does). No signals are sent (like bulk_create).
    """
    if not objs:
        return objs
    alias = router.db_for_write(model)
    connection = connections[alias]
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, _AUTO_FIELDS)]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    converters = [(f.attname, _converter(f, connection)) for f in fields]

    def rows():
        for obj in objs:
            obj._prepare_related_fields_for_save(operation_name="bulk_create")
            for field in stamped:
                field.pre_save(obj, add=True)
            yield [
                convert(getattr(obj, attname)) if convert else getattr(obj, attname) for attname, convert in converters
            ]

    ids = _execute(model, connection, fields, rows(), returning=True)
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias
    return objs


def insert_history(model, objs: list, *, user=None, reason: str = "", history_type: str = "+", returning=False):
    """Write one simple_history row per saved instance (the state it has now, its many-to-many sets
    included), naming `user` and `reason`, dated now (or the instance's `_history_date`, as simple-history).

    Returns the new history ids in the order of `objs` when `returning`.
    """
    if not objs:
        return []
    m2m_fields = history_m2m_fields(model)
    history_model = get_history_model_for_model(model)
    connection = connections[router.db_for_write(history_model)]
    tracked = list(history_model.tracked_fields)
    by_name = {f.name: f for f in history_model._meta.concrete_fields}
    extra = [by_name[name] for name in ("history_date", "history_change_reason", "history_type", "history_user")]
    tracked_columns = [by_name[f.name] for f in tracked]
    converters = [(f.attname, _converter(by_name[f.name], connection)) for f in tracked]
    now = extra[0].get_db_prep_save(timezone.now(), connection)
    fixed = [reason or None, history_type, user.pk if getattr(user, "pk", None) else None]

    def when(obj):  # a date set on the instance (as simple-history reads it), else now
        date = getattr(obj, "_history_date", None)
        return now if date is None else extra[0].get_db_prep_save(date, connection)

    rows = (
        [convert(getattr(obj, attname)) if convert else getattr(obj, attname) for attname, convert in converters]
        + [when(obj), *fixed]
        for obj in objs
    )
    ids = _execute(history_model, connection, tracked_columns + extra, rows, returning=returning or bool(m2m_fields))
    if m2m_fields:
        record_m2m_history(model, dict(zip((obj.pk for obj in objs), ids, strict=True)))
    return ids if returning else []


def _auto_now_value(field, now):
    return now if isinstance(field, DateTimeField) else timezone.localdate(now)


def insert_uniform_rows(model, key: str, keys: list, values: dict, *, user=None, reason: str = "") -> list:
    """INSERT one row per item of `keys` into `model` and its "+" history row, rows that differ only in the
    column `key` (an attname): every other column takes `values[attname]`, else its default, auto_now fields
    the moment of the call. Each constant is converted once, no model instance is made: what insert_rows plus
    insert_history would write for such rows, at a fraction of the cost. Returns the new primary keys in order."""
    if not keys:
        return []
    now = timezone.now()
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, _AUTO_FIELDS)]
    constants = {}
    for field in fields:
        if field.attname == key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = _auto_now_value(field, now)
        else:
            value = values[field.attname] if field.attname in values else field.get_default()
        convert = _converter(field, connection)
        constants[field.attname] = convert(value) if convert else value
    position = [f.attname for f in fields].index(key)
    template = [constants.get(f.attname) for f in fields]

    def rows():
        for item in keys:
            row = list(template)
            row[position] = item
            yield row

    ids = _execute(model, connection, fields, rows(), returning=True)

    history_model = get_history_model_for_model(model)
    history_connection = connections[router.db_for_write(history_model)]
    by_name = {f.name: f for f in history_model._meta.concrete_fields}
    tracked = [by_name[f.name] for f in history_model.tracked_fields]
    extra = [by_name[name] for name in ("history_date", "history_change_reason", "history_type", "history_user")]
    pk_name = model._meta.pk.attname
    fixed = [
        extra[0].get_db_prep_save(now, history_connection),
        reason or None,
        "+",
        user.pk if getattr(user, "pk", None) else None,
    ]
    history_template = [None if f.attname in (pk_name, key) else constants.get(f.attname) for f in tracked] + fixed
    pk_position = [f.attname for f in tracked].index(pk_name)
    key_position = [f.attname for f in tracked].index(key)

    def history_rows():
        for new_id, item in zip(ids, keys, strict=True):
            row = list(history_template)
            row[pk_position], row[key_position] = new_id, item
            yield row

    _execute(history_model, history_connection, tracked + extra, history_rows(), returning=False)
    return ids


def update_rows(model, objs: list, fields: list[str]) -> int:
    """UPDATE the saved instances `objs`, each with its own values of `fields`, in multi-row statements.

    `UPDATE … SET f = v.f … FROM (VALUES (pk, f, …), …) AS v WHERE pk = v.pk` on PostgreSQL and SQLite (3.33+):
    one statement per thousand rows, where Django's bulk_update compiles a CASE WHEN per field and row (about
    eight times slower at 40,000 rows, bench/bench_hazards.py). Other databases fall back to bulk_update. No
    signals, no auto_now (name the fields to set). Returns the number of rows sent.
    """
    if not objs:
        return 0
    connection = connections[router.db_for_write(model)]
    if connection.vendor not in ("postgresql", "sqlite"):
        model._default_manager.bulk_update(objs, fields, batch_size=1000)
        return len(objs)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    columns = [pk, *(model._meta.get_field(name) for name in fields)]
    converters = [(field.attname, _converter(field, connection)) for field in columns]
    if connection.vendor == "postgresql":
        # VALUES of bare parameters would be text: each is cast to its column's type.
        row_sql = "(" + ", ".join(f"%s::{field.cast_db_type(connection)}" for field in columns) + ")"
        names = [quote(f"c{index}") for index in range(len(columns))]
        alias = f"v({', '.join(names)})"
        refs = [f"v.{name}" for name in names]
    else:
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        alias = "v"
        refs = [f"v.column{index + 1}" for index in range(len(columns))]
    sets = ", ".join(f"{quote(field.column)} = {ref}" for field, ref in zip(columns[1:], refs[1:], strict=True))
    batch = max(1, min(1000, _max_params(connection) // len(columns)))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch):
            chunk = objs[start : start + batch]
            params = [
                convert(getattr(obj, attname)) if convert else getattr(obj, attname)
                for obj in chunk
                for attname, convert in converters
            ]
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row_sql] * len(chunk))}) AS {alias} "
                f"WHERE {table}.{quote(pk.column)} = {refs[0]}",
                params,
            )
            if connection.queries_logged and connection.queries_log:
                connection.queries_log[-1]["sql"] = f"UPDATE {table} SET {sets} FROM (VALUES …) {len(chunk)} rows"
    return len(objs)
