"""Base of every API resource: region scoping that cannot be forgotten, sync, tombstones, versions, errors.

A resource viewset mixes in RegisterViewSetMixin with a DRF viewset, sets `queryset` (a model whose
queryset is a RegionScopedQuerySet), `serializer_class` and `filterset_class`, and adds prefetching in
`decorate_queryset()`. It may not define get_queryset(): the mixin's applies `.visible_to(user)`, so a
record of another region is a 404.
"""

import re

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, serializers
from rest_framework.decorators import action

from core.exceptions import ConflictError

from .exceptions import ApiThrottled, other_language
from .pagination import RegisterPagination
from .permissions import RegisterPermission
from .sync import SINCE_PARAM, TombstoneSource, parse_since, sync_window

#: Errors raised inside a handler whose messages services and DRF translate when raising: the request is
#: replayed once under the other language to render them in both (core.api.exceptions).
REPLAYED_ERRORS = (DjangoValidationError, DjangoPermissionDenied, exceptions.APIException)
NOT_REPLAYED = (exceptions.NotFound, exceptions.Throttled, ConflictError)

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


class _ReplaySucceeded(Exception):
    """The replay did not fail (something changed meanwhile): undo it and keep the first error."""


class RegisterViewSetMixin:
    permission_classes = [RegisterPermission]
    pagination_class = RegisterPagination
    filter_backends = [DjangoFilterBackend]
    #: The timestamp incremental sync is ordered by; None when the resource has none (no updated_since).
    sync_field: str | None = "updated_at"
    #: Model field names in a service's ValidationError → the API's field names.
    service_field_names: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise ImproperlyConfigured(
                f"{cls.__name__} must not override get_queryset(): RegisterViewSetMixin scopes every row to the "
                "user's region there. Add select_related/prefetch_related in decorate_queryset() instead."
            )

    # --- Rows -----------------------------------------------------------------------------------------

    def get_queryset(self):
        queryset = self.queryset.all()
        if not hasattr(queryset, "visible_to"):
            raise ImproperlyConfigured(f"{type(self).__name__}: {queryset.model.__name__} has no region scoping.")
        return self.decorate_queryset(queryset.visible_to(self.request.user))

    def decorate_queryset(self, queryset):
        """Add select_related / prefetch_related / annotations for what the serializer shows."""
        return queryset

    def get_object(self):
        # Query parameters filter lists only: a detail URL names one record, looked up among the visible ones.
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        obj = self.get_queryset().filter(self.lookup_condition(value)).first()
        if obj is None:
            raise Http404
        self.check_object_permissions(self.request, obj)
        return obj

    def lookup_condition(self, value: str) -> Q:
        """The Q selecting the record a URL names (by default its id; anything else finds nothing)."""
        return Q(pk=int(value)) if value.isdigit() else Q(pk__in=[])

    # --- Incremental sync -----------------------------------------------------------------------------

    @property
    def sync_requested(self) -> bool:
        return self.action == "list" and SINCE_PARAM in self.request.query_params

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        self.sync_keys = None
        if self.sync_requested:
            if not self.sync_field:
                raise DjangoValidationError(
                    {
                        SINCE_PARAM: DjangoValidationError(
                            _("This list has no change times: fetch it whole (it is short)."), code="unsupported"
                        )
                    }
                )
            since = parse_since(self.request.query_params[SINCE_PARAM])
            queryset = sync_window(queryset, since, self.sync_field)
            self.sync_keys = (self.sync_field, "pk")
        return queryset

    # --- Versions (optimistic concurrency) --------------------------------------------------------------

    def expected_version(self) -> int | None:
        """The version a change is based on: the If-Match header or `version` in the body (None: not checked)."""
        header = self.request.headers.get("If-Match")
        from_header = None
        if header and header.strip() != "*":
            match = _ETAG.match(header)
            if not match:
                raise DjangoValidationError(
                    {
                        "version": DjangoValidationError(
                            _('If-Match must be the ETag of the record, e.g. "3".'), code="invalid"
                        )
                    }
                )
            from_header = int(match[1])
        from_body = None
        data = self.request.data
        if hasattr(data, "get") and data.get("version") not in (None, ""):
            try:
                from_body = int(data.get("version"))
            except (TypeError, ValueError):
                from_body = None
            if from_body is None or from_body < 1:
                raise DjangoValidationError(
                    {"version": DjangoValidationError(_("The version is a whole number from 1."), code="invalid")}
                )
        if from_header is not None and from_body is not None and from_header != from_body:
            raise DjangoValidationError(
                {
                    "version": DjangoValidationError(
                        _("If-Match (%(header)s) and version (%(body)s) disagree: send one of them."),
                        code="invalid",
                        params={"header": from_header, "body": from_body},
                    )
                }
            )
        return from_header if from_header is not None else from_body

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        data = getattr(response, "data", None)
        if (
            self.action in ("retrieve", "create", "update", "partial_update")
            and isinstance(data, dict)
            and "version" in data
            and response.status_code < 300
        ):
            response["ETag"] = f'"{data["version"]}"'
        return response

    # --- Errors in both languages -------------------------------------------------------------------------

    def initial(self, request, *args, **kwargs):
        self._handler_started = False
        super().initial(request, *args, **kwargs)
        self._handler_started = True

    def throttled(self, request, wait):
        raise ApiThrottled(wait)

    def handle_exception(self, exc):
        if (
            getattr(self, "_handler_started", False)
            and isinstance(exc, REPLAYED_ERRORS)
            and not isinstance(exc, NOT_REPLAYED)
            and not isinstance(getattr(exc, "message", None), Promise)  # lazy: rendered in both languages as is
        ):
            exc.replayed = self._replay(exc)
        return super().handle_exception(exc)

    def _replay(self, exc):
        """Run the failed handler again under the other language, in a transaction always rolled back.

        The handler failed, and services are atomic, so nothing was written: replaying it meets the same
        data and fails the same way, now in the other language. Returns (language, exception) or None.
        """
        language = other_language()
        handler = getattr(self, self.request.method.lower(), self.http_method_not_allowed)
        try:
            with translation.override(language), transaction.atomic():
                handler(self.request, *self.args, **self.kwargs)
                raise _ReplaySucceeded
        except _ReplaySucceeded:
            return None
        except Exception as other:  # the same refusal, rendered in `language`
            return (language, other) if type(other) is type(exc) else None


