"""Plans and tasks: standard tasks per category, editing, ordering, verification by someone else, evidence."""

import datetime
import io
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from accounts.choices import Role
from accounts.models import Department
from rectification import services
from rectification.choices import STANDARD_TASKS, Category, StandardItem, TaskStatus
from rectification.models import Task, TaskEvidence
from rectification.selectors import lead_unit_users

from .factories import CampaignFactory, ChemicalParkFactory, EnterpriseFactory, UserFactory

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def no_prereview(db):
    """Without pre-review departments a submission completes its review at once (keeps these tests short)."""
    Department.objects.update(reviews_classifications=False)


def approve(enterprise, campaign, users, category=Category.UPGRADE, **details):
    c = services.propose_classification(enterprise, campaign, category, users["town_a1"], **details)
    services.submit_classification(c, users["county_a"])
    services.forward_to_city(c, users["county_a"])
    services.approve_classification(c, users["city"])
    return c


@pytest.fixture
def plan(regions, users, no_prereview):
    campaign = CampaignFactory()
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    return approve(enterprise, campaign, users).plan


def details_for(category, regions):
    if category == Category.RELOCATE:
        return {"destination_park": ChemicalParkFactory(township=regions["town_b1"])}
    if category == Category.RESTRUCTURE:
        return {"absorbing_enterprise": EnterpriseFactory(township=regions["town_a2"])}
    return {}


@pytest.mark.parametrize("category", [Category.SHUTDOWN, Category.RELOCATE, Category.UPGRADE, Category.RESTRUCTURE])
def test_standard_tasks_per_category(regions, users, no_prereview, category):
    campaign = CampaignFactory()
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    c = approve(
        enterprise, campaign, users, category, deadline=datetime.date(2022, 6, 30), **details_for(category, regions)
    )
    tasks = list(c.plan.tasks.order_by("order"))
    assert [t.standard_item for t in tasks] == list(STANDARD_TASKS[category])
    assert [t.order for t in tasks] == list(range(1, len(tasks) + 1))
    assert all(t.deadline == datetime.date(2022, 6, 30) and t.status == TaskStatus.NOT_STARTED for t in tasks)
    assert all(t.description and t.lead_region == regions["town_a1"] for t in tasks)


def test_standard_task_descriptions_are_in_the_register_language(plan):
    with translation.override("zh-hans"):
        expected = str(StandardItem.RETROFIT_DONE.label)
    assert plan.tasks.get(standard_item=StandardItem.RETROFIT_DONE).description == expected


def test_add_edit_reorder_delete(plan, users, regions):
    town = users["town_a1"]
    department = Department.objects.create(name="应急管理局甲县分局")
    added = services.add_task(plan, town, description="  完善应急预案 ", deadline=datetime.date(2022, 3, 31))
    assert (added.order, added.description, added.lead_region) == (5, "完善应急预案", regions["town_a1"])
    by_department = services.add_task(
        plan,
        users["county_a"],
        description="危化品储存整改",
        deadline=datetime.date(2022, 3, 31),
        lead_department=department,
    )
    assert by_department.lead_department == department and by_department.lead_region is None

    with pytest.raises(ValidationError) as caught:
        services.add_task(
            plan,
            town,
            description="x",
            deadline=datetime.date(2022, 1, 1),
            lead_department=department,
            lead_region=regions["town_a1"],
        )
    assert "lead_region" in caught.value.message_dict
    with pytest.raises(ValidationError, match="enterprise's own township"):
        services.add_task(
            plan, users["county_a"], description="x", deadline=datetime.date(2022, 1, 1), lead_region=regions["town_a2"]
        )
    with pytest.raises(PermissionDenied, match="outside your region"):
        services.add_task(plan, users["town_a2"], description="x", deadline=datetime.date(2022, 1, 1))
    with pytest.raises(PermissionDenied):
        services.add_task(plan, users["reviewer"], description="x", deadline=datetime.date(2022, 1, 1))

    changed = services.update_task(added, town, responsible_person="张三", lead_department=department)
    assert set(changed) == {"responsible_person", "lead_department", "lead_region"}
    added.refresh_from_db()
    assert (added.responsible_person, added.lead_department, added.lead_region, added.version) == (
        "张三",
        department,
        None,
        2,
    )
    assert services.update_task(added, town, responsible_person="张三") == []
    with pytest.raises(ValidationError, match="mark done"):
        services.update_task(added, town, status=TaskStatus.DONE)
    services.update_task(added, town, status=TaskStatus.IN_PROGRESS)

    ids = list(plan.tasks.order_by("order").values_list("pk", flat=True))
    new_order = [ids[-1], *ids[:-1]]
    services.reorder_tasks(plan, town, new_order)
    assert list(plan.tasks.order_by("order").values_list("pk", flat=True)) == new_order
    with pytest.raises(ValidationError, match="every task of this plan exactly once"):
        services.reorder_tasks(plan, town, new_order[:-1])
    with pytest.raises(ValidationError):
        services.reorder_tasks(plan, town, [*new_order[:-1], 999999])
    assert list(plan.tasks.order_by("order").values_list("pk", flat=True)) == new_order

    standard = plan.tasks.get(standard_item=StandardItem.RETROFIT_DONE)
    with pytest.raises(ValidationError, match="standard task"):
        services.delete_task(standard, town)
    services.delete_task(by_department, town, reason="重复")
    assert not Task.objects.filter(pk=by_department.pk).exists()
    assert Task.history.filter(id=by_department.pk, history_type="-").exists()


