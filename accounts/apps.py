from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("账号与部门")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (token revocation on password change/deactivation)
