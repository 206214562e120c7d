from django.urls import path

from . import views

app_name = "inspections"
urlpatterns = [
    path("", views.inspection_list, name="list"),
    path("new/", views.inspection_record, name="create"),
    path("plan/", views.inspection_plan, name="plan"),
    path("<int:pk>/", views.inspection_detail, name="detail"),
    path("<int:pk>/record/", views.inspection_record, name="record_planned"),
    path("<int:pk>/cancel/", views.inspection_cancel, name="cancel"),
    path("<int:pk>/attachments/new/", views.attachment_add, name="attachment_add"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("surveys/<int:enterprise_pk>/", views.survey_start, name="survey_start"),
    path("surveys/<int:enterprise_pk>/<int:campaign_pk>/", views.survey_edit, name="survey"),
    path("findings/", views.finding_list, name="finding_list"),
    path("findings/new/", views.finding_create, name="finding_create"),
    path("findings/<int:pk>/", views.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/<slug:action>/", views.finding_step, name="finding_step"),
    path("findings/evidence/<int:pk>/", views.evidence_download, name="evidence"),
    path("acceptance/<int:classification_pk>/", views.acceptance, name="acceptance"),
    path("recheck/<int:enterprise_pk>/", views.recheck, name="recheck"),
]
