"""Region scoping: who sees which rows, in querysets, pages, exports and the admin."""

import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from openpyxl import load_workbook

from accounts.choices import Role
from enterprises import services
from enterprises.models import Enterprise, HazardInventoryLine, MajorHazardSource, Permit
from parks.models import ChemicalPark
from regions.models import Region

from .factories import ChemicalParkFactory, EnterpriseFactory, PermitFactory, UserFactory

User = get_user_model()


@pytest.fixture
def register(regions, users):
    """In each township: a park, an enterprise in it with a permit and a hazard source (with inventory)."""
    data = {}
    for key in ("a1", "a2", "b1"):
        township = regions[f"town_{key}"]
        park = ChemicalParkFactory(code=f"P-{key}", name=f"{key}园区", township=township)
        enterprise = EnterpriseFactory(name=f"{key}企业", township=township, park=park)
        permit = PermitFactory(enterprise=enterprise)
        hazard = services.save_hazard_source(
            actor=users["city"],
            enterprise=enterprise,
            data={"name": f"{key}罐区", "unit_kind": "tank_farm"},
            inventory=[{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal("10")}],
        )
        data[key] = {"park": park, "enterprise": enterprise, "permit": permit, "hazard": hazard}
    return data


def visible_names(model, user):
    return sorted(str(obj) for obj in model.objects.visible_to(user))


# --- RegionScopedQuerySet.visible_to per role ---------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("city", ["a1企业", "a2企业", "b1企业"]),
        ("supervisor", ["a1企业", "a2企业", "b1企业"]),
        ("reviewer", ["a1企业", "a2企业", "b1企业"]),
        ("county_a", ["a1企业", "a2企业"]),
        ("town_a1", ["a1企业"]),
        ("town_a2", ["a2企业"]),
    ],
)
def test_visible_to_per_role(register, users, who, expected):
    user = users[who]
    assert visible_names(Enterprise, user) == expected
    # Every model below an enterprise follows it.
    parks = [name.replace("企业", "园区") for name in expected]
    assert visible_names(ChemicalPark, user) == parks
    assert visible_names(MajorHazardSource, user) == [name.replace("企业", "罐区") for name in expected]
    assert Permit.objects.visible_to(user).count() == len(expected)
    assert HazardInventoryLine.objects.visible_to(user).count() == len(expected)


def test_regions_and_users_are_scoped_the_same_way(register, regions, users):
    assert visible_names(Region, users["county_a"]) == ["甲一镇", "甲二镇", "甲县"]
    assert visible_names(Region, users["town_a1"]) == ["甲一镇"]
    assert len(Region.objects.visible_to(users["city"])) == 6
    assert sorted(u.username for u in User.objects.visible_to(users["town_a1"])) == ["town_a1"]
    assert sorted(u.username for u in User.objects.visible_to(users["county_a"])) == ["county_a", "town_a1", "town_a2"]


def test_county_b_sees_nothing_of_county_a(register, regions):
    officer = UserFactory(username="county_b", role=Role.COUNTY, region=regions["county_b"])
    assert visible_names(Enterprise, officer) == ["b1企业"]


def test_users_without_a_region_see_nothing_unless_superuser(register, regions):
    nobody = UserFactory(username="nobody", role=Role.CITY, region=None)
    assert not Enterprise.objects.visible_to(nobody).exists()
    assert not Enterprise.objects.visible_to(AnonymousUser()).exists()
    assert not Enterprise.objects.visible_to(None).exists()
    root = User.objects.create_superuser("root", "root@example.cn", "pass12345")
    assert Enterprise.objects.visible_to(root).count() == 3
    # A superuser placed in a region is limited to it like anyone else.
    root.region = regions["town_b1"]
    root.save()
    assert visible_names(Enterprise, root) == ["b1企业"]


def test_deactivated_user_sees_nothing(register, users):
    officer = users["town_a1"]
    officer.is_active = False
    officer.save()
    assert not Enterprise.objects.visible_to(officer).exists()


# --- Pages: a township officer and another township's enterprise ---------------------------------------


