from django.urls import path

from . import views

app_name = "parks"
urlpatterns = [
    path("", views.park_list, name="list"),
    path("new/", views.park_create, name="create"),
    path("<int:pk>/", views.park_detail, name="detail"),
    path("<int:pk>/edit/", views.park_update, name="update"),
    path("<int:pk>/evaluations/", views.evaluation_set, name="evaluation_set"),
]