def test_overdue_task_given_a_later_deadline_is_in_progress_again(plan, users):
    task = plan.tasks.first()
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.OVERDUE, deadline=datetime.date(2021, 1, 1))
    task.refresh_from_db()
    services.update_task(task, users["town_a1"], deadline=datetime.date.today() + datetime.timedelta(days=30))
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS


def test_verification_by_someone_other_than_the_doer(plan, users, regions):
    county, city, town = users["county_a"], users["city"], users["town_a1"]
    task = plan.tasks.first()
    with pytest.raises(ValidationError, match="Only a task marked done"):
        services.verify_task(task, city)
    with pytest.raises(ValidationError, match="future"):
        services.mark_task_done(task, county, completed_on=datetime.date.today() + datetime.timedelta(days=1))
    services.mark_task_done(task, county, completed_on=datetime.date(2021, 8, 1), note="已断水")
    task.refresh_from_db()
    assert (task.status, task.done_by, task.completed_on, task.note) == (
        TaskStatus.DONE,
        county,
        datetime.date(2021, 8, 1),
        "已断水",
    )
    with pytest.raises(PermissionDenied, match="verified by someone else"):
        services.verify_task(task, county)
    with pytest.raises(PermissionDenied, match="Only county and city offices verify"):
        services.verify_task(task, town)
    other_county = UserFactory(username="county_a_2", role=Role.COUNTY, region=regions["county_a"])
    assert services.task_why_not(task, other_county, services.TaskAction.VERIFY) is None
    services.verify_task(task, other_county)
    task.refresh_from_db()
    assert (task.status, task.verified_by) == (TaskStatus.VERIFIED_CLOSED, other_county)
    # a closed task can no longer be edited; reopening it needs the right to verify
    with pytest.raises(ValidationError, match="reopen it"):
        services.update_task(task, town, note="x")
    with pytest.raises(PermissionDenied):
        services.reopen_task(task, town, reason="证据不足")
    with pytest.raises(ValidationError):
        services.reopen_task(task, city, reason=" ")
    services.reopen_task(task, city, reason="证据不足")
    task.refresh_from_db()
    assert (task.status, task.done_by, task.verified_by, task.completed_on) == (
        TaskStatus.IN_PROGRESS,
        None,
        None,
        None,
    )


