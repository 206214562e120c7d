"""/api/: the versioned resources under v1/, the OpenAPI schema and its documentation page.

Adding a resource: one `router.register(...)` line below.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from enterprises.api.views import EnterpriseViewSet, HazardSourceViewSet
from parks.api.views import ChemicalParkViewSet
from regions.api.views import RegionViewSet

from . import schema  # noqa: F401  (registers the token scheme with drf-spectacular)

app_name = "api"

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="region")
router.register("parks", ChemicalParkViewSet, basename="park")
router.register("enterprises", EnterpriseViewSet, basename="enterprise")
router.register("hazard-sources", HazardSourceViewSet, basename="hazard-source")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
