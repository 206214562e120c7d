"""Two kinds of pages: numbered pages for browsing, keyset cursor pages for incremental sync.

A list answers {"count", "next", "previous", "results"} with `?page=` and `?page_size=`; with
`?updated_since=` (and always for tombstones) it answers {"next", "results"}, `next` carrying an opaque
cursor (core.api.sync). Both cost a fixed number of queries whatever the page or its position.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .sync import CURSOR_PARAM, SINCE_PARAM, after_cursor, decode_cursor, encode_cursor

MAX_PAGE_SIZE = 500


class RegisterPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    @property
    def page_size(self):
        return settings.API_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        # The view sets `sync_keys` (time field, id field) when it lists in sync order.
        self.sync_keys = getattr(view, "sync_keys", None)
        if not self.sync_keys:
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        size = self.get_page_size(request)
        time_field, id_field = self.sync_keys
        cursor = request.query_params.get(CURSOR_PARAM)
        if cursor:
            queryset = after_cursor(queryset, time_field, id_field, *decode_cursor(cursor))
        rows = list(queryset[: size + 1])
        self.next_cursor = None
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1]
            self.next_cursor = encode_cursor(_value(last, time_field), _value(last, id_field))
        return rows

    def get_next_link(self):
        if not getattr(self, "sync_keys", None):
            return super().get_next_link()
        if self.next_cursor is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, CURSOR_PARAM, self.next_cursor)

    def get_paginated_response(self, data):
        if getattr(self, "sync_keys", None):
            return Response({"next": self.get_next_link(), "results": data})
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "description": str(
                _(
                    "Numbered pages carry count, next and previous; with updated_since the page carries only "
                    "next (a cursor link, null once you are up to date) and results."
                )
            ),
            "properties": {
                "count": {"type": "integer", "example": 123, "description": str(_("Numbered pages only."))},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": str(_("Numbered pages only.")),
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        parameters = [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": str(_("Page number (numbered pages).")),
                "schema": {"type": "integer"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": str(
                    _("Rows per page, at most %(max)d (default %(default)d).")
                    % {"max": self.max_page_size, "default": self.page_size}
                ),
                "schema": {"type": "integer"},
            },
        ]
        if getattr(view, "sync_field", None):
            parameters += [
                {
                    "name": SINCE_PARAM,
                    "required": False,
                    "in": "query",
                    "description": str(
                        _(
                            "Incremental sync: only records changed strictly after this ISO 8601 date-time "
                            "(e.g. 2024-05-01T08:30:00.123456+08:00; encode + as %%2B), ordered by (updated_at, id) "
                            "and paged by cursor. Records changed in the last %(seconds)d seconds are held back "
                            "until they have settled, so none is missed; follow next until it is null and keep the "
                            "updated_at of the last record for the next pull."
                        )
                        % {"seconds": settings.API_SYNC_SETTLE_SECONDS}
                    ),
                    "schema": {"type": "string", "format": "date-time"},
                },
                {
                    "name": CURSOR_PARAM,
                    "required": False,
                    "in": "query",
                    "description": str(_("Opaque position of a sync page: use the next links as given.")),
                    "schema": {"type": "string"},
                },
            ]
        return parameters


def _value(row, name: str):
    if isinstance(row, dict):  # .values() rows (tombstones)
        return row[name]
    return row.pk if name == "pk" else getattr(row, name)
