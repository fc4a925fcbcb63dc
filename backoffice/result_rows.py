"""The changelist's rows, cell by cell, as Django's admin writes them, but with each column's
kind worked out once per page instead of once per cell.

Django's `items_for_result` resolves every cell from scratch: it looks the column's name up as
a model field (raising and catching an exception for each admin method), re-reads the empty
value text, rebuilds the link with the preserved filters (resolving the URL again), and sends
each cell through `format_html`. On a 50-row queue of nine columns that was half of the page's
Python time. Here a column becomes a small function once, and the rows only call them.

Only the column kinds the back office uses are handled (admin methods and the action
checkbox, plain and choice fields, foreign keys, no list_editable); any other changelist is
left to Django (`fast_results` returns None). tests/backoffice/test_changelist.py compares the
markup with Django's for every queue and role."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.contrib.admin.templatetags.admin_list import _coerce_field_name, results
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field, display_for_value
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

Cell = Callable[[models.Model], str]


def _column(cl, index: int, name, is_link: bool) -> Cell | None:
    """A function giving a row's cell for this column (its inner HTML and its classes), or
    None for a column kind this module does not handle."""
    admin = cl.model_admin
    empty = admin.get_empty_value_display()
    base = f"field-{_coerce_field_name(name, index)}"
    if not isinstance(name, str):
        return None
    try:
        field = cl.lookup_opts.get_field(name)
    except FieldDoesNotExist:
        field = None
    if field is None:
        attr = getattr(admin, name, None)
        if attr is None or not callable(attr):
            return None
        empty = getattr(attr, "empty_value_display", empty)
        boolean = getattr(attr, "boolean", False)
        classes = "action-checkbox" if name == "action_checkbox" else base

        def admin_cell(obj, attr=attr, empty=empty, boolean=boolean, classes=classes):
            value = attr(obj)
            if isinstance(value, str) and value.strip() == "":
                value = ""
            html = conditional_escape(display_for_value(value, empty, boolean))
            nowrap = isinstance(value, (datetime.date, datetime.time))
            return html, (classes + " nowrap" if nowrap else classes)

        return admin_cell
    if field.auto_created or field.many_to_many or field.one_to_many:
        return None
    nowrap = isinstance(field, (models.DateField, models.TimeField, models.ForeignKey))
    classes = base + " nowrap" if nowrap else base
    if isinstance(field.remote_field, models.ManyToOneRel):

        def fk_cell(obj, name=field.name, empty=empty, classes=classes):
            related = getattr(obj, name)
            return conditional_escape(empty if related is None else related), classes

        return fk_cell

    def field_cell(obj, field=field, empty=empty, classes=classes):
        value = getattr(obj, field.attname)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        html = display_for_field(value, field, empty, avoid_link=is_link)
        return conditional_escape(html), classes

    return field_cell


def _url_maker(cl) -> Callable[[models.Model], str]:
    """`cl.url_for_result` with the URL pattern reversed once: the change URL with a marker
    for the key, filled in per row. Integer keys only (their text needs no quoting, so it is
    the string `reverse` gives); other keys go through `reverse` row by row."""
    if not isinstance(cl.lookup_opts.pk, models.IntegerField):
        return cl.url_for_result
    marker = "0bo0marker0"
    try:
        pattern = reverse(
            f"admin:{cl.opts.app_label}_{cl.opts.model_name}_change",
            args=(marker,),
            current_app=cl.model_admin.admin_site.name,
        )
    except NoReverseMatch:
        return cl.url_for_result
    if pattern.count(marker) != 1:
        return cl.url_for_result
    head, tail = pattern.split(marker)
    pk = cl.pk_attname

    def url_for(obj):
        return f"{head}{int(getattr(obj, pk))}{tail}"

    return url_for


def fast_results(cl) -> list[list[SafeString]] | None:
    """The rows' cells as Django's `results(cl)` would give them, or None to let Django do it
    (list_editable, popups, custom link rules, column kinds not handled here)."""
    if cl.formset or cl.is_popup or cl.to_field:
        return None
    links = cl.list_display_links
    if not links:
        return None
    columns = []
    for index, name in enumerate(cl.list_display):
        cell = _column(cl, index, name, name in links)
        if cell is None:
            return None
        columns.append((cell, name in links))
    rows = []
    suffix = None
    url_for = _url_maker(cl)
    for obj in cl.result_list:
        cells = []
        first = True
        for cell, is_link in columns:
            html, classes = cell(obj)
            if is_link:
                tag = "th" if first else "td"
                first = False
                try:
                    url = url_for(obj)
                except NoReverseMatch:
                    inner = html
                else:
                    if suffix is None:
                        # The preserved filters are the same query for every row: resolved once.
                        full = add_preserved_filters(
                            {"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url
                        )
                        suffix = full[len(url) :] if full.startswith(url) else None
                        href = full
                    else:
                        href = url + suffix
                    inner = f'<a href="{conditional_escape(href)}">{html}</a>'
                cells.append(mark_safe(f'<{tag} class="{classes}">{inner}</{tag}>'))
            else:
                cells.append(mark_safe(f'<td class="{classes}">{html}</td>'))
        rows.append(cells)
    return rows


def stock_results(cl) -> list[list[SafeString]]:
    return [list(row) for row in results(cl)]
