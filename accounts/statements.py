"""Statements written once per process and, on PostgreSQL, prepared once per database session.

The create path runs a dozen short statements per order. PostgreSQL parsed, analysed and
planned each one on every call: measured per create (`log_parser_stats`, `log_planner_stats`,
`log_executor_stats`), 2.5 ms of the backend's time went to parsing and planning against
1.9 ms to executing. A server-side prepared statement is parsed and planned once per session
and then only executed. psycopg2, the driver this project uses, interpolates parameters on
the client and has no prepared statements of its own (psycopg 3 prepares repeated queries
by itself), so this module does it in SQL: the first call in a session sends
`PREPARE wN AS <the statement>; EXECUTE wN(<parameters>)` in one round trip, later calls
only `EXECUTE wN(<parameters>)`. One call is one `execute` either way, so query counts are
the same whether a statement is prepared yet or not.

`Statement(sql)` takes the SQL as `cursor.execute` does (`%s` parameters, `%%` for a percent
sign); `statement.execute(cursor, params)` runs it on that cursor and leaves the result to
fetch as usual. Elsewhere than PostgreSQL, or with DATABASE_PREPARED_STATEMENTS off (behind a
pooler that hands a transaction to any server session, e.g. PgBouncer in transaction mode),
it is a plain `cursor.execute`.

A prepared statement belongs to its session: a new connection (Django reconnects after
CONN_MAX_AGE, after an error, in a new thread) starts with none, and each statement is
prepared again on its first use there. When a call fails, the statement is prepared under a
new name on its next call (the old one, if it exists, is left to the session's end), so an
error never leaves a statement that cannot be run: it also heals a plan that a migration
made invalid ("cached plan must not change result type").
"""

from __future__ import annotations

import itertools
import re

from django.conf import settings

_PLACEHOLDER = re.compile(r"%([s%])")
# One sequence of names for the process: a name is never prepared twice in a session.
_names = itertools.count(1)


class Statement:
    def __init__(self, sql: str):
        self.sql = sql
        self.key = object()
        count = 0

        def number(match):
            nonlocal count
            if match.group(1) == "%":
                return "%%"
            count += 1
            return f"${count}"

        # The statement with $n parameters, still escaped for the driver's interpolation
        # (the PREPARE is sent with the EXECUTE's parameters).
        self._numbered = _PLACEHOLDER.sub(number, sql)
        self._count = count

    def execute(self, cursor, params=()) -> None:
        db = cursor.db
        if db.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
            cursor.execute(self.sql, list(params))
            return
        params = list(params)
        if len(params) != self._count:
            raise TypeError(f"{self._count} parameters expected, {len(params)} given")
        prepared = _prepared(db)
        name = prepared.get(self.key)
        fresh = name is None
        if fresh:
            name = f"w{next(_names)}"
        args = ", ".join(["%s"] * self._count)
        call = f"EXECUTE {name}({args})" if self._count else f"EXECUTE {name}"
        sql = f"PREPARE {name} AS {self._numbered}; {call}" if fresh else call
        try:
            cursor.execute(sql, params)
        except BaseException:
            prepared.pop(self.key, None)
            raise
        if fresh:
            prepared[self.key] = name


def _prepared(db) -> dict:
    """{statement key: name} of the statements prepared in `db`'s current session."""
    raw = db.connection
    state = db.__dict__.get("_whistle_prepared")
    if state is None or state[0] is not raw:
        state = db.__dict__["_whistle_prepared"] = (raw, {})
    return state[1]


# --------------------------------------------------------------------------- inserts

# Field classes whose value, when it is of the Python type named, goes to the driver as it is
# (Django's get_db_prep_save returns it unchanged on PostgreSQL and SQLite): the insert skips
# the ORM's conversion for those values and converts every other one as the ORM does.
_PLAIN_VALUES = {
    "CharField": str,
    "TextField": str,
    "SlugField": str,
    "FSMField": str,
    "BooleanField": bool,
    "IntegerField": int,
    "BigIntegerField": int,
    "SmallIntegerField": int,
    "PositiveIntegerField": int,
    "PositiveSmallIntegerField": int,
    "PositiveBigIntegerField": int,
    "AutoField": int,
    "BigAutoField": int,
}


