"""Admin for surveys, inspections and findings: region-scoped browsing and history.

Surveys, inspections and the steps of a finding are written through inspections.services from the
pages (they keep findings in step and move classifications), so here they are read-only; only a
finding's details (area, severity, description, legal basis, responsible unit, deadline) may be
corrected, and that goes through services.update_finding.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.permissions import Capability
from core.admin import RegionScopedHistoryAdmin, RegionScopedInline, adopt, fresh, model_data

from . import services
from .choices import FindingStatus
from .models import (
    AcceptanceCheckItem,
    Finding,
    FindingEvidence,
    Inspection,
    InspectionAttachment,
    Survey,
    SurveyItem,
)


class ReadOnlyAdminMixin:
    """Viewable by bureau staff of the region; written only through the services (pages, API, importer)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, RegionScopedInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class SurveyItemInline(ReadOnlyInline, admin.TabularInline):
    model = SurveyItem
    fields = ["area", "conforming", "note"]


@admin.register(Survey)
class SurveyAdmin(ReadOnlyAdminMixin, RegionScopedHistoryAdmin):
    list_display = ["enterprise", "township", "campaign", "surveyed_on", "source", "surveyed_by", "recorded_by"]
    list_filter = ["campaign", "source"]
    list_select_related = ["enterprise__township", "campaign", "recorded_by"]
    search_fields = ["=enterprise__uscc", "enterprise__name"]
    date_hierarchy = "surveyed_on"
    inlines = [SurveyItemInline]
    show_full_result_count = False

    @admin.display(description=_("township"), ordering="enterprise__township__name")
    def township(self, obj):
        return obj.enterprise.township.name


class AttachmentInline(ReadOnlyInline, admin.TabularInline):
    model = InspectionAttachment
    fields = ["original_name", "file", "file_kind", "size", "description", "uploaded_by", "uploaded_at"]


class CheckItemInline(ReadOnlyInline, admin.TabularInline):
    model = AcceptanceCheckItem
    fields = ["item", "passed", "note"]


class FindingInline(ReadOnlyInline, admin.TabularInline):
    model = Finding
    fk_name = "inspection"
    fields = ["area", "severity", "description", "deadline", "status"]
    show_change_link = True


@admin.register(Inspection)
class InspectionAdmin(ReadOnlyAdminMixin, RegionScopedHistoryAdmin):
    list_display = ["kind", "status", "inspected_on", "planned_on", "target_name", "township", "result"]
    list_filter = ["kind", "status", "result"]
    list_select_related = ["enterprise__township", "park__township"]
    search_fields = ["=enterprise__uscc", "enterprise__name", "park__name", "inspectors"]
    date_hierarchy = "inspected_on"
    inlines = [CheckItemInline, FindingInline, AttachmentInline]
    show_full_result_count = False

    @admin.display(description=pgettext_lazy("inspection", "target"))
    def target_name(self, obj):
        return str(obj.target)

    @admin.display(description=_("township"))
    def township(self, obj):
        return obj.township.name


class EvidenceInline(ReadOnlyInline, admin.TabularInline):
    model = FindingEvidence
    fields = ["stage", "original_name", "file", "file_kind", "size", "description", "uploaded_by", "uploaded_at"]


@admin.register(Finding)
class FindingAdmin(RegionScopedHistoryAdmin):
    change_capability = Capability.MANAGE_FINDINGS
    list_display = ["short_description", "target_name", "area", "severity", "status", "deadline", "overdue_since"]
    list_filter = ["status", "severity", "area"]
    list_select_related = ["enterprise__township", "park__township"]
    search_fields = ["=enterprise__uscc", "enterprise__name", "park__name", "description", "responsible_unit"]
    date_hierarchy = "created_at"
    fields = [
        "enterprise",
        "park",
        "inspection",
        "survey",
        *services.EDITABLE_FINDING_FIELDS,
        "status",
        "overdue_since",
        ("fixed_by", "fixed_at"),
        "fix_note",
        ("verified_by", "verified_at"),
        "verification_note",
        ("created_by", "created_at"),
    ]
    inlines = [EvidenceInline]
    show_full_result_count = False

    @admin.display(description=_("description"))
    def short_description(self, obj):
        return obj.description[:50]

    @admin.display(description=pgettext_lazy("inspection", "target"))
    def target_name(self, obj):
        return str(obj.target)

    def get_readonly_fields(self, request, obj=None):
        editable = set(services.EDITABLE_FINDING_FIELDS)
        if obj is not None and obj.status == FindingStatus.CLOSED:
            editable = set()
        names = []
        for entry in self.fields:
            names.extend(entry if isinstance(entry, tuple) else [entry])
        return [name for name in names if name not in editable]

    def has_add_permission(self, request, *args):
        return False  # findings come from an inspection or a survey

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        finding = fresh(obj)
        services.update_finding(
            finding=finding,
            actor=request.user,
            data=model_data(form, changed_only=True, exclude=("inspection", "survey", "enterprise", "park")),
        )
        adopt(obj, fresh(finding))
