"""Reports off the primary (DATABASE_REPLICA_URL): the KPI API, the report page and exports
read from the `replica` alias, everything else from the primary.

The routing rules are checked on any database. The real thing runs on a real streaming
replica: a throwaway PostgreSQL primary (initdb, wal_level=replica, a free port) and its
replica (pg_basebackup -R, another port), both started for this module as the `postgres`
user and removed at the end. Skipped where the PostgreSQL server binaries are missing."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from reports.models import ExportLog
from reports.routing import ReplicaRouter, read_alias, replica_reads
from tests.factories import Cast, report
from workorders.models import Ticket

PG_BIN = Path("/usr/local/bin")
BASEBACKUP = Path("/usr/bin/pg_basebackup")
KPI_URL = "/api/v1/reports/kpis/"


# --------------------------------------------------------------------------- routing rules


def test_reads_go_to_the_replica_only_inside_report_reads_and_writes_never(settings):
    router = ReplicaRouter()
    assert router.db_for_read(Ticket) == "default"  # no replica configured
    with replica_reads():
        assert router.db_for_read(Ticket) == "default"
    connections.settings["replica"] = {**connections.settings["default"]}
    try:
        assert router.db_for_read(Ticket) == "default"  # an order page, a service re-read
        with replica_reads():
            assert read_alias() == "replica"
            assert router.db_for_read(Ticket) == "replica"
            assert router.db_for_write(Ticket) == "default"
        assert router.db_for_read(Ticket) == "default"
        assert not router.allow_migrate("replica", "workorders")
    finally:
        del connections.settings["replica"]


# --------------------------------------------------------------------------- a real replica


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str]) -> None:
    subprocess.run(_as_postgres(cmd), check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def streaming_pair():
    """(primary port, replica port) of a primary and its streaming replica on this machine."""
    needed = [PG_BIN / "initdb", PG_BIN / "pg_ctl", BASEBACKUP]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        pytest.skip(f"PostgreSQL server binaries missing: {', '.join(missing)}")
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing: PostgreSQL refuses root")
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user: PostgreSQL refuses root")
    base = Path(tempfile.mkdtemp(prefix="whistle-replica-"))
    if os.geteuid() == 0:
        os.chown(base, pw.pw_uid, pw.pw_gid)
    primary, replica = base / "primary", base / "replica"
    p1, p2 = _free_port(), _free_port()
    started = []
    try:
        _run([str(PG_BIN / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust"])
        conf = (
            f"\nport = {p1}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
            "wal_level = replica\nmax_wal_senders = 4\nfsync = off\n"
        )
        _run(["sh", "-c", f'printf "%s" "{conf}" >> {primary}/postgresql.conf'])
        _run([str(PG_BIN / "pg_ctl"), "-D", str(primary), "-l", f"{base}/p.log", "-w", "start"])
        started.append(primary)
        _run(
            [str(BASEBACKUP), "-h", "127.0.0.1", "-p", str(p1), "-U", "postgres", "-D",
             str(replica), "-R", "-X", "stream"]
        )  # fmt: skip
        _run(["sh", "-c", f"echo 'port = {p2}' >> {replica}/postgresql.auto.conf"])
        _run([str(PG_BIN / "pg_ctl"), "-D", str(replica), "-l", f"{base}/r.log", "-w", "start"])
        started.append(replica)
        yield p1, p2
    finally:
        for d in reversed(started):
            subprocess.run(
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(d), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def on_pair(streaming_pair, django_db_blocker):
    """`default` on the throwaway primary (migrated), `replica` on its streaming replica."""
    p1, p2 = streaming_pair
    saved = connections.settings["default"]
    primary = {
        **saved,
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(p1),
        "USER": "postgres",
        "PASSWORD": "",
        "OPTIONS": {},
        "CONN_MAX_AGE": 0,
    }
    with django_db_blocker.unblock():
        connections.close_all()
        del connections["default"]
        connections.settings["default"] = primary
        connections.settings["replica"] = {**primary, "PORT": str(p2)}
        try:
            call_command("migrate", verbosity=0)
            yield
        finally:
            connections.close_all()
            for alias in ("default", "replica"):
                with contextlib.suppress(AttributeError):
                    del connections[alias]
            del connections.settings["replica"]
            connections.settings["default"] = saved


def _replicated(pk: int) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if Ticket.objects.using("replica").filter(pk=pk).exists():
            return True
        time.sleep(0.1)
    return False


def _kpi_reads(api, alias: str, day: date) -> tuple[dict, list[str], list[str]]:
    """The KPI API's answer and the order queries it ran on `alias` and on the primary."""
    with (
        CaptureQueriesContext(connections["default"]) as on_default,
        CaptureQueriesContext(connections[alias]) as on_alias,
    ):
        resp = api.get(KPI_URL, {"period": "custom", "start": day, "end": day})
    assert resp.status_code == 200, resp.content

    def orders(ctx):
        return [q["sql"] for q in ctx.captured_queries if "workorders_ticket" in q["sql"]]

    return resp.json(), orders(on_alias), orders(on_default)


@pytest.mark.postgres
def test_kpi_api_reads_the_streaming_replica_and_the_primary_without_one(on_pair, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cast = Cast()
    ticket = report(cast, now=timezone.now() - timedelta(minutes=1))
    day = timezone.localtime(ticket.reported_at).date()
    # Written on the primary, it reaches the replica by streaming replication.
    assert _replicated(ticket.pk)
    with connections["replica"].cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        assert cur.fetchone()[0] is True
    api = APIClient()
    api.force_authenticate(cast.auditor)

    body, on_replica, on_primary = _kpi_reads(api, "replica", day)
    assert body["total"]["counts"]["received"] == 1
    assert on_replica and not on_primary  # the figures came from the replica

    with pytest.raises(DatabaseError, match="read-only"), connections["replica"].cursor() as cur:
        cur.execute("UPDATE workorders_ticket SET title = 'x'")
    connections["replica"].close()

    # The CSV export streams its rows from the replica; its log row is written on the primary.
    with CaptureQueriesContext(connections["replica"]) as ctx:
        resp = api.get(
            "/api/v1/exports/tickets.csv",
            {"period": "custom", "start": day, "end": day},
            HTTP_ACCEPT="text/csv",
        )
        assert resp.status_code == 200
        text = b"".join(resp.streaming_content).decode("utf-8-sig")
    assert ticket.number in text
    assert any("workorders_ticket" in q["sql"] for q in ctx.captured_queries)
    assert ExportLog.objects.filter(completed=True).count() == 1

    # The same order page read outside the reports stays on the primary.
    with CaptureQueriesContext(connections["replica"]) as ctx:
        assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert ctx.captured_queries == []

    # No replica configured: the same reads go to the primary.
    replica = connections.settings.pop("replica")
    try:
        with CaptureQueriesContext(connections["default"]) as ctx:
            resp = api.get(KPI_URL, {"period": "custom", "start": day, "end": day})
        assert resp.status_code == 200
        assert resp.json()["total"]["counts"]["received"] == 1
        assert any("workorders_ticket" in q["sql"] for q in ctx.captured_queries)
    finally:
        connections.settings["replica"] = replica
