from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, require
from core.admin import (
    ReferenceTableAdmin,
    RegionScopedHistoryAdmin,
    RegionScopedInline,
    adopt,
    fresh,
    model_data,
)
from core.history import delete_tracked, save_tracked

from . import services
from .forms import EnterpriseForm
from .hazards import Reference, resolve
from .models import (
    Enterprise,
    HazardCategory,
    HazardInventoryLine,
    HazardousChemical,
    KeyHazardousProcess,
    MajorHazardSource,
    Permit,
    YearlyTier,
)
from .validators import USCC_LENGTH, normalize_uscc, validate_uscc


class EnterpriseAdminForm(forms.ModelForm):
    # Longer than 18: a pasted code may carry spaces, which clean_uscc removes.
    uscc = forms.CharField(
        label=Enterprise._meta.get_field("uscc").verbose_name,
        max_length=40,
        help_text=Enterprise._meta.get_field("uscc").help_text,
    )

    confirm_park_outside_township = forms.BooleanField(
        label=_("The park lies in another township: I confirm the township and the park"), required=False
    )

    class Meta:
        model = Enterprise
        fields = EnterpriseForm.Meta.fields
        widgets = {"key_processes": forms.CheckboxSelectMultiple}

    def clean_uscc(self):
        # Normalise before the uniqueness check, so a full-width copy of an existing code is caught here.
        code = normalize_uscc(self.cleaned_data.get("uscc"))
        validate_uscc(code)
        return code

    def clean(self):
        cleaned = super().clean()
        # The park rules of the services, checked here so the admin shows them on the form (not as a crash).
        current = self.instance if self.instance.pk else None
        check = services.check_park(township=cleaned.get("township"), park=cleaned.get("park"), current=current)
        if check.refusal:
            self.add_error("park", check.refusal)
        elif check.outside and not cleaned.get("confirm_park_outside_township"):
            self.add_error("park", check.outside)
        return cleaned


class PermitInline(RegionScopedInline, admin.TabularInline):
    model = Permit
    change_capability = Capability.CHANGE_ENTERPRISE
    fields = ["kind", "number", "issued_on", "expires_on", "note"]


class YearlyTierInline(RegionScopedInline, admin.TabularInline):
    model = YearlyTier
    change_capability = Capability.CHANGE_ENTERPRISE
    fields = ["year", "tier", "note"]


