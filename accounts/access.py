"""A per-process copy of each user's roles (group names) and permissions.

Every request checks rights, and reading them costs three queries (the user's groups, their
own permissions, their groups' permissions); they change when an administrator edits a user or
a group, a few times a week. So each process keeps them per user, keyed by the user's id and
join time (a reused id is another key), in a `ProcessCopy` (`accounts.copies`, which decides
freshness for every such copy): a change of group membership, of a group's or user's
permissions, or a save or delete of a group or permission (signals in `accounts.signals`)
calls `invalidate()`; each process reloads at least every `ACCESS_CACHE_SECONDS`.
"""

from __future__ import annotations

from .copies import ProcessCopy

# (user id, date joined) -> {"roles": frozenset, "perms": frozenset}, filled on demand
# While a transaction changes rights, that thread reads them per call, without keeping them
# for the rest of the transaction (rights checks are few then: an administrator's edit).
_RIGHTS: ProcessCopy[dict] = ProcessCopy(
    "accounts.access", dict, "ACCESS_CACHE_SECONDS", keep_while_writing=False
)


def _entry(user) -> dict:
    return _RIGHTS.get().setdefault((user.pk, user.date_joined), {})


def roles_of(user, load) -> frozenset[str]:
    """The user's role codes; `load()` reads them on a miss."""
    entry = _entry(user)
    if "roles" not in entry:
        entry["roles"] = frozenset(load())
    return entry["roles"]


def permissions_of(user, load) -> set[str]:
    """The user's permissions ("app.codename"); `load()` reads them on a miss."""
    entry = _entry(user)
    if "perms" not in entry:
        entry["perms"] = frozenset(load())
    return set(entry["perms"])


def clear() -> None:
    """Forget this process's copy (tests; after a commit)."""
    _RIGHTS.clear()


def invalidate() -> None:
    """Rights changed: forget them here now, in every process after commit."""
    _RIGHTS.invalidate()
