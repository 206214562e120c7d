"""Enterprise sync pages written out from `.values()` rows: no model instances, no DRF fields per value.

A full sync reads every enterprise; model instances, prefetch querysets and DRF's per-field machinery for
~45 fields cost several times the SQL and the JSON (bench/bench_api.py). Here a page is one query for the
enterprises and one per relation, and each enterprise dict is written out following a plan derived from
EnterpriseSerializer's own fields (a field this module cannot write stops the sync with an error naming
it instead of being left out). The output equals the dossier's: tests/test_api_rectification.py and
tests/test_api_sync_fast_rows.py compare every synced enterprise with its detail representation.
"""

import datetime
import functools
from collections import defaultdict

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import BooleanField, F
from django.db.models.expressions import RawSQL
from django.utils import timezone, translation
from rest_framework import serializers
from rest_framework.settings import api_settings

from core.api.serializers import CodeField, DisplayField, _labels
from rectification.models import Classification

from ..choices import CORE_PERMIT_KINDS, PermitState
from ..models import Enterprise, Permit, YearlyTier
from ..selectors import permit_rows

COLUMNS = [field.attname for field in Enterprise._meta.concrete_fields]

# How a plain column is written (the same values DRF's field gives).
_AS_IS, _CODE, _LABEL, _DATETIME, _DATE, _DRF = range(6)
#: Fields written from the related rows fetched for the page (see represent()).
_RELATED = {"region_code", "park", "key_processes", "permits", "missing_core_permits", "tiers", "classifications"}


@functools.cache
def _plan() -> tuple:
    """(name, column, how, field) for every field EnterpriseSerializer outputs, in its order."""
    from .serializers import EnterpriseSerializer

    columns = {f.name: f for f in Enterprise._meta.concrete_fields if not f.is_relation}
    plan = []
    for field in EnterpriseSerializer()._readable_fields:
        name = field.field_name
        if name in _RELATED:
            plan.append((name, None, None, field))
            continue
        if isinstance(field, DisplayField) and getattr(field, "_code_attr", None) in columns:
            plan.append((name, field._code_attr, _LABEL, field))
            continue
        attrs = field.source_attrs
        if (
            len(attrs) != 1
            or attrs[0] not in columns
            or type(field).get_attribute is not serializers.Field.get_attribute
        ):
            raise ImproperlyConfigured(
                f"enterprises.api.sync_rows cannot write EnterpriseSerializer.{name}: add it to the sync plan."
            )
        column = columns[attrs[0]].attname
        if isinstance(field, CodeField):
            how = _CODE
        elif isinstance(field, serializers.DateTimeField):
            how = _DATETIME
        elif isinstance(field, serializers.DateField):
            how = _DATE
        elif isinstance(field, serializers.BigIntegerField):
            coerce = getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
            how = _DRF if coerce else _AS_IS
        elif type(field) in (
            serializers.CharField,
            serializers.ChoiceField,
            serializers.IntegerField,
            serializers.BooleanField,
        ):
            how = _AS_IS  # the database already gives str / int / bool, which these fields return unchanged
        else:
            how = _DRF
        plan.append((name, column, how, field))
    return tuple(plan)


def sync_values(queryset):
    """The sync queryset as `.values()` rows: the enterprise's columns, its township's code and its park."""
    return (
        queryset.prefetch_related(None)
        .select_related(None)
        .values("pk", *COLUMNS, township_code=F("township__code"), park_code=F("park__code"), park_name=F("park__name"))
    )


class _Permit:
    """A permit as permit_rows() reads it. Its `kind` is (enterprise id, kind): one call for the whole page
    then picks the latest permit of each kind per enterprise (permit_rows groups by `kind` only)."""

    __slots__ = ("code", "enterprise_id", "expires_on", "issued_on", "kind", "number")

    def __init__(self, enterprise_id, code, number, issued_on, expires_on):
        self.enterprise_id, self.kind, self.code = enterprise_id, (enterprise_id, code), code
        self.number, self.issued_on, self.expires_on = number, issued_on, expires_on


def _datetime(value: datetime.datetime, zone) -> str:
    # DRF's DateTimeField: in the current time zone (+08:00), ISO 8601, "Z" for UTC.
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _in_page(model, ids: list[int], column: str = "enterprise_id") -> RawSQL:
    """`<table>.<column> IN (ids)` as one parameterised condition: the ORM's __in prepares and compiles each
    of the page's 500 ids again in every query, a tenth of a sync page's time (bench/bench_api.py)."""
    quote = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * len(ids))
    return RawSQL(
        f"{quote(model._meta.db_table)}.{quote(column)} IN ({placeholders})",
        [int(pk) for pk in ids],
        output_field=BooleanField(),
    )


