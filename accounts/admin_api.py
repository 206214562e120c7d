"""Admin of API clients: list them, expire or revoke their tokens. Tokens are never shown (only their hash is kept).

Clients are created with `manage.py create_api_client`, which prints the token once; the admin cannot
add them because it would have to show the token in a page or a message.
"""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from core.admin import RegionScopedAdmin

from .api_clients import expire_api_client, revoke_api_client
from .models import ApiClient
from .permissions import Capability


@admin.register(ApiClient)
class ApiClientAdmin(RegionScopedAdmin, admin.ModelAdmin):
    view_capability = Capability.MANAGE_USERS
    change_capability = Capability.MANAGE_USERS
    list_display = [
        "name",
        "region",
        "can_write",
        "token_prefix",
        "state",
        "expires_at",
        "last_used_at",
        "created_at",
        "created_by",
    ]
    list_filter = ["can_write", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["region", "created_by", "user"]
    search_fields = ["name", "key_prefix"]
    fields = [
        "name",
        "region",
        "can_write",
        "token_prefix",
        "state",
        "user",
        "created_at",
        "created_by",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    readonly_fields = fields
    actions = ["expire_now", "revoke"]

    @admin.display(description=_("token"))
    def token_prefix(self, obj):
        # The first characters only: enough to tell tokens apart, useless to an attacker.
        return f"{obj.key_prefix}…"

    @admin.display(description=pgettext_lazy("API client", "state"))
    def state(self, obj):
        refusal = obj.refusal()
        if refusal is None:
            return _("active")
        message, params = refusal
        return message % params

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the service user stays so the change history keeps naming the client.
        return False

    @admin.action(description=_("Expire the selected tokens now"), permissions=["change"])
    def expire_now(self, request, queryset):
        now = timezone.now()
        done = sum(expire_api_client(actor=request.user, client=client, at=now) for client in queryset)
        self.message_user(
            request,
            ngettext("%(count)d token expired.", "%(count)d tokens expired.", done) % {"count": done},
            messages.SUCCESS,
        )

    @admin.action(description=_("Revoke the selected tokens for good"), permissions=["change"])
    def revoke(self, request, queryset):
        done = sum(revoke_api_client(actor=request.user, client=client) for client in queryset)
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", done) % {"count": done},
            messages.SUCCESS,
        )
