from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from core.api.sync import TombstoneSource
from core.api.viewsets import DeletedRecordsMixin, RegisterViewSetMixin, tombstone_serializer

from ..models import ChemicalPark
from ..selectors import with_enterprise_count
from .filters import ChemicalParkApiFilterSet
from .serializers import ChemicalParkSerializer


@extend_schema_view(
    list=extend_schema(
        summary=_("List chemical parks"),
        description=_(
            "The park dossiers (一园一档): the chemical parks and clusters in your region, with their infrastructure checklist and the "
            "state of their overall safety-risk assessment. With updated_since: incremental sync."
        ),
    ),
    retrieve=extend_schema(summary=_("One chemical park, by id")),
    deleted=extend_schema(
        summary=_("Deleted chemical parks (tombstones)"),
        description=_(
            "Parks deleted, or moved out of your region, after updated_since; cursor-paged like the sync. "
            "Apply a tombstone when its deleted_at is later than the updated_at you hold."
        ),
    ),
)
class ChemicalParkViewSet(DeletedRecordsMixin, RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ChemicalPark.objects.all()
    serializer_class = ChemicalParkSerializer
    filterset_class = ChemicalParkApiFilterSet
    tombstones = TombstoneSource(ChemicalPark, key_field="code")
    tombstone_serializer_class = tombstone_serializer("ChemicalParkTombstone", "code", _("Park code."))

    def decorate_queryset(self, queryset):
        # The FilterSet adds enterprise_count for lists; a single park gets it here.
        queryset = queryset.select_related("township")
        return queryset if self.action == "list" else with_enterprise_count(queryset)
