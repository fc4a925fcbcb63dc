"""seed_demo prints every account README's table of demo accounts names, so a newcomer can log
in as each of them (the field handler on the phone included)."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def test_seed_demo_lists_every_account_of_the_readme_table():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    printed = out.getvalue().split("Demo accounts", 1)[1]
    table = README.read_text(encoding="utf-8").split("| account | role |", 1)[1].split("\n\n")[0]
    named = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.M)
    assert "handler_broadband" in named
    for username in named:
        assert re.search(rf"^  {username} ", printed, flags=re.M), (username, printed)
