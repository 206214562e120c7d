"""Roster imports as the API shows them (read-only): the file, its region and campaign, the outcome."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import FastRepresentationMixin, display_field
from rectification.api.common import CampaignRefSerializer

from ..models import RosterImport


class ImportCountsSerializer(serializers.Serializer):
    """What the preview found, or the commit wrote, row by row."""

    rows = serializers.IntegerField(source="rows_read", read_only=True, help_text=_("Data rows read from the file."))
    created = serializers.IntegerField(source="created_count", read_only=True, help_text=_("New enterprises."))
    updated = serializers.IntegerField(source="updated_count", read_only=True, help_text=_("Enterprises changed."))
    unchanged = serializers.IntegerField(
        source="unchanged_count", read_only=True, help_text=_("Rows equal to the register.")
    )
    skipped = serializers.IntegerField(
        source="skipped_count", read_only=True, help_text=_("Rows left out (blank rows, totals, other regions' rows).")
    )
    errors = serializers.IntegerField(
        source="error_row_count", read_only=True, help_text=_("Rows refused, each named in errors (detail).")
    )
    findings = serializers.IntegerField(
        source="findings_count", read_only=True, help_text=_("New findings (问题) recorded from the rows.")
    )
    warnings = serializers.IntegerField(
        source="warning_row_count",
        read_only=True,
        help_text=_("Rows imported with something still missing before the county submits (see warnings, detail)."),
    )
    surveyed = serializers.IntegerField(
        source="surveyed_count",
        read_only=True,
        help_text=_("Enterprises recorded as surveyed (摸排) in the campaign by this import (none there before)."),
    )


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text=_("Row number in the sheet; null for the whole file."))
    column = serializers.CharField(allow_blank=True, help_text=_("Column header as written in the file."))
    message = serializers.CharField(help_text=_("What is wrong and what to do, as the import page shows it."))


class RosterImportSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """名单导入: one uploaded roster, for a region and a campaign, with its outcome."""

    region_code = serializers.CharField(source="region.code", read_only=True, help_text=_("Code of the region."))
    campaign = CampaignRefSerializer(read_only=True)
    status = serializers.ChoiceField(
        choices=RosterImport._meta.get_field("status").choices,
        read_only=True,
        help_text=_(
            "previewing (reading the file), previewed (not imported), committing, committed (imported), failed, "
            "refused (the whole file was refused: see message)."
        ),
    )
    status_display = display_field("get_status_display")
    counts = ImportCountsSerializer(source="*", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, help_text=_("Username of who uploaded it.")
    )

    class Meta:
        model = RosterImport
        fields = [
            "id",
            "file_name",
            "sha256",
            "size",
            "region_code",
            "campaign",
            "status",
            "status_display",
            "progress",
            "message",
            "skip_errors",
            "counts",
            "created_by",
            "created_at",
            "committed_at",
            "updated_at",
        ]
        read_only_fields = fields


class RosterImportDetailSerializer(RosterImportSerializer):
    """One import with the refused rows and the columns the importer does not read."""

    errors = serializers.SerializerMethodField(help_text=_("The refused rows, in row order."))
    warnings = serializers.SerializerMethodField(
        help_text=_(
            "Rows imported with something still missing (needed before the county submits), in row order; they "
            "never block the import."
        )
    )
    ignored_columns = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text=_("Headers in the file that the importer does not read (shown, never silently ignored)."),
    )

    class Meta(RosterImportSerializer.Meta):
        fields = [*RosterImportSerializer.Meta.fields, "errors", "warnings", "ignored_columns"]
        read_only_fields = fields

    @extend_schema_field(ImportErrorSerializer(many=True))
    def get_errors(self, record):
        return [
            {"row": error.get("row"), "column": error.get("column") or "", "message": error.get("message") or ""}
            for error in record.errors or []
        ]

    @extend_schema_field(ImportErrorSerializer(many=True))
    def get_warnings(self, record):
        return [
            {"row": warning.get("row"), "column": warning.get("column") or "", "message": warning.get("message") or ""}
            for warning in record.warnings or []
        ]
