from django.urls import path

from . import notification_views, views
from .work_queue import work_queue

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("queue/", work_queue, name="work_queue"),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/read-all/", notification_views.notification_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", notification_views.notification_read, name="notification_read"),
    path("notifications/<int:pk>/open/", notification_views.notification_open, name="notification_open"),
]
