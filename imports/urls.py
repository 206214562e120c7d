from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("new/", views.upload, name="upload"),
    path("template.xlsx", views.template_download, name="template"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/status/", views.import_status, name="status"),
    path("<int:pk>/commit/", views.commit, name="commit"),
    path("<int:pk>/errors.xlsx", views.error_download, name="errors"),
    path("<int:pk>/file/", views.original_download, name="file"),
]
