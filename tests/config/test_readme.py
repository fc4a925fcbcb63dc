"""README.md and docs/ point only at what the repository holds: every relative link (and
picture) names a file that exists inside the repository, nothing links outside it (the domain
specification is docs/DESIGN.md, in the repository), every repository path quoted as code
exists, and every `scripts/dev.py` subcommand the README uses is one the script knows."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_PATH = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/[A-Za-z0-9_-]+\.[a-z]{1,5})`")


def tracked_top_dirs() -> set[str]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {line.split("/", 1)[0] for line in out.splitlines() if "/" in line}


def links(doc: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)
    return [m.group(1) for m in LINK.finditer(text)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_point_to_files_in_the_repository(doc):
    found = links(doc)
    if doc.name == "README.md":
        assert "docs/DESIGN.md" in found  # the specification is linked, and in the repository
    missing = []
    for target in found:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the page
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            missing.append(target)
    assert missing == [], f"{doc.name} links to what the repository does not hold: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_nothing_refers_outside_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    assert not re.search(r"\.\./|/work/|(?<![\w.])shared/", text), doc.name


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_repository_paths_quoted_in_the_docs_exist(doc):
    tops = tracked_top_dirs()
    missing = [
        p
        for p in CODE_PATH.findall(doc.read_text(encoding="utf-8"))
        if p.split("/", 1)[0] in tops and not (ROOT / p).exists()
    ]
    assert missing == [], f"{doc.name} names files that do not exist: {missing}"


def test_dev_script_subcommands_in_the_readme_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    used = set(re.findall(r"scripts/dev\.py (\w+)", text))
    assert {"up", "test", "manage"} <= used
    source = (ROOT / "scripts" / "dev.py").read_text(encoding="utf-8")
    known = set(re.search(r"not in \{([^}]*)\}", source).group(1).replace('"', "").split(", "))
    assert used <= known, used - known


def test_readme_runs_manage_py_only_in_a_way_that_works():
    """`python manage.py …` fails as written (a system Python has no Django; the venv's needs
    DEBUG or SECRET_KEY): commands go through `scripts/dev.py manage` or the venv's Python."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    commands = [line.split(" #", 1)[0] for b in blocks for line in b.splitlines()]
    commands += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    bad = [
        c
        for c in commands
        if re.search(r"manage\.py\s+\w", c) and ".venv/bin/python manage.py" not in c
    ]
    assert bad == [], bad


def test_dev_manage_runs_a_command_without_debug_or_secret_key_set(tmp_path):
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env["WHISTLE_VAR_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "scripts/dev.py", "manage", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no issues" in done.stdout
