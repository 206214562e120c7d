"""Surveys (摸排) through the API: list, filter, sync, and record one through inspections.services.save_survey.

A survey checks one enterprise against the eight access requirements (准入条件), once per campaign; a POST for
an enterprise already surveyed in that campaign updates its survey, exactly as the survey page does, and the
findings follow (a newly non-conforming requirement opens one).
"""

import django_filters
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from core.api.filters import RegionCodeFilter
from core.api.serializers import ErrorSerializer, display_field
from core.api.sync import TombstoneSource
from core.api.viewsets import DeletedRecordsMixin, RegisterViewSetMixin, tombstone_serializer
from enterprises.api.serializers import EnterpriseRefSerializer
from enterprises.filters import visible_regions
from enterprises.models import Enterprise
from enterprises.validators import normalize_uscc
from rectification.api.common import CampaignRefSerializer, last_known_path, person_name
from rectification.api.filters import RegionScopedFilterSet
from rectification.api.reports import VisibleCampaignField
from rectification.api.views import SYNC_NOTE
from rectification.models import Campaign

from .. import services
from ..choices import AccessArea, SurveySource
from ..models import Survey, SurveyItem
from .serializers import VisibleEnterpriseField

SURVEY_WRITE_NOTE = _(
    "Through the same service and rules as the survey page; the change shows in the survey's history as made by "
    "your API client. Needs a token created with --write (or the session of a city, county or township office), "
    "inside your region."
)


class SurveyItemSerializer(serializers.ModelSerializer):
    area_display = display_field("get_area_display")

    class Meta:
        model = SurveyItem
        fields = ["area", "area_display", "conforming", "note"]
        read_only_fields = fields


class SurveySerializer(serializers.ModelSerializer):
    """摸排: one enterprise checked against the eight access requirements in one campaign."""

    enterprise = EnterpriseRefSerializer(read_only=True)
    region_code = serializers.CharField(
        source="enterprise.township.code", read_only=True, help_text=_("Code of its enterprise's township.")
    )
    campaign = CampaignRefSerializer(read_only=True)
    recorded_by = serializers.SerializerMethodField(help_text=_("Who recorded it (a person or an API client)."))
    source = serializers.ChoiceField(
        choices=SurveySource.choices,
        read_only=True,
        help_text=_(
            "browser: a survey of the eight access requirements (page or API); roster_import: the enterprise counts "
            "as surveyed because a roster import listed it (no items yet; a survey of the requirements replaces it)."
        ),
    )
    source_display = display_field("get_source_display")
    roster_import = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text=_("Id of the roster import that first recorded it, or null.")
    )
    items = SurveyItemSerializer(many=True, read_only=True, help_text=_("The eight access requirements, in order."))

    class Meta:
        model = Survey
        fields = [
            "id",
            "enterprise",
            "region_code",
            "campaign",
            "surveyed_on",
            "surveyed_by",
            "note",
            "source",
            "source_display",
            "roster_import",
            "items",
            "recorded_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_recorded_by(self, survey) -> str | None:
        return person_name(survey.recorded_by)


ITEMS_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {"conforming": {"type": "boolean"}, "note": {"type": "string"}},
        "required": ["conforming"],
    },
}


