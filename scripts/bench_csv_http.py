"""The orders CSV export over HTTP, alone (issue 17): gunicorn (-w 2, sync, DEBUG=0) against a
loaded database (`bench_http.py`'s generator), the export as bench_auditor for a short period
(~10k orders) and for every order, a few repetitions. For each request: rows (CRLF-ended
lines; 1 header), seconds, rows/s, bytes, the load average, and the peak RSS of the gunicorn
worker that served it (VmHWM, reset through /proc/PID/clear_refs before each request).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pread_1m \\
        .venv/bin/python scripts/bench_csv_http.py --reps 3

`--serve DIR[@NAME=VALUE,...]` (repeatable) serves each checkout in turn, one gunicorn at a
time, with extra environment if given: a before/after on the same database, back to back, e.g.
`--serve /tmp/base --serve .@REPORTS_EXPORT_PG_WORKERS=2`. Not a test: the numbers depend on
the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_HTTP_PORT", "8781"))
URL = "/reports/export/tickets.csv?period=custom&start={start}&end={end}"


def _bench_http():
    spec = importlib.util.spec_from_file_location("bench_http", ROOT / "scripts/bench_http.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env() -> dict:
    url = os.environ["DATABASE_URL"]
    return _bench_http().env_for(url.rsplit("/", 1)[1]) | {"DATABASE_URL": url}


def _workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_hwm(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def export(cookie: str, start: str, end: str, master: int) -> dict:
    workers = _workers(master)
    for pid in workers:
        _reset_hwm(pid)
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=900)
    digest = hashlib.sha256()
    lines = size = 0
    t = time.perf_counter()
    conn.request(
        "GET",
        URL.format(start=start, end=end),
        headers={"Cookie": f"sessionid={cookie}", "Accept-Language": "zh-hans"},
    )
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    tail = b""
    while chunk := resp.read(1 << 16):
        size += len(chunk)
        lines += (tail + chunk[:1]).count(b"\r\n") + chunk.count(b"\r\n")
        tail = chunk[-1:]
        digest.update(chunk)
    seconds = time.perf_counter() - t
    conn.close()
    rows = lines - 1
    return {
        "period": f"{start}..{end}",
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "bytes": size,
        "sha256": digest.hexdigest()[:16],
        "peak_rss_mb": round(max(_hwm_mb(p) for p in workers), 1),
        "load": os.getloadavg()[0],
    }


def serve(code: Path, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "2",
            "--timeout",
            "900",
            "--log-level",
            "warning",
        ],
        cwd=code,
        env=env,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
            c.request("GET", "/api/v1/ping/")
            c.getresponse().read()
            return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not come up")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--serve", action="append", help="DIR[@NAME=VALUE,...], repeatable")
    ap.add_argument("--small", default="2026-08-01,2026-08-01", help="start,end of ~10k orders")
    ap.add_argument("--all", default="2026-08-01,2026-12-31")
    ap.add_argument("--only", choices=("small", "all"), default=None)
    args = ap.parse_args()
    env = _env()
    prep = subprocess.run(
        [sys.executable, str(ROOT / "scripts/bench_http.py"), "--child", "prepare"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    cookie = json.loads(prep.stdout.strip().splitlines()[-1])["sessions"]["auditor"]
    configs = []
    for spec in args.serve or [str(ROOT)]:
        code, _at, extra = spec.partition("@")
        configs.append(
            (spec, Path(code).resolve(), dict(kv.split("=", 1) for kv in extra.split(",") if kv))
        )
    periods = [p for p in ("small", "all") if args.only in (None, p)]
    for rep in range(args.reps):
        for spec, code, extra in configs:
            server = serve(code, env | extra)
            try:
                for _i in range(4):  # warm both workers (imports, connections, plans)
                    export(cookie, *args.small.split(","), server.pid)
                for name in periods:
                    r = export(cookie, *getattr(args, name).split(","), server.pid)
                    print(json.dumps({"rep": rep, "serve": spec} | r), flush=True)
            finally:
                server.terminate()
                server.wait(timeout=60)


if __name__ == "__main__":
    main()
