"""Duties of major hazard sources (issue 12): breaches flagged by the daily check as major accident hazard findings
once per breach (not again while open), the township and county told; the form's live grading, the calculator,
the set-based recompute, and the as-of shares for the quarterly report."""

import datetime
import itertools
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from core.deadline_checks import check_hazard_duties, run_deadline_checks
from core.models import Notification, NotificationKind
from enterprises import services
from enterprises.choices import HazardDuty, OperatingStatus
from enterprises.hazards import breach_q, breaches
from enterprises.models import Enterprise, HazardInventoryLine, MajorHazardSource
from enterprises.selectors import hazard_duty_shares_as_of
from inspections.choices import FindingStatus, Severity
from inspections.models import Finding

from .factories import EnterpriseFactory

ON = datetime.date(2021, 3, 31)
CHLORINE = {"substance": "氯", "max_quantity_t": Decimal("100")}  # 表1 Q 5, 表3 β 4: S 20; α 1 → R 80, 二级


def source(actor, enterprise, name, inventory=(CHLORINE,), **data):
    fields = {"name": name, "unit_kind": "tank_farm", "exposed_population": "1_29", **data}
    return services.save_hazard_source(actor=actor, enterprise=enterprise, data=fields, inventory=list(inventory))


@pytest.fixture
def plant(regions, users):
    enterprise = EnterpriseFactory(name="甲一氯碱厂", township=regions["town_a1"])
    return {
        "enterprise": enterprise,
        # Level 2 tank farm: monitored, no video, no shut-off → video, shutoff, must_stop.
        "tank": source(users["city"], enterprise, "液氯罐区", automated_monitoring=True),
        # Fully equipped: no breach.
        "ok": source(
            users["city"],
            enterprise,
            "氯化车间",
            unit_kind="production",
            automated_monitoring=True,
            video_to_park=True,
            emergency_shutoff=True,
        ),
        # S = 0.2: not a major hazard source by its inventory, so no duty (though filed as level 3).
        "small": source(
            users["city"],
            enterprise,
            "甲醇中间罐",
            inventory=[{"substance": "甲醇", "max_quantity_t": "100"}],
            declared_level=3,
        ),
    }


def test_breaches_become_major_findings_once_and_the_township_and_county_are_told(plant, users, regions):
    tank = plant["tank"]
    assert (tank.computed_level, tank.r_value) == (2, Decimal("80"))
    closed = EnterpriseFactory(name="已关闭厂", township=regions["town_a2"], status=OperatingStatus.CLOSED)
    source(users["city"], closed, "旧罐区")  # a closed site holds no duty

    result = check_hazard_duties(ON)

    findings = Finding.objects.order_by("hazard_duty")
    assert [(f.hazard_source_id, f.hazard_duty) for f in findings] == [
        (tank.pk, HazardDuty.MUST_STOP),
        (tank.pk, HazardDuty.SHUTOFF),
        (tank.pk, HazardDuty.VIDEO),
    ]
    assert all(
        f.severity == Severity.MAJOR and f.enterprise == plant["enterprise"] and f.status == FindingStatus.OPEN
        for f in findings
    )
    assert "液氯罐区" in findings[0].description and findings[0].legal_basis
    assert "2021-03-31" in findings[0].history.get().history_change_reason
    told = Notification.objects.filter(kind=NotificationKind.HAZARD_DUTY_BREACH)
    assert sorted({n.recipient.username for n in told}) == ["county_a", "town_a1"]
    assert result == {
        "hazard_duty_findings": 3,
        "by_duty": {"video": 1, "shutoff": 1, "must_stop": 1},
        "notifications": 6,
    }

    # Not again while open (nor being fixed, awaiting verification or reopened)…
    Finding.objects.filter(hazard_duty=HazardDuty.SHUTOFF).update(status=FindingStatus.AWAITING_VERIFICATION)
    assert check_hazard_duties(ON + datetime.timedelta(days=1)) == {
        "hazard_duty_findings": 0,
        "by_duty": {},
        "notifications": 0,
    }
    # …but once closed, a breach still there is found again.
    Finding.objects.filter(hazard_duty=HazardDuty.VIDEO).update(
        status=FindingStatus.CLOSED, verified_by=users["county_a"]
    )
    again = check_hazard_duties(ON + datetime.timedelta(days=2))
    assert again["by_duty"] == {"video": 1} and again["notifications"] == 2
    # Fixed: equipping the unit ends the breaches (nothing new is recorded).
    services.save_hazard_source(
        actor=users["city"],
        enterprise=plant["enterprise"],
        hazard_source=tank,
        data={"video_to_park": True, "emergency_shutoff": True},
    )
    assert breaches(MajorHazardSource.objects.select_related("enterprise").get(pk=tank.pk)) == []


def test_the_daily_run_includes_the_hazard_duties_and_is_idempotent(plant):
    first = run_deadline_checks(ON, send_email=False)
    assert first["hazard_duties"]["hazard_duty_findings"] == 3
    second = run_deadline_checks(ON, send_email=False)
    assert second["hazard_duties"] == {"hazard_duty_findings": 0, "by_duty": {}, "notifications": 0}


