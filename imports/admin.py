from django.contrib import admin

from core.admin import RegionScopedAdmin

from .models import RosterImport


@admin.register(RosterImport)
class RosterImportAdmin(RegionScopedAdmin, admin.ModelAdmin):
    """Read-only: imports are made and committed through the import pages (imports.services)."""

    list_display = ("id", "file_name", "campaign", "region", "created_by", "created_at", "status", "rows_read")
    list_filter = ("status",)
    search_fields = ("file_name", "sha256")
    list_select_related = ("campaign", "region", "created_by")
    exclude = ("file",)
    readonly_fields = [field.name for field in RosterImport._meta.fields if field.name not in ("file",)]
