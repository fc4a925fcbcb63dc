#!/usr/bin/env python3
"""The README's two commands, in plain Python so a fresh machine needs nothing but Python 3.11.

    python3 scripts/dev.py up     # venv, install, migrate, demo data, web + worker + beat
    python3 scripts/dev.py test   # venv, install (with dev extras), the whole test suite
    python3 scripts/dev.py manage COMMAND [ARGS]   # a manage.py command in the venv

Extra arguments after `test` go to pytest. `manage` runs `manage.py` with the venv's Python and
the development environment (`DEBUG=1` unless DEBUG or SECRET_KEY is set, as `up` does); it
creates the venv only if there is none (run `up` once first to install and migrate).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("WHISTLE_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def run(*args: str, env: dict | None = None) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, cwd=ROOT, check=True, env=env)


def ensure_venv(extras: str) -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Whistle needs Python 3.11; this is {sys.version.split()[0]}.")
    if not PY.exists():
        print(f"Creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    # The project is run from this folder (manage.py, celery -A config), never imported as an
    # installed package: installing it only brings its dependencies, so no editable install
    # (whose build prints a warning box on every fresh machine).
    target = f".[{extras}]" if extras else "."
    run(str(PY), "-m", "pip", "install", "--quiet", target)
    stamp.write_text(digest)


def django_env() -> dict:
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return env


def cmd_up() -> int:
    ensure_venv("")
    env = django_env()
    run(str(PY), "manage.py", "migrate", "--noinput", env=env)
    run(str(PY), "manage.py", "seed_demo", env=env)
    addr = os.environ.get("WHISTLE_ADDR", "127.0.0.1:8000")
    procs = [
        subprocess.Popen(
            [
                str(PY),
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                # Every queue in one worker: the sweep, the outbox relay, reports, the rest.
                "--queues=sla,notify,reports,celery",
                "--loglevel=INFO",
                "--concurrency=1",
                "--pool=solo",
            ],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(
            [str(PY), "manage.py", "runserver", addr, "--noreload"], cwd=ROOT, env=env
        ),
    ]
    print(
        f"\nWhistle is running at http://{addr}/  (admin: http://{addr}/admin/)"
        "\nPress Ctrl+C to stop.\n",
        flush=True,
    )
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return max((p.returncode or 0) for p in procs) if any(p.returncode for p in procs) else 0


def cmd_test(args: list[str]) -> int:
    ensure_venv("dev")
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return subprocess.run([str(PY), "-m", "pytest", *args], cwd=ROOT, env=env).returncode


def cmd_manage(args: list[str]) -> int:
    if not PY.exists():
        ensure_venv("")
    env = dict(os.environ)
    if "SECRET_KEY" not in env:
        env.setdefault("DEBUG", "1")  # the settings refuse to load without one of them
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return subprocess.run([str(PY), "manage.py", *args], cwd=ROOT, env=env).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"up", "test", "manage"}:
        print(__doc__)
        return 2
    if sys.argv[1] == "up":
        return cmd_up()
    if sys.argv[1] == "manage":
        return cmd_manage(sys.argv[2:])
    return cmd_test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
