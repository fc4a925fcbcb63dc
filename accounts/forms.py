"""The login forms of the phone pages and the admin: Django's, plus the lockout message."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from .lockout import is_locked_out, lockout_message


class LockoutAwareLoginMixin:
    """When django-axes refuses a login (too many failures for this username from this
    address), say so instead of "wrong password"; the typed username stays in the form."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            if is_locked_out(self.request):
                raise forms.ValidationError(lockout_message(), code="locked_out") from None
            raise


class LoginForm(LockoutAwareLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(LockoutAwareLoginMixin, AdminAuthenticationForm):
    pass
