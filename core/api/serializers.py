"""Fields shared by the API's serializers, and the error body as documented in the schema."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from regions.models import Region


class CodeField(serializers.ChoiceField):
    """A coded value (stable English code). A blank choice ("not recorded") reads and writes as null."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)

    def to_internal_value(self, data):
        return "" if data in ("", None) else super().to_internal_value(data)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)


class DisplayField(serializers.CharField):
    """The label of a coded value; null when the code is null."""

    def to_representation(self, value):
        return None if value in ("", None) else str(value)


def display_field(source: str, help_text=None):
    """The Chinese (or, with Accept-Language: en, English) label of a coded value."""
    return DisplayField(
        source=source,
        read_only=True,
        allow_null=True,
        help_text=help_text or _("Label of the code in the request's language."),
    )


@extend_schema_field(OpenApiTypes.STR)
class RegionCodeField(serializers.Field):
    """A region by its code; on input it must lie inside the caller's region (else: not found)."""

    default_error_messages = {
        "not_found": _("No region with the code %(code)s lies inside your region."),
        "invalid": _('Give the region\'s code as a string, e.g. "320501001".'),
    }

    def to_representation(self, value):
        return value.code

    def to_internal_value(self, data):
        if not isinstance(data, (str, int)):
            self.fail("invalid")
        code = str(data).strip()
        user = self.context["request"].user
        region = Region.objects.visible_to(user).filter(code=code).first()
        if region is None:
            raise serializers.ValidationError(self.error_messages["not_found"] % {"code": code}, code="not_found")
        return region


class ErrorItemSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("Stable code of the error, e.g. required, invalid, uscc_check."))
    message_zh = serializers.CharField(help_text=_("The message in Chinese."))
    message_en = serializers.CharField(help_text=_("The message in English."))


class ErrorSerializer(serializers.Serializer):
    """The body of every error response (4xx)."""

    detail = serializers.CharField(help_text=_("What went wrong, in the request's language (Accept-Language)."))
    code = serializers.CharField(
        help_text=_(
            "Stable code: invalid, not_authenticated, authentication_failed, token_revoked, token_expired, "
            "permission_denied, read_only, not_found, conflict, throttled, …"
        )
    )
    detail_zh = serializers.CharField(help_text=_("The same in Chinese."))
    detail_en = serializers.CharField(help_text=_("The same in English."))
    errors = serializers.DictField(
        child=ErrorItemSerializer(many=True),
        help_text=_(
            "For 400: the refused fields (nested ones named with dots, e.g. permits.0.number; "
            "errors not tied to a field under non_field_errors), each with its messages. Empty otherwise."
        ),
    )
    current_version = serializers.IntegerField(
        required=False, help_text=_("409 only: the version the record has now (also in the ETag header).")
    )
