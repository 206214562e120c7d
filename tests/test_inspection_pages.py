"""Inspection pages: the survey form, recording inspections with findings and files, the closed loop of a
finding through its pages, the acceptance page of a shutdown item by item, 回头看 through the page, scoping."""

import datetime

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from accounts.models import Department
from enterprises.choices import OperatingStatus
from inspections import selectors, services
from inspections.choices import AccessArea, FindingStatus, InspectionKind, InspectionResult, InspectionStatus, Severity
from inspections.models import Finding, FindingEvidence, Inspection, InspectionAttachment, Survey
from rectification import services as rectification_services
from rectification.choices import (
    STANDARD_TASKS,
    Category,
    ClassificationState,
    StandardItem,
    StepAction,
    TaskStatus,
)
from rectification.models import Task

from .factories import (
    CampaignFactory,
    ChemicalParkFactory,
    ClassificationFactory,
    EnterpriseFactory,
    UserFactory,
)
from .test_query_counts import check_against_baseline

DAY = datetime.date(2021, 5, 6)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def png(name="现场照片.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def login(client):
    """Log the test client in as a user, with the English interface (assertions read English messages)."""

    def as_user(user):
        client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return as_user


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批 2021-2023")


@pytest.fixture
def enterprise(regions):
    return EnterpriseFactory(township=regions["town_a1"], name="甲一化工")


@pytest.fixture
def second_officer(regions):
    return UserFactory(username="town_a1_b", role=Role.TOWNSHIP, region=regions["town_a1"])


def text(response) -> str:
    return response.content.decode()


# --- Survey -----------------------------------------------------------------------------------


def survey_post(non_conforming=None, **extra):
    """Form data: every area conforming except those given as area=note ("" for a missing note)."""
    non_conforming = non_conforming or {}
    data = {"surveyed_on": DAY.isoformat(), "surveyed_by": "张三、李四", "note": ""}
    for area in AccessArea.values:
        data[f"{area}_conforming"] = "no" if area in non_conforming else "yes"
        data[f"{area}_note"] = non_conforming.get(area, "")
    data.update(extra)
    return data


def test_survey_form_has_every_area_conforming_by_default(login, users, enterprise, campaign):
    response = login(users["town_a1"]).get(reverse("inspections:survey", args=[enterprise.pk, campaign.pk]))
    assert response.status_code == 200
    form = response.context["form"]
    assert [code for _label, _c, _n, code in form.areas()] == AccessArea.values
    assert all(form[f"{area}_conforming"].value() == "yes" for area in AccessArea.values)
    assert form["surveyed_on"].value() == timezone.localdate()
    page = text(response)
    assert page.count('value="no"') == 8 and page.count('value="yes" id=') == 8


def test_a_non_conforming_area_needs_its_note_shown_next_to_it(login, users, enterprise, campaign):
    client = login(users["town_a1"])
    url = reverse("inspections:survey", args=[enterprise.pk, campaign.pk])
    response = client.post(url, survey_post({"environment": "", "land": "占用基本农田"}))
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["environment_note"]
    assert "Describe what does not conform in Environmental protection" in form.errors["environment_note"][0]
    # The error sits in the environment row of the table.
    page = text(response)
    row = page[page.index('data-area="environment"') :]
    row = row[: row.index("</tr>")]
    assert 'data-field-error="environment_note"' in row
    assert not Survey.objects.exists() and not Finding.objects.exists()


def test_saving_a_survey_records_eight_items_and_the_findings(login, users, enterprise, campaign):
    client = login(users["town_a1"])
    response = client.post(
        reverse("inspections:survey", args=[enterprise.pk, campaign.pk]),
        survey_post({"environment": "废水直排", "land": "占用基本农田"}),
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("enterprises:detail", args=[enterprise.pk]) + "#surveys"
    survey = Survey.objects.get()
    assert (survey.enterprise, survey.campaign, survey.surveyed_on, survey.surveyed_by) == (
        enterprise,
        campaign,
        DAY,
        "张三、李四",
    )
    assert dict(survey.items.values_list("area", "conforming")) == {
        area: area not in ("environment", "land") for area in AccessArea.values
    }
    findings = Finding.objects.order_by("area")
    assert [(f.area, f.description, f.status, f.survey_id) for f in findings] == [
        ("environment", "废水直排", FindingStatus.OPEN, survey.pk),
        ("land", "占用基本农田", FindingStatus.OPEN, survey.pk),
    ]
    # Opening the form again shows the answers saved.
    form = client.get(reverse("inspections:survey", args=[enterprise.pk, campaign.pk])).context["form"]
    assert form["land_conforming"].value() == "no" and form["land_note"].value() == "占用基本农田"
    assert form["surveyed_by"].value() == "张三、李四"


def test_save_and_next_offers_the_next_enterprise_of_the_township_without_a_survey(login, users, regions, campaign):
    first = EnterpriseFactory(township=regions["town_a1"], name="A 化工")
    surveyed = EnterpriseFactory(township=regions["town_a1"], name="B 化工")
    last = EnterpriseFactory(township=regions["town_a1"], name="C 化工")
    EnterpriseFactory(township=regions["town_a2"], name="AA 其他镇")
    EnterpriseFactory(township=regions["town_a1"], name="BB 已注销", status=OperatingStatus.DEREGISTERED)
    services.save_survey(
        enterprise=surveyed,
        campaign=campaign,
        actor=users["town_a1"],
        items=dict.fromkeys(AccessArea.values, (True, "")),
        surveyed_on=DAY,
    )
    client = login(users["town_a1"])

    response = client.post(reverse("inspections:survey", args=[first.pk, campaign.pk]), survey_post(save_next="1"))
    assert response["Location"] == reverse("inspections:survey", args=[last.pk, campaign.pk])

    response = client.post(
        reverse("inspections:survey", args=[last.pk, campaign.pk]), survey_post(save_next="1"), follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("enterprises:detail", args=[last.pk]) + "#surveys"
    assert "Every enterprise of 甲一镇 now has a survey in 四个一批 2021-2023." in text(response)
    assert Survey.objects.count() == 3


def test_survey_start_goes_to_the_only_open_campaign(login, users, enterprise, campaign):
    CampaignFactory(name="已结束的行动", status="closed")
    response = login(users["town_a1"]).get(reverse("inspections:survey_start", args=[enterprise.pk]))
    assert response["Location"] == reverse("inspections:survey", args=[enterprise.pk, campaign.pk])


def test_survey_refused_to_roles_that_do_not_survey(login, users, enterprise, campaign):
    response = login(users["reviewer"]).get(reverse("inspections:survey", args=[enterprise.pk, campaign.pk]))
    assert response.status_code == 403
    assert "Only city, county and township offices can record surveys." in text(response)


# --- Inspections ---------------------------------------------------------------------------------


def finding_rows(*rows, extra=3):
    """Formset data of the inline findings: the given rows, then blank ones."""
    data = {
        "findings-TOTAL_FORMS": str(extra),
        "findings-INITIAL_FORMS": "0",
        "findings-MIN_NUM_FORMS": "0",
        "findings-MAX_NUM_FORMS": "20",
    }
    for index in range(extra):
        row = rows[index] if index < len(rows) else {}
        data[f"findings-{index}-area"] = row.get("area", "work_safety")
        data[f"findings-{index}-severity"] = row.get("severity", "general")
        for name in ("description", "legal_basis", "responsible_unit", "responsible_department", "deadline"):
            data[f"findings-{index}-{name}"] = row.get(name, "")
    return data


def inspection_post(**fields):
    data = {
        "kind": InspectionKind.DAILY,
        "inspected_on": DAY.isoformat(),
        "result": InspectionResult.ISSUES_FOUND,
        "inspectors": "王五、赵六",
        "result_note": "现场检查",
    }
    data.update(fields)
    return data


def test_record_an_inspection_with_findings_departments_and_an_attachment(login, users, enterprise):
    departments = list(Department.objects.order_by("pk")[:2])
    client = login(users["town_a1"])
    url = reverse("inspections:create") + f"?enterprise={enterprise.pk}"
    assert client.get(url).status_code == 200
    data = inspection_post(departments=[d.pk for d in departments], attachments=[png("检查记录.png")])
    data.update(
        finding_rows(
            {"area": "work_safety", "severity": "major", "description": "安全出口堵塞", "deadline": "2021-06-01"},
            {"area": "environment", "description": "危废台账缺失", "responsible_unit": "企业"},
        )
    )
    response = client.post(url, data)

    inspection = Inspection.objects.get()
    assert response["Location"] == reverse("inspections:detail", args=[inspection.pk])
    assert (inspection.kind, inspection.status, inspection.result, inspection.enterprise) == (
        InspectionKind.DAILY,
        InspectionStatus.DONE,
        InspectionResult.ISSUES_FOUND,
        enterprise,
    )
    assert set(inspection.departments.all()) == set(departments)
    assert [(f.area, f.severity, f.description, f.deadline) for f in inspection.findings.order_by("id")] == [
        ("work_safety", Severity.MAJOR, "安全出口堵塞", datetime.date(2021, 6, 1)),
        ("environment", Severity.GENERAL, "危废台账缺失", None),
    ]
    attachment = InspectionAttachment.objects.get()
    assert attachment.original_name == "检查记录.png" and attachment.inspection == inspection

    page = text(client.get(reverse("inspections:detail", args=[inspection.pk])))
    assert departments[0].name in page and "安全出口堵塞" in page
    download_url = reverse("inspections:attachment", args=[attachment.pk])
    assert download_url in page and settings.MEDIA_URL not in page
    download = client.get(download_url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG
    assert "attachment" in download["Content-Disposition"]


def test_an_inspection_file_of_the_wrong_type_or_too_large_is_refused(login, users, enterprise, settings):
    client = login(users["town_a1"])
    url = reverse("inspections:create") + f"?enterprise={enterprise.pk}"
    bad = SimpleUploadedFile("清单.exe", b"MZ\x90\x00" + b"\x00" * 64)
    response = client.post(url, inspection_post(attachments=[bad], **finding_rows()))
    assert response.status_code == 200
    errors = response.context["form"].errors["attachments"]
    assert "The file 清单.exe has a type that is not accepted." in errors[0]
    assert "Accepted: images (JPG, PNG, GIF, WEBP)" in errors[0]
    assert 'data-field-error="attachments"' in text(response)

    settings.UPLOAD_MAX_BYTES = 10
    response = client.post(url, inspection_post(attachments=[png("大照片.png")], **finding_rows()))
    assert "The file 大照片.png is 72 bytes; files may be at most 10 bytes." in response.context["form"].errors[
        "attachments"
    ][0].replace("\xa0", " ")
    assert not Inspection.objects.exists() and not InspectionAttachment.objects.exists()


def test_errors_of_an_inline_finding_and_of_the_result(login, users, enterprise):
    client = login(users["town_a1"])
    url = reverse("inspections:create") + f"?enterprise={enterprise.pk}"
    # A row with a deadline but no description: the row says what is missing.
    response = client.post(url, inspection_post(**finding_rows({"deadline": "2021-06-01"})))
    assert response.context["formset"].forms[0].errors["description"] == ["This field is required."]
    # Findings with the result "no issues": the service refuses, the error shows on the result.
    response = client.post(
        url, inspection_post(result=InspectionResult.NO_ISSUES, **finding_rows({"description": "消防通道堵塞"}))
    )
    assert response.context["form"].errors["result"] == ["Findings were entered, so the result is “issues found”."]
    # A deadline before the inspection: the error names the finding on its row.
    response = client.post(url, inspection_post(**finding_rows({}, {"description": "x", "deadline": "2021-01-01"})))
    assert "Finding 1:" in response.context["formset"].forms[1].non_field_errors()[0]
    assert not Inspection.objects.exists()


def test_record_an_inspection_by_credit_code_within_the_region(login, users, enterprise, regions):
    other = EnterpriseFactory(township=regions["town_a2"])
    client = login(users["town_a1"])
    url = reverse("inspections:create")
    response = client.post(url, inspection_post(enterprise_code=other.uscc, **finding_rows()))
    assert response.context["form"].errors["enterprise_code"] == [
        f"No enterprise with credit code {other.uscc} in your region."
    ]
    response = client.post(
        url, inspection_post(enterprise_code=enterprise.uscc.lower(), result="no_issues", **finding_rows())
    )
    assert response.status_code == 302
    assert Inspection.objects.get().enterprise == enterprise


def test_plan_then_record_the_planned_inspection(login, users, enterprise):
    client = login(users["county_a"])
    response = client.post(
        reverse("inspections:plan") + f"?enterprise={enterprise.pk}",
        {"kind": InspectionKind.QUARTERLY_JOINT, "planned_on": "2021-06-30", "inspectors": "督查组"},
    )
    planned = Inspection.objects.get()
    assert response["Location"] == reverse("inspections:detail", args=[planned.pk])
    assert (planned.status, planned.planned_on) == (InspectionStatus.PLANNED, datetime.date(2021, 6, 30))
    assert reverse("inspections:record_planned", args=[planned.pk]) in text(client.get(response["Location"]))

    response = client.post(
        reverse("inspections:record_planned", args=[planned.pk]),
        inspection_post(result=InspectionResult.NO_ISSUES, **finding_rows()),
    )
    assert response.status_code == 302
    planned.refresh_from_db()
    assert (planned.status, planned.inspected_on, planned.kind, Inspection.objects.count()) == (
        InspectionStatus.DONE,
        DAY,
        InspectionKind.QUARTERLY_JOINT,
        1,
    )


def test_inspection_list_filters_and_counts(login, users, enterprise, regions):
    park = ChemicalParkFactory(township=regions["town_a1"])
    services.record_inspection(
        actor=users["city"], kind="daily", inspected_on=DAY, result="no_issues", enterprise=enterprise
    )
    services.record_inspection(
        actor=users["city"], kind="double_random", inspected_on=DAY, result="no_issues", park=park
    )
    services.record_inspection(
        actor=users["city"],
        kind="daily",
        inspected_on=DAY,
        result="no_issues",
        enterprise=EnterpriseFactory(township=regions["town_b1"]),
    )
    client = login(users["county_a"])
    response = client.get(reverse("inspections:list"))
    assert response.context["page_obj"].paginator.count == 2
    response = client.get(reverse("inspections:list"), {"kind": "double_random"})
    assert [i.park for i in response.context["page_obj"]] == [park]
    response = client.get(reverse("inspections:list"), {"date_from": "2021-06-01"})
    assert response.context["page_obj"].paginator.count == 0


# --- Findings ---------------------------------------------------------------------------------


@pytest.fixture
def finding(users, enterprise):
    return services.record_finding(
        actor=users["town_a1"], enterprise=enterprise, area="work_safety", description="安全出口堵塞"
    )


def steps(response) -> dict:
    return {step["action"]: step["reason"] for step in response.context["steps"]}


def test_the_closed_loop_through_the_pages(login, users, enterprise, finding, second_officer, client):
    fixer = login(users["town_a1"])
    detail = reverse("inspections:finding_detail", args=[finding.pk])
    assert steps(fixer.get(detail))["start_fixing"] is None

    assert (
        fixer.post(reverse("inspections:finding_step", args=[finding.pk, "start_fixing"]), {"note": "已安排"})[
            "Location"
        ]
        == detail
    )
    finding.refresh_from_db()
    assert finding.status == FindingStatus.FIXING

    response = fixer.post(
        reverse("inspections:finding_step", args=[finding.pk, "submit_fix"]),
        {"note": "已清理安全出口", "evidence": [png("整改后.png")]},
    )
    assert response["Location"] == detail
    finding.refresh_from_db()
    assert (finding.status, finding.fixed_by) == (FindingStatus.AWAITING_VERIFICATION, users["town_a1"])
    assert FindingEvidence.objects.get().stage == "fixed"

    # The fixer sees the verify button disabled, with the reason, and cannot open the step.
    response = fixer.get(detail)
    assert steps(response)["verify"] == "You reported this fix yourself; someone else must verify it."
    assert 'data-refusal="verify"' in text(response)
    response = fixer.get(reverse("inspections:finding_step", args=[finding.pk, "verify"]))
    assert response.status_code == 403
    assert "You reported this fix yourself; someone else must verify it." in text(response)
    response = fixer.post(reverse("inspections:finding_step", args=[finding.pk, "verify"]), {"outcome": "pass"})
    assert response.status_code == 403
    finding.refresh_from_db()
    assert finding.status == FindingStatus.AWAITING_VERIFICATION

    client.logout()
    verifier = login(second_officer)
    response = verifier.post(reverse("inspections:finding_step", args=[finding.pk, "verify"]), {"outcome": "fail"})
    assert response.context["form"].errors["note"] == ["Say why the fix is not accepted."]
    response = verifier.post(
        reverse("inspections:finding_step", args=[finding.pk, "verify"]), {"outcome": "pass", "note": "现场核实"}
    )
    assert response["Location"] == detail
    finding.refresh_from_db()
    assert (finding.status, finding.verified_by, finding.verification_note) == (
        FindingStatus.CLOSED,
        second_officer,
        "现场核实",
    )
    page = text(verifier.get(detail))
    assert "Verified and closed" in page and "现场核实" in page
    history = verifier.get(detail).context["history"]
    assert len(history) >= 4  # created, being fixed, awaiting verification, closed

    response = verifier.post(reverse("inspections:finding_step", args=[finding.pk, "reopen"]), {"reason": "又堵上了"})
    finding.refresh_from_db()
    assert finding.status == FindingStatus.REOPENED


def test_finding_edit_and_refused_steps(login, users, finding):
    client = login(users["town_a1"])
    url = reverse("inspections:finding_step", args=[finding.pk, "edit"])
    form = client.get(url).context["form"]
    assert form["description"].value() == "安全出口堵塞"
    response = client.post(
        url,
        {
            "area": "environment",
            "severity": "general",
            "description": "安全出口堵塞",
            "deadline": "2030-01-01",
            "reason": "更正",
        },
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert (finding.area, finding.deadline) == ("environment", datetime.date(2030, 1, 1))
    # Verify on an open finding: refused with the state named.
    response = client.get(reverse("inspections:finding_step", args=[finding.pk, "verify"]))
    assert response.status_code == 403
    assert "This finding is To be fixed; it cannot be verified." in text(response)
    assert client.get(reverse("inspections:finding_step", args=[finding.pk, "nonsense"])).status_code == 404


def test_a_township_cannot_close_a_major_accident_hazard(login, users, enterprise, second_officer):
    major = services.record_finding(
        actor=users["county_a"], enterprise=enterprise, area="work_safety", severity="major", description="重大隐患"
    )
    services.submit_fix(finding=major, actor=users["county_a"], note="已整改")
    response = login(users["town_a1"]).get(reverse("inspections:finding_detail", args=[major.pk]))
    assert steps(response)["verify"] == (
        "A major accident hazard is verified and closed at county level or above, not by a township."
    )


def test_finding_list_filters(login, users, enterprise, regions):
    today = timezone.localdate()
    overdue = services.record_finding(
        actor=users["city"], enterprise=enterprise, area="land", description="逾期", severity="major"
    )
    Finding.objects.filter(pk=overdue.pk).update(deadline=today - datetime.timedelta(days=1))
    services.record_finding(actor=users["city"], enterprise=enterprise, area="environment", description="未逾期")
    services.record_finding(
        actor=users["city"], enterprise=EnterpriseFactory(township=regions["town_b1"]), area="land", description="乙县"
    )
    client = login(users["county_a"])
    url = reverse("inspections:finding_list")

    def described(params):
        return sorted(f.description for f in client.get(url, params).context["page_obj"])

    assert described({}) == ["未逾期", "逾期"]
    assert described({"overdue": "yes"}) == ["逾期"]
    assert described({"overdue": "no"}) == ["未逾期"]
    assert described({"severity": "major"}) == ["逾期"]
    assert described({"area": "environment"}) == ["未逾期"]
    assert described({"status": "unclosed", "region": regions["town_a1"].code}) == ["未逾期", "逾期"]
    assert described({"region": regions["town_a2"].code}) == []


# --- Acceptance -------------------------------------------------------------------------------------


@pytest.fixture
def no_prereview(db):
    """Without pre-review departments a submission completes its review at once (keeps the walk short)."""
    Department.objects.update(reviews_classifications=False)


def awaiting_acceptance(enterprise, campaign, users, category=Category.SHUTDOWN, **details):
    """Walk a classification through D1's services to "awaiting acceptance", its tasks done by the township."""
    town, county, city = users["town_a1"], users["county_a"], users["city"]
    classification = rectification_services.propose_classification(enterprise, campaign, category, town, **details)
    rectification_services.submit_classification(classification, county)
    rectification_services.forward_to_city(classification, county)
    rectification_services.approve_classification(classification, city)
    for task in Task.objects.filter(plan__classification=classification):
        rectification_services.mark_task_done(task, town, completed_on=DAY, note="已完成")
    rectification_services.request_acceptance(classification, town)
    classification.refresh_from_db()
    assert classification.state == ClassificationState.AWAITING_ACCEPTANCE
    return classification


def checklist(**failed):
    """Every shutdown item passed except those given as item=note."""
    data = {"inspected_on": DAY.isoformat(), "inspectors": "专家组"}
    for item in STANDARD_TASKS[Category.SHUTDOWN]:
        data[f"{item.value}_result"] = "failed" if item.value in failed else "passed"
        data[f"{item.value}_note"] = failed.get(item.value, "")
    return data


def test_acceptance_of_a_shutdown_item_by_item_closes_it(login, users, enterprise, campaign, no_prereview):
    classification = awaiting_acceptance(enterprise, campaign, users)
    client = login(users["county_a"])
    url = reverse("inspections:acceptance", kwargs={"classification_pk": classification.pk})
    # The dossier links to the acceptance page (the browser walk from proposal to 销号).
    assert url in text(client.get(reverse("enterprises:detail", args=[enterprise.pk])))
    response = client.get(url)
    assert response.status_code == 200
    assert [label for label, *_rest in response.context["form"].check_items()] == [
        item.label for item in STANDARD_TASKS[Category.SHUTDOWN]
    ]

    response = client.post(url, checklist() | {"comment": "验收合格"})
    assert response["Location"] == reverse("enterprises:detail", args=[enterprise.pk])
    classification.refresh_from_db()
    enterprise.refresh_from_db()
    assert classification.state == ClassificationState.ACCEPTED
    assert enterprise.status == OperatingStatus.CLOSED
    inspection = Inspection.objects.get(kind=InspectionKind.ACCEPTANCE)
    assert inspection.result == InspectionResult.PASSED
    assert set(inspection.check_items.values_list("item", "passed")) == {
        (item.value, True) for item in STANDARD_TASKS[Category.SHUTDOWN]
    }
    assert classification.steps.get(action=StepAction.ACCEPT).actor == users["county_a"]


def test_a_failed_item_needs_a_note_and_sends_the_shutdown_back(login, users, enterprise, campaign, no_prereview):
    classification = awaiting_acceptance(enterprise, campaign, users)
    client = login(users["county_a"])
    url = reverse("inspections:acceptance", kwargs={"classification_pk": classification.pk})

    response = client.post(url, checklist(power_cut=""))
    assert response.context["form"].errors["power_cut_note"] == ["Say what is wrong with “Power supply cut”."]
    data = checklist()
    del data["water_cut_result"]
    response = client.post(url, data)
    assert response.context["form"].errors["water_cut_result"] == ["This field is required."]
    classification.refresh_from_db()
    assert classification.state == ClassificationState.AWAITING_ACCEPTANCE

    response = client.post(url, checklist(power_cut="仍在用电", products_cleared="库房仍有产品"))
    assert response.status_code == 302
    classification.refresh_from_db()
    assert classification.state == ClassificationState.IN_PROGRESS
    inspection = Inspection.objects.get(kind=InspectionKind.ACCEPTANCE)
    assert inspection.result == InspectionResult.FAILED
    assert "仍在用电" in inspection.result_note and "库房仍有产品" in inspection.result_note
    reopened = set(
        Task.objects.filter(plan__classification=classification)
        .exclude(status__in=[TaskStatus.DONE, TaskStatus.VERIFIED_CLOSED])
        .values_list("standard_item", flat=True)
    )
    assert reopened == {StandardItem.POWER_CUT, StandardItem.PRODUCTS_CLEARED}
    step = classification.steps.get(action=StepAction.FAIL_ACCEPTANCE)
    assert "仍在用电" in str(step.details) or "仍在用电" in step.comment


def test_acceptance_of_an_upgrade_passes_or_fails_with_reasons(login, users, enterprise, campaign, no_prereview):
    classification = awaiting_acceptance(enterprise, campaign, users, Category.UPGRADE)
    client = login(users["city"])
    url = reverse("inspections:acceptance", kwargs={"classification_pk": classification.pk})
    form = client.get(url).context["form"]
    assert "outcome" in form.fields and "water_cut_result" not in form.fields
    response = client.post(url, {"inspected_on": DAY.isoformat(), "outcome": "fail"})
    assert response.context["form"].errors["reasons"] == ["Give the reasons the acceptance is not passed."]
    response = client.post(url, {"inspected_on": DAY.isoformat(), "outcome": "fail", "reasons": "清洁生产审核未通过"})
    assert response.status_code == 302
    classification.refresh_from_db()
    assert classification.state == ClassificationState.IN_PROGRESS


def test_acceptance_page_says_why_it_is_refused(login, users, enterprise, campaign, no_prereview, client):
    classification = awaiting_acceptance(enterprise, campaign, users)
    url = reverse("inspections:acceptance", kwargs={"classification_pk": classification.pk})
    response = login(users["town_a1"]).get(url)
    assert response.status_code == 403
    assert "Only county and city offices carry out acceptance." in text(response)
    assert "acceptance-form" not in text(response)
    response = client.post(url, checklist())
    assert response.status_code == 403
    classification.refresh_from_db()
    assert classification.state == ClassificationState.AWAITING_ACCEPTANCE

    in_progress = ClassificationFactory(
        enterprise=EnterpriseFactory(township=enterprise.township), category="upgrade", state="in_progress"
    )
    client.logout()
    response = login(users["county_a"]).get(
        reverse("inspections:acceptance", kwargs={"classification_pk": in_progress.pk})
    )
    assert response.status_code == 403
    assert "This classification is currently “Rectification in progress”" in text(response)


def test_a_pass_is_refused_to_whoever_marked_the_tasks_done(login, users, enterprise, campaign, no_prereview):
    classification = awaiting_acceptance(enterprise, campaign, users)
    Task.objects.filter(plan__classification=classification).update(done_by=users["county_a"])
    client = login(users["county_a"])
    url = reverse("inspections:acceptance", kwargs={"classification_pk": classification.pk})
    response = client.get(url)
    assert "someone other than the person who marked them done" in response.context["pass_refusal"]
    response = client.post(url, checklist())
    assert response.status_code == 403
    assert "someone other than the person who marked them done" in text(response)
    classification.refresh_from_db()
    assert classification.state == ClassificationState.AWAITING_ACCEPTANCE
    assert not Inspection.objects.exists()


# --- 回头看 ---------------------------------------------------------------------------------------


@pytest.fixture
def closed(enterprise, campaign):
    """A closed enterprise whose shutdown was accepted (销号)."""
    enterprise.status = OperatingStatus.CLOSED
    enterprise.save()
    classification = ClassificationFactory(
        enterprise=enterprise, campaign=campaign, category=Category.SHUTDOWN, state=ClassificationState.ACCEPTED
    )
    return classification


def recheck_post(**fields):
    data = {"inspected_on": DAY.isoformat(), "outcome": "producing", "note": "夜间偷偷生产", "area": "work_safety"}
    data.update(fields)
    return data


def test_recheck_producing_again_is_explained_confirmed_and_reopens(login, users, enterprise, closed):
    client = login(users["county_a"])
    url = reverse("inspections:recheck", args=[enterprise.pk])
    page = text(client.get(url))
    assert "If the enterprise is found producing again" in page
    assert "its accepted shutdown in 四个一批 2021-2023 is reopened" in page

    response = client.post(url, recheck_post())
    assert "Tick the confirmation" in response.context["form"].errors["confirm"][0]
    assert not Inspection.objects.exists()
    enterprise.refresh_from_db()
    assert enterprise.status == OperatingStatus.CLOSED

    response = client.post(url, recheck_post(confirm="on", deadline="2021-12-31"))
    inspection = Inspection.objects.get()
    assert response["Location"] == reverse("inspections:detail", args=[inspection.pk])
    assert (inspection.kind, inspection.result) == (InspectionKind.RECHECK, InspectionResult.PRODUCING_AGAIN)
    enterprise.refresh_from_db()
    closed.refresh_from_db()
    assert enterprise.status == OperatingStatus.OPERATING
    assert closed.state == ClassificationState.IN_PROGRESS
    finding = Finding.objects.get()
    assert (finding.severity, finding.inspection, finding.deadline) == (
        Severity.MAJOR,
        inspection,
        datetime.date(2021, 12, 31),
    )


def test_recheck_still_closed_and_a_township_cannot_reopen(login, users, enterprise, closed):
    client = login(users["town_a1"])
    url = reverse("inspections:recheck", args=[enterprise.pk])
    response = client.post(url, recheck_post(confirm="on"))
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Only county and city offices and the supervision team can reopen a closed classification."
    ]
    assert not Inspection.objects.exists()
    response = client.post(url, recheck_post(outcome="closed", note=""))
    assert response.status_code == 302
    assert Inspection.objects.get().result == InspectionResult.NOT_PRODUCING
    closed.refresh_from_db()
    assert closed.state == ClassificationState.ACCEPTED


# --- Scoping ----------------------------------------------------------------------------------------


def test_another_township_gets_404_for_inspections_findings_and_files(login, users, enterprise, campaign):
    inspection = services.record_inspection(
        actor=users["town_a1"],
        kind="daily",
        inspected_on=DAY,
        result="issues_found",
        enterprise=enterprise,
        findings=[{"area": "land", "description": "违规占地", "evidence": [png()]}],
        attachments=[png("记录.png")],
    )
    finding = inspection.findings.get()
    classification = ClassificationFactory(enterprise=enterprise, campaign=campaign, state="awaiting_acceptance")
    urls = [
        reverse("inspections:detail", args=[inspection.pk]),
        reverse("inspections:attachment", args=[inspection.attachments.get().pk]),
        reverse("inspections:attachment_add", args=[inspection.pk]),
        reverse("inspections:finding_detail", args=[finding.pk]),
        reverse("inspections:finding_step", args=[finding.pk, "start_fixing"]),
        reverse("inspections:evidence", args=[FindingEvidence.objects.get().pk]),
        reverse("inspections:finding_create") + f"?inspection={inspection.pk}",
        reverse("inspections:create") + f"?enterprise={enterprise.pk}",
        reverse("inspections:survey", args=[enterprise.pk, campaign.pk]),
        reverse("inspections:acceptance", kwargs={"classification_pk": classification.pk}),
        reverse("inspections:recheck", args=[enterprise.pk]),
    ]
    outsider = login(users["town_a2"])
    for url in urls:
        assert outsider.get(url).status_code == 404, url
    assert outsider.post(urls[4], {"note": "x"}).status_code == 404
    assert outsider.get(reverse("inspections:list")).context["page_obj"].paginator.count == 0
    assert outsider.get(reverse("inspections:finding_list")).context["page_obj"].paginator.count == 0
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN
    # The owner township reaches them all.
    insider = login(users["town_a1"])
    assert insider.get(urls[0]).status_code == 200
    assert insider.get(urls[5]).status_code == 200


# --- Dossier section --------------------------------------------------------------------------------


def test_dossier_section_lists_surveys_inspections_findings_and_buttons(users, enterprise, campaign):
    user = users["town_a1"]
    services.save_survey(
        enterprise=enterprise,
        campaign=campaign,
        actor=user,
        items={area: (area != "land", "违规占地" if area == "land" else "") for area in AccessArea.values},
        surveyed_on=DAY,
    )
    services.record_inspection(
        actor=user, kind="daily", inspected_on=DAY, result="no_issues", enterprise=enterprise, attachments=[png()]
    )
    request = RequestFactory().get("/")
    request.user = user
    html = render_to_string(
        "inspections/_dossier_section.html",
        {"enterprise": enterprise, "inspection_sections": selectors.enterprise_sections(user, enterprise)},
        request=request,
    )
    assert "违规占地" in html
    assert reverse("inspections:survey", args=[enterprise.pk, campaign.pk]) in html
    assert reverse("inspections:create") + f"?enterprise={enterprise.pk}" in html
    assert reverse("inspections:attachment", args=[InspectionAttachment.objects.get().pk]) in html
    assert reverse("inspections:finding_detail", args=[Finding.objects.get().pk]) in html
    assert reverse("inspections:recheck", args=[enterprise.pk]) not in html  # not closed

    request.user = users["reviewer"]
    html = render_to_string(
        "inspections/_dossier_section.html",
        {"enterprise": enterprise, "inspection_sections": selectors.enterprise_sections(users["reviewer"], enterprise)},
        request=request,
    )
    assert reverse("inspections:survey_start", args=[enterprise.pk]) not in html
    assert "违规占地" in html


def test_the_other_inspection_forms(login, users, enterprise, regions, campaign):
    client = login(users["county_a"])
    CampaignFactory(name="263 行动")
    page = client.get(reverse("inspections:survey_start", args=[enterprise.pk]))
    assert page.status_code == 200
    assert {c.name for c in page.context["campaigns"]} == {"四个一批 2021-2023", "263 行动"}
    assert client.get(reverse("inspections:create")).status_code == 200
    assert client.get(reverse("inspections:plan")).status_code == 200

    planned = services.plan_inspection(actor=users["county_a"], kind="daily", planned_on=DAY, enterprise=enterprise)
    cancel = reverse("inspections:cancel", args=[planned.pk])
    assert client.get(cancel).status_code == 200
    assert client.post(cancel, {"reason": ""}).context["form"].errors["reason"] == ["This field is required."]
    assert client.post(cancel, {"reason": "改期"})["Location"] == reverse("inspections:list")
    assert not Inspection.objects.exists()

    done = services.record_inspection(
        actor=users["county_a"], kind="daily", inspected_on=DAY, result="no_issues", enterprise=enterprise
    )
    add = reverse("inspections:attachment_add", args=[done.pk])
    assert client.get(add).status_code == 200
    response = client.post(add, {"files": [png("a.png"), SimpleUploadedFile("b.pdf", PDF)], "description": "现场"})
    assert response["Location"] == reverse("inspections:detail", args=[done.pk])
    assert sorted(done.attachments.values_list("original_name", flat=True)) == ["a.png", "b.pdf"]
    assert client.post(add, {"description": "x"}).context["form"].errors["files"] == ["This field is required."]

    create = reverse("inspections:finding_create") + f"?inspection={done.pk}"
    assert client.get(create).status_code == 200
    response = client.post(create, {"area": "land", "severity": "general", "description": "违规占地"})
    finding = Finding.objects.get()
    assert response["Location"] == reverse("inspections:finding_detail", args=[finding.pk])
    done.refresh_from_db()
    assert (finding.inspection, done.result) == (done, InspectionResult.ISSUES_FOUND)
    response = client.post(
        reverse("inspections:finding_create") + f"?enterprise={enterprise.pk}",
        {"area": "land", "severity": "general", "description": "直接上报", "evidence": [png()]},
    )
    assert Finding.objects.get(description="直接上报").evidence.count() == 1


def test_inspection_and_finding_pages_cost_the_same_whatever_their_size(login, users, enterprise):
    def build(size):
        inspection = services.record_inspection(
            actor=users["town_a1"],
            kind="daily",
            inspected_on=DAY,
            result="issues_found",
            enterprise=enterprise,
            departments=list(Department.objects.all()[:size]),
            findings=[{"area": "land", "description": f"问题{n}"} for n in range(size)],
            attachments=[png(f"{n}.png") for n in range(size)],
        )
        finding = inspection.findings.first()
        for n in range(size):
            services.add_finding_evidence(finding=finding, actor=users["town_a1"], file=png(f"e{n}.png"))
            services.update_finding(finding=finding, actor=users["town_a1"], data={"legal_basis": f"第{n}条"})
        return inspection, finding

    client = login(users["county_a"])

    def cost(url):
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        return len(context.captured_queries)

    small, small_finding = build(1)
    large, large_finding = build(4)
    for name, small_url, large_url in [
        (
            "inspection_detail",
            reverse("inspections:detail", args=[small.pk]),
            reverse("inspections:detail", args=[large.pk]),
        ),
        (
            "finding_detail",
            reverse("inspections:finding_detail", args=[small_finding.pk]),
            reverse("inspections:finding_detail", args=[large_finding.pk]),
        ),
    ]:
        few, many = cost(small_url), cost(large_url)
        assert few == many, (name, few, many)
        check_against_baseline(name, many)


def test_dossier_costs_the_same_whatever_the_number_of_inspections(login, users, enterprise, campaign):
    client = login(users["county_a"])
    url = reverse("enterprises:detail", args=[enterprise.pk])

    def add(count):
        for n in range(count):
            services.record_inspection(
                actor=users["town_a1"],
                kind="daily",
                inspected_on=DAY,
                result="issues_found",
                enterprise=enterprise,
                departments=list(Department.objects.all()[:2]),
                findings=[{"area": "land", "description": f"问题{n}"}],
                attachments=[png()],
            )

    services.save_survey(
        enterprise=enterprise,
        campaign=campaign,
        actor=users["town_a1"],
        items={area: (area != "land", "违规占地" if area == "land" else "") for area in AccessArea.values},
        surveyed_on=DAY,
    )
    second_campaign = CampaignFactory(name="263 行动")  # before counting: the rectification section costs per campaign
    add(1)
    with CaptureQueriesContext(connection) as few:
        page = text(client.get(url))
    assert 'data-testid="dossier-surveys"' in page and "违规占地" in page and "问题0" in page
    add(5)
    services.save_survey(
        enterprise=enterprise,
        campaign=second_campaign,
        actor=users["town_a1"],
        items=dict.fromkeys(AccessArea.values, (True, "")),
        surveyed_on=DAY,
    )
    with CaptureQueriesContext(connection) as many:
        page = text(client.get(url))
    assert page.count("问题4") == 1 and page.count("问题0") == 2
    assert len(few.captured_queries) == len(many.captured_queries)
