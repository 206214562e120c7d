"""Large rosters through a real Celery worker (PostgreSQL + Redis): preview, then commit, with progress.

Runs in the PostgreSQL pass (see tests/test_worker.py for how the worker subprocess is started); skips
elsewhere unless REQUIRE_WORKER=1. The worker reads the uploaded file from the same MEDIA_ROOT.
"""

import pytest

from enterprises.models import Enterprise
from imports import services, tasks
from imports.models import ImportStatus, RosterImport
from inspections.models import Finding
from rectification.models import Classification

from .factories import CampaignFactory, UserFactory, make_city, make_county, make_township, next_uscc
from .import_support import roster_upload, row


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_previews_and_commits_a_large_roster(worker):
    city = make_city()
    township = make_township(make_county(city, 1, "甲县"), 1, "甲一镇")
    user = UserFactory(username="worker_importer", role="township", region=township)
    campaign = CampaignFactory(name="四个一批专项行动")
    rows = [
        row(
            next_uscc(),
            f"企业{index}",
            category="关停" if index % 2 else "升级",
            problems="无证生产" if index % 3 == 0 else None,
        )
        for index in range(120)
    ]
    rows.append(row("BAD", "坏代码"))
    record = services.start_import(file=roster_upload(rows), user=user, campaign=campaign)

    assert worker.run(tasks.preview_roster_import, record.pk) == ImportStatus.PREVIEWED
    record.refresh_from_db()
    assert (record.created_count, record.error_row_count, record.progress) == (120, 1, 100)
    assert not Enterprise.objects.exists()

    services.claim_for_commit(record, user, skip_errors=False)
    assert worker.run(tasks.commit_roster_import, record.pk, user.pk, False) == ImportStatus.REFUSED
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED and record.message
    assert not Enterprise.objects.exists()

    services.claim_for_commit(record, user, skip_errors=True)
    assert worker.run(tasks.commit_roster_import, record.pk, user.pk, True) == ImportStatus.COMMITTED
    record.refresh_from_db()
    assert record.progress == 100 and record.committed_at is not None
    assert Enterprise.objects.count() == 120
    assert Classification.objects.count() == 120
    assert Finding.objects.count() == 40
    assert Enterprise.history.filter(history_user=user, history_change_reason=record.reason).count() == 120
    assert RosterImport.objects.get().status == ImportStatus.COMMITTED


@pytest.mark.django_db(transaction=True)
def test_progress_made_inside_the_commit_transaction_is_visible_to_the_page():
    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: progress inside a transaction is shown on PostgreSQL only")
    city = make_city()
    township = make_township(make_county(city, 1, "甲县"), 1, "甲一镇")
    user = UserFactory(username="progress_importer", role="township", region=township)
    record = services.start_import(
        file=roster_upload([row(next_uscc(), "甲")]), user=user, campaign=CampaignFactory(name="四个一批专项行动")
    )
    default = connections["default"]
    probe = default.__class__(dict(default.settings_dict), alias="probe")
    try:
        with transaction.atomic():
            services.Progress(record, live=True)(37)
            with probe.cursor() as cursor:  # another session, as the status endpoint would be
                cursor.execute("SELECT progress FROM imports_rosterimport WHERE id = %s", [record.pk])
                seen = cursor.fetchone()[0]
    finally:
        probe.close()
        services._close_progress_connection()
    assert seen == 37
