"""Enterprise register pages: list filters, search, sorting, scoping, dossier and forms."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from enterprises import services
from enterprises.choices import EnterpriseKind, EnterpriseSize, OperatingStatus, PermitKind
from enterprises.models import Enterprise, KeyHazardousProcess, MajorHazardSource, Permit, YearlyTier
from enterprises.validators import make_uscc

from .factories import ChemicalParkFactory, EnterpriseFactory, PermitFactory, YearlyTierFactory, next_uscc

LIST = reverse("enterprises:list")


def names(response):
    assert response.status_code == 200
    return sorted(e.name for e in response.context["page_obj"])


def ordered_names(response):
    assert response.status_code == 200
    return [e.name for e in response.context["page_obj"]]


@pytest.fixture
def register(regions):
    """Four enterprises: two in township A1 (one in a park), one in A2, one in B1 (county B)."""
    park = ChemicalParkFactory(name="甲一化工园", township=regions["town_a1"])
    today = timezone.localdate()
    alpha = EnterpriseFactory(
        name="阿尔法化工",
        township=regions["town_a1"],
        park=park,
        size=EnterpriseSize.ABOVE,
        annual_sales=Decimal("500"),
    )
    beta = EnterpriseFactory(
        name="贝塔贸易",
        township=regions["town_a1"],
        kind=EnterpriseKind.TRADING,
        size=EnterpriseSize.BELOW,
        annual_sales=Decimal("20"),
    )
    gamma = EnterpriseFactory(
        name="伽马储运", township=regions["town_a2"], status=OperatingStatus.SUSPENDED, annual_sales=Decimal("90")
    )
    delta = EnterpriseFactory(name="德尔塔化学", township=regions["town_b1"], status=OperatingStatus.CLOSED)
    alpha.key_processes.add(KeyHazardousProcess.objects.get(code="nitration"))
    # alpha holds every core permit, valid; beta's work-safety licence has expired; gamma's expires soon.
    for kind in (PermitKind.BUSINESS_LICENCE, PermitKind.WORK_SAFETY, PermitKind.EIA, PermitKind.DISCHARGE):
        PermitFactory(enterprise=alpha, kind=kind, expires_on=today + datetime.timedelta(days=400))
    PermitFactory(enterprise=beta, kind=PermitKind.WORK_SAFETY, expires_on=today - datetime.timedelta(days=3))
    PermitFactory(enterprise=gamma, kind=PermitKind.WORK_SAFETY, expires_on=today + datetime.timedelta(days=20))
    YearlyTierFactory(enterprise=alpha, year=2023, tier=1)
    YearlyTierFactory(enterprise=beta, year=2023, tier=3)
    YearlyTierFactory(enterprise=beta, year=2022, tier=1)
    return {"park": park, "alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}


ALL = ["伽马储运", "德尔塔化学", "贝塔贸易", "阿尔法化工"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL),
        ("kind=trading", ["贝塔贸易"]),
        ("size=above", ["阿尔法化工"]),
        ("status=suspended", ["伽马储运"]),
        ("status=closed", ["德尔塔化学"]),
        ("township=320501001", ["贝塔贸易", "阿尔法化工"]),
        ("region=320501", ["伽马储运", "贝塔贸易", "阿尔法化工"]),
        ("region=320502", ["德尔塔化学"]),
        ("region=320500", ALL),
        ("in_park=yes", ["阿尔法化工"]),
        ("in_park=no", ["伽马储运", "德尔塔化学", "贝塔贸易"]),
        ("key_process=nitration", ["阿尔法化工"]),
        ("tier=3", ["贝塔贸易"]),  # default year: the latest with tiers (2023)
        ("tier=1", ["阿尔法化工"]),
        ("tier=1&tier_year=2022", ["贝塔贸易"]),
        ("tier=none", ["伽马储运", "德尔塔化学"]),
        ("permit=expired", ["贝塔贸易"]),
        ("permit=expiring", ["伽马储运"]),
        ("permit=missing", ["伽马储运", "德尔塔化学", "贝塔贸易"]),
        ("kind=production&status=operating", ["阿尔法化工"]),
    ],
)
def test_list_filters(register, users, client_for, query, expected):
    response = client_for(users["city"]).get(f"{LIST}?{query}")
    assert names(response) == sorted(expected)


def test_park_filter(register, users, client_for):
    response = client_for(users["city"]).get(LIST, {"park": register["park"].pk})
    assert names(response) == ["阿尔法化工"]


def test_renewed_permit_is_not_expired(register, users, client_for):
    PermitFactory(
        enterprise=register["beta"],
        kind=PermitKind.WORK_SAFETY,
        expires_on=timezone.localdate() + datetime.timedelta(days=900),
    )
    response = client_for(users["city"]).get(LIST, {"permit": "expired"})
    assert names(response) == []


def test_filter_panel_keeps_its_values(register, users, client_for):
    response = client_for(users["city"]).get(LIST, {"kind": "trading", "q": "贝塔", "region": "320501"})
    html = response.content.decode()
    assert '<option value="trading" selected>' in html
    assert 'value="贝塔"' in html
    assert '<option value="320501" selected>' in html


def test_tier_column_shows_the_chosen_year(register, users, client_for):
    response = client_for(users["city"]).get(LIST, {"tier_year": "2022"})
    rows = {e.name: e.tier_in_year for e in response.context["page_obj"]}
    assert rows["贝塔贸易"] == 1
    assert rows["阿尔法化工"] is None
    assert response.context["tier_year"] == 2022


@pytest.mark.parametrize("transform", [str, str.lower, lambda c: f" {c[:6]} {c[6:]} "])
def test_search_by_code(register, users, client_for, transform):
    code = register["gamma"].uscc
    response = client_for(users["city"]).get(LIST, {"q": transform(code)})
    assert names(response) == ["伽马储运"]


def test_search_by_full_width_code(register, users, client_for):
    code = register["gamma"].uscc
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code.lower())
    response = client_for(users["city"]).get(LIST, {"q": full_width})
    assert names(response) == ["伽马储运"]


def test_search_by_name_part(register, users, client_for):
    assert names(client_for(users["city"]).get(LIST, {"q": "塔"})) == ["德尔塔化学", "贝塔贸易"]
    assert names(client_for(users["city"]).get(LIST, {"q": "不存在"})) == []


def test_pagination_and_count(regions, users, client_for, settings):
    settings.LIST_PAGE_SIZE = 2
    for index in range(5):
        EnterpriseFactory(name=f"企业{index}", township=regions["town_a1"])
    client = client_for(users["city"])
    first = client.get(LIST)
    assert ordered_names(first) == ["企业0", "企业1"]
    assert first.context["page_obj"].paginator.count == 5
    third = client.get(LIST, {"page": 3})
    assert ordered_names(third) == ["企业4"]
    assert 'data-testid="result-count"' in first.content.decode()
    # Page links keep the filters.
    filtered = client.get(LIST, {"kind": "production"})
    assert "kind=production&amp;page=2" in filtered.content.decode()


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("sales", ["贝塔贸易", "伽马储运", "阿尔法化工", "德尔塔化学"]),
        ("-sales", ["阿尔法化工", "伽马储运", "贝塔贸易", "德尔塔化学"]),  # no sales figure: last both ways
        ("township", ["阿尔法化工", "贝塔贸易", "伽马储运", "德尔塔化学"]),
    ],
)
def test_sorting(register, users, client_for, ordering, expected):
    response = client_for(users["city"]).get(LIST, {"ordering": ordering})
    result = ordered_names(response)
    if ordering == "township":  # two enterprises in A1: compare townships only
        result = [Enterprise.objects.get(name=n).township.code for n in result]
        expected = [Enterprise.objects.get(name=n).township.code for n in expected]
    assert result == expected


def test_sort_by_code_and_name(register, users, client_for):
    client = client_for(users["city"])
    by_code = ordered_names(client.get(LIST, {"ordering": "-code"}))
    assert by_code == [e.name for e in Enterprise.objects.order_by("-uscc")]
    html = client.get(LIST, {"ordering": "name", "kind": "production"}).content.decode()
    # The sorted column links to the reverse order and keeps the filter.
    assert "?ordering=-name&amp;kind=production" in html or "?kind=production&amp;ordering=-name" in html


# --- Region scoping ----------------------------------------------------------------------------


def test_township_officer_sees_only_their_township(register, users, client_for):
    client = client_for(users["town_a1"])
    assert names(client.get(LIST)) == ["贝塔贸易", "阿尔法化工"]
    # Asking for a region outside their own does not widen the view.
    assert names(client.get(LIST, {"region": "320502"})) == ["贝塔贸易", "阿尔法化工"]
    assert client.get(reverse("enterprises:detail", args=[register["gamma"].pk])).status_code == 404
    assert client.get(reverse("enterprises:update", args=[register["gamma"].pk])).status_code == 404
    response = client.post(reverse("enterprises:update", args=[register["gamma"].pk]), {"name": "x"})
    assert response.status_code == 404
    assert Enterprise.objects.get(pk=register["gamma"].pk).name == "伽马储运"
    assert client.get(reverse("enterprises:detail", args=[register["alpha"].pk])).status_code == 200


def test_county_officer_sees_their_county(register, users, client_for):
    assert names(client_for(users["county_a"]).get(LIST)) == ["伽马储运", "贝塔贸易", "阿尔法化工"]


def test_supervisor_cannot_edit_and_sees_no_buttons(register, users, client_for):
    client = client_for(users["supervisor"])
    detail = client.get(reverse("enterprises:detail", args=[register["alpha"].pk]))
    assert detail.status_code == 200
    assert 'data-testid="edit-link"' not in detail.content.decode()
    assert reverse("enterprises:create") not in client.get(LIST).content.decode()
    response = client.get(reverse("enterprises:update", args=[register["alpha"].pk]))
    assert response.status_code == 403
    assert "无权新增或编辑企业" in response.content.decode()
    assert client.post(reverse("enterprises:create"), {}).status_code == 403
    assert client.get(reverse("enterprises:permit_create", args=[register["alpha"].pk])).status_code == 403


def test_anonymous_is_sent_to_login(db, client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# --- Forms ---------------------------------------------------------------------------------------


def enterprise_post(township, **overrides):
    data = {
        "uscc": next_uscc(),
        "name": "新登记化工有限公司",
        "township": township.pk,
        "kind": EnterpriseKind.PRODUCTION,
        "automation_status": "not_required",
        "status": OperatingStatus.OPERATING,
        "reason": "",
    }
    data.update(overrides)
    return data


def form_errors(response, field):
    assert response.status_code == 200, response.status_code
    return response.context["form"].errors.get(field, [])


def test_create_enterprise(regions, users, client_for):
    client = client_for(users["town_a1"])
    code = make_uscc("91320500MA1XYW12A")
    nitration = KeyHazardousProcess.objects.get(code="nitration")
    response = client.post(
        reverse("enterprises:create"),
        enterprise_post(
            regions["town_a1"], uscc=f" {code.lower()} ", key_processes=[nitration.pk], reason="2024 survey"
        ),
    )
    enterprise = Enterprise.objects.get(uscc=code)
    assert response.status_code == 302
    assert response["Location"] == reverse("enterprises:detail", args=[enterprise.pk])
    assert list(enterprise.key_processes.all()) == [nitration]
    record = enterprise.history.latest()
    assert record.history_user == users["town_a1"]
    assert record.history_change_reason == "2024 survey"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91320500ABC", "应为18位"),
        ("91320500MA1XYZ12AI", "不允许使用字符"),
    ],
)
def test_create_rejects_bad_code(regions, users, client_for, code, fragment):
    response = client_for(users["city"]).post(
        reverse("enterprises:create"), enterprise_post(regions["town_a1"], uscc=code)
    )
    errors = form_errors(response, "uscc")
    assert errors and fragment in errors[0]
    assert not Enterprise.objects.exists()


def test_create_rejects_wrong_check_character(regions, users, client_for):
    good = make_uscc("91320500MA1XYW12A")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = client_for(users["city"]).post(
        reverse("enterprises:create"), enterprise_post(regions["town_a1"], uscc=bad)
    )
    assert "校验码" in form_errors(response, "uscc")[0]


def test_create_rejects_township_outside_region(regions, users, client_for):
    response = client_for(users["town_a1"]).post(reverse("enterprises:create"), enterprise_post(regions["town_a2"]))
    assert form_errors(response, "township")
    assert not Enterprise.objects.exists()


def test_create_rejects_duplicate_code(register, users, client_for):
    response = client_for(users["city"]).post(
        reverse("enterprises:create"), enterprise_post(register["alpha"].township, uscc=register["alpha"].uscc.lower())
    )
    assert form_errors(response, "uscc")
    assert Enterprise.objects.filter(uscc=register["alpha"].uscc).count() == 1


def test_form_offers_only_visible_townships_and_county_parks(regions, users, client_for):
    other_park = ChemicalParkFactory(name="甲二园", township=regions["town_a2"])
    far_park = ChemicalParkFactory(name="乙一园", township=regions["town_b1"])
    form = client_for(users["town_a1"]).get(reverse("enterprises:create")).context["form"]
    assert list(form.fields["township"].queryset) == [regions["town_a1"]]
    parks = list(form.fields["park"].queryset)
    assert other_park in parks  # a township officer may place an enterprise in a park of their county
    assert far_park not in parks


def test_edit_enterprise_records_history(register, users, client_for):
    alpha = register["alpha"]
    client = client_for(users["county_a"])
    form = client.get(reverse("enterprises:update", args=[alpha.pk])).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["key_processes"] = [p.pk for p in data.get("key_processes", [])]
    data.update(name="阿尔法化工（改）", annual_sales="600.00", reason="核查更正")
    for field in ("township", "park"):
        data[field] = getattr(alpha, f"{field}_id")
    response = client.post(reverse("enterprises:update", args=[alpha.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    alpha.refresh_from_db()
    assert alpha.name == "阿尔法化工（改）"
    record = alpha.history.latest()
    assert record.history_user == users["county_a"]
    assert record.history_change_reason == "核查更正"
    dossier = client.get(reverse("enterprises:detail", args=[alpha.pk])).content.decode()
    assert "阿尔法化工（改）" in dossier and "核查更正" in dossier and "county_a" in dossier


def test_edit_without_changes_adds_no_history(register, users, client_for):
    alpha = register["alpha"]
    before = alpha.history.count()
    client = client_for(users["city"])
    form = client.get(reverse("enterprises:update", args=[alpha.pk])).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["key_processes"] = [p.pk for p in data.get("key_processes", [])]
    response = client.post(reverse("enterprises:update", args=[alpha.pk]), data)
    assert response.status_code == 302
    assert alpha.history.count() == before


# --- Dossier ---------------------------------------------------------------------------------------


def test_dossier_shows_permit_states_and_missing_permits(register, users, client_for):
    client = client_for(users["city"])
    beta = client.get(reverse("enterprises:detail", args=[register["beta"].pk]))
    html = beta.content.decode()
    assert 'data-state="expired"' in html
    assert 'data-testid="missing-permits"' in html
    assert str(PermitKind.EIA.label) in html
    gamma = client.get(reverse("enterprises:detail", args=[register["gamma"].pk])).content.decode()
    assert 'data-state="expiring"' in gamma
    alpha = client.get(reverse("enterprises:detail", args=[register["alpha"].pk])).content.decode()
    assert 'data-testid="missing-permits"' not in alpha
    assert "dossier_extra" not in alpha  # the block is a template hook, not output


def test_dossier_shows_hazard_sources_and_stop_warning(register, users):
    alpha = register["alpha"]
    source = services.save_hazard_source(
        actor=users["city"],
        enterprise=alpha,
        data={
            "name": "氯气罐区",
            "unit_kind": "tank_farm",
            "declared_level": 3,
            "emergency_shutoff": False,
            "exposed_population": "1_29",
        },
        inventory=[{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal("150")}],
    )
    assert source.computed_level == 1
    from django.test import Client

    client = Client()
    client.force_login(users["city"])
    html = client.get(reverse("enterprises:detail", args=[alpha.pk])).content.decode()
    assert "氯气罐区" in html
    assert "7782-50-5" in html
    assert 'data-testid="must-stop"' in html
    services.save_hazard_source(
        actor=users["city"], enterprise=alpha, hazard_source=source, data={"emergency_shutoff": True}
    )
    html = client.get(reverse("enterprises:detail", args=[alpha.pk])).content.decode()
    assert 'data-testid="must-stop"' not in html


def test_dossier_history_lists_changes_of_children(register, users, client_for):
    beta = register["beta"]
    services.set_yearly_tier(actor=users["city"], enterprise=beta, year=2024, tier=2, reason="年度认定")
    permit = beta.permits.get()
    services.save_permit(actor=users["city"], enterprise=beta, permit=permit, data={"number": "NEW-1"}, reason="换证")
    response = client_for(users["city"]).get(reverse("enterprises:detail", args=[beta.pk]))
    history = response.context["dossier"].history
    reasons = [entry.reason for entry in history]
    assert reasons[:2] == ["换证", "年度认定"]  # newest first
    change = history[0].changes[0]
    assert change.new == "NEW-1"


# --- Permit, tier and hazard-source forms ------------------------------------------------------------


def test_add_edit_delete_permit(register, users, client_for):
    gamma = register["gamma"]
    client = client_for(users["county_a"])
    response = client.post(
        reverse("enterprises:permit_create", args=[gamma.pk]),
        {"kind": "eia", "number": "环审[2020]1号", "issued_on": "2020-01-01", "expires_on": "", "reason": "补录"},
    )
    assert response.status_code == 302
    permit = gamma.permits.get(kind="eia")
    assert permit.history.latest().history_user == users["county_a"]
    response = client.post(
        reverse("enterprises:permit_update", args=[gamma.pk, permit.pk]),
        {"kind": "eia", "number": "环审[2020]2号", "issued_on": "2020-01-01", "expires_on": "2019-01-01"},
    )
    assert "expires_on" in response.context["form"].errors
    response = client.post(reverse("enterprises:permit_delete", args=[gamma.pk, permit.pk]), {"reason": "录错"})
    assert response.status_code == 302
    assert not Permit.objects.filter(pk=permit.pk).exists()


def test_permit_of_another_enterprise_is_404(register, users, client_for):
    permit = register["beta"].permits.get()
    url = reverse("enterprises:permit_update", args=[register["alpha"].pk, permit.pk])
    assert client_for(users["city"]).get(url).status_code == 404


def test_set_tier(register, users, client_for):
    response = client_for(users["town_a1"]).post(
        reverse("enterprises:tier_set", args=[register["alpha"].pk]), {"year": 2024, "tier": 3, "note": ""}
    )
    assert response.status_code == 302
    assert YearlyTier.objects.get(enterprise=register["alpha"], year=2024).tier == 3
    bad = client_for(users["town_a1"]).post(
        reverse("enterprises:tier_set", args=[register["alpha"].pk]), {"year": 1990, "tier": 5}
    )
    assert set(bad.context["form"].errors) == {"year", "tier"}


def _hazard_post(**overrides):
    data = {
        "name": "液氨储罐",
        "unit_kind": "tank_farm",
        "exposed_population": "1_29",
        "declared_level": "",
        "filing_number": "",
        "emergency_shutoff": "on",
        "inventory-TOTAL_FORMS": "3",
        "inventory-INITIAL_FORMS": "0",
        "inventory-MIN_NUM_FORMS": "0",
        "inventory-MAX_NUM_FORMS": "1000",
        "inventory-0-substance": "7664-41-7",
        "inventory-0-max_quantity_t": "100",
    }
    data.update(overrides)
    return data


def test_create_hazard_source_with_inventory(register, users, client_for):
    alpha = register["alpha"]
    response = client_for(users["city"]).post(reverse("enterprises:hazard_create", args=[alpha.pk]), _hazard_post())
    assert response.status_code == 302
    source = MajorHazardSource.objects.get(enterprise=alpha)
    assert source.inventory.count() == 1
    assert source.computed_level is not None


def test_hazard_source_ambiguous_substance_is_refused_with_the_choices(register, users, client_for):
    alpha = register["alpha"]
    response = client_for(users["city"]).post(
        reverse("enterprises:hazard_create", args=[alpha.pk]), _hazard_post(**{"inventory-0-substance": "硝化棉"})
    )
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert errors and "表1-37" in errors[0] and "表1-41" in errors[0] and "表1-42" not in errors[0]
    assert not MajorHazardSource.objects.exists()


def test_hazard_source_unknown_substance_is_saved_and_says_its_category_is_missing(register, users, client_for):
    alpha = register["alpha"]
    client = client_for(users["city"])
    response = client.post(
        reverse("enterprises:hazard_create", args=[alpha.pk]), _hazard_post(**{"inventory-0-substance": "某中间体"})
    )
    assert response.status_code == 302
    source = MajorHazardSource.objects.get(enterprise=alpha)
    assert (source.computed_level, source.is_major) == (None, None)
    html = client.get(reverse("enterprises:detail", args=[alpha.pk])).content.decode()
    assert "某中间体" in html and 'data-testid="why-not"' in html
    # Given its category (丙烯-like flammable gas, 表2 W2: Q 10 t, β 1.5), it is graded.
    response = client.post(
        reverse("enterprises:hazard_update", args=[alpha.pk, source.pk]),
        _hazard_post(**{"inventory-0-substance": "某中间体", "inventory-0-categories": "w2"}),
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.s_value, source.r_value, source.computed_level) == (Decimal("10"), Decimal("15"), 3)


def test_home_dashboard_permit_figures(register, users, client_for):
    response = client_for(users["city"]).get(reverse("home"))
    figures = response.context["enterprises"]
    assert (figures.total, figures.in_park) == (4, 1)
    assert (figures.permit_expired, figures.permit_expiring, figures.permit_missing) == (1, 1, 3)
    by_kind = {value: count for value, _label, count in figures.by_kind}
    assert by_kind["trading"] == 1 and by_kind["production"] == 3
    html = response.content.decode()
    assert f"{LIST}?permit=expired" in html
    # A township officer's dashboard counts only their township.
    mine = client_for(users["town_a2"]).get(reverse("home")).context["enterprises"]
    assert (mine.total, mine.permit_expiring, mine.permit_expired) == (1, 1, 0)


def test_dossier_shows_the_expired_permit_flag_the_worker_set(register, users, client_for):
    url = reverse("enterprises:detail", args=[register["alpha"].pk])
    client = client_for(users["city"])
    assert 'data-testid="permit-expired-flag"' not in client.get(url).content.decode()
    Enterprise.objects.filter(pk=register["alpha"].pk).update(permit_expired_since=datetime.date(2026, 3, 1))
    assert 'data-testid="permit-expired-flag"' in client.get(url).content.decode()
