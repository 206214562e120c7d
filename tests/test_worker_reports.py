"""The worker path of issue 5 on PostgreSQL + Redis with a real Celery worker (the fixture of test_worker):
a quarterly report requested from the page is built by the worker; the deadline checks run there too."""

import datetime
import io
import os

import pytest
from django.conf import settings
from django.urls import reverse
from openpyxl import load_workbook

from core.models import Notification
from core.tasks import check_deadlines
from rectification.models import ReportStatus, SupervisionReport
from rectification.tasks import build_supervision_report

from .factories import (
    CampaignFactory,
    ClassificationFactory,
    EnterpriseFactory,
    PlanFactory,
    TargetFactory,
    TaskFactory,
    UserFactory,
    make_city,
    make_county,
    make_township,
)
from .test_quarterly_report import backdate_history


@pytest.fixture(scope="module")
def shared_media(tmp_path_factory):
    """The worker writes the workbook where this process reads it (set before the worker starts)."""
    previous = os.environ.get("DJANGO_MEDIA_ROOT")
    os.environ["DJANGO_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    yield
    if previous is None:
        os.environ.pop("DJANGO_MEDIA_ROOT", None)
    else:
        os.environ["DJANGO_MEDIA_ROOT"] = previous


def _data():
    city = make_city()
    county = make_county(city, 1, "甲县")
    township = make_township(county, 1, "甲一镇")
    officer = UserFactory(username="officer", role="township", region=township)
    county_user = UserFactory(username="county", role="county", region=county)
    campaign = CampaignFactory(name="四个一批")
    TargetFactory(campaign=campaign, region=township, year=2021, shutdown=2)
    classification = ClassificationFactory(
        enterprise=EnterpriseFactory(township=township, name="@危险化工"),
        campaign=campaign,
        category="shutdown",
        state="in_progress",
    )
    TaskFactory(
        plan=PlanFactory(classification=classification), description="断水断电", deadline=datetime.date(2021, 3, 1)
    )
    backdate_history()  # recorded during 2021Q1, the quarter reported on
    return {"city": city, "county": county, "officer": officer, "county_user": county_user, "campaign": campaign}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_builds_a_requested_report(shared_media, worker, client, monkeypatch):
    data = _data()
    client.force_login(data["county_user"])
    # The page records the request; the task goes through the broker to the worker.
    from config.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    # The page's .delay() goes to the default queue; this worker consumes a queue of its own.
    monkeypatch.setattr(
        build_supervision_report,
        "delay",
        lambda pk: build_supervision_report.apply_async(args=[pk], queue=worker.queue),
    )
    try:
        response = client.post(
            reverse("rectification:reports"),
            {"campaign": data["campaign"].pk, "quarter": "2021Q1", "region": data["county"].pk},
        )
    finally:
        celery_app.conf.task_always_eager = True
    assert response.status_code == 302
    report = SupervisionReport.objects.get()
    # Wait for the worker through the status endpoint, as the page does.
    import time

    deadline = time.monotonic() + 60
    while True:
        status = client.get(reverse("rectification:report_status", args=[report.pk])).json()
        if status["status"] in ("done", "failed"):
            break
        if worker.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"The report was not built by the worker:\n{worker.log()}")
        time.sleep(0.2)
    assert status["status"] == "done", status
    report.refresh_from_db()
    assert report.progress == 100 and report.figures["overdue_items"] == 1
    workbook = load_workbook(io.BytesIO(client.get(status["download_url"]).getvalue()))
    overdue = list(workbook.worksheets[-2].iter_rows(values_only=True))
    assert overdue[1][2] == "'@危险化工" and overdue[1][4] == "断水断电"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_runs_the_deadline_checks_and_the_report_task(shared_media, worker):
    data = _data()
    report = worker.run(check_deadlines, "2021-03-31")
    assert report["overdue_tasks"] == {"tasks_marked_overdue": 1, "notifications": 1}
    assert Notification.objects.get().recipient == data["officer"]
    assert worker.run(check_deadlines, "2021-03-31")["notifications"] == 0
    queued = SupervisionReport.objects.create(campaign=data["campaign"], quarter="2021Q1", region=data["city"])
    assert worker.run(build_supervision_report, queued.pk) == ReportStatus.DONE
    queued.refresh_from_db()
    assert queued.file and queued.figures["rows"][0]["tasks_overdue"] == 1