def test_evidence_types_and_sizes(plan, users, settings, media):
    town = users["town_a1"]
    task = plan.tasks.first()
    for name, content, content_type in [
        ("现场照片.jpg", JPEG, "image/jpeg"),
        ("断电.PNG", PNG, "image/png"),
        ("验收报告.pdf", PDF, "application/pdf"),
        ("整改方案.docx", docx_bytes(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("旧表格.xls", OLE, "application/vnd.ms-excel"),
    ]:
        evidence = services.add_evidence(task, town, SimpleUploadedFile(name, content, content_type="text/plain"))
        assert (evidence.original_name, evidence.size, evidence.content_type) == (name, len(content), content_type)
        assert evidence.file.name.startswith("evidence/") and name not in evidence.file.name
        assert (media / evidence.file.name).read_bytes() == content

    refused = [
        ("病毒.jpg", b"MZ\x90\x00" + b"\x00" * 64, "not a real .jpg"),
        ("假文档.docx", b"PK\x03\x04" + b"\x00" * 64, "not a real .docx"),
        ("说明.txt", b"hello", "not accepted"),
        ("空.pdf", b"", "empty"),
    ]
    for name, content, message in refused:
        with pytest.raises(ValidationError, match=message):
            services.add_evidence(task, town, SimpleUploadedFile(name, content))
    settings.RECTIFICATION_EVIDENCE_MAX_BYTES = 50
    with pytest.raises(ValidationError, match="at most"):
        services.add_evidence(task, town, SimpleUploadedFile("大.jpg", JPEG))
    assert TaskEvidence.objects.count() == 5
    with pytest.raises(PermissionDenied):
        services.add_evidence(task, users["town_a2"], SimpleUploadedFile("a.png", PNG))


def test_mark_done_with_a_bad_file_stores_nothing(plan, users, media):
    task = plan.tasks.first()
    files = [SimpleUploadedFile("ok.jpg", JPEG), SimpleUploadedFile("bad.pdf", b"not a pdf at all")]
    with pytest.raises(ValidationError, match=r"bad\.pdf"):
        services.mark_task_done(task, users["town_a1"], completed_on=datetime.date(2021, 5, 1), evidence=files)
    task.refresh_from_db()
    assert task.status == TaskStatus.NOT_STARTED
    assert not TaskEvidence.objects.exists()
    assert not (media / "evidence").exists()
    files = [SimpleUploadedFile("ok.jpg", JPEG), SimpleUploadedFile("ok.pdf", PDF)]
    services.mark_task_done(task, users["town_a1"], completed_on=datetime.date(2021, 5, 1), evidence=files)
    assert task.evidence.count() == 2


def test_tasks_frozen_outside_in_progress(plan, users):
    c = plan.classification
    for task in plan.tasks.all():
        services.mark_task_done(task, users["town_a1"], completed_on=datetime.date(2021, 5, 1))
    services.request_acceptance(c, users["town_a1"])
    with pytest.raises(ValidationError, match="only be changed while the rectification is in progress"):
        services.add_task(plan, users["county_a"], description="x", deadline=datetime.date(2022, 1, 1))
    # …but the county may still verify done tasks while preparing the acceptance
    task = plan.tasks.first()
    services.verify_task(task, users["county_a"])
    reasons = services.task_actions(plan.tasks.last(), users["town_a1"])
    assert reasons[services.TaskAction.EDIT] and reasons[services.TaskAction.DELETE]


def test_lead_unit_users(plan, users, regions):
    department = Department.objects.create(name="生态环境局甲县分局")
    county_staff = UserFactory(username="eco_a", role=Role.REVIEWER, region=regions["county_a"], department=department)
    UserFactory(username="eco_b", role=Role.REVIEWER, region=regions["county_b"], department=department)
    by_department = services.add_task(
        plan, users["town_a1"], description="环保整改", deadline=datetime.date(2022, 1, 1), lead_department=department
    )
    by_township = plan.tasks.get(standard_item=StandardItem.RETROFIT_DONE)
    result = lead_unit_users(Task.objects.filter(pk__in=[by_department.pk, by_township.pk]))
    assert result[by_department.pk] == [county_staff]  # not the department's people in county B
    assert result[by_township.pk] == [users["town_a1"]]
