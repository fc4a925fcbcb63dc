"""Revoke a user's API tokens when their password changes or they are deactivated.

A receiver rather than a service call: passwords are changed by Django's own admin forms,
`changepassword`, `set_password()` anywhere, and accounts are deactivated in the admin; one hook
on the user row catches them all. A hash upgrade at login (same password, new hasher settings)
is not a change."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from . import access
from .tokens import tokens_revoke

User = get_user_model()

_WATCHED = {"password", "is_active"}


def _is_hash_upgrade(instance, update_fields) -> bool:
    # AbstractBaseUser.check_password's setter: set_password(), then `_password = None`, then
    # save(update_fields=["password"]). A real change via set_password() keeps `_password`.
    return (
        instance._password is None
        and update_fields is not None
        and set(update_fields) == {"password"}
    )


@receiver(pre_save, sender=User, dispatch_uid="accounts.tokens.note_credential_change")
def _note_credential_change(sender, instance, raw=False, update_fields=None, **kwargs):
    instance._revoke_tokens = False
    if raw or instance.pk is None or instance._state.adding:
        return
    if update_fields is not None and not _WATCHED.intersection(update_fields):
        return
    old = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if old is None:
        return
    deactivated = old["is_active"] and not instance.is_active
    password_changed = old["password"] != instance.password and not _is_hash_upgrade(
        instance, update_fields
    )
    instance._revoke_tokens = deactivated or password_changed


@receiver(post_save, sender=User, dispatch_uid="accounts.tokens.revoke_on_credential_change")
def _revoke_on_credential_change(sender, instance, created=False, raw=False, **kwargs):
    if getattr(instance, "_revoke_tokens", False):
        instance._revoke_tokens = False
        tokens_revoke(user=instance)


# --------------------------------------------------------------------------- rights copy


def _rights_changed(sender, **kwargs) -> None:
    """Who holds which role or permission changed: drop the per-process copy (access.py).
    Saves of the user row itself need nothing: activity and superuser status are read from
    the row, which every request loads anyway."""
    if kwargs.get("raw"):
        return
    if kwargs.get("action", "post_").startswith("pre_"):
        return
    access.invalidate()


for _sender in (User.groups.through, User.user_permissions.through, Group.permissions.through):
    m2m_changed.connect(_rights_changed, sender=_sender, dispatch_uid=f"access.{_sender.__name__}")
for _model in (Group, Permission):
    post_save.connect(_rights_changed, sender=_model, dispatch_uid=f"access.save.{_model.__name__}")
    post_delete.connect(
        _rights_changed, sender=_model, dispatch_uid=f"access.delete.{_model.__name__}"
    )
