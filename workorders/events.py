"""What happened to an order, for whoever listens.

Services publish an event inside their transaction; listeners (notifications today, the
customer channel later) subscribe from their app's `ready()` and write their own rows in the
same transaction, so a listener never acts on a change that was rolled back and `workorders`
does not import the apps that react to it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

# ticket, now, clocks, audit (the order was created; published inside its transaction; its
# clocks and its audit row as written)
REPORTED = "reported"
TRANSITION = "transition"  # ticket, transition, actor, audit_id, now
CHASE = "chase"  # ticket, chase, by, now
# ticket, record, now[, by, note] (a record on the order: propose_redo, mark_regulator, assign,
# supervise)
RECORDED = "recorded"
RISK_ALERT = "risk_alert"  # ticket, score, now (the escalation-risk score crossed the threshold)
# ticket, now: an audit row was written for the order, and the service that wrote it is done
# with the order (published at the end of the block that holds the order's row, still inside
# its transaction, so what the service changed after the audit row is there too).
AUDITED = "audited"

_listeners: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(kind: str, listener: Callable[..., None]) -> None:
    """Register a listener once (app reloads in tests call ready() again)."""
    if listener not in _listeners[kind]:
        _listeners[kind].append(listener)


def publish(kind: str, **payload) -> None:
    for listener in _listeners.get(kind, ()):
        listener(**payload)
