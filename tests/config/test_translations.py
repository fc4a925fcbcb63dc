"""The project's English catalogues agree with each other and are complete.

Django merges every catalogue of a language into one (LOCALE_PATHS first, then the apps in
INSTALLED_APPS order, the first translation wins). If two apps translate the same msgid (with
the same message context) differently, one of them silently shows the other's English: the
order page's customer address read "URL" (a webhook's 地址). A Chinese word with two meanings
needs a message context (pgettext / {% translate "…" context "…" %}); one with one meaning
needs one English term in every catalogue.
"""

from __future__ import annotations

import ast
import gettext
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

LANG = "en"


def _locale_dirs() -> dict[str, Path]:
    """name → locale directory of the project's catalogues (not Django's or third parties')."""
    base = Path(settings.BASE_DIR).resolve()
    venv = Path(sys.prefix).resolve()  # may live inside the project folder (.venv)
    dirs = {}
    for path in settings.LOCALE_PATHS:
        path = Path(path).resolve()
        dirs[str(path.parent.relative_to(base))] = path
    for config in apps.get_app_configs():
        app_path = Path(config.path).resolve()
        ours = app_path.is_relative_to(base) and not app_path.is_relative_to(venv)
        if ours and (app_path / "locale").is_dir():
            dirs[config.label] = app_path / "locale"
    return dirs


CATALOGUES = {
    name: path / LANG / "LC_MESSAGES"
    for name, path in _locale_dirs().items()
    if (path / LANG / "LC_MESSAGES" / "django.po").exists()
}


def _key(msgctxt: str | None, msgid: str) -> str:
    return msgid if msgctxt is None else f"{msgctxt}\x04{msgid}"


def _show(key) -> str:
    msgid, n = key if isinstance(key, tuple) else (key, None)
    ctxt, _, msgid = msgid.rpartition("\x04")
    shown = repr(msgid) + (f" (context {ctxt!r})" if ctxt else "")
    return shown + (f" [plural form {n}]" if n is not None else "")


def _mo_catalog(name: str) -> dict:
    with open(CATALOGUES[name] / "django.mo", "rb") as fp:
        catalog = gettext.GNUTranslations(fp)._catalog
    return {k: v for k, v in catalog.items() if k != ""}  # "" is the header


