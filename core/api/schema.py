"""OpenAPI 3 schema (drf-spectacular): token scheme, error responses on every operation, the API's description.

Descriptions are translated: /api/schema/?lang=en (or Accept-Language: en) gives English, Chinese is the
default; the API's overall description is given in both languages at once.
"""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from .serializers import ErrorSerializer
from .viewsets import RegisterViewSetMixin

ERROR_DESCRIPTIONS = {
    "400": gettext_lazy(
        "Refused input: a filter, updated_since, cursor or field value is not valid; errors names each field with "
        "its messages in Chinese and English."
    ),
    "401": gettext_lazy("No token, or an unknown, expired or revoked one."),
    "403": gettext_lazy(
        "Not allowed: e.g. a read-only token on a write, or a role or region that may not make this change."
    ),
    "404": gettext_lazy("No such record in your region (records of other regions are not found either)."),
    "409": gettext_lazy(
        "The record changed since the version you sent (body version or If-Match): current_version says which "
        "it is now. Reload it and apply your change again."
    ),
    "429": gettext_lazy("Too many requests for this token: wait as many seconds as Retry-After says."),
}


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": _(
                "API token from `manage.py create_api_client`: header `Authorization: Token <token>` or "
                "`Authorization: Bearer <token>`."
            ),
        }


class RegisterAutoSchema(AutoSchema):
    def get_description(self):
        # Descriptions come from extend_schema (translated); class docstrings are for developers, not for the schema.
        return ""

    def _get_filter_parameters(self):
        # A filter typed with extend_schema_field loses its help_text on the way: put it back.
        parameters = super()._get_filter_parameters()
        filterset_class = getattr(self.view, "filterset_class", None)
        filters = filterset_class.base_filters if filterset_class else {}
        for parameter in parameters:
            source = filters.get(parameter.get("name"))
            if source is not None and not parameter.get("description"):
                text = source.extra.get("help_text") or source.label
                if text:
                    parameter["description"] = str(text)
        return parameters

    def _is_list_view(self, serializer=None) -> bool:
        if getattr(self.view, "action", None) == "deleted":
            return True
        return super()._is_list_view(serializer)

    def _error_codes(self) -> list[str]:
        if not isinstance(self.view, RegisterViewSetMixin):
            return []
        action = getattr(self.view, "action", None)
        codes = ["401", "403", "429"]
        if action in ("list", "deleted", "create", "update", "partial_update"):
            codes.append("400")
        if action in ("retrieve", "update", "partial_update", "destroy") or (
            action not in ("list", "create", "deleted") and getattr(self.view, "detail", False)
        ):
            codes.append("404")
        if action in ("update", "partial_update"):
            codes.append("409")
        return sorted(set(codes))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(response=ErrorSerializer, description=str(ERROR_DESCRIPTIONS[code])), code
                )
        return responses


API_DESCRIPTION = gettext_lazy(
    "The register's data for other bureau systems (the provincial rectification platform, the hazardous-chemical "
    "monitoring platform, the city data centre) and scripts.\n\n"
    "**Access.** A token from `python manage.py create_api_client NAME --region CODE [--write]`, sent as "
    "`Authorization: Token <token>` (or `Bearer <token>`). Every request sees only the client's region and "
    "everything below it; a record elsewhere is 404. Tokens are read-only unless created with --write. People "
    "use their login session (the browsable API), with CSRF. Throttled per token (%(rate)s): 429 with Retry-After.\n\n"
    "**Values.** Stable English snake_case field names; coded values are English codes with their label beside "
    "them in `<field>_display`; dates ISO 8601, date-times with the +08:00 offset; decimals as strings.\n\n"
    "**Pages.** `?page=` and `?page_size=` (at most 500).\n\n"
    "**Incremental sync.** Every list with change times accepts `updated_since`: records changed strictly after "
    "it, ordered by (updated_at, id), in pages linked by `next` (null when you are up to date). Records changed in "
    "the last %(settle)d seconds are held back until they have settled, so a slow transaction committing late "
    "cannot slip in behind your position: nothing is missed and each change is sent once (a record changed during "
    "your pull comes again, later, with its new content). Keep the updated_at of the last record for the next "
    "pull. Deletions: `<resource>/deleted/?updated_since=` lists tombstones (deleted or moved out of your region) "
    "the same way.\n\n"
    "**Writes** go through the same services and rules as the pages and show in the record's history as made by "
    "your client. Send the `version` you read (or If-Match with the ETag): a record changed meanwhile answers 409.\n\n"
    "**Errors** are JSON: detail, code, detail_zh, detail_en and errors {field: [{code, message_zh, message_en}]}."
)


def describe_api(result, generator, request, public):
    """Postprocessing hook: the API's description, in Chinese and in English."""
    params = {"rate": settings.API_THROTTLE_RATE, "settle": settings.API_SYNC_SETTLE_SECONDS}
    parts = []
    for language in ("zh-hans", "en"):
        with translation.override(language):
            parts.append(str(API_DESCRIPTION) % params)
    result.setdefault("info", {})["description"] = "\n\n---\n\n".join(dict.fromkeys(parts))
    return result
