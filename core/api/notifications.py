"""The caller's own notifications through the API: list, filter unread, mark read.

Scoped twice: by region like every resource (the mixin), then to the caller as recipient, so another user's
notification is a 404 even inside one's region. Marking read changes the caller's inbox through
core.notifications, like the notification page; as a POST it needs write permission like every API write.
"""

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.models import Notification, NotificationKind
from core.notifications import mark_all_read, mark_read

from .serializers import FastRepresentationMixin, display_field
from .viewsets import RegisterViewSetMixin

NOTIFICATION_WRITE_NOTE = _(
    "Changes only your own inbox. As every API write, it needs a token created with --write (or a login session)."
)


class NotificationSerializer(FastRepresentationMixin, serializers.ModelSerializer):
    """消息: one message to you (a task or finding due or overdue, a permit expiring, a report ready, …)."""

    kind = serializers.ChoiceField(choices=NotificationKind.choices, read_only=True)
    kind_display = display_field("get_kind_display")
    link = serializers.SerializerMethodField(
        help_text=_("Absolute address of the page of the record concerned; null when there is none.")
    )
    is_read = serializers.BooleanField(read_only=True, help_text=_("true once read_at is set."))

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "kind_display",
            "title",
            "body",
            "link",
            "created_at",
            "read_at",
            "is_read",
            "updated_at",
        ]
        read_only_fields = fields

    def get_link(self, notification) -> str | None:
        if not notification.link:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(notification.link) if request is not None else notification.link


class ReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text=_("How many notifications were unread and are now read."))


class NotificationApiFilterSet(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", help_text=_("true: only unread; false: only read.")
    )
    kind = django_filters.ChoiceFilter(choices=NotificationKind.choices)

    class Meta:
        model = Notification
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary=_("List your notifications"),
        description=_(
            "The notifications (消息) addressed to you — for an API client, to its service user (e.g. a report it "
            "requested is ready) — newest first; ?unread=true for the unread ones. Nobody sees another user's. "
            "With updated_since: incremental sync, ordered by (updated_at, id), cursor-paged; updated_at changes "
            "when a notification is read. Notifications are deleted only with their recipient, so there is no "
            "deleted/ list."
        ),
    ),
    retrieve=extend_schema(summary=_("One of your notifications, by id")),
)
class NotificationViewSet(RegisterViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationApiFilterSet

    def decorate_queryset(self, queryset):
        return queryset.filter(recipient=self.request.user)

    def get_serializer_class(self):
        if self.action == "read_all":
            return ReadAllSerializer
        return super().get_serializer_class()

    @extend_schema(
        summary=_("Mark one of your notifications read"),
        description=NOTIFICATION_WRITE_NOTE,
        request=None,
        responses={200: NotificationSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def read(self, request, *args, **kwargs):
        notification = self.get_object()
        mark_read(request.user, [notification.pk])
        fresh = self.get_queryset().get(pk=notification.pk)
        return Response(NotificationSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(
        summary=_("Mark all your notifications read"),
        description=NOTIFICATION_WRITE_NOTE,
        request=None,
        responses={200: ReadAllSerializer},
    )
    @action(detail=False, methods=["post"], url_path="read-all", filter_backends=[], pagination_class=None)
    def read_all(self, request, *args, **kwargs):
        return Response({"marked": mark_all_read(request.user)})
