"""The demo city's surveys, inspections and findings: every kind and state present, and a second run adds nothing."""

import pytest

from core.demo import build_demo
from inspections.choices import FindingStatus, InspectionKind, InspectionResult, InspectionStatus
from inspections.models import Finding, Inspection, Survey
from rectification.choices import StepAction
from rectification.models import ClassificationStep


@pytest.mark.django_db
def test_demo_inspections_cover_every_kind_and_state_and_are_idempotent():
    build_demo()

    assert Survey.objects.count() > 300
    assert set(Finding.objects.values_list("status", flat=True)) == set(FindingStatus.values)
    assert Finding.objects.filter(overdue_since__isnull=False).exists()
    kinds = set(Inspection.objects.filter(status=InspectionStatus.DONE).values_list("kind", flat=True))
    assert kinds == set(InspectionKind.values)
    results = set(Inspection.objects.filter(kind=InspectionKind.ACCEPTANCE).values_list("result", flat=True))
    assert results == {InspectionResult.PASSED, InspectionResult.FAILED}
    assert Inspection.objects.filter(result=InspectionResult.PRODUCING_AGAIN).count() == 1
    assert Inspection.objects.filter(kind=InspectionKind.RECHECK, status=InspectionStatus.PLANNED).exists()
    reopen = ClassificationStep.objects.get(action=StepAction.REOPEN, details__has_key="inspection")
    assert reopen.classification.enterprise.findings.filter(severity="major").exists()

    counts = (Survey.objects.count(), Inspection.objects.count(), Finding.objects.count())
    build_demo()
    assert (Survey.objects.count(), Inspection.objects.count(), Finding.objects.count()) == counts
