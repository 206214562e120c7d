"""Fields shared by the API's serializers, and the error body as documented in the schema."""

import functools
import re

from django.utils import translation
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


_DISPLAY_METHOD = re.compile(r"^get_(\w+)_display$")


@functools.cache
def _labels(model, field_name: str, language: str) -> dict:
    """{code: label} of a model field's choices in one language (labels are translated once, not per row)."""
    return {code: str(label) for code, label in model._meta.get_field(field_name).flatchoices}


class DisplayField(serializers.CharField):
    """The label of a coded value; null when the code is null.

    A source `...get_<field>_display` is read from the code and a cached {code: label} table: Django's
    get_FOO_display rebuilds the choices and translates every label on each call, which dominated the cost
    of a sync page (bench/bench_api.py).
    """

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        match = _DISPLAY_METHOD.match(self.source_attrs[-1]) if self.source_attrs else None
        self._code_attr = match[1] if match else None

    def get_attribute(self, instance):
        if not getattr(self, "_code_attr", None):
            return super().get_attribute(instance)
        for attr in self.source_attrs[:-1]:
            instance = getattr(instance, attr, None)
            if instance is None:
                return None
        code = getattr(instance, self._code_attr)
        if code in ("", None):
            return None
        labels = _labels(type(instance)._meta.concrete_model, self._code_attr, translation.get_language() or "")
        return labels.get(code, code)

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


class FastRepresentationMixin:
    """ModelSerializer output without DRF's per-field attribute machinery where it is not needed.

    Fields reading a plain concrete column of the model (source = the column's name) are read with one getattr;
    every other field goes through DRF as usual. The output is the same; a sync page of enterprises costs
    about half (bench/bench_api.py).
    """

    def _representation_plan(self):
        plan = getattr(self, "_plan", None)
        if plan is None:
            model = self.Meta.model
            columns = {f.name for f in model._meta.concrete_fields if not f.is_relation}
            plan = []
            for field in self._readable_fields:
                attrs = field.source_attrs
                plain = (
                    len(attrs) == 1
                    and attrs[0] in columns
                    and type(field).get_attribute is serializers.Field.get_attribute
                )
                plan.append((field.field_name, field, attrs[0] if plain else None))
            self._plan = plan
        return plan

    def to_representation(self, instance):
        result = {}
        for name, field, column in self._representation_plan():
            if column is not None:
                value = getattr(instance, column)
            else:
                try:
                    value = field.get_attribute(instance)
                except serializers.SkipField:
                    continue
                if isinstance(value, serializers.PKOnlyObject):
                    value = value if value.pk is not None else None
            result[name] = None if value is None else field.to_representation(value)
        return result
