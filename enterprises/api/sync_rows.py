"""Enterprise sync pages without model instances: `.values()` rows as light records, one query per relation.

A full sync reads every enterprise; building Django model instances and prefetch querysets for each cost
more than the serialisation itself (bench/bench_api.py). The records built here carry exactly what
EnterpriseSerializer reads (its columns, township, park and the prefetched lists it uses), and the serializer
itself turns them into the documented dicts, so the output stays the same as the list's
(tests/test_api_rectification.py compares them).
"""

from collections import defaultdict

from django.db.models import F

from ..models import Enterprise, Permit, YearlyTier


class _Ref:
    """A township or park as the serializer reads it (code, name)."""

    __slots__ = ("code", "name")

    def __init__(self, code, name=None):
        self.code, self.name = code, name


class _ProcessRef:
    __slots__ = ("code",)

    def __init__(self, code):
        self.code = code


class EnterpriseRecord:
    """One enterprise as EnterpriseSerializer reads it; labels of coded values come from Enterprise's fields."""

    _meta = Enterprise._meta


COLUMNS = [field.attname for field in Enterprise._meta.concrete_fields]


def sync_values(queryset):
    """The sync queryset as `.values()` rows: the enterprise's columns, its township's code and its park."""
    return (
        queryset.prefetch_related(None)
        .select_related(None)
        .values("pk", *COLUMNS, township_code=F("township__code"), park_code=F("park__code"), park_name=F("park__name"))
    )


def records(rows: list[dict]) -> list[EnterpriseRecord]:
    """Light records for `rows` (from sync_values), with key processes, permits, tiers and classifications
    fetched in one query each, in the same order as EnterpriseViewSet.decorate_queryset prefetches them."""
    from .serializers import current_classifications_queryset

    ids = [row["id"] for row in rows]
    processes = defaultdict(list)
    through = Enterprise.key_processes.through
    for enterprise_id, code in (
        through.objects.filter(enterprise_id__in=ids)
        .order_by("keyhazardousprocess__sort_order", "keyhazardousprocess_id")
        .values_list("enterprise_id", "keyhazardousprocess__code")
    ):
        processes[enterprise_id].append(_ProcessRef(code))
    permits = defaultdict(list)
    for permit in Permit.objects.filter(enterprise_id__in=ids):
        permits[permit.enterprise_id].append(permit)
    tiers = defaultdict(list)
    for tier in YearlyTier.objects.filter(enterprise_id__in=ids):
        tiers[tier.enterprise_id].append(tier)
    classifications = defaultdict(list)
    for classification in current_classifications_queryset().filter(enterprise_id__in=ids):
        classifications[classification.enterprise_id].append(classification)

    result = []
    for row in rows:
        record = EnterpriseRecord()
        record.__dict__.update(row)
        pk = row["id"]
        record.township = _Ref(row["township_code"])
        record.park = _Ref(row["park_code"], row["park_name"]) if row["park_id"] is not None else None
        record.key_process_list = processes.get(pk, [])
        record.permit_list = permits.get(pk, [])
        record.tier_list = tiers.get(pk, [])
        record.current_classifications = classifications.get(pk, [])
        result.append(record)
    return result
