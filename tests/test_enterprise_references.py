"""Records that show their enterprise's code, name or township look changed to the API's sync when those change."""

import datetime

import pytest
from django.utils import timezone

from enterprises import services
from inspections.models import Finding
from rectification.models import Classification, Task

from .factories import EnterpriseFactory, FindingFactory, PlanFactory, TaskFactory

LONG_AGO = timezone.make_aware(datetime.datetime(2025, 1, 1, 8, 0))


@pytest.fixture
def dependents(regions):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    task = TaskFactory(plan=PlanFactory(classification__enterprise=enterprise))
    finding = FindingFactory(enterprise=enterprise)
    classification = task.plan.classification
    # Pretend all of it was last synced long ago.
    Classification.objects.filter(pk=classification.pk).update(updated_at=LONG_AGO)
    Task.objects.filter(pk=task.pk).update(updated_at=LONG_AGO)
    Finding.objects.filter(pk=finding.pk).update(updated_at=LONG_AGO)
    return enterprise, classification, task, finding


def updated(*records):
    return [type(r).objects.get(pk=r.pk).updated_at > LONG_AGO for r in records]


def test_renaming_an_enterprise_marks_its_classifications_tasks_and_findings_changed(dependents, users):
    enterprise, *records = dependents
    versions = [type(r).objects.get(pk=r.pk).version for r in records]
    services.update_enterprise(enterprise=enterprise, actor=users["city"], data={"name": "新名称化工有限公司"})
    assert updated(*records) == [True, True, True]
    assert [type(r).objects.get(pk=r.pk).version for r in records] == [v + 1 for v in versions]


def test_a_change_they_do_not_show_leaves_them_alone(dependents, users):
    enterprise, *records = dependents
    services.update_enterprise(enterprise=enterprise, actor=users["city"], data={"staff_count": 321})
    assert updated(*records) == [False, False, False]
