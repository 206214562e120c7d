"""/api/: the versioned resources under v1/, the OpenAPI schema and its documentation page.

Adding a resource: one `router.register(...)` line below.
"""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from enterprises.api.views import EnterpriseViewSet, HazardSourceViewSet
from imports.api.views import RosterImportViewSet
from inspections.api.surveys import SurveyViewSet
from inspections.api.views import FindingViewSet, InspectionViewSet
from parks.api.views import ChemicalParkViewSet
from rectification.api.reports import SupervisionReportViewSet
from rectification.api.views import CampaignViewSet, ClassificationViewSet, TargetViewSet, TaskViewSet
from regions.api.views import RegionViewSet

from . import schema  # noqa: F401  (registers the token scheme with drf-spectacular)
from .notifications import NotificationViewSet

app_name = "api"

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="region")
router.register("parks", ChemicalParkViewSet, basename="park")
router.register("enterprises", EnterpriseViewSet, basename="enterprise")
router.register("hazard-sources", HazardSourceViewSet, basename="hazard-source")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("targets", TargetViewSet, basename="target")
router.register("classifications", ClassificationViewSet, basename="classification")
router.register("tasks", TaskViewSet, basename="task")
router.register("inspections", InspectionViewSet, basename="inspection")
router.register("findings", FindingViewSet, basename="finding")
router.register("surveys", SurveyViewSet, basename="survey")
router.register("imports", RosterImportViewSet, basename="import")
router.register("reports", SupervisionReportViewSet, basename="report")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
