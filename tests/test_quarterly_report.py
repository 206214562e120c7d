"""The quarterly supervision report (季度督查通报): figures as of the quarter's end from the history, the
workbook checked cell by cell, stability of a past quarter, scoping, the command and the pages."""

import datetime
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from accounts.choices import Role
from accounts.models import Department
from core.models import Notification
from enterprises.models import MajorHazardSource
from inspections.models import Finding, Survey
from rectification.models import ReportStatus, SupervisionReport
from rectification.reports import Quarter, build_report, compute_figures, summary_columns

from .factories import (
    CampaignFactory,
    ChemicalParkFactory,
    ClassificationFactory,
    EnterpriseFactory,
    FindingFactory,
    PlanFactory,
    TargetFactory,
    TaskFactory,
    UserFactory,
)

Q1_MOMENT = timezone.make_aware(datetime.datetime(2021, 3, 15, 12, 0))


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def backdate_history(moment=Q1_MOMENT):
    """Pretend every change recorded so far was made at `moment` (the report reads the history)."""
    for model in apps.get_models():
        if model.__name__.startswith("Historical") and any(f.name == "history_date" for f in model._meta.fields):
            model.objects.update(history_date=moment)


@pytest.fixture
def q1_data(regions, users):
    """A known data set, all of it recorded in 2021Q1."""
    campaign = CampaignFactory(name="四个一批专项行动")
    TargetFactory(campaign=campaign, region=regions["town_a1"], year=2021, shutdown=2, relocate=1)
    TargetFactory(campaign=campaign, region=regions["town_a2"], year=2021, upgrade=2)
    TargetFactory(campaign=campaign, region=regions["county_b"], year=2021, shutdown=1)
    TargetFactory(campaign=campaign, region=regions["town_a1"], year=2022, shutdown=9)  # a later year: not counted
    park = ChemicalParkFactory(township=regions["town_a1"])
    safety = Department.objects.get_or_create(name="应急管理局")[0]

    def enterprise(town, **fields):
        return EnterpriseFactory(township=regions[town], **fields)

    e1 = enterprise("town_a1", name="一号化工", status="closed")
    e2 = enterprise("town_a1", name="=二号化工")  # formula-like name
    e3 = enterprise("town_a1", name="三号化工", park=park)
    e4 = enterprise("town_a1", name="四号贸易")
    e5 = enterprise("town_a2", name="五号化工")
    e6 = enterprise("town_a2", name="六号化工")
    e7 = enterprise("town_b1", name="七号化工")
    accepted = timezone.make_aware(datetime.datetime(2021, 3, 1))
    ClassificationFactory(enterprise=e1, campaign=campaign, category="shutdown", state="accepted", accepted_at=accepted)
    c2 = ClassificationFactory(enterprise=e2, campaign=campaign, category="shutdown", state="in_progress")
    ClassificationFactory(enterprise=e3, campaign=campaign, category="relocate", state="in_progress")
    ClassificationFactory(
        enterprise=e4, campaign=campaign, category="excluded", state="approved", exclusion_reason="非化工"
    )
    ClassificationFactory(enterprise=e5, campaign=campaign, category="upgrade", state="accepted", accepted_at=accepted)
    ClassificationFactory(enterprise=e6, campaign=campaign, category="upgrade", state="proposed")
    c7 = ClassificationFactory(enterprise=e7, campaign=campaign, category="shutdown", state="in_progress")
    plan2 = PlanFactory(classification=c2)
    overdue_a1 = TaskFactory(plan=plan2, description="断水", deadline=datetime.date(2021, 3, 1), status="overdue")
    TaskFactory(plan=plan2, description="断电", deadline=datetime.date(2021, 3, 1), status="done")
    TaskFactory(plan=plan2, description="清理产品", deadline=datetime.date(2021, 6, 30))  # not due yet
    plan7 = PlanFactory(classification=c7)
    TaskFactory(
        plan=plan7, description="拆除设备", deadline=datetime.date(2021, 2, 1), lead_region=None, lead_department=safety
    )
    for e in (e1, e2, e3, e4, e5, e7):
        Survey.objects.create(enterprise=e, campaign=campaign, surveyed_on=datetime.date(2021, 2, 1))
    f1 = FindingFactory(enterprise=e2, deadline=datetime.date(2021, 3, 10), responsible_unit="甲一镇安监办")
    FindingFactory(
        enterprise=e7,
        status="closed",
        verified_by=users["county_a"],
        verified_at=timezone.make_aware(datetime.datetime(2021, 3, 20)),
    )
    FindingFactory(enterprise=e5, deadline=datetime.date(2021, 6, 1))
    for name, monitored in (("1#罐区", True), ("2#罐区", False)):
        MajorHazardSource.objects.create(enterprise=e2, name=name, unit_kind="tank_farm", online_monitoring=monitored)
    MajorHazardSource.objects.create(enterprise=e7, name="储罐", unit_kind="tank_farm", online_monitoring=True)
    backdate_history()
    Finding.history.model.objects.update(created_at=Q1_MOMENT)
    return {"campaign": campaign, "c2": c2, "overdue_a1": overdue_a1, "f1": f1, "e6": e6, "plan2": plan2}