@extend_schema_field(ITEMS_SCHEMA)
class SurveyItemsField(serializers.Field):
    """The items as sent; each is checked by area code in the view and the service (errors keyed by area)."""

    default_error_messages = {
        "invalid": _(
            "Give items as an object keyed by access requirement code, each with conforming (true or false) and a note."
        )
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class SurveyInputSerializer(serializers.Serializer):
    enterprise = VisibleEnterpriseField(help_text=_("Credit code of the enterprise surveyed."))
    campaign = VisibleCampaignField(queryset=Campaign.objects.all(), help_text=_("Campaign id."))
    surveyed_on = serializers.DateField(help_text=_("The day of the survey (not in the future)."))
    surveyed_by = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default="", help_text=_("Names of the surveyors.")
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    items = SurveyItemsField(
        help_text=_(
            "The eight access requirements keyed by their code (work_safety, environment, technology_quality, "
            "staff_qualification, land, energy_use, project_approval, business_registration), each "
            '{"conforming": true|false, "note": "..."}; a non-conforming one needs a note (it becomes a finding).'
        )
    )


def survey_items(items: dict) -> dict:
    """{area: (conforming, note)} for the service; an entry that is not {"conforming": …, "note": …} is refused
    under its area code (the service checks the values: all eight answered, a note where not conforming)."""
    cleaned, errors = {}, {}
    for area, value in items.items():
        if not isinstance(value, dict) or not isinstance(value.get("note", ""), str):
            errors[str(area)] = ValidationError(
                _("Give this requirement as an object with conforming (true or false) and a note (text)."),
                code="invalid",
            )
            continue
        cleaned[area] = (value.get("conforming"), value.get("note") or "")
    if errors:
        raise ValidationError(errors)
    return cleaned


class SurveyApiFilterSet(RegionScopedFilterSet):
    region = RegionCodeFilter(
        queryset=visible_regions, help_text=_("Region code: surveys of enterprises in this region and below it.")
    )
    campaign = django_filters.NumberFilter(field_name="campaign_id", help_text=_("Campaign id."))
    enterprise = django_filters.CharFilter(method="filter_enterprise", help_text=_("Credit code of the enterprise."))
    non_conforming = django_filters.ChoiceFilter(
        choices=AccessArea.choices,
        method="filter_non_conforming",
        help_text=_("Access requirement code: only surveys where this requirement does not conform."),
    )
    source = django_filters.ChoiceFilter(
        choices=SurveySource.choices, help_text=_("browser (eight requirements recorded) or roster_import.")
    )
    surveyed_after = django_filters.DateFilter(
        field_name="surveyed_on", lookup_expr="gte", help_text=_("Surveyed on or after this date.")
    )
    surveyed_before = django_filters.DateFilter(
        field_name="surveyed_on", lookup_expr="lte", help_text=_("Surveyed on or before this date.")
    )
    ordering = django_filters.OrderingFilter(
        fields=(("id", "id"), ("surveyed_on", "surveyed_on"), ("updated_at", "updated")),
        help_text=_("id, surveyed_on or updated; prefix - for descending."),
    )

    class Meta:
        model = Survey
        fields: list[str] = []

    def filter_enterprise(self, queryset, name, value):
        return queryset.filter(enterprise__uscc=normalize_uscc(value)) if value else queryset

    def filter_non_conforming(self, queryset, name, area):
        if not area:
            return queryset
        # A subquery on the items (one row per survey and area), so a survey is listed once.
        failing = SurveyItem.objects.filter(area=area, conforming=False).values("survey_id")
        return queryset.filter(pk__in=failing)


def _enterprise_region_path():
    """Township path of the survey's enterprise, also after it was deleted (the survey goes with it)."""
    return last_known_path(Enterprise, "enterprise_id")


@extend_schema_view(
    list=extend_schema(
        summary=_("List surveys"),
        description=format_lazy(
            "{} {}",
            _(
                "The surveys (摸排) of enterprises in your region: per campaign, each of the eight access requirements "
                "(准入条件) conforming or not, with notes. updated_at changes when the survey or one of its items does."
            ),
            SYNC_NOTE,
        ),
    ),
    retrieve=extend_schema(summary=_("One survey, by id")),
    deleted=extend_schema(
        summary=_("Deleted surveys (tombstones)"),
        description=_("Surveys deleted after updated_since (with their enterprise); cursor-paged."),
    ),
)
class SurveyViewSet(
    DeletedRecordsMixin,
    RegisterViewSetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Survey.objects.all()
    serializer_class = SurveySerializer
    filterset_class = SurveyApiFilterSet
    tombstones = TombstoneSource(
        Survey, key_field="surveyed_on", region_path=_enterprise_region_path, tracks_moves=False
    )
    tombstone_serializer_class = tombstone_serializer(
        "SurveyTombstone", "surveyed_on", _("The day the deleted survey was made.")
    )

    def decorate_queryset(self, queryset):
        return queryset.select_related("enterprise__township", "campaign", "recorded_by").prefetch_related(
            Prefetch("items", queryset=SurveyItem.objects.order_by("id"))
        )

    def get_serializer_class(self):
        if self.action == "create":
            return SurveyInputSerializer
        return super().get_serializer_class()

    @extend_schema(
        summary=_("Record or update a survey"),
        description=format_lazy(
            "{} {}",
            _(
                "Records the survey of an enterprise in a campaign, or updates it when the enterprise was already "
                "surveyed in that campaign (201 when new, 200 when updated). All eight requirements are required; "
                "a non-conforming one opens a finding, one conforming again moves its finding to awaiting "
                "verification. Errors about a requirement are keyed by its code."
            ),
            SURVEY_WRITE_NOTE,
        ),
        request=SurveyInputSerializer,
        responses={
            200: SurveySerializer,
            201: SurveySerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description=_(
                    "A requirement missing, unknown or without its note (keyed by its code), a date in the future, "
                    "or a closed campaign."
                ),
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        user = request.user
        entry = SurveyInputSerializer(data=request.data, context=self.get_serializer_context())
        entry.is_valid(raise_exception=True)
        data = entry.validated_data
        items = survey_items(data["items"])
        enterprise, campaign = data["enterprise"], data["campaign"]
        with transaction.atomic():
            existed = Survey.objects.filter(enterprise=enterprise, campaign=campaign).exists()
            survey = services.save_survey(
                enterprise=enterprise,
                campaign=campaign,
                actor=user,
                items=items,
                surveyed_on=data["surveyed_on"],
                note=data["note"],
                surveyed_by=data["surveyed_by"],
            )
        fresh = self.get_queryset().get(pk=survey.pk)
        return Response(
            SurveySerializer(fresh, context=self.get_serializer_context()).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )
