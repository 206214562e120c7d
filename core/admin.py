"""The admin site for bureau staff: region-scoped like every page, and writing through the services.

Every ModelAdmin of the project mixes in RegionScopedAdmin (inlines: RegionScopedInline):
- the changelist, the change page, autocomplete and history show only `.visible_to(user)` rows,
  so another region's record is simply not there (its change page redirects with "does not exist");
- foreign-key choices are limited the same way (township fields to townships);
- permissions come from accounts.permissions: USE_ADMIN to see, `change_capability` to add, change
  and delete, each checked against the record's region. Django's per-model permissions are not used.
Admins whose model has a service override `save_model` / `save_formset` to call it, so the admin
keeps the same rules and the same change history as the pages.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from accounts.permissions import Capability, can
from regions.scoping import ALL_REGIONS, RegionScopedQuerySet, scope_region

from .models import Notification

admin.site.site_header = settings.APP_TITLE
admin.site.site_title = settings.APP_TITLE
admin.site.index_title = _("Administration")

#: Foreign keys to Region with these names accept townships (streets) only.
TOWNSHIP_FIELDS = {"township"}

_UNSCOPED = object()


def region_of(obj):
    """The Region a record lies in, None when it has none, _UNSCOPED for models outside the region tree."""
    queryset_class = getattr(type(obj)._default_manager, "_queryset_class", None)
    lookup = getattr(queryset_class, "region_lookup", None)
    if lookup is None:
        return _UNSCOPED
    target = obj
    for part in lookup.split("__") if lookup else ():
        target = getattr(target, part, None)
        if target is None:
            return None
    return target


def allowed(user, capability: str | None, obj=None) -> bool:
    """USE_ADMIN plus `capability` (None: superusers only) over the region of `obj` when given."""
    if capability is None:
        return bool(user.is_active and user.is_superuser)
    if not (can(user, Capability.USE_ADMIN) and can(user, capability)):
        return False
    if obj is None:
        return True
    region = region_of(obj)
    if region is _UNSCOPED:
        return True
    if region is None:
        # A record outside every region (e.g. a superuser's account) is for those who see everything.
        return scope_region(user) is ALL_REGIONS
    return can(user, Capability.USE_ADMIN, region) and can(user, capability, region)


def scoped_choices(model, user, field_name: str = ""):
    """The rows of `model` a user may pick in a form: their region and below."""
    queryset = model._default_manager.all()
    if isinstance(queryset, RegionScopedQuerySet):
        queryset = queryset.visible_to(user)
        if field_name in TOWNSHIP_FIELDS and hasattr(queryset, "townships"):
            queryset = queryset.townships()
    return queryset


def model_data(form, *, changed_only: bool = False, exclude=()) -> dict:
    """Cleaned values of the form's concrete (non many-to-many) model fields, for a service's `data`."""
    names = {f.name for f in form._meta.model._meta.concrete_fields}
    return {
        name: value
        for name, value in form.cleaned_data.items()
        if name in names and name not in exclude and (not changed_only or name in form.changed_data)
    }


def adopt(obj, saved) -> None:
    """Make the admin's instance the one a service saved (pk, timestamps), so the admin can log and redirect."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def fresh(obj):
    """The stored version of an instance the admin form has already changed in memory."""
    return type(obj)._default_manager.get(pk=obj.pk)


class RegionScopedAdmin:
    """Mixin for ModelAdmin: rows, choices and permissions limited to the user's region."""

    #: Needed besides USE_ADMIN to see the model.
    view_capability: str = Capability.USE_ADMIN
    #: Needed to add, change and delete; None leaves the model read-only for all but superusers.
    change_capability: str | None = None
    list_per_page = 50

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.visible_to(request.user) if isinstance(queryset, RegionScopedQuerySet) else queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", scoped_choices(db_field.related_model, request.user, db_field.name))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request):
        return allowed(request.user, self.view_capability)

    def has_view_permission(self, request, obj=None):
        return allowed(request.user, self.view_capability, obj) or self.has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return allowed(request.user, self.change_capability, obj)

    def has_add_permission(self, request, *args):
        return allowed(request.user, self.change_capability)

    def has_delete_permission(self, request, obj=None):
        return allowed(request.user, self.change_capability, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The forms check what they can; a rule only a service knows (or a race) still gets a message, not a 500.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class RegionScopedHistoryAdmin(RegionScopedAdmin, SimpleHistoryAdmin):
    """For models with change history: the history pages are scoped too, and nothing is reverted from them.

    Reverting would bypass the services' rules, so old versions can be viewed but not restored.
    """

    def revert_disabled(self, request, obj=None):
        return True

    def _require_visible(self, request, object_id):
        if not self.get_queryset(request).filter(pk=object_id).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_visible(request, object_id)
        if request.method == "POST":
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)


class RegionScopedInline:
    """Mixin for inlines: permissions follow the parent record's region, choices the user's region."""

    change_capability: str | None = None
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs.setdefault("queryset", scoped_choices(db_field.related_model, request.user, db_field.name))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_view_permission(self, request, obj=None):
        return allowed(request.user, Capability.USE_ADMIN, obj)

    def has_change_permission(self, request, obj=None):
        return allowed(request.user, self.change_capability, obj)

    def has_add_permission(self, request, obj=None):
        return allowed(request.user, self.change_capability, obj)

    def has_delete_permission(self, request, obj=None):
        return allowed(request.user, self.change_capability, obj)


class ReferenceTableAdmin(RegionScopedAdmin):
    """Reference tables without a region (hazardous processes, GB 18218 chemicals): read-only but for superusers."""

    change_capability = None


class ReadOnlyAdminMixin:
    """For records only services and the worker write (workflow steps, reports, notifications)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, RegionScopedAdmin, admin.ModelAdmin):
    list_display = ["title", "recipient", "kind", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient"]
    search_fields = ["title", "recipient__username"]
    show_full_result_count = False
