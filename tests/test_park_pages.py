"""Park register pages: list with filters and counts, dossier, forms, scoping."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from parks.choices import INFRASTRUCTURE_FIELDS, ParkLevel, RecognitionStatus
from parks.models import ChemicalPark, ParkEvaluation

from .factories import ChemicalParkFactory, EnterpriseFactory

LIST = reverse("parks:list")


def names(response):
    assert response.status_code == 200
    return sorted(p.name for p in response.context["page_obj"])


@pytest.fixture
def parks(regions):
    east = ChemicalParkFactory(
        code="P-EAST", name="东部化工园", township=regions["town_a1"], level=ParkLevel.PROVINCIAL
    )
    west = ChemicalParkFactory(
        code="P-WEST",
        name="西部集聚区",
        township=regions["town_a2"],
        level=ParkLevel.CLUSTER,
        recognition_status=RecognitionStatus.PENDING,
    )
    north = ChemicalParkFactory(
        code="P-NORTH", name="北部园区", township=regions["town_b1"], recognition_status=RecognitionStatus.REVOKED
    )
    for _ in range(3):
        EnterpriseFactory(township=regions["town_a1"], park=east)
    EnterpriseFactory(township=regions["town_a2"], park=west)
    return {"east": east, "west": west, "north": north}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["东部化工园", "北部园区", "西部集聚区"]),
        ({"q": "东部"}, ["东部化工园"]),
        ({"q": "p-west"}, ["西部集聚区"]),
        ({"level": "provincial"}, ["东部化工园"]),
        ({"recognition_status": "pending"}, ["西部集聚区"]),
        ({"recognition_status": "revoked"}, ["北部园区"]),
        ({"region": "320501"}, ["东部化工园", "西部集聚区"]),
    ],
)
def test_park_list_filters(parks, users, client_for, query, expected):
    assert names(client_for(users["city"]).get(LIST, query)) == sorted(expected)


def test_park_list_counts_enterprises(parks, users, client_for):
    response = client_for(users["city"]).get(LIST, {"ordering": "-enterprises"})
    counts = [(p.name, p.enterprise_count) for p in response.context["page_obj"]]
    assert counts == [("东部化工园", 3), ("西部集聚区", 1), ("北部园区", 0)]


def test_park_list_paginates(regions, users, client_for, settings):
    settings.LIST_PAGE_SIZE = 2
    for index in range(3):
        ChemicalParkFactory(code=f"P{index}", township=regions["town_a1"])
    response = client_for(users["city"]).get(LIST, {"page": 2})
    assert len(response.context["page_obj"]) == 1
    assert response.context["page_obj"].paginator.count == 3


def test_township_officer_sees_only_their_parks(parks, users, client_for):
    client = client_for(users["town_a1"])
    assert names(client.get(LIST)) == ["东部化工园"]
    assert client.get(reverse("parks:detail", args=[parks["west"].pk])).status_code == 404
    # Township officers may not edit parks at all.
    response = client.get(reverse("parks:update", args=[parks["east"].pk]))
    assert response.status_code == 403
    assert "仅市、县（市、区）化治办" in response.content.decode()
    assert (
        'data-testid="edit-link"' not in client.get(reverse("parks:detail", args=[parks["east"].pk])).content.decode()
    )


def test_park_dossier(parks, users, client_for):
    east = parks["east"]
    east.central_heating = True
    east.last_risk_assessment_on = timezone.localdate() - datetime.timedelta(days=6 * 366)
    east.save()
    ParkEvaluation.objects.create(
        park=east,
        year=2023,
        planning_score=80,
        management_score=90,
        industrial_chain_score=70,
        environment_score=60,
        satisfaction_score=85,
    )
    response = client_for(users["city"]).get(reverse("parks:detail", args=[east.pk]))
    html = response.content.decode()
    checklist = {item.field: item.done for item in response.context["infrastructure"]}
    assert list(checklist) == INFRASTRUCTURE_FIELDS
    assert checklist["central_heating"] is True and checklist["fire_station"] is False
    assert html.count('data-done="1"') == 1 and html.count('data-done="0"') == len(INFRASTRUCTURE_FIELDS) - 1
    assert response.context["risk_overdue"] is True
    assert "77.0" in html  # average score
    assert len(response.context["enterprise_page"]) == 3


def test_recent_risk_assessment_is_not_overdue(parks, users, client_for):
    east = parks["east"]
    east.last_risk_assessment_on = timezone.localdate() - datetime.timedelta(days=365)
    east.save()
    response = client_for(users["city"]).get(reverse("parks:detail", args=[east.pk]))
    assert response.context["risk_overdue"] is False


def park_post(township, **overrides):
    data = {
        "code": "P-NEW",
        "name": "新建化工园",
        "township": township.pk,
        "level": ParkLevel.MUNICIPAL,
        "recognition_status": RecognitionStatus.PENDING,
        "protection_zone_residents_to_relocate": "12",
        "reason": "新认定",
    }
    data.update(overrides)
    return data


def test_create_and_edit_park(regions, users, client_for):
    client = client_for(users["county_a"])
    response = client.post(reverse("parks:create"), park_post(regions["town_a2"], fire_station="on"))
    assert response.status_code == 302
    park = ChemicalPark.objects.get(code="P-NEW")
    assert park.fire_station is True
    assert park.history.latest().history_user == users["county_a"]
    data = park_post(regions["town_a2"], name="新建化工园（更名）", area_km2="3.50", reason="更名")
    response = client.post(reverse("parks:update", args=[park.pk]), data)
    assert response.status_code == 302
    park.refresh_from_db()
    assert park.name == "新建化工园（更名）" and park.area_km2 == Decimal("3.50")
    assert park.fire_station is False
    history = client.get(reverse("parks:detail", args=[park.pk])).context["history"]
    assert history[0].reason == "更名"


def test_park_form_rejects_township_outside_region(regions, users, client_for):
    response = client_for(users["county_a"]).post(reverse("parks:create"), park_post(regions["town_b1"]))
    assert response.status_code == 200
    assert "township" in response.context["form"].errors
    assert not ChemicalPark.objects.filter(code="P-NEW").exists()


def test_park_form_rejects_duplicate_code(parks, users, client_for):
    response = client_for(users["city"]).post(reverse("parks:create"), park_post(parks["east"].township, code="P-EAST"))
    assert "code" in response.context["form"].errors


def test_evaluation_form(parks, users, client_for):
    client = client_for(users["city"])
    url = reverse("parks:evaluation_set", args=[parks["east"].pk])
    scores = {
        "planning_score": "80",
        "management_score": "80",
        "industrial_chain_score": "80",
        "environment_score": "80",
        "satisfaction_score": "80",
    }
    assert client.post(url, {"year": 2024, **scores}).status_code == 302
    # The same year again corrects the evaluation instead of failing.
    assert client.post(url, {"year": 2024, **scores, "management_score": "95"}).status_code == 302
    evaluation = ParkEvaluation.objects.get(park=parks["east"], year=2024)
    assert evaluation.management_score == 95
    bad = client.post(url, {"year": 2024, **scores, "satisfaction_score": "120"})
    assert "satisfaction_score" in bad.context["form"].errors


def test_home_dashboard(parks, users, client_for):
    response = client_for(users["county_a"]).get(reverse("home"))
    assert response.status_code == 200
    figures = response.context["enterprises"]
    assert figures.total == 4 and figures.in_park == 4
    assert {value: count for value, _label, count in figures.by_status}["operating"] == 4
    park_counts = {value: count for value, _label, count in response.context["parks"].by_status}
    assert park_counts == {"recognised": 1, "pending": 1, "revoked": 0}
    assert f"{reverse('enterprises:list')}?status=operating" in response.content.decode()
