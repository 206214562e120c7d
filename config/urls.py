from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("core.urls")),
    path("accounts/", include("accounts.urls")),
    path("enterprises/", include("enterprises.urls")),
    path("parks/", include("parks.urls")),
    path("inspections/", include("inspections.urls")),
    path("rectification/", include("rectification.urls")),
    path("imports/", include("imports.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("core.api.urls")),
]

# Uploaded files (evidence, attachments, rosters, reports) are never served from MEDIA_ROOT directly:
# each has a download view that looks it up through the user's region scope.