class DeletedRecordsMixin:
    """Adds `<resource>/deleted/`: tombstones for incremental sync (core.api.sync), always cursor-paged."""

    tombstones: TombstoneSource
    tombstone_serializer_class: type

    def get_serializer_class(self):
        if self.action == "deleted":
            return self.tombstone_serializer_class
        return super().get_serializer_class()

    @action(detail=False, url_path="deleted", filter_backends=[])
    def deleted(self, request, *args, **kwargs):
        since = request.query_params.get(SINCE_PARAM)
        rows = sync_window(self.tombstones.rows(request.user), parse_since(since) if since else None, "history_date")
        self.sync_keys = ("history_date", "history_id")
        key = self.tombstones.key_field
        page = self.paginate_queryset(
            rows.order_by("history_date", "history_id").values("id", key, "history_date", "history_id", "reason")
        )
        tombstones = [
            {"id": row["id"], "key": row[key], "deleted_at": row["history_date"], "reason": row["reason"]}
            for row in page
        ]
        return self.get_paginated_response(self.get_serializer(tombstones, many=True).data)


class TombstoneSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("Id of the record that is gone."))
    deleted_at = serializers.DateTimeField(help_text=_("When it was deleted or left your region."))
    reason = serializers.ChoiceField(
        choices=[("deleted", _("Deleted")), ("moved_out", _("Moved out of your region"))],
        help_text=_("deleted: the record no longer exists; moved_out: it now lies outside your region."),
    )


def tombstone_serializer(name: str, key_field: str, key_help) -> type:
    """A tombstone serializer naming the resource's business key (uscc, code) as it does in the resource."""
    return type(name, (TombstoneSerializer,), {key_field: serializers.CharField(source="key", help_text=key_help)})