@admin.register(Enterprise)
class EnterpriseAdmin(RegionScopedHistoryAdmin):
    form = EnterpriseAdminForm
    change_capability = Capability.CHANGE_ENTERPRISE
    list_display = ["uscc", "name", "county", "township", "park", "kind", "status", "updated_at"]
    list_filter = ["status", "kind", "size", "automation_status"]
    list_select_related = ["township__parent", "park"]
    search_fields = ["=uscc", "name"]
    autocomplete_fields = ["township", "park"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [PermitInline, YearlyTierInline]
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "uscc",
                    "name",
                    "township",
                    "park",
                    "confirm_park_outside_township",
                    "status",
                    ("legal_representative", "contact_person", "contact_phone"),
                    "address",
                    ("longitude", "latitude"),
                ]
            },
        ),
        (
            _("Business"),
            {
                "fields": [
                    ("kind", "size", "industry_code"),
                    ("annual_sales", "staff_count"),
                    "main_products",
                    "process_mode",
                    "key_processes",
                    "automation_status",
                ]
            },
        ),
        (
            _("Sensitive location"),
            {"fields": ["near_protected_river", "in_dense_urban_area", "in_ecological_redline"]},
        ),
        (None, {"fields": ["note", ("created_at", "updated_at")]}),
    ]

    @admin.display(description=_("County/district"), ordering="township__parent__name")
    def county(self, obj):
        return obj.township.parent.name if obj.township.parent_id else ""

    def get_search_results(self, request, queryset, search_term):
        code = normalize_uscc(search_term)
        if len(code) == USCC_LENGTH and code.isalnum():
            search_term = code  # a pasted code with full-width characters or spaces still finds its enterprise
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        key_processes = form.cleaned_data.get("key_processes")
        if change:
            enterprise = fresh(obj)
            services.update_enterprise(
                actor=request.user,
                enterprise=enterprise,
                data=model_data(form, changed_only=True),
                key_processes=key_processes,
                confirm_park_outside_township=form.cleaned_data.get("confirm_park_outside_township", False),
            )
        else:
            enterprise = services.create_enterprise(
                actor=request.user,
                data=model_data(form),
                key_processes=key_processes,
                confirm_park_outside_township=form.cleaned_data.get("confirm_park_outside_township", False),
            )
        adopt(obj, enterprise)

    def save_related(self, request, form, formsets, change):
        # key_processes went through the service in save_model; only the inlines are left.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        enterprise = form.instance
        actor = request.user
        formset.save(commit=False)
        if formset.model is Permit:
            for permit in formset.deleted_objects:
                services.delete_permit(actor=actor, permit=permit)
            for permit, changed in formset.changed_objects:
                services.save_permit(
                    actor=actor,
                    enterprise=enterprise,
                    permit=fresh(permit),
                    data={name: getattr(permit, name) for name in changed},
                )
            for permit in formset.new_objects:
                services.save_permit(actor=actor, enterprise=enterprise, data=_inline_data(permit, PermitInline))
        elif formset.model is YearlyTier:
            for tier in formset.deleted_objects:
                require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
                delete_tracked(tier, actor=actor)
            for tier, changed in formset.changed_objects:
                if "year" in changed:
                    # A corrected year moves this record; set_yearly_tier would add a second one.
                    require(actor, Capability.CHANGE_ENTERPRISE, enterprise.township)
                    save_tracked(tier, actor=actor)
                else:
                    services.set_yearly_tier(
                        actor=actor, enterprise=enterprise, year=tier.year, tier=tier.tier, note=tier.note
                    )
            for tier in formset.new_objects:
                services.set_yearly_tier(
                    actor=actor, enterprise=enterprise, year=tier.year, tier=tier.tier, note=tier.note
                )

    def delete_model(self, request, obj):
        require(request.user, Capability.CHANGE_ENTERPRISE, obj.township)
        delete_tracked(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for enterprise in queryset.select_related("township"):
            self.delete_model(request, enterprise)


def _inline_data(instance, inline) -> dict:
    return {name: getattr(instance, name) for name in inline.fields}


class InventoryLineAdminForm(forms.ModelForm):
    """A substance by name, alias, CAS number or 表1 entry; Q and β come from GB 18218-2018 (the service)."""

    class Meta:
        model = HazardInventoryLine
        fields = ["chemical_name", "cas", "categories", "max_quantity_t"]

    def clean(self):
        cleaned = super().clean()
        reference = Reference.load()
        try:
            resolve(reference, cleaned.get("chemical_name", ""), cleaned.get("cas", ""))
        except ValueError as error:
            self.add_error("chemical_name", str(error))
        try:
            reference.parse_categories(cleaned.get("categories", ""))
        except ValueError as error:
            self.add_error("categories", str(error))
        return cleaned


class HazardInventoryLineInline(RegionScopedInline, admin.TabularInline):
    model = HazardInventoryLine
    form = InventoryLineAdminForm
    change_capability = Capability.CHANGE_ENTERPRISE
    fields = ["chemical_name", "cas", "categories", "max_quantity_t"]
    readonly_fields = ["threshold_t", "beta"]
    extra = 1


@admin.register(MajorHazardSource)
class MajorHazardSourceAdmin(RegionScopedHistoryAdmin):
    change_capability = Capability.CHANGE_ENTERPRISE
    list_display = [
        "name",
        "enterprise",
        "township",
        "unit_kind",
        "declared_level",
        "computed_level",
        "emergency_shutoff",
        "online_monitoring",
    ]
    list_filter = ["unit_kind", "computed_level", "emergency_shutoff", "online_monitoring"]
    list_select_related = ["enterprise__township"]
    search_fields = ["name", "enterprise__name", "=enterprise__uscc"]
    autocomplete_fields = ["enterprise"]
    inlines = [HazardInventoryLineInline]
    show_full_result_count = False

    @admin.display(description=_("township"), ordering="enterprise__township__name")
    def township(self, obj):
        return obj.enterprise.township.name

    def get_readonly_fields(self, request, obj=None):
        computed = ["computed_level", "r_value", "s_value", "is_major", "holds_shutoff_substances"]
        return ["enterprise", *computed] if obj else computed

    def save_model(self, request, obj, form, change):
        """Saved with its inventory in save_related: the level is computed from both together."""

    def save_related(self, request, form, formsets, change):
        inventory = None
        for formset in formsets:
            # Not saved row by row: the service replaces the inventory. commit=False only fills in
            # new/changed/deleted_objects, which the admin's change message reads.
            formset.save(commit=False)
            if formset.model is HazardInventoryLine and formset.has_changed():
                deleted = set(formset.deleted_forms)
                inventory = [
                    {name: line_form.cleaned_data.get(name) for name in HazardInventoryLineInline.fields}
                    for line_form in formset.forms
                    if line_form.cleaned_data
                    and line_form not in deleted
                    and (line_form.instance.pk or line_form.has_changed())
                ]
        if change and inventory is None and not form.has_changed():
            return  # nothing to save, so no history entry
        services.save_hazard_source(
            actor=request.user,
            enterprise=form.instance.enterprise,
            data={},
            inventory=inventory,
            hazard_source=form.instance,
        )

    def delete_model(self, request, obj):
        services.delete_hazard_source(actor=request.user, hazard_source=obj)

    def delete_queryset(self, request, queryset):
        for hazard_source in queryset.select_related("enterprise__township"):
            self.delete_model(request, hazard_source)


@admin.register(KeyHazardousProcess)
class KeyHazardousProcessAdmin(ReferenceTableAdmin, admin.ModelAdmin):
    list_display = ["sort_order", "code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]


@admin.register(HazardousChemical)
class HazardousChemicalAdmin(ReferenceTableAdmin, admin.ModelAdmin):
    list_display = ["entry_no", "name", "cas", "threshold_t", "table3_beta", "form", "categories", "clause"]
    search_fields = ["name", "=cas"]


@admin.register(HazardCategory)
class HazardCategoryAdmin(ReferenceTableAdmin, admin.ModelAdmin):
    list_display = ["code", "hazard_class", "description", "threshold_t", "beta"]
    search_fields = ["code", "hazard_class"]
