from django.urls import path

from . import views
from .work_queue import work_queue

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("queue/", work_queue, name="work_queue"),
]
