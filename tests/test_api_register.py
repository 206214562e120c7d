"""API register resources: regions, parks, enterprises, hazard sources — list, detail, filters, scoping,
writes through the services (history, validation in two languages, optimistic concurrency), query counts."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enterprises import services
from enterprises.models import Enterprise, KeyHazardousProcess
from enterprises.selectors import enterprise_history

from .api_support import add_hazard_source, api_client_for
from .factories import ChemicalParkFactory, EnterpriseFactory, PermitFactory, YearlyTierFactory, next_uscc
from .test_query_counts import check_against_baseline

V1 = "/api/v1/"
OFFSET = re.compile(r"\+08:00$")


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture
def register(regions, users):
    """Two parks and four enterprises across townships A1, A2 and B1, with permits, tiers and a hazard source."""
    east = ChemicalParkFactory(code="P-EAST", name="东部化工园", township=regions["town_a1"], level="provincial")
    north = ChemicalParkFactory(
        code="P-NORTH", name="北部园区", township=regions["town_b1"], recognition_status="pending"
    )
    nitration = KeyHazardousProcess.objects.get(code="nitration")
    a1 = EnterpriseFactory(
        township=regions["town_a1"], park=east, name="甲一硝化厂", size="above", annual_sales=Decimal("1234.50")
    )
    a1.key_processes.set([nitration])
    PermitFactory(enterprise=a1, kind="work_safety", expires_on=timezone.localdate() + datetime.timedelta(days=10))
    YearlyTierFactory(enterprise=a1, year=2023, tier=3)
    a1_other = EnterpriseFactory(township=regions["town_a1"], name="甲一贸易", kind="trading", status="suspended")
    a2 = EnterpriseFactory(township=regions["town_a2"], name="甲二仓储", kind="storage", size="below")
    b1 = EnterpriseFactory(township=regions["town_b1"], park=north, name="乙一化工")
    tank = add_hazard_source(users["city"], a1, name="氯罐区", automated_monitoring=True)
    return {"east": east, "north": north, "a1": a1, "a1_other": a1_other, "a2": a2, "b1": b1, "tank": tank}


def get(http, url, params=None, status=200):
    response = http.get(url, params or {})
    assert response.status_code == status, response.content[:500]
    return response.json()


def ids(body, key="id"):
    return sorted(row[key] for row in body["results"])


# --- Regions ----------------------------------------------------------------------------------------------


def test_regions_list_filter_and_detail(regions):
    _c, _t, city = api_client_for(regions["city"])
    body = get(city, V1 + "regions/")
    assert body["count"] == 6
    assert body["results"][0] == {
        "code": "320500",
        "name": "示范市",
        "level": "city",
        "level_display": "市",
        "parent_code": None,
    }
    assert ids(get(city, V1 + "regions/", {"level": "township"}), "code") == ["320501001", "320501002", "320502001"]
    assert ids(get(city, V1 + "regions/", {"parent": "320501"}), "code") == ["320501001", "320501002"]
    assert ids(get(city, V1 + "regions/", {"within": "320502"}), "code") == ["320502", "320502001"]
    detail = get(city, V1 + "regions/320501001/")
    assert detail["parent_code"] == "320501" and detail["name"] == "甲一镇"


def test_regions_are_scoped_and_refuse_sync(regions):
    _c, _t, town = api_client_for(regions["town_a1"])
    assert ids(get(town, V1 + "regions/"), "code") == ["320501001"]
    get(town, V1 + "regions/320501002/", status=404)
    body = get(town, V1 + "regions/", {"updated_since": "2024-01-01T00:00:00+08:00"}, status=400)
    assert body["errors"]["updated_since"][0]["code"] == "unsupported"


# --- Parks ------------------------------------------------------------------------------------------------


def test_parks_list_detail_and_filters(regions, register):
    _c, _t, city = api_client_for(regions["city"])
    body = get(city, V1 + "parks/")
    assert [p["code"] for p in body["results"]] == ["P-EAST", "P-NORTH"]
    east = get(city, f"{V1}parks/{register['east'].pk}/")
    assert east["region_code"] == "320501001"
    assert east["level"] == "provincial" and east["level_display"] == "省级"
    assert east["recognition_status"] == "recognised"
    assert east["enterprise_count"] == 1
    assert east["risk_assessment_overdue"] is True and east["risk_assessment_due_on"] is None
    assert east["central_wastewater_treatment"] is False
    assert east["version"] == 1 and OFFSET.search(east["updated_at"])
    assert [p["code"] for p in get(city, V1 + "parks/", {"region": "320502"})["results"]] == ["P-NORTH"]
    assert [p["code"] for p in get(city, V1 + "parks/", {"recognition_status": "pending"})["results"]] == ["P-NORTH"]
    assert [p["code"] for p in get(city, V1 + "parks/", {"search": "东部"})["results"]] == ["P-EAST"]
    register["east"].last_risk_assessment_on = timezone.localdate() - datetime.timedelta(days=365)
    register["east"].save()
    current = get(city, V1 + "parks/", {"risk_assessment_overdue": "false"})
    assert [p["code"] for p in current["results"]] == ["P-EAST"]
    assert [p["code"] for p in get(city, V1 + "parks/", {"risk_assessment_overdue": "true"})["results"]] == ["P-NORTH"]


def test_parks_scoped_to_the_token_region(regions, register):
    _c, _t, town = api_client_for(regions["town_a1"])
    assert [p["code"] for p in get(town, V1 + "parks/")["results"]] == ["P-EAST"]
    get(town, f"{V1}parks/{register['north'].pk}/", status=404)


# --- Enterprises ----------------------------------------------------------------------------------------


def test_enterprise_detail_shape(regions, register):
    _c, _t, county = api_client_for(regions["county_a"])
    a1 = register["a1"]
    body = get(county, f"{V1}enterprises/{a1.pk}/")
    assert body["uscc"] == a1.uscc and body["name"] == "甲一硝化厂"
    assert body["region_code"] == "320501001"
    assert body["park"] == {"code": "P-EAST", "name": "东部化工园"}
    assert (body["kind"], body["kind_display"]) == ("production", "生产")
    assert (body["size"], body["size_display"]) == ("above", "规上")
    assert (body["status"], body["status_display"]) == ("operating", "在产")
    assert body["annual_sales"] == "1234.50"
    assert body["key_processes"] == ["nitration"]
    assert body["tiers"] == [{"year": 2023, "tier": 3}]
    [permit] = body["permits"]
    assert permit["kind"] == "work_safety" and permit["state"] == "expiring" and permit["superseded"] is False
    assert "business_licence" in body["missing_core_permits"] and "work_safety" not in body["missing_core_permits"]
    assert body["near_protected_river"] is False
    assert body["version"] == 1
    assert OFFSET.search(body["updated_at"]) and OFFSET.search(body["created_at"])
    assert body["classifications"] == []  # none in any campaign (see tests/test_api_rectification.py)
    assert "reason" not in body


def test_enterprise_blank_codes_read_as_null(regions, register):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, f"{V1}enterprises/{register['a1_other'].pk}/")
    assert body["size"] is None and body["park"] is None and body["process_mode"] is None
    assert body["size_display"] is None and body["kind_display"] == "经营"


def test_enterprise_addressable_by_credit_code(regions, register):
    _c, _t, county = api_client_for(regions["county_a"])
    a1 = register["a1"]
    assert get(county, f"{V1}enterprises/{a1.uscc}/")["id"] == a1.pk
    assert get(county, f"{V1}enterprises/{a1.uscc.lower()}/")["id"] == a1.pk  # normalised like the forms do
    get(county, f"{V1}enterprises/{next_uscc()}/", status=404)
    get(county, f"{V1}enterprises/not-a-code/", status=404)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, ["a1", "a1_other", "a2"]),
        ({"region": "320501001"}, ["a1", "a1_other"]),
        ({"region": "320501"}, ["a1", "a1_other", "a2"]),
        ({"township": "320501002"}, ["a2"]),
        ({"park": "P-EAST"}, ["a1"]),
        ({"in_park": "no"}, ["a1_other", "a2"]),
        ({"kind": "trading"}, ["a1_other"]),
        ({"status": "suspended"}, ["a1_other"]),
        ({"size": "below"}, ["a2"]),
        ({"key_process": "nitration"}, ["a1"]),
        ({"hazard_level": "2"}, ["a1"]),
        ({"hazard_level": "1"}, []),
        ({"permit": "expiring"}, ["a1"]),
        ({"tier": "3", "tier_year": "2023"}, ["a1"]),
        ({"search": "仓储"}, ["a2"]),
    ],
)
def test_enterprise_filters(regions, register, params, expected):
    _c, _t, county = api_client_for(regions["county_a"])
    assert register["tank"].level == 2  # 100 t chlorine: R = 1.0 × 4 × 100 / 5 = 80
    body = get(county, V1 + "enterprises/", params)
    assert ids(body) == sorted(register[name].pk for name in expected)


def test_enterprise_search_by_credit_code_and_ordering(regions, register):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, V1 + "enterprises/", {"search": register["a2"].uscc[:14]})
    assert register["a2"].pk in ids(body)
    ordered = get(county, V1 + "enterprises/", {"ordering": "-name"})
    names = [row["name"] for row in ordered["results"]]
    assert names == sorted(names, reverse=True)


def test_enterprise_filter_errors_name_the_parameter(regions, register):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, V1 + "enterprises/", {"kind": "spaceship"}, status=400)
    assert body["code"] == "invalid"
    [error] = body["errors"]["kind"]
    assert "spaceship" in error["message_en"] and "spaceship" in error["message_zh"]
    assert error["message_zh"] != error["message_en"]  # Django's own messages are translated
    # A park of another county is not a valid choice for a county token (its existence does not leak).
    body = get(county, V1 + "enterprises/", {"park": "P-NORTH"}, status=400)
    assert "park" in body["errors"]


def test_pagination_with_page_size(regions, register):
    _c, _t, city = api_client_for(regions["city"])
    first = get(city, V1 + "enterprises/", {"page_size": 3})
    assert first["count"] == 4 and len(first["results"]) == 3 and first["next"] and first["previous"] is None
    second = get(city, first["next"])
    assert len(second["results"]) == 1 and second["next"] is None
    assert len(get(city, V1 + "enterprises/", {"page_size": 100000})["results"]) == 4  # capped at 500, not refused


def test_township_token_gets_404_for_another_township(regions, register):
    _c, _t, town = api_client_for(regions["town_a1"])
    assert ids(get(town, V1 + "enterprises/")) == sorted([register["a1"].pk, register["a1_other"].pk])
    for lookup in (register["a2"].pk, register["a2"].uscc):
        body = get(town, f"{V1}enterprises/{lookup}/", status=404)
        assert body["code"] == "not_found"
        assert body["detail_en"] == "Not found, or outside your region."
    get(town, f"{V1}hazard-sources/{register['tank'].pk}/")
    _c, _t, town_a2 = api_client_for(regions["town_a2"])
    get(town_a2, f"{V1}hazard-sources/{register['tank'].pk}/", status=404)
    assert get(town_a2, V1 + "hazard-sources/")["count"] == 0


# --- Hazard sources -----------------------------------------------------------------------------------------


def test_hazard_sources_list_detail_filters(regions, users, register):
    _c, _t, county = api_client_for(regions["county_a"])
    other = add_hazard_source(users["city"], register["a2"], name="仓库", unit_kind="warehouse", quantity="6")
    body = get(county, f"{V1}hazard-sources/{register['tank'].pk}/")
    assert body["enterprise"] == {"id": register["a1"].pk, "uscc": register["a1"].uscc, "name": "甲一硝化厂"}
    assert body["region_code"] == "320501001"
    assert body["unit_kind"] == "tank_farm" and body["unit_kind_display"]
    assert body["computed_level"] == 2 and body["level"] == 2 and body["declared_level"] is None
    assert body["level_display"] == "二级"
    assert body["r_value"] == "80.000000" and body["s_value"] == "20.000000" and body["is_major"] is True
    assert body["why_not"] is None and body["level_differs"] is False
    assert body["must_stop_operating"] is True  # level 2 tank farm without emergency shut-off
    assert body["automated_monitoring"] is True and body["emergency_shutoff"] is False
    assert body["needs_emergency_shutoff"] is True  # chlorine: a toxic gas of 表3
    assert body["breaches"] == ["video", "shutoff", "must_stop"]
    assert body["inventory"] == [
        {
            "chemical_name": "氯",
            "cas": "7782-50-5",
            "gb18218_entry": "表1-12",
            "categories": "",
            "max_quantity_t": "100.000",
            "threshold_t": "5.000",
            "beta": "4.00",
        }
    ]
    assert ids(get(county, V1 + "hazard-sources/", {"level": "2"})) == [register["tank"].pk]
    assert ids(get(county, V1 + "hazard-sources/", {"unit_kind": "warehouse"})) == [other.pk]
    assert ids(get(county, V1 + "hazard-sources/", {"enterprise": register["a2"].uscc})) == [other.pk]
    assert ids(get(county, V1 + "hazard-sources/", {"automated_monitoring": "true"})) == [register["tank"].pk]
    assert ids(get(county, V1 + "hazard-sources/", {"park": "P-EAST"})) == [register["tank"].pk]
    assert ids(get(county, V1 + "hazard-sources/", {"region": "320501002"})) == [other.pk]
    assert ids(get(county, V1 + "hazard-sources/", {"search": "仓库"})) == [other.pk]


# --- Writes -----------------------------------------------------------------------------------------------


def test_create_enterprise_through_the_service_attributed_to_the_client(regions, register):
    client, _t, writer = api_client_for(regions["county_a"], write=True, name="省化工整治平台")
    uscc = next_uscc()
    response = writer.post(
        V1 + "enterprises/",
        {
            "uscc": " " + uscc.lower(),
            "name": "新建化工",
            "region_code": "320501002",
            "park": "P-EAST",
            "kind": "use",
            "size": None,
            "annual_sales": "88.5",
            "key_processes": ["nitration", "chlorination"],
            "near_protected_river": True,
            "reason": "省平台推送",
            "confirm_park_outside_township": True,  # P-EAST lies in 甲一镇, the enterprise in 甲二镇
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["uscc"] == uscc and body["version"] == 1 and response["ETag"] == '"1"'
    assert body["park"] == {"code": "P-EAST", "name": "东部化工园"}
    assert sorted(body["key_processes"]) == ["chlorination", "nitration"]
    enterprise = Enterprise.objects.get(uscc=uscc)
    assert enterprise.township == regions["town_a2"] and enterprise.near_protected_river is True
    record = enterprise.history.earliest()
    assert record.history_user == client.user and record.history_change_reason == "省平台推送"
    assert enterprise_history(enterprise)[-1].who == "省化工整治平台"


def test_update_enterprise_raises_version_and_keeps_history(regions, register):
    client, _t, writer = api_client_for(regions["county_a"], write=True, name="数据中心")
    a1 = register["a1"]
    response = writer.patch(f"{V1}enterprises/{a1.uscc}/", {"name": "甲一硝化厂（更名）", "version": 1}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2 and response["ETag"] == '"2"'
    a1.refresh_from_db()
    assert a1.name == "甲一硝化厂（更名）" and a1.version == 2
    latest = a1.history.latest()
    assert latest.history_user == client.user
    assert enterprise_history(a1)[0].changes[0].new == "甲一硝化厂（更名）"
    # An update changing nothing keeps the version.
    response = writer.patch(f"{V1}enterprises/{a1.pk}/", {"name": "甲一硝化厂（更名）"}, format="json")
    assert response.json()["version"] == 2
    # Only the key processes change: a new version too, and one history entry naming the client.
    response = writer.patch(f"{V1}enterprises/{a1.pk}/", {"key_processes": []}, format="json")
    assert response.json()["version"] == 3 and response.json()["key_processes"] == []
    assert a1.history.latest().history_user == client.user


def test_stale_version_is_409_and_nothing_is_overwritten(regions, users, register):
    _c, _t, writer = api_client_for(regions["county_a"], write=True)
    a1 = register["a1"]
    # Someone edits in the browser meanwhile.
    services.update_enterprise(actor=users["county_a"], enterprise=a1, data={"contact_person": "王工"})
    response = writer.patch(f"{V1}enterprises/{a1.pk}/", {"name": "覆盖", "version": 1}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict" and body["current_version"] == 2 and response["ETag"] == '"2"'
    assert "version 2" in body["detail_en"] and body["detail_zh"]
    a1.refresh_from_db()
    assert a1.name == "甲一硝化厂" and a1.contact_person == "王工"
    # If-Match works the same way.
    response = writer.patch(f"{V1}enterprises/{a1.pk}/", {"name": "覆盖"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 409
    response = writer.patch(f"{V1}enterprises/{a1.pk}/", {"name": "按新版本修改"}, format="json", HTTP_IF_MATCH='"2"')
    assert response.status_code == 200 and response.json()["version"] == 3


def test_etag_on_detail_and_version_raised_by_a_permit_change(regions, users, register):
    _c, _t, county = api_client_for(regions["county_a"])
    a1 = register["a1"]
    assert county.get(f"{V1}enterprises/{a1.pk}/")["ETag"] == '"1"'
    services.save_permit(actor=users["city"], enterprise=a1, data={"kind": "eia", "number": "环评-1"})
    body = get(county, f"{V1}enterprises/{a1.pk}/")
    assert body["version"] == 2 and "eia" in [p["kind"] for p in body["permits"]]


def test_validation_errors_name_the_field_in_chinese_and_english(regions, register):
    _c, _t, writer = api_client_for(regions["county_a"], write=True)
    bad = next_uscc()[:17]
    response = writer.post(V1 + "enterprises/", {"uscc": bad, "name": "", "region_code": "320501001"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail_en"] and body["detail_zh"]
    [name_error] = body["errors"]["name"]
    assert name_error["code"] == "blank"
    assert name_error["message_en"] == "This field may not be blank."
    assert name_error["message_zh"] != name_error["message_en"]
    # Service-side rules (the model's validators) in both languages, keyed by the API's field name.
    response = writer.post(
        V1 + "enterprises/", {"uscc": bad, "name": "缺位代码", "region_code": "320501001"}, format="json"
    )
    [uscc_error] = response.json()["errors"]["uscc"]
    assert uscc_error["code"] == "uscc_length"
    assert uscc_error["message_en"] == "A unified social credit code has 18 characters; this one has 17."
    assert uscc_error["message_zh"] == "统一社会信用代码应为18位，当前为17位。"
    assert not Enterprise.objects.filter(name="缺位代码").exists()


def test_service_refusal_is_mapped_to_the_api_field_in_both_languages(regions, register):
    _c, _t, writer = api_client_for(regions["county_a"], write=True)
    response = writer.patch(f"{V1}enterprises/{register['a1'].pk}/", {"region_code": "320501"}, format="json")
    assert response.status_code == 400
    [error] = response.json()["errors"]["region_code"]
    assert error["message_en"] == "Choose a township or street, not a county or city."
    assert error["message_zh"] == "请选择乡镇或街道，不能选择县（市、区）或市。"
    register["a1"].refresh_from_db()
    assert register["a1"].township == regions["town_a1"]


def test_english_requests_get_english_detail(regions, register):
    _c, _t, writer = api_client_for(regions["county_a"], write=True)
    response = writer.patch(
        f"{V1}enterprises/{register['a1'].pk}/", {"region_code": "320501"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    body = response.json()
    assert body["detail"] == body["detail_en"]
    assert body["errors"]["region_code"][0]["message_zh"] == "请选择乡镇或街道，不能选择县（市、区）或市。"


def test_writes_cannot_leave_the_token_region(regions, register):
    _c, _t, writer = api_client_for(regions["town_a1"], write=True)
    response = writer.post(
        V1 + "enterprises/", {"uscc": next_uscc(), "name": "越界", "region_code": "320501002"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["region_code"][0]["code"] == "not_found"
    response = writer.patch(f"{V1}enterprises/{register['a2'].pk}/", {"name": "越界"}, format="json")
    assert response.status_code == 404
    response = writer.patch(f"{V1}enterprises/{register['a1'].pk}/", {"park": "P-NORTH"}, format="json")
    assert response.status_code == 400 and "park" in response.json()["errors"]
    assert not Enterprise.objects.filter(name="越界").exists()


def test_duplicate_credit_code_is_refused_on_the_field(regions, register):
    _c, _t, writer = api_client_for(regions["county_a"], write=True)
    response = writer.post(
        V1 + "enterprises/", {"uscc": register["a1"].uscc, "name": "重复", "region_code": "320501001"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["uscc"][0]["code"] == "unique"


# --- Query counts --------------------------------------------------------------------------------------------


def _make(regions, users, count):
    processes = list(KeyHazardousProcess.objects.all()[:2])
    park = ChemicalParkFactory(township=regions["town_a1"])
    today = timezone.localdate()
    for index in range(count):
        enterprise = EnterpriseFactory(township=regions["town_a1"], park=park if index % 2 else None)
        enterprise.key_processes.set(processes[: index % 3])
        PermitFactory(enterprise=enterprise, expires_on=today + datetime.timedelta(days=index))
        YearlyTierFactory(enterprise=enterprise, year=2023, tier=index % 3 + 1)
        add_hazard_source(users["city"], enterprise, name=f"罐区{index}")


def _count(http, url, params):
    with CaptureQueriesContext(connection) as context:
        response = http.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return len(context.captured_queries)


@pytest.mark.parametrize(
    "name, url, params",
    [
        ("api_enterprise_list", V1 + "enterprises/", {"page_size": 100}),
        (
            "api_enterprise_list_filtered",
            V1 + "enterprises/",
            {"page_size": 100, "region": "320501", "kind": "production", "search": "化工"},
        ),
        ("api_enterprise_sync", V1 + "enterprises/", {"page_size": 100, "updated_since": "2000-01-01T00:00:00+08:00"}),
        ("api_hazard_source_list", V1 + "hazard-sources/", {"page_size": 100}),
        ("api_park_list", V1 + "parks/", {"page_size": 100}),
    ],
)
def test_api_list_cost_does_not_depend_on_rows(regions, users, settings, name, url, params):
    settings.API_SYNC_SETTLE_SECONDS = 0
    _c, _t, county = api_client_for(regions["county_a"])
    _make(regions, users, 5)
    county.get(url, params)  # the token's last_used_at is written on the first request only
    few = _count(county, url, params)
    _make(regions, users, 45)
    many = _count(county, url, params)
    assert few == many, f"5 rows cost {few} queries, 50 rows cost {many}: a query per row"
    check_against_baseline(name, many)
