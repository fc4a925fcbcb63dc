"""Settings read from the environment: production refuses to start without SECRET_KEY; the
embedded SQLite runs in WAL mode with a busy timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def run_setup(tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "PYTEST_VERSION", "PYTEST_CURRENT_TEST"}
    }
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", WHISTLE_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", SETUP],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key(tmp_path):
    proc = run_setup(tmp_path, DEBUG="0")
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr
    assert "SECRET_KEY is not set" in proc.stderr


def test_production_starts_with_a_secret_key(tmp_path):
    proc = run_setup(tmp_path, DEBUG="0", SECRET_KEY="a-real-secret-from-the-environment")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_debug_runs_without_secret_key(tmp_path):
    proc = run_setup(tmp_path, DEBUG="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def test_time_and_language():
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert "en" in dict(settings.LANGUAGES)


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite-only settings; this run uses PostgreSQL")
    with connection.cursor() as cur:
        cur.execute("PRAGMA journal_mode")
        assert cur.fetchone()[0].lower() == "wal"
        cur.execute("PRAGMA busy_timeout")
        assert cur.fetchone()[0] >= 5000


def test_default_database_is_an_sqlite_file_with_wal(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", WHISTLE_VAR_DIR=str(tmp_path), DEBUG="1")
    code = (
        "import django; django.setup(); from django.db import connection as c; "
        "cur = c.cursor(); cur.execute('PRAGMA journal_mode'); "
        "print(c.vendor, c.settings_dict['NAME'], cur.fetchone()[0])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["sqlite", str(tmp_path / "whistle.sqlite3"), "wal"]
