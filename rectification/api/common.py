"""Shared by the rectification and inspection resources: references to related records, version checks for
services that take no expected_version, last known region paths for tombstones."""

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import Department
from core.api.serializers import display_field
from core.exceptions import ConflictError
from rectification.models import Campaign, Classification


class CampaignRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = ["id", "name"]
        read_only_fields = fields


class DepartmentRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "short_name"]
        read_only_fields = fields


class EnterpriseClassificationSerializer(serializers.ModelSerializer):
    """An enterprise's decision in force in one campaign (the list of its dossier)."""

    campaign = CampaignRefSerializer(read_only=True)
    category_display = display_field("get_category_display")
    state_display = display_field("get_state_display")

    class Meta:
        model = Classification
        fields = ["id", "campaign", "category", "category_display", "state", "state_display", "deadline"]
        read_only_fields = fields


def person_name(user) -> str | None:
    """How a person (or an API client's service user) is named in a record: full name, else username."""
    if user is None:
        return None
    return user.get_full_name() or user.username


def check_version(model, pk: int, expected: int | None) -> None:
    """Optimistic concurrency for services without `expected_version`: call inside the service's transaction.

    Locks the row, so the service that follows in the same transaction changes the version that was checked.
    """
    if expected is None:
        return
    current = model.objects.select_for_update().values_list("version", flat=True).get(pk=pk)
    if current != expected:
        raise ConflictError(current_version=current, expected_version=expected)


def checked(model, pk, expected, call):
    """Run `call()` in one transaction after the version check (nothing written on a conflict)."""
    with transaction.atomic():
        check_version(model, pk, expected)
        return call()


def last_known_path(model, fk_attname: str):
    """The township path of the record `fk_attname` points to, also when that record has been deleted since
    (from its history): a deletion cascading from an enterprise or park still reaches a region's tombstones."""
    live = model.objects.filter(pk=OuterRef(fk_attname)).values("township__path")[:1]
    recorded = (
        model.history.model.objects.filter(id=OuterRef(fk_attname)).order_by("-history_id").values("township__path")[:1]
    )
    return Coalesce(Subquery(live), Subquery(recorded))


VERSION_HELP = _(
    "Raised by every change. On a change send the version it is based on (body `version` or If-Match with the "
    "ETag): if the record changed meanwhile the answer is 409 instead of an overwrite."
)