def by_code(figures):
    return {row["name"]: row for row in figures["rows"]}


def test_figures_as_of_the_quarter_end(q1_data, regions):
    figures = compute_figures(q1_data["campaign"], regions["city"], Quarter.parse("2021Q1"))
    rows = by_code(figures)
    a1, a2, b1, city = rows["甲一镇"], rows["甲二镇"], rows["乙一镇"], rows["示范市"]
    assert (a1["surveyed"], a1["excluded"]) == (4, 1)
    assert a1["approved"] == {"shutdown": 2, "relocate": 1, "upgrade": 0, "restructure": 0}
    assert a1["completed"]["shutdown"] == 1 and a1["target_total"] == 3
    assert a1["completion_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert (a1["tasks_overdue"], a1["findings_overdue"]) == (1, 1)
    government = translation.gettext("%(region)s government") % {"region": "甲一镇"}
    assert dict(a1["overdue_units"]) == {government: 1, "甲一镇安监办": 1}
    assert (a1["findings_opened"], a1["findings_closed"]) == (1, 0)
    assert (a1["hazard_sources"], a1["hazard_monitored"], a1["monitoring_rate"]) == (2, 1, 0.5)
    # Operating production enterprises E2, E3, E4 (E1 is closed), E3 in the (recognised) park.
    assert (a1["production_active"], a1["production_in_park"]) == (3, 1)
    # In scope: surveyed E1–E4 less the excluded E4; E1's shutdown is accepted.
    assert (a1["production_in_scope"], a1["production_closed"]) == (3, 1)
    assert a1["closure_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert a2["approved"]["upgrade"] == 1 and a2["completion_rate"] == 0.5 and a2["findings_overdue"] == 0
    assert b1["tasks_overdue"] == 1 and dict(b1["overdue_units"]) == {"应急管理局": 1}
    assert b1["findings_closed"] == 1
    # County B's own target; the city adds up its counties.
    assert rows["乙县"]["target_total"] == 1 and city["target_total"] == 6
    assert city["completed_total"] == 2 and city["tasks_overdue"] == 2 and city["surveyed"] == 6
    assert city["previous_completed_total"] == 0 and city["change_completed"] == 2
    assert figures["overdue_units"][0][1:] in ([1, 0], [0, 1], [1, 1])


def test_query_count_does_not_depend_on_the_data(q1_data, regions):
    quarter = Quarter.parse("2021Q1")
    with CaptureQueriesContext(connection) as small:
        compute_figures(q1_data["campaign"], regions["city"], quarter)
    for _index in range(5):
        e = EnterpriseFactory(township=regions["town_a2"])
        c = ClassificationFactory(enterprise=e, campaign=q1_data["campaign"], category="shutdown", state="in_progress")
        TaskFactory(plan=PlanFactory(classification=c), deadline=datetime.date(2021, 1, 5))
        FindingFactory(enterprise=e, deadline=datetime.date(2021, 1, 5))
    backdate_history()
    with CaptureQueriesContext(connection) as large:
        figures = compute_figures(q1_data["campaign"], regions["city"], quarter)
    assert by_code(figures)["甲二镇"]["tasks_overdue"] == 5
    assert len(large) == len(small) <= 16


def test_past_quarter_rebuilt_after_later_changes_gives_the_same_figures(q1_data, regions, users):
    quarter = Quarter.parse("2021Q1")
    before = compute_figures(q1_data["campaign"], regions["city"], quarter)
    # Q2 and later: the overdue task is done, the shutdown accepted, the finding closed, a new decision.
    task = q1_data["overdue_a1"]
    task.status = "done"
    task.save()
    c2 = q1_data["c2"]
    c2.state, c2.accepted_at = "accepted", timezone.now()
    c2.save()
    f1 = q1_data["f1"]
    f1.status, f1.verified_by, f1.verified_at = "closed", users["city"], timezone.now()
    f1.save()
    ClassificationFactory(
        enterprise=q1_data["e6"], campaign=q1_data["campaign"], category="upgrade", state="accepted", is_current=False
    )
    after = compute_figures(q1_data["campaign"], regions["city"], quarter)
    assert after == before
    # The current quarter sees the changes.
    now = compute_figures(q1_data["campaign"], regions["city"], Quarter.of(timezone.localdate()))
    assert by_code(now)["甲一镇"]["completed"]["shutdown"] == 2
    assert by_code(now)["甲一镇"]["tasks_overdue"] == 0


def _sheet_rows(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _build(campaign, region, quarter="2021Q1"):
    report = SupervisionReport.objects.create(campaign=campaign, quarter=quarter, region=region)
    build_report(report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE, report.error
    return report


def test_workbook_cell_by_cell(q1_data, regions):
    report = _build(q1_data["campaign"], regions["city"])
    assert report.progress == 100 and report.figures["overdue_items"] == 3
    with report.file.open("rb") as handle:
        workbook = load_workbook(io.BytesIO(handle.read()))
    with translation.override("zh-hans"):
        headers = [str(header) for header, _key, _width in summary_columns()]
        names = [translation.gettext(x) for x in ("Summary", "Overdue items", "Notes")]
        total_label = translation.gettext("Total")
        a1_government = translation.gettext("%(region)s government") % {"region": "甲一镇"}
        finding_label = translation.gettext("Finding")  # the report's language, whatever a test before left active
    summary_title, overdue_title, notes_title = names
    assert workbook.sheetnames == [summary_title, "甲县", "乙县", overdue_title, notes_title]
    summary = workbook[summary_title]
    rows = _sheet_rows(summary)
    assert "四个一批专项行动" in rows[0][0] and "2021年第一季度" in rows[0][0] and "示范市" in rows[0][0]
    assert "2021年3月31日" in rows[1][0] and "2020年第四季度" in rows[1][0]
    assert rows[3] == headers
    col = {key: index for index, (_header, key, _width) in enumerate(summary_columns())}
    county_a, county_b, total = rows[4], rows[5], rows[6]
    assert [county_a[0], county_b[0]] == ["甲县", "乙县"]
    assert county_a[col["surveyed"]] == 5 and county_a[col["excluded"]] == 1
    assert county_a[col["approved.shutdown"]] == 2 and county_a[col["approved.upgrade"]] == 1
    assert county_a[col["completed.shutdown"]] == 1 and county_a[col["completed.upgrade"]] == 1
    assert county_a[col["target_total"]] == 5 and county_a[col["completed_total"]] == 2
    assert county_a[col["completion_rate"]] == 0.4
    assert county_a[col["tasks_overdue"]] == 1 and county_a[col["findings_overdue"]] == 1
    assert county_a[col["monitoring_rate"]] == 0.5
    assert county_b[col["tasks_overdue"]] == 1 and county_b[col["findings_closed"]] == 1
    assert county_b[col["overdue_units"]] == "应急管理局 1"
    assert total[col["target_total"]] == 6 and total[col["completed_total"]] == 2
    assert total[col["completion_rate"]] == pytest.approx(1 / 3, abs=1e-4)
    assert summary.cell(row=5, column=col["completion_rate"] + 1).number_format == "0.0%"
    assert summary.freeze_panes == "B5"
    assert summary.page_setup.orientation == "landscape" and summary.page_setup.fitToWidth == 1
    assert summary.sheet_properties.pageSetUpPr.fitToPage
    assert len(summary._charts) == 1
    county_sheet = _sheet_rows(workbook["甲县"])
    assert [row[0] for row in county_sheet[4:]] == ["甲一镇", "甲二镇", total_label]
    assert county_sheet[4][col["surveyed"]] == 4 and county_sheet[5][col["surveyed"]] == 1
    overdue = _sheet_rows(workbook[overdue_title])
    assert len(overdue) == 1 + 3
    items = {row[4]: row for row in overdue[1:]}
    assert items["断水"][2] == "'=二号化工"  # escaped
    assert items["断水"][5] == datetime.datetime(2021, 3, 1) and items["断水"][6] == 30
    assert items["断水"][7] == a1_government
    assert items["拆除设备"][7] == "应急管理局" and items["拆除设备"][0] == "乙县"
    # Rows after the first are streamed into the sheet: the same types, the same escaping.
    assert items["拆除设备"][5] == datetime.datetime(2021, 2, 1) and items["拆除设备"][6] == 58
    assert workbook[overdue_title]["F3"].is_date and workbook[overdue_title]["F3"].number_format == "yyyy-mm-dd"
    finding = next(row for row in overdue[1:] if row[3] == finding_label)
    assert finding[2] == "'=二号化工" and finding[7] == "甲一镇安监办" and finding[6] == 21


def test_county_report_holds_only_that_county(q1_data, regions):
    report = _build(q1_data["campaign"], regions["county_a"])
    names = [row["name"] for row in report.figures["rows"]]
    assert names == ["甲县", "甲一镇", "甲二镇"]
    with report.file.open("rb") as handle:
        workbook = load_workbook(io.BytesIO(handle.read()))
    text = " ".join(str(v) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for v in row if v)
    assert "乙县" not in text and "乙一镇" not in text and "七号化工" not in text and "应急管理局" not in text
    assert "甲一镇" in text


def test_failed_build_is_recorded(q1_data, regions, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("rectification.reports.write_workbook", broken)
    report = SupervisionReport.objects.create(campaign=q1_data["campaign"], quarter="2021Q1", region=regions["city"])
    build_report(report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and "disk full" in report.error and not report.file


def test_build_report_command(q1_data, regions, tmp_path):
    output = tmp_path / "report.xlsx"
    out = io.StringIO()
    call_command(
        "build_report",
        "--campaign",
        "四个一批专项行动",
        "--quarter",
        "2021Q1",
        "--region",
        regions["county_a"].code,
        "--output",
        str(output),
        stdout=out,
    )
    assert output.exists() and "completed 2/5" in out.getvalue()
    report = SupervisionReport.objects.get()
    assert report.region == regions["county_a"] and report.requested_by is None
    with pytest.raises(Exception, match="2021Q5"):
        call_command("build_report", "--campaign", "四个一批专项行动", "--quarter", "2021Q5")
    with pytest.raises(Exception, match="no such campaign"):
        call_command("build_report", "--campaign", "nope", "--quarter", "2021Q1")


# --- Pages ------------------------------------------------------------------------------------------


def test_request_page_builds_and_shows_progress_and_download(
    q1_data, regions, users, client_for, django_capture_on_commit_callbacks
):
    client = client_for(users["county_a"])
    page = client.get(reverse("rectification:reports"))
    assert page.status_code == 200
    region_choices = [str(r) for r in page.context["form"].fields["region"].queryset]
    assert region_choices == [str(regions["county_a"])]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("rectification:reports"),
            {"campaign": q1_data["campaign"].pk, "quarter": "2021Q1", "region": regions["county_a"].pk},
        )
    assert response.status_code == 302
    report = SupervisionReport.objects.get()
    assert report.requested_by == users["county_a"] and report.status == ReportStatus.DONE
    ready = Notification.objects.get(recipient=users["county_a"])
    assert ready.kind == "report_ready" and ready.link == reverse("rectification:reports")
    status = client.get(reverse("rectification:report_status", args=[report.pk])).json()
    assert status["status"] == "done" and status["progress"] == 100 and status["download_url"]
    listing = client.get(reverse("rectification:reports")).content.decode()
    assert 'data-testid="report-download"' in listing and "width: 100%" in listing
    download = client.get(status["download_url"])
    assert download.status_code == 200 and download["Content-Type"].startswith("application/vnd.openxmlformats")
    notice = client.get(reverse("rectification:report_notice", args=[report.pk])).content.decode()
    assert "甲一镇安监办" in notice and "甲一镇" in notice


def test_pages_are_scoped_and_requests_checked(q1_data, regions, users, client_for):
    city_report = SupervisionReport.objects.create(
        campaign=q1_data["campaign"], quarter="2021Q1", region=regions["city"], status="queued"
    )
    county_b_user = UserFactory(role=Role.COUNTY, region=regions["county_b"])
    client = client_for(users["county_a"])
    # A county cannot see the city's report, nor request one for another county.
    assert client.get(reverse("rectification:report_status", args=[city_report.pk])).status_code == 404
    assert client.get(reverse("rectification:report_download", args=[city_report.pk])).status_code == 404
    response = client.post(
        reverse("rectification:reports"),
        {"campaign": q1_data["campaign"].pk, "quarter": "2021Q1", "region": regions["county_b"].pk},
    )
    assert response.status_code == 200 and "region" in response.context["form"].errors
    assert SupervisionReport.objects.count() == 1
    bad = client.post(
        reverse("rectification:reports"),
        {"campaign": q1_data["campaign"].pk, "quarter": "2021-1", "region": regions["county_a"].pk},
    )
    assert "quarter" in bad.context["form"].errors
    # A township officer sees the list (empty) but may not request.
    town = client_for(users["town_a1"])
    assert town.get(reverse("rectification:reports")).context["form"] is None
    assert town.post(reverse("rectification:reports"), {}).status_code == 403
    # The city sees it; the other county does not.
    assert (
        client_for(users["city"]).get(reverse("rectification:report_status", args=[city_report.pk])).json()["status"]
        == "queued"
    )
    assert (
        client_for(county_b_user).get(reverse("rectification:report_status", args=[city_report.pk])).status_code == 404
    )


def test_quarterly_schedule_builds_the_quarter_just_ended_once(q1_data, regions, monkeypatch):
    from rectification import tasks
    from rectification.reports import schedule_quarterly_reports

    CampaignFactory(name="已结束的行动", status="closed")
    monkeypatch.setattr("rectification.reports.timezone.localdate", lambda: datetime.date(2021, 4, 1))
    built = tasks.build_quarterly_reports.delay().get()
    report = SupervisionReport.objects.get(pk__in=built)
    assert (report.campaign, report.quarter, report.region) == (q1_data["campaign"], "2021Q1", regions["city"])
    assert report.requested_by is None and report.status == ReportStatus.DONE
    # Run again (beat delivered twice): the same record, not a second one.
    assert [r.pk for r in schedule_quarterly_reports(datetime.date(2021, 4, 2))] == built
    assert SupervisionReport.objects.count() == 1
