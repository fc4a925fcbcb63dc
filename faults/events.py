"""What happened to a mass fault, for whoever listens. The same publish/subscribe mechanism as
`workorders.events` (listeners run inside the publishing transaction and write their own rows
there); these are the fault kinds.

- FAULT — every fault audit row (detect, link, unlink, confirm, dismiss, set_eta, resolve,
  close): payload `fault`, `audit` (the FaultAudit row), `now`. The notifications listener
  turns it into in-app notices and webhooks.
- FAULT_BATCH — several audit rows written at once (detection creating its faults): payload
  `items` (a list of (fault, audit) pairs), `now`. Listeners of FAULT listen to this too.
- FAULT_ETA_CHANGED — customers of linked orders must hear the fault's ETA message: payload
  `fault`, `eta_version`, `notices` (the new FaultNotice rows, one per order, never repeated
  for the same order and version), `now`. The customer (SMS) channel subscribes to it."""

from __future__ import annotations

from workorders.events import publish, subscribe

FAULT = "fault"
FAULT_BATCH = "fault_batch"
FAULT_ETA_CHANGED = "fault_eta_changed"

__all__ = ["FAULT", "FAULT_BATCH", "FAULT_ETA_CHANGED", "publish", "subscribe"]
