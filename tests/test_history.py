"""The change history a person reads (issue 10, section 3): linked records by name, many-to-many changes as
names added and removed, coded values by their labels, deleted records by their last known name, nothing
written where nothing changed (forms, services, the roster import, bulk writes), and a dossier whose query
count does not grow with its history."""

import itertools
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from simple_history.utils import bulk_update_with_history

from accounts.models import Department
from enterprises import services
from enterprises.choices import OperatingStatus, PermitKind
from enterprises.models import Enterprise, KeyHazardousProcess
from enterprises.selectors import enterprise_history
from imports import services as import_services
from inspections import services as inspection_services
from inspections.choices import InspectionKind, InspectionResult, Severity
from parks import services as park_services
from parks.selectors import park_history
from rectification import services as rectification_services
from rectification.choices import Category

from .factories import CampaignFactory, ChemicalParkFactory, next_uscc
from .import_support import roster_upload, row
from .test_query_counts import check_against_baseline, count_queries

ProcessHistory = apps.get_model("enterprises", "HistoricalEnterprise_key_processes")


def processes(*codes):
    found = {p.code: p for p in KeyHazardousProcess.objects.filter(code__in=codes)}
    return [found[code] for code in codes]


def new_enterprise(actor, township, *, name="临港示范化工有限公司", park=None, key_processes=(), **data):
    return services.create_enterprise(
        actor=actor,
        data={"uscc": next_uscc(), "name": name, "township": township, "park": park, **data},
        key_processes=list(key_processes),
    )


def dossier_html(client, enterprise) -> str:
    return client.get(reverse("enterprises:detail", args=[enterprise.pk])).content.decode()


def only_change(entries, field):
    """The one change of `field` in the newest entry (which must change nothing else)."""
    changes = entries[0].changes
    assert [change.field for change in changes] == [field], changes
    return changes[0]


@pytest.fixture
def parks(regions):
    return {
        "lingang": ChemicalParkFactory(name="临港化工园区", township=regions["town_a1"]),
        "xinqiao": ChemicalParkFactory(name="新桥化工集聚区", township=regions["town_a2"]),
    }


# --- Linked records by name ----------------------------------------------------------------------------


def test_an_enterprise_moved_between_parks_shows_both_names(regions, users, parks, client_for):
    actor = users["city"]
    enterprise = new_enterprise(actor, regions["town_a1"], park=parks["lingang"])
    services.update_enterprise(
        actor=actor,
        enterprise=enterprise,
        data={"park": parks["xinqiao"]},
        reason="搬迁入园",
        confirm_park_outside_township=True,  # 新桥 lies in 甲二镇
    )

    change = only_change(enterprise_history(enterprise), "park")
    assert (change.label, change.old, change.new) == ("化工园区", "临港化工园区", "新桥化工集聚区")
    html = dossier_html(client_for(actor), enterprise)
    assert "化工园区: <del>临港化工园区</del> → <ins>新桥化工集聚区</ins>" in html
    assert f"<del>{parks['lingang'].pk}</del>" not in html

    # Out of any park: the empty side is a dash, not "None".
    services.update_enterprise(actor=actor, enterprise=enterprise, data={"park": None})
    change = only_change(enterprise_history(enterprise), "park")
    assert (change.old, change.new) == ("新桥化工集聚区", "—")


def test_a_township_change_shows_both_townships(regions, users, client_for):
    actor = users["county_a"]
    enterprise = new_enterprise(actor, regions["town_a1"])
    services.update_enterprise(actor=actor, enterprise=enterprise, data={"township": regions["town_a2"]})

    change = only_change(enterprise_history(enterprise), "township")
    assert (change.label, change.old, change.new) == ("乡镇（街道）", "甲一镇", "甲二镇")
    assert "<del>甲一镇</del> → <ins>甲二镇</ins>" in dossier_html(client_for(actor), enterprise)


def test_coded_values_show_their_labels(regions, users, client_for):
    actor = users["city"]
    enterprise = new_enterprise(actor, regions["town_a1"], kind="production")
    services.update_enterprise(
        actor=actor, enterprise=enterprise, data={"status": OperatingStatus.CLOSED, "near_protected_river": True}
    )
    changes = {change.field: (change.old, change.new) for change in enterprise_history(enterprise)[0].changes}
    assert changes == {"near_protected_river": ("否", "是"), "status": ("在产", "关闭")}
    html = dossier_html(client_for(actor), enterprise)
    assert "<del>在产</del> → <ins>关闭</ins>" in html and "closed" not in html.split('id="history"')[1]


