"""Inspections and the closed loop of findings: open → being fixed → awaiting verification → closed (销号)."""

import datetime
import io
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from accounts.choices import Role
from accounts.models import Department
from core.uploads import validate_upload
from inspections import selectors, services
from inspections.choices import (
    EvidenceStage,
    FindingStatus,
    InspectionKind,
    InspectionResult,
    InspectionStatus,
    Severity,
)
from inspections.models import Finding, FindingEvidence, Inspection, InspectionAttachment

from .factories import ChemicalParkFactory, EnterpriseFactory, FindingFactory, UserFactory


@pytest.fixture(autouse=True)
def english():
    """Assertions read the English messages, whatever the catalogue holds."""
    with translation.override("en"):
        yield


DAY = datetime.date(2021, 5, 6)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def png(name="现场照片.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture
def enterprise(regions):
    return EnterpriseFactory(township=regions["town_a1"])


@pytest.fixture
def second_officer(regions):
    return UserFactory(username="town_a1_b", role=Role.TOWNSHIP, region=regions["town_a1"])


def inspect(user, enterprise=None, park=None, findings=(), **kwargs):
    kwargs.setdefault("result", InspectionResult.ISSUES_FOUND if findings else InspectionResult.NO_ISSUES)
    return services.record_inspection(
        actor=user,
        kind=kwargs.pop("kind", InspectionKind.DAILY),
        inspected_on=kwargs.pop("inspected_on", DAY),
        enterprise=enterprise,
        park=park,
        findings=list(findings),
        **kwargs,
    )


SAFETY = {"area": "work_safety", "severity": Severity.GENERAL, "description": "安全出口堵塞", "deadline": DAY}


def test_inspection_with_findings_departments_and_attachment(users, enterprise):
    safety = Department.objects.create(name="示范应急管理局")
    inspection = inspect(
        users["county_a"],
        enterprise,
        findings=[SAFETY | {"legal_basis": "《安全生产法》第二十八条", "responsible_department": safety}],
        departments=[safety],
        inspectors="王五、赵六",
        attachments=[png()],
    )
    assert inspection.status == InspectionStatus.DONE and inspection.result == InspectionResult.ISSUES_FOUND
    assert list(inspection.departments.all()) == [safety]
    finding = inspection.findings.get()
    assert (finding.enterprise, finding.status, finding.responsible_unit) == (
        enterprise,
        FindingStatus.OPEN,
        safety.name,
    )
    attachment = inspection.attachments.get()
    assert attachment.original_name == "现场照片.png" and attachment.file_kind == "image"
    assert attachment.file.name.startswith("inspections/") and "现场照片" not in attachment.file.name


def test_the_closed_loop_with_verification_by_someone_else(users, enterprise, second_officer):
    officer = users["town_a1"]
    finding = inspect(users["county_a"], enterprise, findings=[SAFETY]).findings.get()

    finding = services.start_fixing(finding=finding, actor=officer, note="已安排清理")
    assert finding.status == FindingStatus.FIXING
    finding = services.submit_fix(finding=finding, actor=officer, note="已清理安全出口", evidence=[png("整改后.png")])
    assert finding.status == FindingStatus.AWAITING_VERIFICATION and finding.fixed_by == officer
    assert finding.evidence.get().stage == EvidenceStage.FIXED

    with pytest.raises(PermissionDenied, match="someone else"):
        services.verify_finding(finding=finding, actor=officer)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.AWAITING_VERIFICATION

    finding = services.verify_finding(finding=finding, actor=second_officer, note="现场核实")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED
    assert finding.verified_by == second_officer and finding.verified_at is not None
    statuses = list(finding.history.order_by("history_date", "history_id").values_list("status", flat=True))
    assert statuses == ["open", "fixing", "awaiting_verification", "closed"]


def test_a_rejected_fix_is_reopened_and_needs_a_reason(users, enterprise, second_officer):
    finding = inspect(users["county_a"], enterprise, findings=[SAFETY]).findings.get()
    services.submit_fix(finding=finding, actor=users["town_a1"], note="已整改")
    with pytest.raises(ValidationError) as caught:
        services.verify_finding(finding=finding, actor=second_officer, passed=False)
    assert "note" in caught.value.message_dict
    finding = services.verify_finding(finding=finding, actor=second_officer, passed=False, note="出口仍有杂物")
    assert finding.status == FindingStatus.REOPENED and finding.verification_note == "出口仍有杂物"

    # The earlier verifier may fix it this time; a new fix is verified afresh by someone else.
    finding = services.submit_fix(finding=finding, actor=second_officer, note="再次清理")
    assert finding.verified_by is None
    finding = services.verify_finding(finding=finding, actor=users["town_a1"])
    assert finding.status == FindingStatus.CLOSED


def test_reopen_a_closed_finding(users, enterprise):
    finding = FindingFactory(
        enterprise=enterprise, status=FindingStatus.AWAITING_VERIFICATION, fixed_by=users["town_a1"]
    )
    services.verify_finding(finding=finding, actor=users["county_a"])
    with pytest.raises(ValidationError):
        services.reopen_finding(finding=finding, actor=users["county_a"], reason="")
    finding = services.reopen_finding(finding=finding, actor=users["county_a"], reason="复查发现问题反弹")
    assert finding.status == FindingStatus.REOPENED
    assert finding.history.first().history_change_reason == "复查发现问题反弹"


def test_wrong_steps_are_refused_with_the_state(users, enterprise):
    finding = FindingFactory(enterprise=enterprise)
    with pytest.raises(ValidationError, match="verified"):
        services.verify_finding(finding=finding, actor=users["county_a"])
    with pytest.raises(ValidationError):
        services.reopen_finding(finding=finding, actor=users["county_a"], reason="x")
    with pytest.raises(ValidationError) as caught:
        services.submit_fix(finding=finding, actor=users["town_a1"], note=" ")
    assert "note" in caught.value.message_dict
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN


def test_a_township_cannot_close_a_major_accident_hazard(users, enterprise, second_officer):
    finding = FindingFactory(enterprise=enterprise, severity=Severity.MAJOR)
    services.submit_fix(finding=finding, actor=users["town_a1"], note="已停用储罐")
    with pytest.raises(PermissionDenied, match="county level"):
        services.verify_finding(finding=finding, actor=second_officer)
    assert list(selectors.findings_to_verify(second_officer)) == []
    assert list(selectors.findings_to_verify(users["county_a"])) == [finding]
    services.verify_finding(finding=finding, actor=users["county_a"])
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED


@pytest.mark.parametrize("username", ["town_a2"])
def test_another_township_can_neither_record_nor_follow_up(users, enterprise, username):
    with pytest.raises(PermissionDenied):
        inspect(users[username], enterprise)
    finding = FindingFactory(enterprise=enterprise)
    for step in (
        lambda: services.start_fixing(finding=finding, actor=users[username]),
        lambda: services.submit_fix(finding=finding, actor=users[username], note="x"),
        lambda: services.record_finding(actor=users[username], enterprise=enterprise, area="land", description="x"),
    ):
        with pytest.raises(PermissionDenied):
            step()
    assert Inspection.objects.count() == 0 and Finding.objects.count() == 1


def test_api_role_cannot_manage_findings(regions, enterprise):
    robot = UserFactory(role=Role.API, region=regions["city"])
    finding = FindingFactory(enterprise=enterprise)
    with pytest.raises(PermissionDenied):
        services.start_fixing(finding=finding, actor=robot)
    with pytest.raises(PermissionDenied):
        inspect(robot, enterprise)


def test_departments_and_supervisors_may_inspect(users, enterprise):
    inspect(users["reviewer"], enterprise, kind=InspectionKind.JOINT_ENFORCEMENT)
    inspect(users["supervisor"], enterprise, kind=InspectionKind.QUARTERLY_JOINT, findings=[SAFETY])
    assert Inspection.objects.count() == 2 and Finding.objects.count() == 1


def test_inspection_validation(users, enterprise, regions):
    park = ChemicalParkFactory(township=regions["town_a1"])
    with pytest.raises(ValidationError):
        inspect(users["county_a"], enterprise, park=park)
    with pytest.raises(ValidationError):
        inspect(users["county_a"])
    with pytest.raises(ValidationError) as caught:
        inspect(users["county_a"], enterprise, findings=[SAFETY], result=InspectionResult.NO_ISSUES)
    assert "result" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        inspect(users["county_a"], enterprise, result=InspectionResult.PASSED)
    assert "result" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        inspect(users["county_a"], enterprise, kind=InspectionKind.ACCEPTANCE, result=InspectionResult.PASSED)
    assert "kind" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        inspect(users["county_a"], enterprise, findings=[SAFETY | {"deadline": DAY - datetime.timedelta(days=1)}])
    assert "finding_1" in caught.value.message_dict
    assert Inspection.objects.count() == 0 and Finding.objects.count() == 0


def test_a_bad_file_leaves_nothing_behind(users, enterprise):
    fake = SimpleUploadedFile("report.pdf", b"MZ\x90\x00 not a pdf")
    with pytest.raises(ValidationError) as caught:
        inspect(users["county_a"], enterprise, findings=[SAFETY], attachments=[fake])
    assert "report.pdf" in str(caught.value.message_dict["file"])
    assert (
        Inspection.objects.count() == 0 and Finding.objects.count() == 0 and InspectionAttachment.objects.count() == 0
    )


def test_upload_rules():
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    assert validate_upload(SimpleUploadedFile("整改报告.docx", docx.getvalue())) == "office"
    assert validate_upload(SimpleUploadedFile("a.pdf", b"%PDF-1.7\n")) == "pdf"
    for name, content, code in [
        ("a.xlsx", docx.getvalue(), "content_mismatch"),  # a Word file renamed
        ("a.exe", b"MZ", "bad_type"),
        ("a.png", b"", "empty"),
        ("a.png", PNG, "too_large"),
    ]:
        with pytest.raises(ValidationError) as caught:
            validate_upload(SimpleUploadedFile(name, content), max_bytes=32 if code == "too_large" else 10_000)
        assert caught.value.code == code, name


def test_finding_evidence_refused_once_closed(users, enterprise):
    finding = FindingFactory(
        enterprise=enterprise, status=FindingStatus.AWAITING_VERIFICATION, fixed_by=users["town_a1"]
    )
    services.add_finding_evidence(finding=finding, actor=users["town_a1"], file=png(), stage=EvidenceStage.FIXED)
    services.verify_finding(finding=finding, actor=users["county_a"])
    with pytest.raises(ValidationError):
        services.add_finding_evidence(finding=finding, actor=users["town_a1"], file=png())
    assert FindingEvidence.objects.count() == 1


def test_adding_a_finding_turns_no_issues_into_issues_found(users, enterprise):
    inspection = inspect(users["county_a"], enterprise)
    services.record_finding(actor=users["county_a"], inspection=inspection, area="environment", description="废水直排")
    inspection.refresh_from_db()
    assert inspection.result == InspectionResult.ISSUES_FOUND


def test_planned_inspection_is_completed_not_duplicated(users, enterprise):
    safety = Department.objects.create(name="示范应急管理局")
    planned = services.plan_inspection(
        actor=users["county_a"],
        kind=InspectionKind.DOUBLE_RANDOM,
        planned_on=DAY,
        enterprise=enterprise,
        departments=[safety],
        inspectors="双随机抽查组",
    )
    assert list(selectors.planned_inspections(users["town_a1"])) == [planned]
    done = inspect(users["town_a1"], enterprise, kind=InspectionKind.DOUBLE_RANDOM, planned=planned)
    assert done.pk == planned.pk and done.status == InspectionStatus.DONE
    assert list(done.departments.all()) == [safety] and done.inspectors == "双随机抽查组"
    assert done.created_by == users["county_a"]
    assert Inspection.objects.count() == 1
    with pytest.raises(ValidationError):
        inspect(users["town_a1"], enterprise, kind=InspectionKind.DOUBLE_RANDOM, planned=planned)


def test_cancel_planned_inspection(users, enterprise):
    planned = services.plan_inspection(
        actor=users["county_a"], kind=InspectionKind.DAILY, planned_on=DAY, enterprise=enterprise
    )
    with pytest.raises(ValidationError):
        services.cancel_planned_inspection(inspection=planned, actor=users["county_a"], reason="")
    services.cancel_planned_inspection(inspection=planned, actor=users["county_a"], reason="企业已关闭")
    assert Inspection.objects.count() == 0
    assert Inspection.history.filter(history_type="-").get().history_change_reason == "企业已关闭"


def test_park_inspections_are_scoped_through_the_park(users, regions):
    park_a1 = ChemicalParkFactory(township=regions["town_a1"])
    park_a2 = ChemicalParkFactory(township=regions["town_a2"])
    inspection = inspect(users["county_a"], park=park_a1, findings=[SAFETY], kind=InspectionKind.QUARTERLY_JOINT)
    inspect(users["county_a"], park=park_a2)
    assert inspection.findings.get().park == park_a1

    assert list(selectors.inspections_list(users["town_a1"])) == [inspection]
    assert selectors.inspections_list(users["county_a"]).count() == 2
    assert selectors.findings_list(users["town_a2"]).count() == 0
    assert selectors.findings_list(users["town_a1"]).count() == 1
    with pytest.raises(PermissionDenied):
        inspect(users["town_a1"], park=park_a2)


def test_detail_selectors_404_outside_region(users, enterprise):
    from django.http import Http404

    inspection = inspect(users["county_a"], enterprise, findings=[SAFETY])
    finding = inspection.findings.get()
    assert selectors.inspection_detail(users["town_a1"], inspection.pk) == inspection
    with pytest.raises(Http404):
        selectors.inspection_detail(users["town_a2"], inspection.pk)
    with pytest.raises(Http404):
        selectors.finding_detail(users["town_a2"], finding.pk)
    detail = selectors.finding_detail(users["town_a1"], finding.pk)
    assert detail.finding == finding and len(detail.history) == 1
    assert detail.actions["start_fixing"] is None and detail.actions["submit_fix"] is None
    assert "cannot be verified" in detail.actions["verify"]


def test_finding_actions_explain_refusals(users, enterprise, second_officer):
    finding = FindingFactory(enterprise=enterprise, severity=Severity.MAJOR)
    finding = services.submit_fix(finding=finding, actor=users["town_a1"], note="已整改")
    mine = services.finding_actions(finding, users["town_a1"])
    assert mine["submit_fix"] and "cannot be reported fixed" in mine["submit_fix"]
    assert "county level" in mine["verify"]
    assert services.finding_actions(finding, users["county_a"])["verify"] is None
    assert "outside your region" in services.finding_actions(finding, users["town_a2"])["verify"]
    minor = services.submit_fix(finding=FindingFactory(enterprise=enterprise), actor=users["town_a1"], note="已整改")
    assert "someone else" in services.finding_why_not(minor, users["town_a1"], services.FindingAction.VERIFY)
    assert services.finding_why_not(minor, second_officer, services.FindingAction.VERIFY) is None


def test_overdue_filter_and_mark(users, enterprise):
    today = datetime.date(2021, 6, 1)
    late = FindingFactory(enterprise=enterprise, deadline=datetime.date(2021, 5, 1))
    fixing_late = FindingFactory(enterprise=enterprise, deadline=datetime.date(2021, 5, 2), status=FindingStatus.FIXING)
    FindingFactory(enterprise=enterprise, deadline=datetime.date(2021, 7, 1))
    FindingFactory(
        enterprise=enterprise,
        deadline=datetime.date(2021, 5, 1),
        status=FindingStatus.AWAITING_VERIFICATION,
        fixed_by=users["town_a1"],
    )
    FindingFactory(enterprise=enterprise, deadline=None)

    overdue = selectors.findings_list(users["town_a1"], overdue=True, on=today)
    assert set(overdue) == {late, fixing_late} and all(f.is_overdue for f in overdue)
    assert selectors.findings_list(users["town_a1"], overdue=False, on=today).count() == 3

    assert services.mark_overdue_findings(today) == 2
    assert services.mark_overdue_findings(today) == 0
    assert set(Finding.objects.filter(overdue_since=today)) == {late, fixing_late}

    services.update_finding(finding=late, actor=users["town_a1"], data={"deadline": datetime.date(2099, 1, 1)})
    late.refresh_from_db()
    assert late.overdue_since is None


def test_findings_list_filters(users, enterprise):
    FindingFactory(enterprise=enterprise, severity=Severity.MAJOR, area="land")
    FindingFactory(enterprise=enterprise, area="environment", status=FindingStatus.FIXING)
    other = EnterpriseFactory(township=enterprise.township)
    FindingFactory(enterprise=other, area="land")
    user = users["county_a"]
    assert selectors.findings_list(user, severity=Severity.MAJOR).count() == 1
    assert selectors.findings_list(user, area="land").count() == 2
    assert selectors.findings_list(user, status=FindingStatus.FIXING).count() == 1
    assert selectors.findings_list(user, enterprise=other).count() == 1
    assert selectors.findings_list(user, region=enterprise.township).count() == 3


def test_work_queue_excludes_own_fixes(users, enterprise, second_officer):
    mine = FindingFactory(enterprise=enterprise, status=FindingStatus.AWAITING_VERIFICATION, fixed_by=users["town_a1"])
    theirs = FindingFactory(enterprise=enterprise, status=FindingStatus.AWAITING_VERIFICATION, fixed_by=second_officer)
    assert list(selectors.findings_to_verify(users["town_a1"])) == [theirs]
    assert selectors.count_findings_to_verify(second_officer) == 1
    assert selectors.count_findings_to_verify(users["town_a2"]) == 0
    assert {f.pk for f in selectors.findings_to_verify(users["county_a"])} == {mine.pk, theirs.pk}


def _count(callable_):
    with CaptureQueriesContext(connection) as context:
        rows = list(callable_())
        for row in rows:
            str(row.target), str(getattr(row, "responsible_department", "")), row.target.township.name
            if isinstance(row, Inspection):
                list(row.departments.all())
    return len(context.captured_queries)


def test_lists_cost_the_same_whatever_their_length(users, enterprise, regions):
    user = users["county_a"]
    safety = Department.objects.create(name="示范应急管理局")
    inspect(user, enterprise, findings=[SAFETY | {"responsible_department": safety}], departments=[safety])
    few = (
        _count(lambda: selectors.findings_list(user)),
        _count(lambda: selectors.inspections_list(user)),
        _count(lambda: selectors.findings_to_verify(user)),
    )
    for _ in range(5):
        other = EnterpriseFactory(township=regions["town_a2"])
        inspection = inspect(user, other, findings=[SAFETY | {"responsible_department": safety}], departments=[safety])
        services.submit_fix(finding=inspection.findings.get(), actor=users["town_a2"], note="done")
        inspect(user, park=ChemicalParkFactory(township=regions["town_a1"]), departments=[safety])
    many = (
        _count(lambda: selectors.findings_list(user)),
        _count(lambda: selectors.inspections_list(user)),
        _count(lambda: selectors.findings_to_verify(user)),
    )
    assert many == few


# --- Admin ---------------------------------------------------------------------------------


def test_admin_lists_and_corrects_findings_within_the_region(users, regions, client_for, enterprise):
    park = ChemicalParkFactory(township=regions["town_a1"])
    inspection = inspect(users["county_a"], park=park, findings=[SAFETY], kind=InspectionKind.QUARTERLY_JOINT)
    finding = inspection.findings.get()
    client = client_for(users["county_a"])

    assert client.get("/admin/inspections/inspection/").status_code == 200
    assert client.get(f"/admin/inspections/inspection/{inspection.pk}/change/").status_code == 200
    listing = client.get("/admin/inspections/finding/")
    assert "安全出口堵塞" in listing.content.decode()

    page = client.get(f"/admin/inspections/finding/{finding.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in ("area", "severity", "legal_basis", "responsible_unit")}
    data |= {"description": "安全出口被货物堵塞", "deadline": "2021-06-30", "responsible_department": ""}
    data |= {"evidence-TOTAL_FORMS": "0", "evidence-INITIAL_FORMS": "0"}
    response = client.post(f"/admin/inspections/finding/{finding.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    finding.refresh_from_db()
    assert finding.description == "安全出口被货物堵塞" and finding.deadline == datetime.date(2021, 6, 30)
    assert finding.history.first().history_user == users["county_a"]


def test_admin_hides_other_regions(regions, client_for, enterprise, users):
    finding = FindingFactory(enterprise=enterprise)
    county_b = UserFactory(username="county_b", role=Role.COUNTY, region=regions["county_b"])
    client = client_for(county_b)
    assert "安全隐患" not in client.get("/admin/inspections/finding/").content.decode()
    assert client.get(f"/admin/inspections/finding/{finding.pk}/change/").status_code == 302
    assert client.get("/admin/inspections/survey/add/").status_code == 403
