"""“保存并处理下一张”: the order after this one in the queue the user came from.

The queue is whatever changelist the user opened the order from — any filter, search, sort or
preset — as the admin preserves it in `_changelist_filters`. It is rebuilt exactly as the
changelist builds it (`ModelAdmin.get_changelist_instance` on a request carrying those
parameters), and the next order is the first one that sorts after the current order in the
changelist's own ordering (a keyset condition on the ordering columns), so an order the action
moved out of the queue still has a place to continue from."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.core.exceptions import BadRequest, FieldDoesNotExist, FieldError
from django.db import connection
from django.db.models import F, Q
from django.db.models.expressions import OrderBy
from django.http import HttpRequest, QueryDict

FILTERS_VAR = "_changelist_filters"


def queue_params(request: HttpRequest) -> str:
    """The preserved changelist query string of this request ("" when none)."""
    raw = request.GET.get(FILTERS_VAR, "")
    params = QueryDict(raw, mutable=True)
    for key in (PAGE_VAR, ERROR_FLAG):
        params.pop(key, None)
    return params.urlencode()


def with_queue(url: str, params: str) -> str:
    """`url` carrying the queue along (as the admin's own links do)."""
    if not params:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}{urlencode({FILTERS_VAR: params})}"


@dataclass
class Queue:
    """The changelist queryset of a queue and the current order's place in its ordering."""

    queryset: object
    after: Q | None  # orders that sort after the current one; None: no keyset (start over)
    pk: int

    def next(self):
        qs = self.queryset.exclude(pk=self.pk)
        if self.after is not None:
            found = qs.filter(self.after).first()
            if found is not None:
                return found
            return None
        return qs.first()


def _parts(ordering) -> list[tuple[str, bool]] | None:
    """(field path, descending) for each ordering term, or None when one is not a plain
    column (then there is no keyset: the queue continues from its top)."""
    parts = []
    for term in ordering:
        if isinstance(term, str):
            if term == "?":
                return None
            name, desc = term.lstrip("-"), term.startswith("-")
        elif isinstance(term, OrderBy) and isinstance(term.expression, F):
            if term.nulls_first or term.nulls_last:
                return None
            name, desc = term.expression.name, term.descending
        elif isinstance(term, F):
            name, desc = term.name, False
        else:
            return None
        if all(name != seen for seen, _desc in parts):  # a repeated term decides nothing
            parts.append((name, desc))
    return parts


def _after_one(name: str, value, desc: bool) -> Q:
    """Strictly after `value` in this column's direction, with NULLs where the database sorts
    them (largest on PostgreSQL, smallest on SQLite)."""
    nulls_largest = connection.features.nulls_order_largest
    greater = not desc
    never = Q(pk__in=[])
    if value is None:
        # NULL is the largest value: nothing is greater; everything not NULL is smaller.
        if nulls_largest == greater:
            return never
        return Q(**{f"{name}__isnull": False})
    q = Q(**{f"{name}__{'gt' if greater else 'lt'}": value})
    if nulls_largest == greater:
        q |= Q(**{f"{name}__isnull": True})
    return q


def _equal(name: str, value) -> Q:
    return Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})


def _keyset(model, parts, values: dict) -> Q | None:
    after = Q(pk__in=[])
    for i, (name, desc) in enumerate(parts):
        # Ordering by a relation sorts by the related model's own ordering: no plain column.
        if name != "pk" and "__" not in name:
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                field = None  # an annotation (the changelist's queryset has it)
            if field is not None and field.is_relation and name == field.name:
                return None
        term = _after_one(name, values[name], desc)
        for prev, _desc in parts[:i]:
            term &= _equal(prev, values[prev])
        after |= term
    return after


def queue_of(model_admin, request: HttpRequest, ticket, params: str) -> Queue | None:
    """The queue `params` describes, as this user's changelist shows it, positioned at
    `ticket`. None when the parameters no longer make a valid changelist."""
    fake = copy.copy(request)
    fake.GET = QueryDict(params)
    fake.method = "GET"
    try:
        cl = model_admin.get_changelist_instance(fake)
        queryset = cl.queryset
        parts = _parts(queryset.query.order_by)
        after = None
        if parts:
            values = cl.root_queryset.filter(pk=ticket.pk).values(*[n for n, _d in parts]).first()
            if values is not None:
                after = _keyset(model_admin.model, parts, values)
    except (IncorrectLookupParameters, BadRequest, FieldError, ValueError):
        return None
    return Queue(queryset=queryset, after=after, pk=ticket.pk)
