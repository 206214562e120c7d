"""`manage.py demo`: the demo city, its users, and that running it again changes nothing."""

import datetime
import hashlib
import random
import sys
import types
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from accounts.models import Department
from core import demo
from enterprises.choices import OperatingStatus
from enterprises.models import (
    Enterprise,
    HazardInventoryLine,
    MajorHazardSource,
    Permit,
    YearlyTier,
)
from enterprises.validators import validate_uscc
from parks.models import ChemicalPark, ParkEvaluation
from regions.choices import RegionLevel
from regions.models import Region

User = get_user_model()

REGISTER_MODELS = [
    Region,
    Department,
    User,
    ChemicalPark,
    ParkEvaluation,
    Enterprise,
    Enterprise.key_processes.through,
    Permit,
    YearlyTier,
    MajorHazardSource,
    HazardInventoryLine,
]


def run_demo() -> str:
    out = StringIO()
    call_command("demo", "--force", stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, tuple[int, str]]:
    """Row count and a checksum of every column of every row, per model (history tables included)."""
    result = {}
    models = list(REGISTER_MODELS)
    models += [model.history.model for model in REGISTER_MODELS if hasattr(model, "history")]
    for model in models:
        rows = list(model.objects.order_by("pk").values_list())
        result[model._meta.label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return result


@pytest.mark.django_db
def test_demo_builds_the_city_and_a_second_run_changes_nothing():
    output = run_demo()
    today = timezone.localdate()

    # Regions: one city, three counties, twenty townships, codes per GB/T 2260 and the statistical codes.
    city = Region.objects.get(code=demo.CITY[0])
    assert city.level == RegionLevel.CITY and city.name == "临江市"
    counties = Region.objects.filter(parent=city)
    assert counties.count() == 3
    townships = Region.objects.in_region(city).townships()
    assert townships.count() == 20
    for county in counties:
        assert len(county.code) == 6 and county.level == RegionLevel.COUNTY
    for township in townships.select_related("parent"):
        assert len(township.code) == 9 and township.code.startswith(township.parent.code)
        assert township.path == f"/{city.code}/{township.parent.code}/{township.code}/"

    # The register.
    enterprises = Enterprise.objects.in_region(city)
    assert enterprises.count() == 600
    assert not enterprises.exclude(township__level=RegionLevel.TOWNSHIP).exists()
    for code in enterprises.values_list("uscc", flat=True):
        validate_uscc(code)
    assert ChemicalPark.objects.in_region(city).count() == 4
    assert enterprises.filter(park__isnull=False).count() > 50
    assert ParkEvaluation.objects.count() > 0
    statuses = set(enterprises.values_list("status", flat=True))
    assert {OperatingStatus.OPERATING, OperatingStatus.SUSPENDED, OperatingStatus.CLOSED} <= statuses
    assert enterprises.filter(key_processes__isnull=False).distinct().count() > 50
    assert enterprises.filter(near_protected_river=True).exists()
    assert enterprises.filter(in_dense_urban_area=True).exists()

    permits = Permit.objects.in_region(city)
    assert permits.filter(expires_on__lt=today).count() > 20
    assert permits.filter(expires_on__gte=today, expires_on__lte=today + datetime.timedelta(days=60)).count() > 20
    assert permits.filter(expires_on__gt=today + datetime.timedelta(days=60)).count() > 200

    tier_years = set(YearlyTier.objects.values_list("year", flat=True))
    assert tier_years == {today.year - 2, today.year - 1}
    twice_tier_3 = (
        YearlyTier.objects.filter(tier=3, year=today.year - 1)
        .filter(enterprise__tiers__year=today.year - 2, enterprise__tiers__tier=3)
        .count()
    )
    assert twice_tier_3 > 0  # the two-years-in-tier-3 rule has cases to find

    sources = MajorHazardSource.objects.in_region(city)
    assert sources.count() > 20
    assert HazardInventoryLine.objects.filter(hazard_source__in=sources).count() >= sources.count()
    assert sources.filter(computed_level__isnull=False).count() > 10
    # Levels were computed from the inventory: recomputing changes nothing.
    from enterprises.services import recompute_hazard_levels

    assert recompute_hazard_levels() == 0

    # Created rows carry their origin in the history.
    assert Enterprise.history.filter(history_type="+", history_change_reason=demo.DEMO_REASON).count() == 600

    # One demo user per role, all with the published password; the other counties and townships have an officer
    # each (the proposer of their proposals), who cannot log in.
    roles = {Role.CITY: 1, Role.COUNTY: 1, Role.TOWNSHIP: 1, Role.SUPERVISOR: 1}
    for role, count in roles.items():
        holders = User.objects.filter(role=role, region__path__startswith=city.path)
        assert sum(user.has_usable_password() for user in holders) == count
    officers = User.objects.filter(username__startswith="officer_")
    assert officers.count() == Region.objects.filter(level__in=[RegionLevel.COUNTY, RegionLevel.TOWNSHIP]).count() - 2
    assert not any(officer.has_usable_password() for officer in officers)
    reviewers = User.objects.filter(role=Role.REVIEWER)
    assert reviewers.count() == 5
    assert not reviewers.filter(department__isnull=True).exists()
    assert set(reviewers.values_list("department__name", flat=True)) == {
        "经济和信息化局",
        "应急管理局",
        "生态环境局",
        "交通运输局",
        "港口管理局",
    }
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.region_id is None
    assert User.objects.get(username="county").is_staff
    assert not User.objects.get(username="township").is_staff
    for username, *_rest in demo.USERS:
        assert User.objects.get(username=username).check_password(demo.DEMO_PASSWORD)
        assert username in output
    assert demo.DEMO_PASSWORD in output
    assert "http://127.0.0.1:8000/" in output

    before = snapshot()
    second = run_demo()
    assert snapshot() == before
    assert "already loaded, nothing added" in second


@pytest.mark.django_db
def test_demo_plan_is_the_same_every_time():
    today = datetime.date(2025, 3, 1)
    first = demo.DemoPlanner(random.Random(demo.SEED), today).plan()
    second = demo.DemoPlanner(random.Random(demo.SEED), today).plan()
    assert [(p.enterprise.uscc, p.enterprise.name) for p in first.enterprises] == [
        (p.enterprise.uscc, p.enterprise.name) for p in second.enterprises
    ]
    assert len({p.enterprise.uscc for p in first.enterprises}) == 600
    assert len({p.enterprise.name for p in first.enterprises}) == 600


@pytest.mark.django_db
def test_township_demo_user_sees_only_their_township(client):
    run_demo()
    township_user = User.objects.get(username="township")
    own = Enterprise.objects.filter(township=township_user.region)
    assert own.count() == 117

    client.force_login(township_user)
    response = client.get(reverse("enterprises:list"))
    assert response.status_code == 200
    page = response.context["page_obj"]
    assert page.paginator.count == 117
    assert {enterprise.township_id for enterprise in page} == {township_user.region_id}

    elsewhere = Enterprise.objects.exclude(township=township_user.region).first()
    assert client.get(reverse("enterprises:detail", args=[elsewhere.pk])).status_code == 404
    assert client.get(reverse("enterprises:detail", args=[own.first().pk])).status_code == 200


@pytest.mark.django_db
def test_demo_refuses_when_debug_is_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("demo", stdout=StringIO())
    assert not Enterprise.objects.exists()
    assert not User.objects.filter(username="admin").exists()


def test_extensions_get_their_own_seeded_generator(monkeypatch):
    calls = []

    def build(rng, stdout):
        calls.append(rng.random())
        stdout.write("extension ran")

    module = types.ModuleType("demo_extension_for_test")
    module.build_demo_extension = build
    monkeypatch.setitem(sys.modules, "demo_extension_for_test", module)
    monkeypatch.setattr(
        demo,
        "DEMO_EXTENSIONS",
        [("demo_extension_for_test", "build_demo_extension"), ("no_such_app.demo", "build_demo_no_such_app")],
    )
    out = StringIO()
    assert demo._run_extensions(out) == ["demo_extension_for_test"]
    assert demo._run_extensions(out) == ["demo_extension_for_test"]
    assert calls[0] == calls[1]  # the same numbers on every run
    assert out.getvalue() == "extension ranextension ran"
