"""Keyset ("cursor") pagination over any ordering, including mixed directions and nullable
columns. A page after a cursor is read as a few index range scans, most specific first:
rows tied on every key but the last, then tied on all but the last two, and so on. Each scan
starts at the cursor, so page 10,000 costs what page 1 costs and inserts never shift pages.
(DRF's CursorPagination keys on the first ordering field only and falls back to OFFSET among
ties, which for "urgent first" means OFFSET over almost the whole table.)"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Q
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .errors import InvalidCursor


@dataclass(frozen=True)
class Key:
    field: str
    desc: bool = False
    nullable: bool = False  # nulls sort last in the forward direction

    def order(self, reverse: bool):
        desc = self.desc != reverse
        expr = F(self.field)
        if not self.nullable:
            return expr.desc() if desc else expr.asc()
        nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        return expr.desc(**nulls) if desc else expr.asc(**nulls)

    def equal(self, value) -> Q:
        return Q(**{f"{self.field}__isnull": True}) if value is None else Q(**{self.field: value})

    def after(self, value, reverse: bool) -> list[Q]:
        """Disjoint segments strictly after `value` in iteration order, in that order."""
        nulls_at_end = not reverse
        if value is None:
            if not self.nullable or nulls_at_end:
                return []
            return [Q(**{f"{self.field}__isnull": False})]
        desc = self.desc != reverse
        segments = [Q(**{f"{self.field}__{'lt' if desc else 'gt'}": value})]
        if self.nullable and nulls_at_end:
            segments.append(Q(**{f"{self.field}__isnull": True}))
        return segments


def _encode_value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class KeysetPagination(BasePagination):
    """Orderings are named on the view (`keyset_orderings`, `keyset_default`); the last key of
    each must be unique (the primary key)."""

    cursor_query_param = "cursor"
    ordering_query_param = "ordering"
    page_size_query_param = "page_size"
    page_size = 20
    max_page_size = 100

    def _orderings(self, view) -> dict[str, list[Key]]:
        return view.keyset_orderings

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        try:
            size = int(raw)
        except (TypeError, ValueError):
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        _("每页条数须在 1 到 %(n)d 之间。") % {"n": self.max_page_size}
                    ]
                }
            )
        return size

    def _ordering(self, request, view) -> tuple[str, list[Key]]:
        orderings = self._orderings(view)
        name = request.query_params.get(self.ordering_query_param) or view.keyset_default
        if name not in orderings:
            raise ValidationError(
                {
                    self.ordering_query_param: [
                        _("排序方式无效，可选：%(v)s。") % {"v": ", ".join(orderings)}
                    ]
                }
            )
        return name, orderings[name]

    def _decode(self, raw: str, name: str, keys: list[Key], model) -> tuple[list, bool]:
        try:
            padded = raw + "=" * (-len(raw) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
            if not isinstance(data, dict) or data.get("o") != name:
                raise ValueError
            values = data["v"]
            reverse = data["d"] == "p"
            if not isinstance(values, list) or len(values) != len(keys):
                raise ValueError
            parsed = []
            for key, value in zip(keys, values, strict=True):
                if value is None:
                    if not key.nullable:
                        raise ValueError
                    parsed.append(None)
                    continue
                if not isinstance(value, (str, int, bool)):
                    raise ValueError
                field = model._meta.get_field(key.field)
                parsed_value = field.to_python(value)
                if isinstance(parsed_value, int) and not -(2**63) < parsed_value < 2**63:
                    raise ValueError
                parsed.append(parsed_value)
            return parsed, reverse
        except (
            ValueError,
            TypeError,
            KeyError,
            UnicodeError,
            binascii.Error,
            DjangoValidationError,
            OverflowError,
        ):
            raise InvalidCursor() from None

    def _cursor(self, name: str, keys: list[Key], obj, direction: str) -> str:
        values = [_encode_value(getattr(obj, k.field)) for k in keys]
        raw = json.dumps({"o": name, "v": values, "d": direction}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @staticmethod
    def _segments(keys: list[Key], values: list, reverse: bool):
        """Disjoint filters covering every row after the cursor, in iteration order.

        The deepest two levels (rows tied on all keys but the last two) are one filter when
        the next-to-last value is not null: "at or after v, and past the cursor's row if equal
        to v" is one index range from (…, v) on, so a page after a cursor usually costs one
        query, as the first page does, instead of a near-empty query for the cursor's exact
        ties followed by the real one."""
        depth = len(keys) - 1
        if len(keys) >= 2 and values[-2] is not None:
            pen, last = keys[-2], keys[-1]
            desc = pen.desc != reverse
            prefix = Q()
            for key, value in zip(keys[:-2], values[:-2], strict=True):
                prefix &= key.equal(value)
            at_or_after = Q(**{f"{pen.field}__{'lte' if desc else 'gte'}": values[-2]})
            strictly_after = Q(**{f"{pen.field}__{'lt' if desc else 'gt'}": values[-2]})
            (past_cursor,) = last.after(values[-1], reverse)
            yield prefix & at_or_after & (strictly_after | past_cursor)
            for segment in pen.after(values[-2], reverse)[1:]:  # the nulls, if they follow
                yield prefix & segment
            depth = len(keys) - 3
        for d in range(depth, -1, -1):
            prefix = Q()
            for key, value in zip(keys[:d], values[:d], strict=True):
                prefix &= key.equal(value)
            for segment in keys[d].after(values[d], reverse):
                yield prefix & segment

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self._page_size(request)
        name, keys = self._ordering(request, view)
        raw = request.query_params.get(self.cursor_query_param)
        reverse = False
        rows: list = []
        if raw:
            values, reverse = self._decode(raw, name, keys, queryset.model)
            order = [k.order(reverse) for k in keys]
            for segment in self._segments(keys, values, reverse):
                need = size + 1 - len(rows)
                if need <= 0:
                    break
                rows.extend(queryset.filter(segment).order_by(*order)[:need])
        else:
            rows = list(queryset.order_by(*[k.order(False) for k in keys])[: size + 1])
        has_more = len(rows) > size
        rows = rows[:size]
        if reverse:
            rows.reverse()
        self.next_cursor = self.previous_cursor = None
        if rows:
            if has_more or reverse:
                self.next_cursor = self._cursor(name, keys, rows[-1], "n")
            if (raw and not reverse) or (reverse and has_more):
                self.previous_cursor = self._cursor(name, keys, rows[0], "p")
        return rows

    def _link(self, cursor):
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link(self.next_cursor),
                "previous": self._link(self.previous_cursor),
                "results": data,
            }
        )

    def first_page_link(self):
        return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from `next` or `previous`.",
                "schema": {"type": "string"},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": f"Ordering (default {view.keyset_default}).",
                "schema": {"type": "string", "enum": list(self._orderings(view))},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
