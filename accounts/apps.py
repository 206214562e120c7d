from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Users and roles")

    def ready(self):
        # The API client admin lives in its own module (accounts/admin.py holds the user admin).
        from . import admin_api  # noqa: F401