def represent(rows: list[dict]) -> list[dict]:
    """The enterprises of `rows` (from sync_values) as EnterpriseSerializer shows them, with key processes,
    permits, tiers and classifications fetched in one query each, ordered as EnterpriseViewSet prefetches them."""
    from .serializers import current_classifications_queryset

    if not rows:
        return []
    ids = [row["id"] for row in rows]
    language = translation.get_language() or ""
    zone = timezone.get_current_timezone()

    processes = defaultdict(list)
    through = Enterprise.key_processes.through
    for enterprise_id, code in (
        through.objects.filter(_in_page(through, ids))
        .order_by("keyhazardousprocess__sort_order", "keyhazardousprocess_id")
        .values_list("enterprise_id", "keyhazardousprocess__code")
    ):
        processes[enterprise_id].append(code)

    permit_kind_labels = _labels(Permit, "kind", language)
    state_labels = {state: str(PermitState(state).label) for state in PermitState.values}
    held_kinds = defaultdict(set)
    page_permits = []
    for enterprise_id, kind, number, issued_on, expires_on in Permit.objects.filter(_in_page(Permit, ids)).values_list(
        "enterprise_id", "kind", "number", "issued_on", "expires_on"
    ):
        page_permits.append(_Permit(enterprise_id, kind, number, issued_on, expires_on))
        held_kinds[enterprise_id].add(kind)
    permits = defaultdict(list)
    for permit_row in permit_rows(page_permits):
        permit = permit_row.permit
        permits[permit.enterprise_id].append(
            {
                "kind": permit.code,
                "kind_display": permit_kind_labels.get(permit.code, permit.code) if permit.code else None,
                "number": permit.number,
                "issued_on": permit.issued_on.isoformat() if permit.issued_on else None,
                "expires_on": permit.expires_on.isoformat() if permit.expires_on else None,
                "state": permit_row.state,
                "state_display": state_labels[permit_row.state],
                "superseded": permit_row.superseded,
            }
        )

    tiers = defaultdict(list)
    for enterprise_id, year, tier in YearlyTier.objects.filter(_in_page(YearlyTier, ids)).values_list(
        "enterprise_id", "year", "tier"
    ):
        tiers[enterprise_id].append({"year": year, "tier": tier})

    classifications = defaultdict(list)
    category_labels = _labels(Classification, "category", language)
    classification_state_labels = _labels(Classification, "state", language)
    for enterprise_id, pk, campaign_id, campaign_name, category, state, deadline in (
        current_classifications_queryset()
        .filter(_in_page(Classification, ids))
        .values_list("enterprise_id", "id", "campaign_id", "campaign__name", "category", "state", "deadline")
    ):
        classifications[enterprise_id].append(
            {
                "id": pk,
                "campaign": {"id": campaign_id, "name": campaign_name},
                "category": category,
                "category_display": category_labels.get(category, category) if category else None,
                "state": state,
                "state_display": classification_state_labels.get(state, state) if state else None,
                "deadline": deadline.isoformat() if deadline is not None else None,
            }
        )

    # (name, key of the row, conversion or None): related values are put into each row under "+<name>".
    steps = []
    for name, column, how, field in _plan():
        if column is None:
            steps.append((name, "+" + name, None))
        elif how == _AS_IS:
            steps.append((name, column, None))
        elif how == _LABEL:
            labels = _labels(Enterprise, column, language)
            steps.append((name, column, lambda code, labels=labels: labels.get(code, code) if code != "" else None))
        elif how == _CODE:
            steps.append((name, column, lambda code: code if code != "" else None))
        elif how == _DATETIME:
            steps.append((name, column, functools.partial(_datetime, zone=zone)))
        elif how == _DATE:
            steps.append((name, column, datetime.date.isoformat))
        else:
            steps.append((name, column, field.to_representation))

    result = []
    for row in rows:
        pk = row["id"]
        row["+region_code"] = row["township_code"]
        row["+park"] = {"code": row["park_code"], "name": row["park_name"]} if row["park_id"] is not None else None
        row["+key_processes"] = processes.get(pk, [])
        row["+permits"] = permits.get(pk, [])
        row["+missing_core_permits"] = _missing_core_permits(held_kinds.get(pk, ()))
        row["+tiers"] = tiers.get(pk, [])
        row["+classifications"] = classifications.get(pk, [])
        result.append(
            {
                name: value if (value := row[key]) is None or convert is None else convert(value)
                for name, key, convert in steps
            }
        )
    return result


@functools.cache
def _missing_core_permits_of(held: frozenset) -> list[str]:
    return [str(kind) for kind in CORE_PERMIT_KINDS if kind not in held]


def _missing_core_permits(held: set) -> list[str]:
    return list(_missing_core_permits_of(frozenset(held)))
