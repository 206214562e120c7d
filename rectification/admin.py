"""Admin for campaigns and targets (written through rectification.services), and read-only, region-scoped
views of classifications, their steps, plans, tasks and evidence (the workflow runs on the pages, where
every step is checked and recorded)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability
from core.admin import (
    ReadOnlyAdminMixin,
    RegionScopedAdmin,
    RegionScopedHistoryAdmin,
    RegionScopedInline,
    adopt,
    fresh,
    model_data,
)

from . import services
from .models import (
    Campaign,
    Classification,
    ClassificationStep,
    Plan,
    SupervisionReport,
    Target,
    Task,
    TaskEvidence,
)


def _as_validation_error(call):
    """Run a service; a refusal for this record becomes a message on the admin form."""
    try:
        return call()
    except PermissionDenied as error:
        raise ValidationError(str(error)) from error


@admin.register(Campaign)
class CampaignAdmin(RegionScopedHistoryAdmin):
    change_capability = Capability.MANAGE_CAMPAIGNS
    list_display = ["name", "kind", "starts_on", "ends_on", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        if change:
            campaign = fresh(obj)
            services.update_campaign(campaign, request.user, model_data(form, changed_only=True))
            campaign = fresh(obj)
        else:
            campaign = services.create_campaign(request.user, model_data(form))
        adopt(obj, campaign)


@admin.register(Target)
class TargetAdmin(RegionScopedHistoryAdmin):
    change_capability = Capability.SET_TARGETS
    list_display = ["campaign", "region", "year", "shutdown", "relocate", "upgrade", "restructure"]
    list_filter = ["campaign", "year"]
    list_select_related = ["campaign", "region"]
    search_fields = ["region__name", "=region__code"]
    autocomplete_fields = ["region"]
    fields = ["campaign", "region", "year", *services.TARGET_COUNTS]

    def get_readonly_fields(self, request, obj=None):
        # The key of a target is fixed once saved; a different region or year is a different target.
        return ["campaign", "region", "year"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        counts = {name: getattr(obj, name) for name in services.TARGET_COUNTS}
        target = _as_validation_error(
            lambda: services.save_target(request.user, obj.campaign, obj.region, obj.year, counts)
        )
        adopt(obj, target)

    def delete_model(self, request, obj):
        _as_validation_error(lambda: services.delete_target(request.user, obj))

    def delete_queryset(self, request, queryset):
        for target in queryset.select_related("region"):
            _as_validation_error(lambda target=target: services.delete_target(request.user, target))


class StepInline(ReadOnlyAdminMixin, RegionScopedInline, admin.TabularInline):
    model = ClassificationStep
    fields = ["at", "action", "from_state", "to_state", "actor", "department", "review_round", "opinion", "comment"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "department")


@admin.register(Classification)
class ClassificationAdmin(ReadOnlyAdminMixin, RegionScopedHistoryAdmin):
    list_display = ["enterprise", "township", "campaign", "category", "state", "is_current", "deadline"]
    list_filter = ["campaign", "category", "state", "is_current"]
    list_select_related = ["enterprise__township", "campaign"]
    search_fields = ["=enterprise__uscc", "enterprise__name"]
    inlines = [StepInline]
    show_full_result_count = False

    @admin.display(description=_("township"), ordering="enterprise__township__name")
    def township(self, obj):
        return obj.enterprise.township.name


class EvidenceInline(ReadOnlyAdminMixin, RegionScopedInline, admin.TabularInline):
    model = TaskEvidence
    fields = ["original_name", "size", "content_type", "uploaded_by", "uploaded_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Task)
class TaskAdmin(ReadOnlyAdminMixin, RegionScopedHistoryAdmin):
    list_display = ["description", "enterprise", "lead", "deadline", "status"]
    list_filter = ["status", "standard_item", "plan__classification__campaign"]
    list_select_related = ["plan__classification__enterprise", "lead_department", "lead_region"]
    search_fields = ["description", "=plan__classification__enterprise__uscc", "plan__classification__enterprise__name"]
    inlines = [EvidenceInline]
    show_full_result_count = False

    @admin.display(description=_("enterprise"))
    def enterprise(self, obj):
        return obj.plan.classification.enterprise.name

    @admin.display(description=_("lead unit"))
    def lead(self, obj):
        return obj.lead_unit


@admin.register(SupervisionReport)
class SupervisionReportAdmin(ReadOnlyAdminMixin, RegionScopedAdmin, admin.ModelAdmin):
    """Reports are requested on their page and built by the worker; the admin shows them (and their errors)."""

    list_display = [
        "campaign",
        "quarter_name",
        "region",
        "document_number",
        "status",
        "progress",
        "requested_by",
        "requested_at",
    ]
    list_filter = ["status", "campaign"]
    list_select_related = ["campaign", "region", "requested_by"]

    @admin.display(description=_("quarter"), ordering="quarter")
    def quarter_name(self, obj):
        return obj.quarter_label


class PlanTaskInline(ReadOnlyAdminMixin, RegionScopedInline, admin.TabularInline):
    model = Task
    fields = ["order", "description", "deadline", "status"]
    show_change_link = True
    extra = 0


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdminMixin, RegionScopedAdmin, admin.ModelAdmin):
    """A plan is created by the approval of its classification; its tasks are worked on the dossier."""

    list_display = ["__str__", "classification"]
    list_select_related = ["classification__enterprise", "classification__campaign"]
    search_fields = ["=classification__enterprise__uscc", "classification__enterprise__name"]
    inlines = [PlanTaskInline]
    show_full_result_count = False
