from django.urls import path

from . import report_views, views

app_name = "rectification"
urlpatterns = [
    path("", views.campaign_list, name="campaigns"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/edit/", views.campaign_update, name="campaign_update"),
    path("campaigns/<int:pk>/targets/", views.target_edit, name="target_edit"),
    path("campaigns/<int:pk>/classifications/", views.classification_list, name="classifications"),
    path("enterprises/<int:enterprise_pk>/campaigns/<int:campaign_pk>/propose/", views.propose, name="propose"),
    path("classifications/<int:pk>/<slug:action>/", views.classification_step, name="step"),
    path("plans/<int:plan_pk>/tasks/new/", views.task_create, name="task_create"),
    path("tasks/<int:pk>/move/", views.task_move, name="task_move"),
    path("tasks/<int:pk>/<slug:action>/", views.task_step, name="task_step"),
    path("evidence/<int:pk>/", views.evidence_download, name="evidence"),
    path("evidence/<int:pk>/delete/", views.evidence_delete, name="evidence_delete"),
    path("reports/", report_views.report_list, name="reports"),
    path("reports/<int:pk>/status/", report_views.report_status, name="report_status"),
    path("reports/<int:pk>/download/", report_views.report_download, name="report_download"),
    path("reports/<int:pk>/notice/", report_views.report_notice, name="report_notice"),
]
