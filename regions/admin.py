from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability
from core.admin import TOWNSHIP_FIELDS, RegionScopedAdmin
from regions.scoping import ALL_REGIONS, scope_region

from .models import Region
from .services import check_parent, level_for_code, save_region


class RegionAdminForm(forms.ModelForm):
    """Checks code and parent with the rules of regions.services before anything is saved."""

    user = None  # set per request by RegionAdmin.get_form

    class Meta:
        model = Region
        fields = ["code", "name", "parent"]

    def clean(self):
        cleaned = super().clean()
        code = (cleaned.get("code") or self.instance.code or "").strip()
        parent = cleaned.get("parent") if "parent" in self.fields else self.instance.parent
        if "code" in self.errors or "parent" in self.errors:
            return cleaned
        try:
            level = level_for_code(code)
            check_parent(code, level, parent)
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for name, messages in error.message_dict.items():
                    for message in messages:
                        self.add_error(name if name in self.fields else None, message)
            else:
                self.add_error("code" if "code" in self.fields else None, error)
            return cleaned
        if parent is None and self.instance.pk is None and scope_region(self.user) is not ALL_REGIONS:
            self.add_error("parent", _("Choose the parent region inside your region; only administrators add cities."))
        return cleaned


@admin.register(Region)
class RegionAdmin(RegionScopedAdmin, admin.ModelAdmin):
    form = RegionAdminForm
    change_capability = Capability.MANAGE_REFERENCE
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    list_select_related = ["parent"]
    search_fields = ["^code", "name"]
    autocomplete_fields = ["parent"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # Codes identify regions (load_reference upserts by code) and fix the parent; only the name changes.
        return ["code", "parent", "level", "path"] if obj else ["level", "path"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.user = request.user
        return form

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Autocomplete of an enterprise's or park's township offers townships only.
        if request.GET.get("field_name") in TOWNSHIP_FIELDS:
            queryset = queryset.townships()
        return queryset, may_have_duplicates

    def save_model(self, request, obj, form, change):
        save_region(actor=request.user, region=obj)
