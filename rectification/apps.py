from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RectificationConfig(AppConfig):
    name = "rectification"
    verbose_name = _("Rectification")

    def ready(self):
        from enterprises.signals import enterprise_reference_changed

        from .services import refresh_enterprise_references

        enterprise_reference_changed.connect(
            refresh_enterprise_references, dispatch_uid="rectification-enterprise-references"
        )
