"""Who hears what (issue 3 §5). One object per sweep or request, caching the few role lookups
so that notifying a thousand orders costs a handful of queries, not thousands."""

from __future__ import annotations

from accounts.models import Department, User
from accounts.roles import Role

# Clocks whose owner is the dispatch desk, not a department: the dispatch clock runs before
# any department has the order, and return visits are the dispatchers' job.
DESK_CLOCKS = frozenset({"dispatch", "visit"})

REMIND, CHASE, SUPERVISE = 1, 2, 3


class Audience:
    def __init__(self) -> None:
        self._role: dict[str, list[User]] = {}
        self._leads: dict[int, list[User]] = {}
        self._departments: dict[int, Department] | None = None

    def with_role(self, role: str) -> list[User]:
        if role not in self._role:
            self._role[role] = list(
                User.objects.filter(groups__name=role, is_active=True).distinct().order_by("id")
            )
        return self._role[role]

    def department(self, pk: int | None) -> Department | None:
        if pk is None:
            return None
        if self._departments is None:
            self._departments = Department.objects.in_bulk()
        return self._departments.get(pk)

    def leads_of(self, department_id: int | None) -> list[User]:
        """The department's leads; when it has none, the nearest ancestor's (who see it)."""
        dept = self.department(department_id)
        while dept is not None:
            if dept.pk not in self._leads:
                self._leads[dept.pk] = [
                    u for u in self.with_role(Role.LEAD) if u.department_id == dept.pk
                ]
            if self._leads[dept.pk]:
                return self._leads[dept.pk]
            dept = self.department(dept.parent_id)
        return []

    def parent_leads_of(self, department_id: int | None) -> list[User]:
        dept = self.department(department_id)
        return self.leads_of(dept.parent_id) if dept is not None and dept.parent_id else []

    def handler_of(self, ticket) -> list[User]:
        return [ticket.handler] if ticket.handler_id and ticket.handler.is_active else []

    def responsible_for(self, ticket, department_id=None) -> list[User]:
        """Who answers for an order now: its handler and its department's leads."""
        department_id = department_id or ticket.department_id
        return _unique(self.handler_of(ticket) + self.leads_of(department_id))

    def for_sla_level(self, *, level: int, clock_kind: str, ticket, department_id) -> list[User]:
        """Only the people who must act (issue 16): remind → the assigned handler (else the
        department's leads); chase → the leads; breach → the order's handler and leads (its
        督办 record is written on their order); each further escalation → supervisors and the
        parent's leads. The dispatch desk's own clocks (dispatch, visit) are in every
        dispatcher's queue and in the daily digest, so they notify no one until the breach,
        which goes to the dispatchers. Supervisors learn of breaches from the digest and the
        已超时 queue."""
        department_id = department_id or ticket.department_id
        desk = clock_kind in DESK_CLOCKS or department_id is None
        if level < SUPERVISE:
            if clock_kind == "first_response":
                # A first answer promised in minutes (a channel's commitment, issue 15): a daily
                # digest would come too late, so the dispatch desk hears at once.
                return self.with_role(Role.DISPATCHER)
            if desk:
                return []
            if level == REMIND and self.handler_of(ticket):
                return self.handler_of(ticket)
            return self.leads_of(department_id) or self.with_role(Role.DISPATCHER)
        if level == SUPERVISE:
            if desk:
                return self.with_role(Role.DISPATCHER)
            return self.responsible_for(ticket, department_id) or self.with_role(Role.DISPATCHER)
        return _unique(list(self.with_role(Role.SUPERVISOR)) + self.parent_leads_of(department_id))


def _unique(users: list[User]) -> list[User]:
    seen: set[int] = set()
    out = []
    for u in users:
        if u.pk not in seen:
            seen.add(u.pk)
            out.append(u)
    return out