class RowInsert:
    """INSERT of new instances of one model, as `obj.save(force_insert=True)` writes them (or
    `bulk_create(objs, ignore_conflicts=True)` with `ignore_conflicts`): its related objects'
    ids taken, pre_save/post_save signals sent, fields' pre_save run, values converted, the
    new id set from the database (not with ignore_conflicts, as bulk_create), the instances
    marked saved. The statement is written once per process for each number of rows (up to
    MAX_ROWS; more go through the ORM: `save()` each, or `bulk_create` in batches of
    BULK_BATCH) and prepared once per session (`Statement`):
    the ORM's compilation of an INSERT cost more than the database takes to run it.

    The model's own `save()` is not called. A model that overrides it says what of it an
    insert must do in `before_insert()` and `after_insert()`, or RowInsert refuses it.
    Models with multi-table inheritance, database defaults, generated columns or fields that
    write their own placeholder are refused too: for those the ORM's insert is the one."""

    MAX_ROWS = 16
    BULK_BATCH = 500

    def __init__(self, model, *, ignore_conflicts: bool = False):
        from django.db import models

        meta = model._meta
        if meta.parents or meta.order_with_respect_to:
            raise TypeError(f"{meta.label}: inheritance or ordering is the ORM's to insert")
        if model.save is not models.Model.save and not hasattr(model, "before_insert"):
            raise TypeError(f"{meta.label} overrides save() and has no before_insert()")
        if not isinstance(meta.pk, models.AutoField | models.BigAutoField):
            raise TypeError(f"{meta.label}: an automatic id is expected")
        for field in meta.concrete_fields:
            if field.has_db_default() or field.generated or hasattr(field, "get_placeholder"):
                raise TypeError(f"{meta.label}.{field.name} is the ORM's to insert")
        self.model = model
        self.ignore_conflicts = ignore_conflicts
        # What the model's save() adds around the write (unbound: called with the instance).
        self._before = getattr(model, "before_insert", None)
        self._after = getattr(model, "after_insert", None)
        self.fields = [f for f in meta.concrete_fields if f is not meta.pk]
        # Fields whose pre_save does more than read the attribute (auto_now and the like).
        self._pre_save = [type(f).pre_save is not models.Field.pre_save for f in self.fields]
        self._statements: dict[tuple, Statement] = {}
        self._plain: dict[str, list] = {}

    def _statement(self, db, rows: int, with_pk: bool) -> Statement:
        key = (db.vendor, rows, with_pk)
        statement = self._statements.get(key)
        if statement is None:
            from django.db.models.constants import OnConflict

            meta, q = self.model._meta, db.ops.quote_name
            fields = ([meta.pk] if with_pk else []) + self.fields
            conflict = OnConflict.IGNORE if self.ignore_conflicts else None
            row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            sql = (
                f"{db.ops.insert_statement(on_conflict=conflict)} {q(meta.db_table)} "
                f"({', '.join(q(f.column) for f in fields)}) VALUES {', '.join([row] * rows)}"
            )
            suffix = db.ops.on_conflict_suffix_sql(fields, conflict, None, None)
            if suffix:
                sql += f" {suffix}"
            if not with_pk and not self.ignore_conflicts:
                returning, _params = db.ops.return_insert_columns([meta.pk])
                sql += f" {returning}"
            statement = self._statements[key] = Statement(sql)
        return statement

    def _plain_types(self, db) -> list:
        """Per field, the Python type whose values need no conversion (None: convert)."""
        found = self._plain.get(db.vendor)
        if found is None:
            found = []
            for field in self.fields:
                target = field.target_field if field.is_relation else field
                kind = _PLAIN_VALUES.get(type(target).__name__)
                if db.vendor not in ("postgresql", "sqlite"):
                    kind = None
                found.append(kind)
            self._plain[db.vendor] = found
        return found

    def insert(self, objs, *, using: str = "default") -> None:
        from django.db import connections
        from django.db.models import signals

        objs = list(objs)
        if not objs:
            return
        db = connections[using]
        if len(objs) > self.MAX_ROWS or not db.features.can_return_rows_from_bulk_insert:
            if self.ignore_conflicts:
                self.model.objects.using(using).bulk_create(
                    objs, ignore_conflicts=True, batch_size=self.BULK_BATCH
                )
            else:
                for obj in objs:
                    obj.save(force_insert=True, using=using)
            return
        model = self.model
        pk_attname = model._meta.pk.attname
        with_pk = getattr(objs[0], pk_attname) is not None
        if any((getattr(o, pk_attname) is not None) != with_pk for o in objs):
            raise ValueError("all the rows have an id or none has")
        before = self._before
        send_pre = signals.pre_save.has_listeners(model)
        params: list = []
        plain = self._plain_types(db)
        for obj in objs:
            obj._prepare_related_fields_for_save(operation_name="save")
            if send_pre:
                signals.pre_save.send(
                    sender=model, instance=obj, raw=False, using=using, update_fields=None
                )
            if before is not None:
                before(obj)
            if with_pk:
                params.append(getattr(obj, pk_attname))
            for field, kind, pre_save in zip(self.fields, plain, self._pre_save, strict=True):
                value = field.pre_save(obj, True) if pre_save else getattr(obj, field.attname)
                if value is None or (kind is not None and type(value) is kind):
                    params.append(value)
                    continue
                if hasattr(value, "resolve_expression"):
                    raise TypeError(f"{model._meta.label}.{field.name}: an expression")
                params.append(field.get_db_prep_save(value, connection=db))
        with db.cursor() as cur:
            self._statement(db, len(objs), with_pk).execute(cur, params)
            ids = cur.fetchall() if not with_pk and not self.ignore_conflicts else None
        after = self._after
        send_post = signals.post_save.has_listeners(model)
        for i, obj in enumerate(objs):
            if ids is not None:
                setattr(obj, pk_attname, ids[i][0])
            obj._state.adding = False
            obj._state.db = using
            if after is not None:
                after(obj)
            if send_post:
                signals.post_save.send(
                    sender=model,
                    instance=obj,
                    created=True,
                    update_fields=None,
                    raw=False,
                    using=using,
                )
