from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from core.api.viewsets import RegisterViewSetMixin
from rectification.api.views import SYNC_NOTE

from ..models import RosterImport
from .filters import RosterImportApiFilterSet
from .serializers import RosterImportDetailSerializer, RosterImportSerializer


@extend_schema_view(
    list=extend_schema(
        summary=_("List roster imports"),
        description=format_lazy(
            "{} {}",
            _(
                "The rosters (名单) uploaded for your region and the regions below it: file, SHA-256, region, "
                "campaign, status, progress and counts, newest first. Read-only: rosters are uploaded on the import "
                "page. updated_at changes with every step of the preview and the commit. Imports are never deleted "
                "(there is no deleted/ list)."
            ),
            SYNC_NOTE,
        ),
    ),
    retrieve=extend_schema(
        summary=_("One roster import, by id"),
        description=_(
            "With the refused rows (row, column, message), the rows imported with warnings and the columns the "
            "importer does not read."
        ),
    ),
)
class RosterImportViewSet(RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = RosterImport.objects.all()
    serializer_class = RosterImportSerializer
    filterset_class = RosterImportApiFilterSet

    def decorate_queryset(self, queryset):
        queryset = queryset.select_related("created_by", "campaign", "region")
        # The error list can hold thousands of rows: only the detail carries it.
        if self.action == "retrieve":
            return queryset
        return queryset.defer("errors", "warnings", "ignored_columns", "parsed_name")

    def get_serializer_class(self):
        if self.action == "retrieve":
            return RosterImportDetailSerializer
        return super().get_serializer_class()
