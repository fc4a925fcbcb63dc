"""/health/live/, /health/ready/ and /metrics. No login: the first two say nothing secret,
the last answers only the addresses or the token the settings name."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from health_check.checks import Cache, Database
from health_check.views import HealthCheckView
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .checks import Broker, SlaSweep
from .metrics import WhistleCollector


@never_cache
def live(request):
    """The process answers HTTP. Touches nothing else (a database outage must not make the
    load balancer restart every web process)."""
    return JsonResponse({"status": "ok"})


class ReadyView(HealthCheckView):
    """200 when every check passes; 503 naming the checks that failed otherwise."""

    named_checks = {
        "database": Database,
        "cache": Cache,
        "broker": Broker,
        "sla_sweep": SlaSweep,
    }

    def get_checks(self):
        budget = timedelta(seconds=settings.HEALTH_CHECK_TIMEOUT_SECONDS)
        for check_class in self.named_checks.values():
            check = check_class()
            check.timeout = budget
            yield check

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        checks = {
            name: "ok" if r.error is None else str(r.error)
            for name, r in zip(self.named_checks, results, strict=True)
        }
        failed = [name for name, r in zip(self.named_checks, results, strict=True) if r.error]
        body = {"status": "unavailable" if failed else "ok", "checks": checks}
        if failed:
            body["failed"] = failed
        return JsonResponse(body, status=503 if failed else 200)


ready = ReadyView.as_view()


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        if hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
            return True
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            if client in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@never_cache
def metrics(request):
    """Prometheus text format. Every value is read from the database at scrape time, so each
    web process answers the same (no per-process counters to merge)."""
    if not _allowed(request):
        raise Http404
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WhistleCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