def test_deleted_linked_records_show_their_last_known_name(regions, users, parks, client_for):
    actor = users["city"]
    old_park = ChemicalParkFactory(name="旧港化工园区", township=regions["town_a1"])
    enterprise = new_enterprise(actor, regions["town_a1"], park=old_park, key_processes=processes("nitration"))
    services.update_enterprise(
        actor=actor,
        enterprise=enterprise,
        data={"park": parks["lingang"]},
        key_processes=processes("nitration", "chlorination"),
    )
    park_services.update_park(actor=actor, park=old_park, data={"name": "旧港化工园区（撤销）"}, reason="更名")
    old_park_id = old_park.pk
    old_park.delete()
    chlorination = processes("chlorination")[0]
    chlorination_id = chlorination.pk
    chlorination.delete()  # reference data without history: no name left to show

    changes = {change.field: change for change in enterprise_history(enterprise)[0].changes}
    assert (changes["park"].old, changes["park"].new) == ("旧港化工园区（撤销）", "临港化工园区")
    assert changes["key_processes"].added == [f"（已删除 #{chlorination_id}）"]
    html = dossier_html(client_for(actor), enterprise)
    assert "旧港化工园区（撤销）" in html and f"<del>{old_park_id}</del>" not in html


def test_the_park_dossier_names_townships(regions, users, client_for):
    actor = users["city"]
    park = park_services.create_park(
        actor=actor,
        data={"code": "P-LG", "name": "临港化工园区", "township": regions["town_a1"], "level": "municipal"},
    )
    park_services.update_park(actor=actor, park=park, data={"township": regions["town_b1"]}, reason="区划调整")
    change = only_change(park_history(park), "township")
    assert (change.old, change.new) == ("甲一镇", "乙一镇")
    html = client_for(actor).get(reverse("parks:detail", args=[park.pk])).content.decode()
    assert "<del>甲一镇</del> → <ins>乙一镇</ins>" in html


def test_the_finding_page_names_the_responsible_department(regions, users, client_for):
    actor = users["county_a"]
    safety = Department.objects.create(name="示范应急管理局")
    ecology = Department.objects.create(name="示范生态环境局")
    enterprise = new_enterprise(actor, regions["town_a1"])
    inspection = inspection_services.record_inspection(
        actor=actor,
        kind=InspectionKind.DAILY,
        inspected_on=__import__("datetime").date(2021, 3, 1),
        enterprise=enterprise,
        result=InspectionResult.ISSUES_FOUND,
        findings=[
            {
                "area": "work_safety",
                "severity": Severity.GENERAL,
                "description": "安全出口堵塞",
                "responsible_department": safety,
            }
        ],
    )
    finding = inspection.findings.get()
    inspection_services.update_finding(
        finding=finding, actor=actor, data={"responsible_department": ecology}, reason="职责调整"
    )
    response = client_for(actor).get(reverse("inspections:finding_detail", args=[finding.pk]))
    change = response.context["history"][0].changes[0]
    assert (change.old, change.new) == ("示范应急管理局", "示范生态环境局")
    assert "<del>示范应急管理局</del> → <ins>示范生态环境局</ins>" in response.content.decode()


def test_the_classification_timeline_names_destination_parks(regions, users, parks, client_for):
    town = users["town_a1"]
    enterprise = new_enterprise(town, regions["town_a1"])
    campaign = CampaignFactory(name="四个一批专项行动")
    rectification_services.propose_classification(
        enterprise, campaign, Category.RELOCATE, town, destination_park=parks["lingang"]
    )
    rectification_services.propose_classification(
        enterprise, campaign, Category.RELOCATE, town, destination_park=parks["xinqiao"]
    )
    html = dossier_html(client_for(town), enterprise)
    assert "临港化工园区</del> → <ins" in html and "新桥化工集聚区</ins>" in html


# --- Many-to-many: names added and removed, one entry per change ---------------------------------------


