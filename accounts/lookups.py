"""One row by a unique column, with the rows its foreign keys name, in a statement written once
per process: for look-ups that every request makes (the API token with its user and their
department, the reported category with its routing department), where the ORM spent longer
compiling the query (its joins, select_related's column lists) than the database takes to
answer it.

`RowLookup(Token, "key", ("user", "user__department")).get(key)` returns what
`Token.objects.select_related("user__department").filter(key=key).first()` returns, without
its ORDER BY: the instances built from the row as the ORM builds them (`Model.from_db`, each
column through the same converters) and linked through the foreign keys' caches, so reading
`token.user.department` queries nothing more. A foreign key that may be null is a LEFT JOIN
(and so is everything after it); its object is None when the row has none. On PostgreSQL the
statement is also prepared once per database session (accounts/statements.py).
"""

from __future__ import annotations

from django.db import connection
from django.db.models.expressions import Col

from .statements import Statement


class RowLookup:
    """`column`: the unique column to look up by (`get(value)`). Or `where` (a condition on
    the row, its columns written `t0."name"`, with %s parameters: `get(*values)`) and
    `order_by` (which row comes first when several meet it)."""

    def __init__(
        self,
        model,
        column: str | None = None,
        related: tuple[str, ...] = (),
        *,
        where: str | None = None,
        order_by: str = "",
    ):
        assert (column is None) != (where is None), "a column or a condition"
        self.model = model
        self.column = column
        self.related = related
        self.where = where
        self.order_by = order_by
        self._compiled: dict[str, tuple] = {}

    def _compile(self):
        q = connection.ops.quote_name
        # (alias, model, path, parent index, foreign key from the parent)
        tables = [("t0", self.model, "", None, None)]
        joins, outer = [], {"": False}
        for path in self.related:
            parent_path, _sep, name = path.rpartition("__")
            parent = next(i for i, t in enumerate(tables) if t[2] == parent_path)
            fk = tables[parent][1]._meta.get_field(name)
            alias = f"t{len(tables)}"
            tables.append((alias, fk.related_model, path, parent, fk))
            outer[path] = outer[parent_path] or fk.null
            kind = "LEFT OUTER JOIN" if outer[path] else "INNER JOIN"
            target = fk.target_field.column
            joins.append(
                f"{kind} {q(fk.related_model._meta.db_table)} {alias} "
                f"ON {alias}.{q(target)} = {tables[parent][0]}.{q(fk.column)}"
            )
        columns, layout = [], []
        for alias, model, _path, parent, fk in tables:
            fields = list(model._meta.concrete_fields)
            convert = []
            for field in fields:
                col = Col(alias, field)
                found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                convert.append((col, found))
                columns.append(f"{alias}.{q(field.column)}")
            names = [f.attname for f in fields]
            layout.append((model, names, fields.index(model._meta.pk), convert, parent, fk))
        if self.where is None:
            where = f"t0.{q(self.model._meta.get_field(self.column).column)} = %s"
        else:
            where = self.where
        order = f" ORDER BY {self.order_by}" if self.order_by else ""
        sql = (
            f"SELECT {', '.join(columns)} FROM {q(self.model._meta.db_table)} t0 "
            f"{' '.join(joins)} WHERE {where}{order} LIMIT 1"
        )
        return Statement(sql), layout

    def get(self, *values):
        """The row whose column equals the value (or the first that meets the condition),
        with its related rows; None when there is none."""
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            compiled = self._compiled[connection.vendor] = self._compile()
        statement, layout = compiled
        with connection.cursor() as cur:
            statement.execute(cur, values)
            row = cur.fetchone()
        if row is None:
            return None
        objs, at = [], 0
        for model, names, pk_at, convert, parent, fk in layout:
            values = []
            for col, converters in convert:
                v = row[at]
                at += 1
                for converter in converters:
                    v = converter(v, col, connection)
                values.append(v)
            if values[pk_at] is None or (parent is not None and objs[parent] is None):
                obj = None
            else:
                obj = model.from_db(connection.alias, names, values)
            objs.append(obj)
            if parent is not None and objs[parent] is not None:
                fk.set_cached_value(objs[parent], obj)
        return objs[0]
