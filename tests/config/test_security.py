"""Production security settings: `check --deploy` is clean with the README's production
variables; HTTPS redirect, HSTS, CSP and Permissions-Policy headers are sent; the cache comes
from CACHE_URL; no template carries inline script or style (the CSP would block it)."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import cache_from_url

ROOT = Path(__file__).resolve().parents[2]


def readme_production_env() -> dict[str, str]:
    """The variables of the README's production `export` block."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("export DEBUG=0"))
    block = []
    for line in lines[start:]:
        block.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            break
    words = shlex.split(" ".join(block).removeprefix("export "))
    return dict(word.split("=", 1) for word in words)


def run_python(code: str, tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SESSION_", "CSRF_", "CACHE_"))
        and k not in {"SECRET_KEY", "DEBUG", "PYTEST_VERSION", "PYTEST_CURRENT_TEST"}
        and k not in {"DATABASE_URL", "ALLOWED_HOSTS"}
    }
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", WHISTLE_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, *code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_readme_production_variables(tmp_path):
    env = readme_production_env()
    assert env["DEBUG"] == "0" and "CACHE_URL" in env
    env["SECRET_KEY"] = secrets.token_urlsafe(64)

    proc = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **env
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues" in proc.stdout


SHOW = (
    "-c",
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
    "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CACHES['default']['BACKEND'], "
    "s.SESSION_ENGINE)",
)


def test_production_defaults_are_https_only_with_hsts(tmp_path):
    proc = run_python(SHOW, tmp_path, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(64))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "True",
        "django.core.cache.backends.locmem.LocMemCache",
        "django.contrib.sessions.backends.db",
    ]


def test_debug_defaults_and_overrides(tmp_path):
    debug = run_python(SHOW, tmp_path, DEBUG="1")
    assert debug.stdout.split()[:4] == ["False", "0", "True", "False"]

    behind_proxy = run_python(
        SHOW,
        tmp_path,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_PRELOAD="0",
        CACHE_URL="redis://127.0.0.1:6379/1",
    )
    assert behind_proxy.returncode == 0, behind_proxy.stderr
    assert behind_proxy.stdout.split()[:6] == [
        "False",
        "600",
        "True",
        "False",
        "True",
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_cache_urls():
    assert cache_from_url("locmem://")["BACKEND"].endswith("LocMemCache")
    redis = cache_from_url("redis://redis:6379/1", key_prefix="w")
    assert redis["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert redis["LOCATION"] == "redis://redis:6379/1" and redis["KEY_PREFIX"] == "w"
    assert redis["OPTIONS"]["socket_timeout"] > 0  # a hung Redis does not hang requests
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        cache_from_url("memcached://127.0.0.1:11211")


@pytest.mark.django_db
def test_pages_send_hsts_csp_and_permissions_policy(client):
    r = client.get("/login/", secure=True)

    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    directives = [d.split() for d in r.headers["Content-Security-Policy"].split(";")]
    csp = {d[0]: " ".join(d[1:]) for d in directives if d}
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["default-src"] == "'self'" and csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'self'"
    policy = r.headers["Permissions-Policy"]
    assert "geolocation=(self)" in policy and "camera=()" in policy and "microphone=()" in policy


@pytest.mark.django_db
def test_plain_http_is_redirected_when_configured(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    r = client.get("/login/")
    assert r.status_code == 301 and r["Location"] == "https://testserver/login/"


@pytest.mark.django_db
def test_a_nonce_only_where_a_page_uses_one(client):
    redoc = client.get("/api/redoc/")
    nonce = re.search(r"'nonce-([^']+)'", redoc.headers["Content-Security-Policy"])
    assert nonce and f'nonce="{nonce[1]}"' in redoc.content.decode()

    login = client.get("/login/")
    assert "nonce-" not in login.headers["Content-Security-Policy"]


INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
)


def test_no_template_has_inline_script_style_or_handlers():
    templates = [
        path
        for path in ROOT.glob("**/templates/**/*.html")
        if ".venv" not in path.parts and "node_modules" not in path.parts
    ]
    assert len(templates) > 20
    offenders = {
        str(path.relative_to(ROOT)): INLINE.findall(path.read_text())
        for path in templates
        if INLINE.search(path.read_text())
    }
    assert offenders == {}