def test_key_processes_added_and_removed_show_names_in_one_entry(regions, users, client_for):
    actor = users["city"]
    enterprise = new_enterprise(actor, regions["town_a1"], key_processes=processes("nitration", "chlorination"))
    # Created with its processes: one "created" row that holds them (no extra row per process added).
    created = enterprise.history.get()
    assert created.history_type == "+"
    assert set(ProcessHistory.objects.filter(history=created).values_list("keyhazardousprocess__code", flat=True)) == {
        "nitration",
        "chlorination",
    }

    changed = services.update_enterprise(
        actor=actor, enterprise=enterprise, key_processes=processes("chlorination", "hydrogenation"), data={}
    )
    assert changed == ["key_processes"]
    assert enterprise.history.count() == 2  # one row for the change, not one per removal and addition
    change = only_change(enterprise_history(enterprise), "key_processes")
    nitration, hydrogenation = processes("nitration", "hydrogenation")
    assert change.many and (change.added, change.removed) == ([hydrogenation.name], [nitration.name])

    html = dossier_html(client_for(actor), enterprise)
    assert f"<ins>新增 {hydrogenation.name}</ins>" in html and f"<del>删除 {nitration.name}</del>" in html

    # Fields and processes changed together: still one entry.
    services.update_enterprise(
        actor=actor, enterprise=enterprise, data={"staff_count": 80}, key_processes=processes("chlorination")
    )
    assert enterprise.history.count() == 3
    assert [c.field for c in enterprise_history(enterprise)[0].changes] == ["staff_count", "key_processes"]


# --- Nothing written where nothing changed -------------------------------------------------------------


def run_import(user, campaign, rows):
    record = import_services.start_import(file=roster_upload(rows), user=user, campaign=campaign)
    import_services.preview(record, user)
    record.refresh_from_db()
    import_services.commit(record, user)
    return record


def test_an_import_not_touching_key_processes_writes_nothing_about_them(regions, users):
    user = users["town_a1"]
    campaign = CampaignFactory(name="四个一批专项行动")
    enterprise = new_enterprise(
        user, regions["town_a1"], name="甲一硝化厂", key_processes=processes("nitration", "chlorination")
    )
    run_import(user, campaign, [row(enterprise.uscc, "甲一硝化厂（更名）", address="甲一镇化工路1号")])

    entries = enterprise_history(enterprise)
    assert [change.field for change in entries[0].changes] == ["name", "address"]
    assert entries[0].reason.startswith("导入 #")
    # The import's row records the processes as they are, so the next change does not show them either.
    enterprise.refresh_from_db()
    services.update_enterprise(actor=user, enterprise=enterprise, data={"contact_phone": "0512-1234567"})
    assert [change.field for change in enterprise_history(enterprise)[0].changes] == ["contact_phone"]

    # The same roster again: the unchanged row writes no history at all.
    rows_before, processes_before = enterprise.history.count(), ProcessHistory.objects.count()
    run_import(user, campaign, [row(enterprise.uscc, "甲一硝化厂（更名）", address="甲一镇化工路1号")])
    assert (enterprise.history.count(), ProcessHistory.objects.count()) == (rows_before, processes_before)


def test_bulk_history_rows_record_key_processes(regions, users):
    """A bulk write through simple-history (the demo closing enterprises) keeps the processes in its rows."""
    actor = users["city"]
    enterprise = new_enterprise(actor, regions["town_a1"], key_processes=processes("nitration"))
    enterprise.status = OperatingStatus.CLOSED
    bulk_update_with_history([enterprise], Enterprise, ["status"], default_change_reason="验收关闭")
    change = only_change(enterprise_history(enterprise), "status")
    assert (change.old, change.new) == ("在产", "关闭")


@pytest.mark.django_db
def test_demo_enterprises_show_no_key_process_change_they_did_not_have(users):
    """The demo writes its rows in bulk (created, then closed by accepted shutdowns): every row keeps the
    processes, so no entry claims they were added or removed, and a later edit shows only itself."""
    call_command("demo", "--force", stdout=StringIO())
    with_processes = Enterprise.objects.filter(key_processes__isnull=False).distinct()
    closed = with_processes.filter(status=OperatingStatus.CLOSED)
    assert closed.exists()  # closed by the rectification demo, in bulk, after their creation
    for enterprise in list(closed[:20]) + list(with_processes[:5]):
        assert enterprise.history.count() >= 1
        changes = [change.field for entry in enterprise_history(enterprise) for change in entry.changes]
        assert "key_processes" not in changes, enterprise
    enterprise = closed.first()
    admin = get_user_model().objects.get(username="admin")
    services.update_enterprise(actor=admin, enterprise=enterprise, data={"contact_person": "王工"})
    assert [change.field for change in enterprise_history(enterprise)[0].changes] == ["contact_person"]


