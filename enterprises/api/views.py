from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from core.api.sync import TombstoneSource
from core.api.viewsets import DeletedRecordsMixin, RegisterViewSetMixin, tombstone_serializer

from .. import services
from ..models import Enterprise, HazardInventoryLine, KeyHazardousProcess, MajorHazardSource
from ..validators import USCC_LENGTH, normalize_uscc
from .filters import EnterpriseApiFilterSet, HazardSourceApiFilterSet
from .serializers import EnterpriseSerializer, HazardSourceSerializer, current_classifications_queryset
from .sync_rows import represent, sync_values

ENTERPRISE_LOOKUP = OpenApiParameter(
    "id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description=_("The enterprise's id, or its 18-character unified social credit code."),
)
SYNC_NOTE = _(
    "With updated_since: incremental sync, ordered by (updated_at, id), cursor-paged; a change to its permits, "
    "tiers, key processes or park name counts as a change of the enterprise."
)
WRITE_NOTE = _(
    "Through the same service and rules as the pages; the change shows in the dossier's history as made by your "
    "API client. Needs a token created with --write, inside your region."
)


@extend_schema_view(
    list=extend_schema(
        summary=_("List enterprises"),
        description=format_lazy(
            "{} {}",
            _("The enterprise dossiers (一企一档) in your region with permits, key processes, flags and tiers."),
            SYNC_NOTE,
        ),
    ),
    retrieve=extend_schema(summary=_("One enterprise, by id or credit code"), parameters=[ENTERPRISE_LOOKUP]),
    create=extend_schema(summary=_("Register an enterprise"), description=WRITE_NOTE),
    update=extend_schema(
        summary=_("Change an enterprise (all fields)"), description=WRITE_NOTE, parameters=[ENTERPRISE_LOOKUP]
    ),
    partial_update=extend_schema(
        summary=_("Change some fields of an enterprise"), description=WRITE_NOTE, parameters=[ENTERPRISE_LOOKUP]
    ),
    deleted=extend_schema(
        summary=_("Deleted enterprises (tombstones)"),
        description=_(
            "Enterprises deleted, or moved out of your region, after updated_since; cursor-paged like the sync. "
            "Apply a tombstone when its deleted_at is later than the updated_at you hold; drop the enterprise's "
            "hazard sources with it."
        ),
    ),
)
class EnterpriseViewSet(
    DeletedRecordsMixin,
    RegisterViewSetMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    queryset = Enterprise.objects.all()
    serializer_class = EnterpriseSerializer
    filterset_class = EnterpriseApiFilterSet
    lookup_value_regex = r"[^/]+"
    service_field_names = {"township": "region_code"}
    tombstones = TombstoneSource(Enterprise, key_field="uscc")
    tombstone_serializer_class = tombstone_serializer("EnterpriseTombstone", "uscc", _("Unified social credit code."))

    def decorate_queryset(self, queryset):
        return queryset.select_related("township", "park").prefetch_related(
            # Lists (to_attr) rather than managers: a sync page reads them without a queryset per row.
            Prefetch(
                "key_processes",
                queryset=KeyHazardousProcess.objects.order_by("sort_order", "pk"),
                to_attr="key_process_list",
            ),
            Prefetch("permits", to_attr="permit_list"),
            Prefetch("tiers", to_attr="tier_list"),
            Prefetch("classifications", queryset=current_classifications_queryset(), to_attr="current_classifications"),
        )

    def list(self, request, *args, **kwargs):
        if not self.sync_requested:
            return super().list(request, *args, **kwargs)
        # A sync reads every enterprise: written out from .values() rows, without model instances (sync_rows).
        page = self.paginate_queryset(sync_values(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(represent(page))

    def lookup_condition(self, value):
        code = normalize_uscc(value)
        if len(code) == USCC_LENGTH:
            return Q(uscc=code)
        return super().lookup_condition(value)

    def perform_create(self, serializer):
        data, key_processes, reason, confirmed = serializer.service_arguments()
        enterprise = services.create_enterprise(
            actor=self.request.user,
            data=data,
            key_processes=key_processes,
            reason=reason,
            confirm_park_outside_township=confirmed,
        )
        serializer.instance = self.get_queryset().get(pk=enterprise.pk)

    def perform_update(self, serializer):
        data, key_processes, reason, confirmed = serializer.service_arguments()
        services.update_enterprise(
            actor=self.request.user,
            enterprise=serializer.instance,
            data=data,
            key_processes=key_processes,
            reason=reason,
            expected_version=self.expected_version(),
            confirm_park_outside_township=confirmed,
        )
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


def _last_known_township_path():
    """The township path of a hazard source's enterprise, also when the enterprise has been deleted since."""
    live = Enterprise.objects.filter(pk=OuterRef("enterprise_id")).values("township__path")[:1]
    recorded = (
        Enterprise.history.model.objects.filter(id=OuterRef("enterprise_id"))
        .order_by("-history_id")
        .values("township__path")[:1]
    )
    return Coalesce(Subquery(live), Subquery(recorded))


@extend_schema_view(
    list=extend_schema(
        summary=_("List major hazard sources"),
        description=_(
            "The major hazard sources (重大危险源, GB 18218-2018) of the enterprises in your region, with their inventory, the level filed and "
            "the level computed from the inventory, and their monitoring equipment. With updated_since: incremental "
            "sync (an enterprise moving to another township counts as a change of its hazard sources)."
        ),
    ),
    retrieve=extend_schema(summary=_("One major hazard source, by id")),
    deleted=extend_schema(
        summary=_("Deleted major hazard sources (tombstones)"),
        description=_(
            "Hazard sources deleted after updated_since, cursor-paged like the sync. When an enterprise leaves your "
            "region (its own tombstone), drop its hazard sources too."
        ),
    ),
)
class HazardSourceViewSet(DeletedRecordsMixin, RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = MajorHazardSource.objects.all()
    serializer_class = HazardSourceSerializer
    filterset_class = HazardSourceApiFilterSet
    tombstones = TombstoneSource(
        MajorHazardSource, key_field="name", region_path=_last_known_township_path, tracks_moves=False
    )
    tombstone_serializer_class = tombstone_serializer("HazardSourceTombstone", "name", _("Name of the unit."))

    def decorate_queryset(self, queryset):
        return queryset.select_related("enterprise__township").prefetch_related(
            Prefetch("inventory", queryset=HazardInventoryLine.objects.select_related("chemical"))
        )