def test_beat_grades_before_the_deadline_checks():
    schedule = settings.CELERY_BEAT_SCHEDULE
    recompute, checks = schedule["recompute-hazard-levels"]["schedule"], schedule["check-deadlines"]["schedule"]
    assert (min(recompute.hour), min(recompute.minute)) < (min(checks.hour), min(checks.minute))


def test_filed_but_ungradable_sources_keep_their_duties(users, regions):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    unknown = source(
        users["city"],
        enterprise,
        "中间体仓库",
        unit_kind="warehouse",
        inventory=[{"substance": "某中间体", "max_quantity_t": "3"}],
        declared_level=2,
    )
    assert (unknown.is_major, unknown.computed_level) == (None, None)
    unknown = MajorHazardSource.objects.select_related("enterprise").get(pk=unknown.pk)
    # Monitoring and video are owed; "must stop" needs a computed level 1 or 2, never the filed one.
    assert breaches(unknown) == ["monitoring", "video"]


def test_breach_query_and_python_rule_agree(regions):
    operating = EnterpriseFactory(township=regions["town_a1"])
    closed = EnterpriseFactory(township=regions["town_a1"], status=OperatingStatus.CLOSED)
    grading_states = [
        (True, None, 2),
        (True, 3, 3),
        (False, 2, None),
        (None, 2, None),
        (None, None, None),
        (True, None, 1),
    ]
    rows = []
    for n, (state, kind, monitored, video, shutoff, holds, owner) in enumerate(
        itertools.product(
            grading_states,
            ["tank_farm", "production", "warehouse"],
            [True, False],
            [True, False],
            [True, False],
            [True, False],
            [operating, closed],
        )
    ):
        is_major, declared, computed = state
        rows.append(
            MajorHazardSource(
                enterprise=owner,
                name=f"单元{n}",
                unit_kind=kind,
                is_major=is_major,
                declared_level=declared,
                computed_level=computed,
                automated_monitoring=monitored,
                video_to_park=video,
                emergency_shutoff=shutoff,
                holds_shutoff_substances=holds,
            )
        )
    MajorHazardSource.objects.bulk_create(rows)
    everything = list(MajorHazardSource.objects.select_related("enterprise"))
    for duty in HazardDuty:
        by_query = set(MajorHazardSource.objects.filter(breach_q(duty)).values_list("pk", flat=True))
        by_python = {s.pk for s in everything if duty in breaches(s)}
        assert by_query == by_python, duty
        assert by_query  # every duty is breached somewhere in the grid


# --- The form's live grading and the calculator --------------------------------------------------------------


def lines_query(*lines, people="over_100"):
    query = {"exposed_population": people, "inventory-TOTAL_FORMS": str(len(lines))}
    for index, (substance, tonnes, *categories) in enumerate(lines):
        query[f"inventory-{index}-substance"] = substance
        query[f"inventory-{index}-max_quantity_t"] = tonnes
        query[f"inventory-{index}-categories"] = categories[0] if categories else ""
    return query


def test_grading_endpoint_answers_as_the_user_types(users, client_for):
    client = client_for(users["town_a1"])
    body = client.get(reverse("enterprises:hazard_grading"), lines_query(("液氯", "20"), ("7664-41-7", "50"))).json()
    assert (body["S"], body["R"], body["alpha"], body["level"]) == (9, 52, 2, 2)
    assert "表3" in body["html"] and "表5" in body["html"] and "表6" in body["html"]
    body = client.get(reverse("enterprises:hazard_grading"), lines_query(("丙烯", "20"), people="")).json()
    assert body["level"] is None and body["errors"][0]["line"] == 1 and "表2" in body["errors"][0]["message"]
    assert client.get(reverse("enterprises:hazard_grading")).json() == {"empty": True, "html": ""}


def test_calculator_grades_without_saving(users, client_for):
    client = client_for(users["supervisor"])
    page = client.get(reverse("enterprises:hazard_calculator"))
    assert page.status_code == 200 and "gb18218-substances" in page.content.decode()
    html = client.get(
        reverse("enterprises:hazard_calculator"), lines_query(("甲醇", "500"), people="none")
    ).content.decode()
    assert "四级" in html and "R = α Σ βq/Q" in html
    assert not MajorHazardSource.objects.exists()


def test_grading_pages_serve_their_script_from_static_with_no_inline_script():
    templates = Path(settings.BASE_DIR) / "templates" / "enterprises"
    for name in ("hazard_form.html", "hazard_calculator.html", "_hazard_grading.html"):
        text = (templates / name).read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), name
    assert (Path(settings.BASE_DIR) / "static" / "enterprises" / "hazard-grading.js").exists()