def test_a_form_save_without_changes_adds_no_entry(regions, users, parks, client_for):
    actor = users["county_a"]
    enterprise = new_enterprise(
        actor, regions["town_a1"], park=parks["lingang"], key_processes=processes("nitration"), annual_sales=500
    )
    client = client_for(actor)
    url = reverse("enterprises:update", args=[enterprise.pk])
    data = {name: value for name, value in client.get(url).context["form"].initial.items() if value is not None}
    data["key_processes"] = [p.pk for p in data["key_processes"]]
    data["reason"] = "核对，无变化"
    before = (enterprise.history.count(), ProcessHistory.objects.count())
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    assert (enterprise.history.count(), ProcessHistory.objects.count()) == before
    enterprise.refresh_from_db()
    assert enterprise.version == 1

    # The park form too.
    park = parks["lingang"]
    url = reverse("parks:update", args=[park.pk])
    form = client_for(users["city"]).get(url).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None and value is not False}
    before = park.history.count()
    response = client_for(users["city"]).post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    assert park.history.count() == before


def test_saving_a_hazard_source_unchanged_adds_no_entry(regions, users):
    actor = users["city"]
    enterprise = new_enterprise(actor, regions["town_a1"])
    inventory = [{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal("100")}]
    data = {"name": "液氯罐区", "unit_kind": "tank_farm", "exposed_population": "1_29"}
    source = services.save_hazard_source(actor=actor, enterprise=enterprise, data=data, inventory=inventory)
    lines = list(source.inventory.values_list("pk", flat=True))
    before = (source.history.count(), source.version)
    again = services.save_hazard_source(
        actor=actor,
        enterprise=enterprise,
        hazard_source=source,
        data=dict(data),
        inventory=[{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal("100.000")}],
    )
    assert (again.history.count(), again.version) == before
    assert list(again.inventory.values_list("pk", flat=True)) == lines  # the lines were not replaced

    # A real change of the inventory shows as a change of R in the source's history.
    services.save_hazard_source(
        actor=actor,
        enterprise=enterprise,
        hazard_source=source,
        data={},
        inventory=[{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal("50")}],
    )
    fields = [change.field for change in enterprise_history(enterprise)[0].changes]
    assert "r_value" in fields


# --- Cost ---------------------------------------------------------------------------------------------


PERMIT_NUMBERS = itertools.count(1)


def make_history(actor, enterprise, regions, parks, rounds):
    """Each round changes the enterprise (park, township, processes, status), a permit, a tier and a hazard
    source: every kind of linked record the history names."""
    for index in range(rounds):
        odd = index % 2
        services.update_enterprise(
            actor=actor,
            enterprise=enterprise,
            data={
                "park": parks["xinqiao"] if odd else parks["lingang"],
                "township": regions["town_a2"] if odd else regions["town_a1"],
                "status": OperatingStatus.SUSPENDED if odd else OperatingStatus.OPERATING,
            },
            key_processes=processes("nitration") if odd else processes("chlorination", "hydrogenation"),
            reason=f"第{index}次核查",
        )
        services.save_permit(
            actor=actor,
            enterprise=enterprise,
            data={"kind": PermitKind.EIA, "number": f"环审〔2021〕{next(PERMIT_NUMBERS)}号"},
        )
        services.set_yearly_tier(actor=actor, enterprise=enterprise, year=2020, tier=1 + odd)
        services.save_hazard_source(
            actor=actor,
            enterprise=enterprise,
            data={"name": f"罐区{index}", "unit_kind": "tank_farm"},
            hazard_source=enterprise.hazard_sources.first(),
            inventory=[{"chemical_name": "氯", "cas": "7782-50-5", "max_quantity_t": Decimal(10 + index)}],
        )


def test_dossier_query_count_does_not_grow_with_its_history(regions, users, parks, client_for):
    actor = users["city"]
    enterprise = new_enterprise(actor, regions["town_a1"], park=parks["lingang"], key_processes=processes("nitration"))
    client = client_for(actor)
    url = reverse("enterprises:detail", args=[enterprise.pk])
    make_history(actor, enterprise, regions, parks, rounds=2)
    few = count_queries(client, url)
    make_history(actor, enterprise, regions, parks, rounds=30)
    assert enterprise.history.count() > 30
    many = count_queries(client, url)
    assert many == few, f"2 rounds of changes cost {few} queries, 32 rounds {many}: a query per history row"
    check_against_baseline("enterprise_detail_long_history", many)
    # Every kind of change is named on the page, none by its id.
    history = client.get(url).context["dossier"].history
    shown = {change.field: change for entry in history for change in entry.changes}
    assert {"park", "township", "key_processes", "status"} <= set(shown)
    assert shown["park"].new in ("临港化工园区", "新桥化工集聚区")
