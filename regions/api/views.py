from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from core.api.viewsets import RegisterViewSetMixin

from ..models import Region
from .filters import RegionApiFilterSet
from .serializers import RegionSerializer


@extend_schema_view(
    list=extend_schema(
        summary=_("List regions"),
        description=_(
            "The administrative regions you may see: your own and everything below it (city → county/district → "
            "township/street). Short and without change times: fetch it whole, it accepts no updated_since."
        ),
    ),
    retrieve=extend_schema(summary=_("One region, by its code")),
)
class RegionViewSet(RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Region.objects.order_by("code")
    serializer_class = RegionSerializer
    filterset_class = RegionApiFilterSet
    lookup_field = "code"
    lookup_value_regex = r"[0-9]+"
    sync_field = None

    def decorate_queryset(self, queryset):
        return queryset.select_related("parent")

    def lookup_condition(self, value):
        return Q(code=value)
