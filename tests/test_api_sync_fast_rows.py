"""The enterprise sync writes its dicts out by hand (enterprises.api.sync_rows): they must equal the dossier's
representation field for field — blanks and nulls, decimals, dates, labels in either language — and the plan
must cover every field of EnterpriseSerializer."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache

from enterprises.api.serializers import EnterpriseSerializer
from enterprises.api.sync_rows import _plan
from enterprises.models import Enterprise, KeyHazardousProcess
from rectification import services
from rectification.choices import Category

from .api_support import api_client_for
from .factories import CampaignFactory, ChemicalParkFactory, EnterpriseFactory, PermitFactory, YearlyTierFactory

V1 = "/api/v1/"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters(settings):
    cache.clear()
    settings.API_SYNC_SETTLE_SECONDS = 0


def _sync(http, **headers):
    rows, url = [], V1 + "enterprises/?updated_since=2000-01-01T00:00:00%2B08:00&page_size=2"
    while url:
        response = http.get(url, **headers)
        assert response.status_code == 200, response.content[:500]
        rows += response.json()["results"]
        url = response.json()["next"]
    return rows


@pytest.fixture
def varied(regions, users):
    """Enterprises covering the shapes of each field: blank codes, nulls, decimals, no park, several permits."""
    park = ChemicalParkFactory(code="P-WEST", name="西部化工园", township=regions["town_a1"])
    full = EnterpriseFactory(
        township=regions["town_a1"],
        park=park,
        name="全字段化工",
        size="above",
        process_mode="batch",
        annual_sales=Decimal("98765.40"),
        staff_count=0,
        longitude=Decimal("120.5"),
        latitude=Decimal("31.250001"),
        legal_representative="张三",
        main_products="硝基苯\n苯胺",
        near_protected_river=True,
        status="suspended",
        kind="storage",
    )
    full.key_processes.set(KeyHazardousProcess.objects.order_by("-sort_order")[:2])
    bare = EnterpriseFactory(
        township=regions["town_a2"], park=None, name="空字段化工", size="", process_mode="", annual_sales=None
    )
    today = datetime.date.today()
    PermitFactory(enterprise=full, kind="work_safety", issued_on=None, expires_on=today + datetime.timedelta(days=5))
    PermitFactory(enterprise=full, kind="work_safety", expires_on=today + datetime.timedelta(days=900))
    PermitFactory(enterprise=full, kind="business_licence", expires_on=today - datetime.timedelta(days=1))
    YearlyTierFactory(enterprise=full, year=2021, tier=1)
    first = CampaignFactory(name="四个一批", starts_on=datetime.date(2021, 1, 1))
    second = CampaignFactory(name="回头看", starts_on=datetime.date(2023, 1, 1))
    services.propose_classification(
        full, first, Category.UPGRADE, users["town_a1"], deadline=datetime.date(2022, 6, 30)
    )
    services.propose_classification(full, second, Category.SHUTDOWN, users["town_a1"], problems="手续不全")
    # A timestamp with microseconds and one without: both rendered as DRF does.
    Enterprise.objects.filter(pk=bare.pk).update(
        updated_at=datetime.datetime(2024, 5, 1, 0, 0, tzinfo=datetime.UTC), version=7
    )
    return {"full": full, "bare": bare}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_synced_enterprise_equals_its_dossier(regions, varied, language):
    _c, _t, city = api_client_for(regions["city"])
    rows = _sync(city, HTTP_ACCEPT_LANGUAGE=language)
    assert {row["id"] for row in rows} == {varied["full"].pk, varied["bare"].pk}
    for row in rows:
        detail = city.get(f"{V1}enterprises/{row['id']}/", HTTP_ACCEPT_LANGUAGE=language).json()
        assert row == detail, row["uscc"]
        assert list(row) == list(detail)  # same field order too
    full = next(row for row in rows if row["id"] == varied["full"].pk)
    bare = next(row for row in rows if row["id"] == varied["bare"].pk)
    assert full["annual_sales"] == "98765.40" and full["longitude"] == "120.500000" and full["staff_count"] == 0
    assert len(full["permits"]) == 3 and len(full["classifications"]) == 2 and len(full["key_processes"]) == 2
    assert full["updated_at"].endswith("+08:00")
    assert bare["size"] is None and bare["size_display"] is None and bare["park"] is None
    assert bare["updated_at"] == "2024-05-01T08:00:00+08:00" and bare["version"] == 7
    if language == "en":
        assert full["status_display"] == "Suspended" and full["permits"][0]["state_display"].isascii()
    else:
        assert full["status_display"] == "停产"


def test_plan_covers_every_field_of_the_serializer():
    readable = [field.field_name for field in EnterpriseSerializer()._readable_fields]
    assert [name for name, *_rest in _plan()] == readable