def _unquote(line: str) -> str:
    return ast.literal_eval(line.strip())  # PO strings use C escapes: \" \\ \n \t


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (a list: one item, or
    one per plural form), fuzzy. Obsolete (#~) entries and the header are left out."""
    entries, entry, field = [], None, None

    def finish():
        if entry is not None and entry.get("msgid") is not None and entry["msgid"] != "":
            entries.append(entry)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None and "msgid" in entry:
                finish()
                entry, field = None, None
            if line.startswith("#,") and "fuzzy" in line[2:].replace(" ", "").split(","):
                entry = entry or {"msgctxt": None, "msgstr": {}}
                entry["fuzzy"] = True
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            value = _unquote(line)
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += value
            else:
                entry[field[0]] += value
            continue
        if keyword in ("msgctxt", "msgid") and entry is not None and "msgid" in entry:
            finish()
            entry = None
        entry = entry or {"msgctxt": None, "msgstr": {}}
        if keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            entry["msgstr"][index] = _unquote(rest)
            field = ("msgstr", index)
        else:
            entry[keyword] = _unquote(rest)
            field = (keyword,)
    finish()
    for e in entries:
        e["msgstr"] = [e["msgstr"][i] for i in sorted(e["msgstr"])]
        e.setdefault("fuzzy", False)
        e.setdefault("msgid_plural", None)
    return entries


def test_the_project_catalogues_are_all_found():
    expected = {
        "templates",
        "accounts",
        "workorders",
        "sla",
        "notifications",
        "api",
        "web",
        "backoffice",
        "reports",
        "customers",
    }
    assert expected <= set(CATALOGUES), sorted(CATALOGUES)


def test_no_msgid_is_translated_differently_by_two_catalogues():
    seen: dict = defaultdict(lambda: defaultdict(list))  # key → translation → [catalogue]
    for name in CATALOGUES:
        for key, value in _mo_catalog(name).items():
            seen[key][value].append(name)
    clashes = [
        f"{_show(key)}: "
        + "; ".join(f"{', '.join(names)} → {value!r}" for value, names in sorted(values.items()))
        for key, values in sorted(seen.items(), key=lambda kv: str(kv[0]))
        if len(values) > 1
    ]
    assert not clashes, (
        "The same msgid is translated differently in two catalogues; Django shows only one of "
        "them everywhere. Use one English term, or give the other meaning a message context "
        "(pgettext):\n" + "\n".join(clashes)
    )


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_every_entry_is_translated_and_not_fuzzy(name):
    entries = read_po(CATALOGUES[name] / "django.po")
    assert entries, f"{name}: no entries read from django.po"
    bad = [
        f"{_show(_key(e['msgctxt'], e['msgid']))}: " + ("fuzzy" if e["fuzzy"] else "untranslated")
        for e in entries
        if e["fuzzy"] or not all(e["msgstr"]) or not e["msgstr"]
    ]
    assert not bad, f"{name}/locale/{LANG}/LC_MESSAGES/django.po:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_the_compiled_catalogue_matches_the_po_file(name):
    """compilemessages was run after the last edit: the .mo says what the .po says."""
    expected = {}
    for e in read_po(CATALOGUES[name] / "django.po"):
        key = _key(e["msgctxt"], e["msgid"])
        if e["msgid_plural"] is None:
            expected[key] = e["msgstr"][0]
        else:
            expected.update({(key, n): s for n, s in enumerate(e["msgstr"])})
    compiled = _mo_catalog(name)
    stale = [
        f"{_show(key)}: .po {value!r}, .mo {compiled.get(key)!r}"
        for key, value in expected.items()
        if compiled.get(key) != value
    ] + [f"{_show(key)}: only in the .mo" for key in compiled.keys() - expected.keys()]
    assert not stale, f"{name}: run compilemessages:\n" + "\n".join(sorted(stale))


def test_the_reader_sees_contexts_plurals_and_fuzzy_flags(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '#: a.py:1\nmsgctxt "webhook"\nmsgid "地址"\nmsgstr "URL"\n\n'
        '#, fuzzy, python-format\nmsgid "剩 %(t)s"\nmsgstr "%(t)s left"\n\n'
        'msgid "已选 %(n)s 张"\nmsgid_plural "已选 %(n)s 张"\nmsgstr[0] "%(n)s order"\n'
        'msgstr[1] ""\n\n'
        'msgid ""\n"长"\n"文本"\nmsgstr ""\n"long "\n"text \\"quoted\\""\n\n'
        '#~ msgid "旧"\n#~ msgstr "Old"\n',
        encoding="utf-8",
    )
    entries = read_po(po)
    assert [(e["msgctxt"], e["msgid"], e["msgstr"], e["fuzzy"]) for e in entries] == [
        ("webhook", "地址", ["URL"], False),
        (None, "剩 %(t)s", ["%(t)s left"], True),
        (None, "已选 %(n)s 张", ["%(n)s order", ""], False),
        (None, "长文本", ['long text "quoted"'], False),
    ]


def test_the_merged_catalogue_keeps_each_meaning():
    """The cases that went wrong when one app's English won for everybody."""
    from django.utils import translation
    from django.utils.translation import gettext, pgettext

    with translation.override(LANG):
        assert gettext("地址") == "Address"  # the customer's address on the order page
        assert pgettext("webhook", "地址") == "URL"
        assert pgettext("action", "作废") == "Cancel"  # the back office's button
        assert pgettext("clock outcome", "作废") == "Voided"
        assert pgettext("event", "派单") == "Dispatched"  # the web timeline
        assert (gettext("工单号"), gettext("状态")) == ("Number", "State")