def test_hazard_form_shows_the_grading_of_the_saved_source(plant, users, client_for):
    url = reverse("enterprises:hazard_update", args=[plant["enterprise"].pk, plant["tank"].pk])
    html = client_for(users["city"]).get(url).content.decode()
    assert 'id="hazard-grading"' in html and "二级" in html and "hazard-grading.js" in html


# --- The recompute is set-based -------------------------------------------------------------------------------


def test_recompute_queries_do_not_grow_with_the_sources(users, regions):
    enterprise = EnterpriseFactory(township=regions["town_a1"])

    def stale(count):
        MajorHazardSource.objects.all().delete()
        for n in range(count):
            unit = MajorHazardSource.objects.create(
                enterprise=enterprise, name=f"罐{n}", unit_kind="tank_farm", exposed_population="1_29"
            )
            HazardInventoryLine.objects.create(hazard_source=unit, chemical_name="氨", max_quantity_t=Decimal("50"))
        with CaptureQueriesContext(connection) as queries:
            assert services.recompute_hazard_levels() == count
        return len(queries)

    assert stale(2) == stale(12)
    # 50 t ammonia (bulk-loaded, matched to 表1-1 by name): S = 5, R = 1.0 × 2 × 5 = 10 exactly → 三级.
    assert set(MajorHazardSource.objects.values_list("computed_level", flat=True)) == {3}


# --- Shares for the quarterly report, as of a moment ----------------------------------------------------------


def test_duty_shares_as_of_a_moment(users, regions):
    a1, a2 = regions["town_a1"], regions["town_a2"]
    e1 = EnterpriseFactory(township=a1)
    e2 = EnterpriseFactory(township=a2)
    s1 = source(users["city"], e1, "罐区1", automated_monitoring=True, video_to_park=True)  # chlorine: needs shut-off
    source(users["city"], e1, "罐区2", inventory=[{"substance": "甲醇", "max_quantity_t": "600"}])  # no shut-off need
    source(users["city"], e1, "小罐", inventory=[{"substance": "甲醇", "max_quantity_t": "10"}])  # not major
    source(users["city"], e2, "罐区3", automated_monitoring=True, emergency_shutoff=True)
    earlier = timezone.now() - datetime.timedelta(days=10)
    for model in (MajorHazardSource, Enterprise):
        model.history.model.objects.update(history_date=earlier)
    between = earlier + datetime.timedelta(days=1)
    # Later: 罐区1 gets its emergency shut-off; e2 closes.
    services.save_hazard_source(actor=users["city"], enterprise=e1, hazard_source=s1, data={"emergency_shutoff": True})
    services.update_enterprise(actor=users["city"], enterprise=e2, data={"status": OperatingStatus.CLOSED})

    then = hazard_duty_shares_as_of(regions["county_a"].path, between)
    assert then == {
        a1.path: {"sources": 2, "monitored": 1, "video": 1, "shutoff_needed": 1, "shutoff": 0},
        a2.path: {"sources": 1, "monitored": 1, "video": 0, "shutoff_needed": 1, "shutoff": 1},
    }
    now = hazard_duty_shares_as_of(regions["county_a"].path, timezone.now() + datetime.timedelta(seconds=1))
    assert now == {a1.path: {"sources": 2, "monitored": 1, "video": 1, "shutoff_needed": 1, "shutoff": 1}}
    assert hazard_duty_shares_as_of(regions["county_b"].path, timezone.now()) == {}


def test_dossier_and_api_show_computed_vs_filed_and_why(plant, users, regions, client_for):
    from .api_support import api_client_for

    small = plant["small"]  # 100 t methanol (S = 0.2), filed as level 3
    assert (small.computed_level, small.is_major, small.declared_level) == (None, False, 3)
    with translation.override("zh-hans"):
        html = client_for(users["city"]).get(reverse("enterprises:detail", args=[plant["enterprise"].pk]))
    text = html.content.decode()
    assert "按存量不构成重大危险源（S = 0.20 &lt; 1）" in text
    rows = {row.source.name: row for row in html.context["dossier"].hazards}
    assert rows["甲醇中间罐"].level_differs is True and rows["甲醇中间罐"].breaches == []
    assert len(rows["液氯罐区"].breaches) == 3 and rows["液氯罐区"].must_stop is True
    _c, _t, city = api_client_for(regions["city"])
    body = city.get(f"/api/v1/hazard-sources/{small.pk}/").json()
    assert (body["level"], body["declared_level"], body["is_major"], body["level_differs"]) == (None, 3, False, True)
    assert body["why_not"] and body["breaches"] == []


def test_api_findings_name_the_source_and_duty(plant, regions):
    from .api_support import api_client_for

    check_hazard_duties(ON)
    _c, _t, county = api_client_for(regions["county_a"])
    rows = county.get("/api/v1/findings/", {"page_size": 50}).json()["results"]
    assert sorted((row["hazard_source"], row["hazard_duty"], row["severity"]) for row in rows) == [
        (plant["tank"].pk, "must_stop", "major"),
        (plant["tank"].pk, "shutoff", "major"),
        (plant["tank"].pk, "video", "major"),
    ]
