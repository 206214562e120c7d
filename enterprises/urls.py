from django.urls import path

from . import views

app_name = "enterprises"
urlpatterns = [
    path("", views.enterprise_list, name="list"),
    path("export/", views.enterprise_export, name="export"),
    path("lookup/", views.enterprise_lookup, name="lookup"),
    path("new/", views.enterprise_create, name="create"),
    path("hazard-calculator/", views.hazard_calculator, name="hazard_calculator"),
    path("hazard-grading/", views.hazard_grading, name="hazard_grading"),
    path("<int:pk>/", views.enterprise_detail, name="detail"),
    path("<int:pk>/edit/", views.enterprise_update, name="update"),
    path("<int:pk>/permits/new/", views.permit_edit, name="permit_create"),
    path("<int:pk>/permits/<int:permit_pk>/edit/", views.permit_edit, name="permit_update"),
    path("<int:pk>/permits/<int:permit_pk>/delete/", views.permit_delete, name="permit_delete"),
    path("<int:pk>/tiers/", views.tier_set, name="tier_set"),
    path("<int:pk>/hazard-sources/new/", views.hazard_source_edit, name="hazard_create"),
    path("<int:pk>/hazard-sources/<int:hazard_pk>/edit/", views.hazard_source_edit, name="hazard_update"),
    path("<int:pk>/hazard-sources/<int:hazard_pk>/delete/", views.hazard_source_delete, name="hazard_delete"),
]
