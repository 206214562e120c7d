"""The admin site: every model's pages for city and county staff, scoped, cheap, and writing through the services."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from accounts.choices import Role
from accounts.models import Department
from enterprises import services
from enterprises.choices import EnterpriseKind, HazardLevel, OperatingStatus
from enterprises.models import Enterprise, HazardousChemical, KeyHazardousProcess, MajorHazardSource, Permit, YearlyTier
from enterprises.validators import make_uscc
from parks.forms import SCORE_FIELDS
from parks.models import ChemicalPark
from regions.choices import RegionLevel
from regions.models import Region

from .factories import ChemicalParkFactory, EnterpriseFactory, PermitFactory, UserFactory, YearlyTierFactory

User = get_user_model()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def register(regions, users):
    """A park, an enterprise (with permit, tier and hazard source) in township A1 and the same in B1."""
    data = {}
    for key in ("a1", "b1"):
        township = regions[f"town_{key}"]
        park = ChemicalParkFactory(code=f"P-{key}", name=f"{key}园区", township=township)
        enterprise = EnterpriseFactory(name=f"{key}企业", township=township, park=park)
        PermitFactory(enterprise=enterprise)
        YearlyTierFactory(enterprise=enterprise, year=2023, tier=2)
        hazard = services.save_hazard_source(
            actor=users["city"],
            enterprise=enterprise,
            data={"name": f"{key}罐区", "unit_kind": "tank_farm", "exposed_population": "1_29"},
            inventory=[{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal("10")}],
        )
        data[key] = {"park": park, "enterprise": enterprise, "hazard": hazard}
    return data


def admin_url(model, view="changelist", *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def objects_for(register, regions, users):
    """One object of each admin model inside county A (so both the city and county A users may open it)."""
    return {
        Region: regions["town_a1"],
        User: users["town_a1"],
        Department: Department.objects.first(),
        ChemicalPark: register["a1"]["park"],
        Enterprise: register["a1"]["enterprise"],
        MajorHazardSource: register["a1"]["hazard"],
        KeyHazardousProcess: KeyHazardousProcess.objects.first(),
        HazardousChemical: HazardousChemical.objects.first(),
    }


# --- Every page loads for city and county staff --------------------------------------------------


@pytest.mark.parametrize("who", ["city", "county_a"])
def test_admin_pages_load(register, regions, users, client_for, who):
    client = client_for(users[who])
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    with translation.override(settings.LANGUAGE_CODE):  # the language the page was rendered in
        assert str(settings.APP_TITLE) in index.content.decode()
    for model, obj in objects_for(register, regions, users).items():
        assert client.get(admin_url(model)).status_code == 200, model
        assert client.get(admin_url(model, "change", obj.pk)).status_code == 200, model
        if model in (ChemicalPark, Enterprise, MajorHazardSource):
            assert client.get(admin_url(model, "history", obj.pk)).status_code == 200, model
    for model in (User, ChemicalPark, Enterprise, MajorHazardSource):
        assert client.get(admin_url(model, "add")).status_code == 200, model


@pytest.mark.parametrize(
    ("who", "model", "status"),
    [
        ("city", Region, 200),
        ("county_a", Region, 403),  # reference data: the city office only
        ("city", Department, 200),
        ("county_a", Department, 403),
        ("city", KeyHazardousProcess, 403),  # GB reference tables: superusers only
        ("city", HazardousChemical, 403),
    ],
)
def test_reference_data_add_permission(regions, users, client_for, who, model, status):
    assert client_for(users[who]).get(admin_url(model, "add")).status_code == status


def test_reference_tables_are_read_only_for_staff(regions, users, client_for):
    client = client_for(users["city"])
    process = KeyHazardousProcess.objects.first()
    response = client.post(admin_url(KeyHazardousProcess, "change", process.pk), {"name": "改名"})
    assert response.status_code == 403
    process.refresh_from_db()
    assert process.name != "改名"
    # A superuser may correct them.
    root = User.objects.create_superuser("root", "root@example.cn", "pass12345")
    assert client_for(root).get(admin_url(KeyHazardousProcess, "add")).status_code == 200


# --- Who gets in ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["town_a1", "supervisor", "reviewer"])
def test_non_staff_roles_are_refused(register, users, client_for, who):
    client = client_for(users[who])
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert client.get(admin_url(Enterprise)).status_code == 302


def test_township_officer_flagged_staff_still_gets_nothing(register, users, client_for):
    officer = users["town_a1"]
    officer.is_staff = True
    officer.save()
    client = client_for(officer)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert index.context["app_list"] == []
    assert client.get(admin_url(Enterprise)).status_code == 403
    enterprise = register["a1"]["enterprise"]
    assert client.get(admin_url(Enterprise, "change", enterprise.pk)).status_code == 403


# --- Scoping (more in test_scoping.py) --------------------------------------------------------------------------------------------


def test_forged_choice_outside_the_region_is_refused(register, regions, users, client_for):
    client = client_for(users["county_a"])
    response = client.post(
        admin_url(Enterprise, "add"), enterprise_post(regions["town_b1"], make_uscc("91320500MA1X2Y3Q4"))
    )
    assert response.status_code == 200
    assert "township" in response.context["adminform"].form.errors
    assert not Enterprise.objects.filter(name="新登记化工").exists()


# --- Writes go through the services -----------------------------------------------------------------


def enterprise_post(township, uscc, **overrides):
    data = {
        "uscc": uscc,
        "name": "新登记化工",
        "township": township.pk,
        "park": "",
        "status": OperatingStatus.OPERATING,
        "kind": EnterpriseKind.PRODUCTION,
        "size": "",
        "automation_status": "not_required",
        "process_mode": "",
        "key_processes": [KeyHazardousProcess.objects.get(code="nitration").pk],
        "permits-TOTAL_FORMS": "1",
        "permits-INITIAL_FORMS": "0",
        "permits-0-kind": "work_safety",
        "permits-0-number": "(苏)WH安许证字[2024]001",
        "permits-0-issued_on": "2024-01-01",
        "permits-0-expires_on": "2027-01-01",
        "tiers-TOTAL_FORMS": "1",
        "tiers-INITIAL_FORMS": "0",
        "tiers-0-year": "2024",
        "tiers-0-tier": "1",
    }
    data.update(overrides)
    return data


def test_create_enterprise_through_the_service(regions, users, client_for):
    code = make_uscc("91320500MA1X2Y3Q4")
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code[:6]) + " " + code[6:].lower()
    client = client_for(users["county_a"])
    response = client.post(admin_url(Enterprise, "add"), enterprise_post(regions["town_a1"], full_width))
    assert response.status_code == 302, response.context["adminform"].form.errors
    enterprise = Enterprise.objects.get(name="新登记化工")
    assert enterprise.uscc == code
    assert list(enterprise.key_processes.values_list("code", flat=True)) == ["nitration"]
    assert set(enterprise.history.values_list("history_user", flat=True)) == {users["county_a"].pk}
    permit = Permit.objects.get(enterprise=enterprise)
    assert permit.history.get().history_user == users["county_a"]
    assert YearlyTier.objects.get(enterprise=enterprise).tier == 1
    assert response["Location"] == admin_url(Enterprise)


def test_admin_refuses_a_bad_or_duplicate_code(register, regions, users, client_for):
    client = client_for(users["county_a"])
    bad = client.post(admin_url(Enterprise, "add"), enterprise_post(regions["town_a1"], "91320500MA1X2Y3Q4O"))
    assert "uscc" in bad.context["adminform"].form.errors
    existing = register["a1"]["enterprise"].uscc
    duplicate = client.post(admin_url(Enterprise, "add"), enterprise_post(regions["town_a1"], existing.lower()))
    assert "uscc" in duplicate.context["adminform"].form.errors
    assert not Enterprise.objects.filter(name="新登记化工").exists()


def change_post(client, url, **changes):
    """POST the change form back with its current values, changed by `changes`."""
    response = client.get(url)
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if hasattr(value, "pk"):
            value = value.pk
        if isinstance(value, list | tuple):
            data[name] = [getattr(v, "pk", v) for v in value]
        elif value is None:
            data[name] = ""
        elif value is False:
            continue
        else:
            data[name] = value
    for formset in response.context["inline_admin_formsets"]:
        formset = formset.formset
        prefix = formset.prefix
        data[f"{prefix}-TOTAL_FORMS"] = data[f"{prefix}-INITIAL_FORMS"] = len(formset.initial_forms)
        for index, inline_form in enumerate(formset.initial_forms):
            for name in inline_form.fields:
                value = inline_form.initial.get(name)
                if name == "id":
                    value = inline_form.instance.pk
                elif name == formset.fk.name:
                    value = formset.instance.pk
                data[f"{prefix}-{index}-{name}"] = "" if value is None else getattr(value, "pk", value)
    data.update(changes)
    return client.post(url, data)


def test_edit_enterprise_records_history_and_unchanged_save_adds_none(register, users, client_for):
    client = client_for(users["county_a"])
    enterprise = register["a1"]["enterprise"]
    url = admin_url(Enterprise, "change", enterprise.pk)
    before = enterprise.history.count()
    response = change_post(client, url)
    assert response.status_code == 302
    assert enterprise.history.count() == before
    response = change_post(client, url, name="更名化工", **{"tiers-0-tier": "3"})
    assert response.status_code == 302
    enterprise.refresh_from_db()
    assert enterprise.name == "更名化工"
    latest = enterprise.history.first()
    assert (latest.history_user, latest.name) == (users["county_a"], "更名化工")
    assert enterprise.tiers.get(year=2023).tier == 3


def test_edit_park_through_the_service(register, users, client_for):
    client = client_for(users["city"])
    park = register["a1"]["park"]
    response = change_post(client, admin_url(ChemicalPark, "change", park.pk), name="新名园区")
    assert response.status_code == 302
    park.refresh_from_db()
    assert park.name == "新名园区"
    assert park.history.first().history_user == users["city"]


def test_hazard_source_level_is_computed_from_the_admin_inventory(register, users, client_for):
    client = client_for(users["county_a"])
    hazard = register["a1"]["hazard"]
    assert hazard.computed_level is not None
    response = change_post(
        client, admin_url(MajorHazardSource, "change", hazard.pk), **{"inventory-0-max_quantity_t": "500"}
    )
    assert response.status_code == 302
    hazard.refresh_from_db()
    assert hazard.computed_level == HazardLevel.LEVEL_1
    assert hazard.history.first().history_user == users["county_a"]


def test_ambiguous_substance_or_unknown_category_is_a_form_error(register, users, client_for):
    client = client_for(users["county_a"])
    hazard = register["a1"]["hazard"]
    url = admin_url(MajorHazardSource, "change", hazard.pk)
    # 硝酸铵 is two entries of 表1 (by combustible content): the user must pick one.
    response = change_post(client, url, **{"inventory-0-chemical_name": "硝酸铵", "inventory-0-cas": ""})
    assert response.status_code == 200
    assert "表1-43" in response.content.decode() and "表1-44" in response.content.decode()
    response = change_post(client, url, **{"inventory-0-categories": "W99"})
    assert response.status_code == 200
    assert "W99" in response.content.decode()
    hazard.refresh_from_db()
    assert hazard.inventory.get().chemical_name == "氯"


def test_unknown_substance_without_category_is_saved_with_the_reason(register, users, client_for):
    client = client_for(users["county_a"])
    hazard = register["a1"]["hazard"]
    response = change_post(
        client,
        admin_url(MajorHazardSource, "change", hazard.pk),
        **{"inventory-0-chemical_name": "某中间体", "inventory-0-cas": "0000-00-0"},
    )
    assert response.status_code == 302
    hazard.refresh_from_db()
    assert hazard.computed_level is None and hazard.is_major is None
    line = hazard.inventory.get()
    assert (line.chemical_id, line.threshold_t, line.beta) == (None, None, None)


def test_user_admin_applies_the_role_rule(regions, users, client_for):
    client = client_for(users["county_a"])
    data = {
        "username": "new_officer",
        "usable_password": "true",
        "password1": "Huagong-2024!",
        "password2": "Huagong-2024!",
        "role": Role.COUNTY,
        "region": regions["town_a1"].pk,
        "department": "",
        "email": "",
    }
    refused = client.post(admin_url(User, "add"), data)
    assert refused.status_code == 200
    assert "region" in refused.context["adminform"].form.errors
    assert not User.objects.filter(username="new_officer").exists()
    outside = client.post(admin_url(User, "add"), {**data, "role": Role.TOWNSHIP, "region": regions["town_b1"].pk})
    assert "region" in outside.context["adminform"].form.errors
    created = client.post(admin_url(User, "add"), {**data, "role": Role.TOWNSHIP})
    assert created.status_code == 302
    officer = User.objects.get(username="new_officer")
    assert (officer.role, officer.region, officer.is_staff) == (Role.TOWNSHIP, regions["town_a1"], False)
    assert officer.check_password("Huagong-2024!")


def test_user_admin_hides_superusers_and_other_regions(regions, users, client_for):
    root = UserFactory(username="root", role="", region=regions["county_a"], is_superuser=True, is_staff=True)
    client = client_for(users["county_a"])
    assert client.get(admin_url(User, "change", users["city"].pk)).status_code == 302
    assert client.post(reverse("admin:auth_user_password_change", args=[root.pk]), {}).status_code == 403
    form = client.get(admin_url(User, "change", users["town_a1"].pk)).context["adminform"].form
    assert "is_superuser" not in form.fields and "user_permissions" not in form.fields


def test_region_admin_adds_a_township_with_its_path(regions, users, client_for):
    client = client_for(users["city"])
    data = {"code": "320501003", "name": "甲三镇", "parent": regions["county_a"].pk}
    assert client.post(admin_url(Region, "add"), data).status_code == 302
    town = Region.objects.get(code="320501003")
    assert (town.level, town.path) == (RegionLevel.TOWNSHIP, "/320500/320501/320501003/")
    wrong = client.post(admin_url(Region, "add"), {**data, "code": "320502004"})
    assert "parent" in wrong.context["adminform"].form.errors
    top = client.post(admin_url(Region, "add"), {"code": "320600", "name": "邻市", "parent": ""})
    assert "parent" in top.context["adminform"].form.errors


# --- No query per row ---------------------------------------------------------------------------------


CHANGELISTS = [Enterprise, ChemicalPark, MajorHazardSource, Region, User]


def add_rows(regions, users, count, offset):
    for index in range(offset, offset + count):
        township = regions["town_a1"] if index % 2 else regions["town_a2"]
        park = ChemicalParkFactory(code=f"Q{index}", township=township)
        enterprise = EnterpriseFactory(township=township, park=park)
        MajorHazardSource.objects.create(enterprise=enterprise, name=f"储罐{index}", unit_kind="storage")
        UserFactory(username=f"officer{index}", role=Role.TOWNSHIP, region=township)
        Region.objects.create(
            code=f"320501{100 + index:03d}",
            name=f"新镇{index}",
            level="township",
            parent=regions["county_a"],
            path=f"{regions['county_a'].path}320501{100 + index:03d}/",
        )


@pytest.mark.parametrize("model", CHANGELISTS, ids=lambda m: m.__name__)
def test_changelist_query_count_does_not_grow(regions, users, client_for, django_assert_max_num_queries, model):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(users["county_a"])
    add_rows(regions, users, 3, 0)
    with CaptureQueriesContext(connection) as few:
        assert client.get(admin_url(model)).status_code == 200
    add_rows(regions, users, 25, 3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(admin_url(model))
    assert len(response.context["cl"].result_list) > 20
    # session, user, count, the rows, and Django's own permission lookups: nothing per row.
    assert len(few.captured_queries) <= 8


def test_add_hazard_source_with_inventory(register, users, client_for):
    client = client_for(users["county_a"])
    enterprise = register["a1"]["enterprise"]
    data = {
        "enterprise": enterprise.pk,
        "name": "液氯罐区",
        "unit_kind": "tank_farm",
        "exposed_population": "1_29",
        "declared_level": "",
        "filing_number": "",
        "inventory-TOTAL_FORMS": "1",
        "inventory-INITIAL_FORMS": "0",
        "inventory-0-chemical_name": "氯",
        "inventory-0-cas": "7782-50-5",
        "inventory-0-categories": "",
        "inventory-0-max_quantity_t": "500",
    }
    response = client.post(admin_url(MajorHazardSource, "add"), data)
    assert response.status_code == 302
    hazard = MajorHazardSource.objects.get(name="液氯罐区")
    line = hazard.inventory.get()
    assert (line.threshold_t, line.beta) == (Decimal("5"), Decimal("4"))  # GB 18218-2018 表1 and 表3
    assert hazard.computed_level == HazardLevel.LEVEL_1
    assert hazard.history.get().history_user == users["county_a"]


def test_add_park_with_an_evaluation(regions, users, client_for):
    client = client_for(users["city"])
    data = {
        "code": "P-NEW",
        "name": "新建化工园",
        "township": regions["town_b1"].pk,
        "level": "municipal",
        "recognition_status": "pending",
        "protection_zone_residents_to_relocate": "0",
        "evaluations-TOTAL_FORMS": "1",
        "evaluations-INITIAL_FORMS": "0",
        "evaluations-0-year": "2023",
        **{f"evaluations-0-{name}": "80" for name in SCORE_FIELDS},
    }
    response = client.post(admin_url(ChemicalPark, "add"), data)
    assert response.status_code == 302
    park = ChemicalPark.objects.get(code="P-NEW")
    assert park.history.get().history_user == users["city"]
    evaluation = park.evaluations.get()
    assert (evaluation.year, evaluation.planning_score) == (2023, Decimal("80"))
    assert evaluation.history.get().history_user == users["city"]


def test_region_rename_keeps_code_and_parent(regions, users, client_for):
    client = client_for(users["city"])
    town = regions["town_a1"]
    response = client.post(admin_url(Region, "change", town.pk), {"name": "甲一街道", "code": "999", "parent": ""})
    assert response.status_code == 302
    town.refresh_from_db()
    assert (town.name, town.code, town.parent, town.path) == (
        "甲一街道",
        "320501001",
        regions["county_a"],
        "/320500/320501/320501001/",
    )
    # The county office sees regions but cannot change them.
    county = client_for(users["county_a"])
    assert county.post(admin_url(Region, "change", town.pk), {"name": "改名"}).status_code == 403


def test_delete_enterprise_records_who(register, users, client_for):
    client = client_for(users["county_a"])
    enterprise = register["a1"]["enterprise"]
    response = client.post(admin_url(Enterprise, "delete", enterprise.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Enterprise.objects.filter(pk=enterprise.pk).exists()
    deleted = Enterprise.history.filter(id=enterprise.pk, history_type="-").get()
    assert deleted.history_user == users["county_a"]


def test_superuser_sees_every_page(register, regions, users, client_for):
    root = User.objects.create_superuser("root", "root@example.cn", "pass12345")
    client = client_for(root)
    for model, obj in objects_for(register, regions, users).items():
        assert client.get(admin_url(model)).status_code == 200, model
        assert client.get(admin_url(model, "add")).status_code == 200, model
        assert client.get(admin_url(model, "change", obj.pk)).status_code == 200, model
    other = client.get(admin_url(Enterprise, "change", register["b1"]["enterprise"].pk))
    assert other.status_code == 200
    form = client.get(admin_url(User, "change", users["town_a1"].pk)).context["adminform"].form
    assert "is_superuser" in form.fields