def test_township_officer_cannot_reach_another_townships_enterprise(register, users, client_for):
    client = client_for(users["town_a1"])
    own, other = register["a1"], register["a2"]
    listed = client.get(reverse("enterprises:list"))
    assert [e.name for e in listed.context["page_obj"]] == ["a1企业"]
    assert "a2企业" not in listed.content.decode()
    # Asking by another township's region code does not widen the view.
    filtered = client.get(reverse("enterprises:list"), {"region": "320501002"})
    assert "a2企业" not in filtered.content.decode()

    pk = other["enterprise"].pk
    for url in (
        reverse("enterprises:detail", args=[pk]),
        reverse("enterprises:update", args=[pk]),
        reverse("enterprises:permit_create", args=[pk]),
        reverse("enterprises:permit_update", args=[pk, other["permit"].pk]),
        reverse("enterprises:hazard_update", args=[pk, other["hazard"].pk]),
        reverse("enterprises:tier_set", args=[pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("enterprises:update", args=[pk]), {"name": "篡改"}).status_code == 404
    assert client.post(reverse("enterprises:permit_delete", args=[pk, other["permit"].pk])).status_code == 404
    other["enterprise"].refresh_from_db()
    assert other["enterprise"].name == "a2企业"
    assert Permit.objects.filter(pk=other["permit"].pk).exists()
    # Their own enterprise opens.
    assert client.get(reverse("enterprises:detail", args=[own["enterprise"].pk])).status_code == 200


def test_township_officer_export_holds_only_their_township(register, users, client_for):
    response = client_for(users["town_a1"]).get(reverse("enterprises:export"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes == [register["a1"]["enterprise"].uscc]


def test_township_officer_cannot_open_another_townships_park(register, users, client_for):
    client = client_for(users["town_a1"])
    assert client.get(reverse("parks:detail", args=[register["a2"]["park"].pk])).status_code == 404
    assert client.get(reverse("parks:detail", args=[register["a1"]["park"].pk])).status_code == 200


def test_county_officer_cannot_reach_another_county(register, users, client_for):
    client = client_for(users["county_a"])
    assert client.get(reverse("enterprises:detail", args=[register["b1"]["enterprise"].pk])).status_code == 404
    assert client.get(reverse("parks:update", args=[register["b1"]["park"].pk])).status_code == 404


# --- Admin -----------------------------------------------------------------------------------------------


def admin_url(model, view="changelist", *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_township_officer_cannot_use_the_admin_at_all(register, users, client_for):
    client = client_for(users["town_a1"])
    other = register["a2"]["enterprise"]
    for url in (
        admin_url(Enterprise),
        admin_url(Enterprise, "change", other.pk),
        admin_url(Enterprise, "history", other.pk),
        reverse("admin:autocomplete") + "?app_label=enterprises&model_name=enterprise&field_name=township",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))


def changelist_names(response):
    assert response.status_code == 200
    return sorted(str(obj) for obj in response.context["cl"].result_list)


def test_admin_changelists_exclude_other_regions(register, users, client_for):
    client = client_for(users["county_a"])
    assert changelist_names(client.get(admin_url(Enterprise))) == ["a1企业", "a2企业"]
    assert changelist_names(client.get(admin_url(ChemicalPark))) == ["a1园区", "a2园区"]
    assert changelist_names(client.get(admin_url(MajorHazardSource))) == ["a1罐区", "a2罐区"]
    assert changelist_names(client.get(admin_url(Region))) == ["甲一镇", "甲二镇", "甲县"]
    assert changelist_names(client.get(admin_url(User))) == ["county_a", "town_a1", "town_a2"]
    # A search for another county's enterprise by its code finds nothing.
    found = client.get(admin_url(Enterprise), {"q": register["b1"]["enterprise"].uscc})
    assert changelist_names(found) == []
    assert changelist_names(client_for(users["city"]).get(admin_url(Enterprise))) == ["a1企业", "a2企业", "b1企业"]


@pytest.mark.parametrize("model_key", ["enterprise", "park", "hazard"])
def test_admin_change_page_of_another_county_is_unreachable(register, users, client_for, model_key):
    client = client_for(users["county_a"])
    obj = register["b1"][model_key]
    model = type(obj)
    response = client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 302  # the admin's "does not exist" redirect
    assert response["Location"] == reverse("admin:index")
    assert client.get(admin_url(model, "history", obj.pk)).status_code == 404
    client.post(admin_url(model, "change", obj.pk), {"name": "篡改"})
    client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})
    obj.refresh_from_db()
    assert obj.name != "篡改"


def test_admin_bulk_delete_cannot_reach_another_county(register, users, client_for):
    client = client_for(users["county_a"])
    target = register["b1"]["enterprise"]
    client.post(admin_url(Enterprise), {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"})
    assert Enterprise.objects.filter(pk=target.pk).exists()


def test_admin_foreign_key_choices_are_limited(register, regions, users, client_for):
    client = client_for(users["county_a"])
    form = client.get(admin_url(Enterprise, "add")).context["adminform"].form
    assert set(form.fields["township"].queryset) == {regions["town_a1"], regions["town_a2"]}
    assert set(form.fields["park"].queryset) == {register["a1"]["park"], register["a2"]["park"]}
    hazard_form = client.get(admin_url(MajorHazardSource, "add")).context["adminform"].form
    assert set(hazard_form.fields["enterprise"].queryset) == {
        register["a1"]["enterprise"],
        register["a2"]["enterprise"],
    }
    user_form = client.get(admin_url(User, "add")).context["adminform"].form
    assert set(user_form.fields["region"].queryset) == {regions["county_a"], regions["town_a1"], regions["town_a2"]}


def test_admin_autocomplete_is_limited(register, regions, users, client_for):
    client = client_for(users["county_a"])

    def ids(model_name, field_name):
        response = client.get(
            reverse("admin:autocomplete"),
            {"app_label": "enterprises", "model_name": model_name, "field_name": field_name, "term": ""},
        )
        assert response.status_code == 200
        return {int(result["id"]) for result in response.json()["results"]}

    assert ids("enterprise", "township") == {regions["town_a1"].pk, regions["town_a2"].pk}
    assert ids("enterprise", "park") == {register["a1"]["park"].pk, register["a2"]["park"].pk}
    assert ids("majorhazardsource", "enterprise") == {register["a1"]["enterprise"].pk, register["a2"]["enterprise"].pk}
