"""The OpenAPI schema validates, the docs are served without a CDN, and a bounded schemathesis
run over every operation with a dispatcher's token finds no 5xx and no response that breaks the
schema."""

import json
import zlib
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from rest_framework.test import APIClient

from tests.api.conftest import client_for
from tests.factories import ticket_in_state


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    # --fail-on-warn turns any warning (and a failed validation) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/tickets/{number}/transitions/dispatch/" in text
    assert "Idempotency-Key" in text and "If-Match" in text


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn():
    client = APIClient()
    r = client.get("/api/schema/?format=json")
    assert r.status_code == 200
    paths = json.loads(r.content)["paths"]
    assert "/api/v1/tickets/" in paths
    # Every operation documents the error shape.
    for ops in paths.values():
        for op in ops.values():
            if isinstance(op, dict) and "responses" in op:
                assert {"400", "401", "403", "404", "409"} <= set(op["responses"])
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert (
        "swagger-ui" in html
        and "cdn" not in html.lower()
        and "http" not in html.split("<body")[0].replace("http-equiv", "")
    )


def _schema_operations():
    import schemathesis

    raw = json.loads(APIClient().get("/api/schema/?format=json").content)
    schema = schemathesis.openapi.from_dict(raw)
    return [result.ok() for result in schema.get_all_operations()]


@contextmanager
def in_process_wsgi():
    """Django's WSGI app in-process, on the test's connection (as Django's test client does:
    without closing the connection at the end of each request). Enter it after any use of
    the test client, which reconnects the closing signal when it finishes."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_schemathesis_finds_no_server_error_and_no_schema_break(cast, settings):
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    settings.API_THROTTLE_RATES = {k: "100000/minute" for k in settings.API_THROTTLE_RATES}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    from rest_framework.authtoken.models import Token

    client_for(cast.dispatcher)  # creates the token

    headers = {"Authorization": f"Token {Token.objects.get(user=cast.dispatcher).key}"}
    # Real orders so generated requests reach past the lookup.
    orders = [
        ticket_in_state(cast, state, phone=f"1360000{i:04d}")
        for i, state in enumerate(["reported", "dispatched", "accepted", "replied"])
    ]
    operations = _schema_operations()
    assert len(operations) >= 30
    failures = []
    with in_process_wsgi() as app:
        calls = _fuzz(operations, orders, app, headers, checks, failures, cast.dispatcher)
    assert not failures, "\n\n".join(failures)
    assert calls >= 3 * len(operations)  # it really sent requests to every operation


def _fuzz(operations, orders, app, headers, checks, failures, cast_user):
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hsettings
    from rest_framework.authtoken.models import Token
    from schemathesis import GenerationMode

    calls = 0
    for op in operations:
        modes = [(GenerationMode.POSITIVE, 5)]
        # Negative data needs something to break besides the fixed order number.
        path_names = {p.name for p in op.path_parameters}
        if len(op.body) or len(op.query) or path_names - {"number"}:
            modes.append((GenerationMode.NEGATIVE, 3))
        for mode, examples in modes:
            path_parameters = {}
            if "{number}" in op.path:
                path_parameters["number"] = orders[
                    zlib.crc32(op.path.encode()) % len(orders)
                ].number
            strategy = op.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @hsettings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            )
            @given(case=strategy)
            def run(case):
                nonlocal calls
                calls += 1
                response = case.call(app=app, headers=headers)
                case.validate_response(response, checks=checks)

            try:
                run()
            except Exception as exc:  # collect, so one run reports every broken operation
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {exc}"[:1500])
            # DELETE /auth/token/ revokes the token: put it back for the next operation.
            Token.objects.get_or_create(
                user=cast_user, defaults={"key": headers["Authorization"].split()[1]}
            )
    return calls
