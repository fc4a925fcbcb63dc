"""Rebuild the daily KPI roll-up from every order (after a bulk load, or to repair it)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from reports import rollup


class Command(BaseCommand):
    help = "Rebuild the daily KPI roll-up from every order; the report page then reads it."

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=50_000, help="orders per pass")

    def handle(self, *args, chunk: int, **options):
        t0 = time.perf_counter()
        n = rollup.rebuild(chunk=chunk, log=self.stdout.write if options["verbosity"] > 1 else None)
        self.stdout.write(f"KPI roll-up rebuilt from {n} orders in {time.perf_counter() - t0:.1f}s")
