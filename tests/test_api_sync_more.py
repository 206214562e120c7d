"""Incremental sync of roster imports, supervision reports, notifications and surveys (every change exactly once
while records change during the pull, through the real write paths), and the surveys resource itself."""

import datetime

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.api.sync import parse_since
from core.models import Notification, NotificationKind
from core.notifications import mark_all_read, mark_read
from imports import services as import_services
from imports.models import ImportStatus, RosterImport
from inspections import services as inspection_services
from inspections.choices import AccessArea, FindingStatus
from inspections.models import Finding, Survey
from rectification import reports as report_builder
from rectification.models import ReportStatus, SupervisionReport

from .api_support import api_client_for
from .factories import EnterpriseFactory, UserFactory, make_survey_campaign
from .test_api_sync import pull
from .test_query_counts import check_against_baseline

V1 = "/api/v1/"
EPOCH = "2000-01-01T00:00:00+08:00"
SURVEYED_ON = datetime.date(2021, 3, 10)


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.API_SYNC_SETTLE_SECONDS = 5
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


@pytest.fixture
def campaign(db):
    return make_survey_campaign()


def stamp(model, pks, moment):
    """Set updated_at as a committed write at `moment` would have (auto_now cannot be told the time)."""
    model.objects.filter(pk__in=pks).update(updated_at=moment)


def spread(model, records):
    """Stamp the records an hour ago, two by two on one timestamp (ties are ordered by id)."""
    base = timezone.now() - datetime.timedelta(hours=1)
    for index, record in enumerate(records):
        stamp(model, [record.pk], base + datetime.timedelta(minutes=index // 2 * 2))


def bumped(model, record, before=None) -> datetime.datetime:
    """updated_at after a write through a real path: later than before; then settled for the pull."""
    before = before or record.updated_at
    after = model.objects.values_list("updated_at", flat=True).get(pk=record.pk)
    assert after > before, f"{model.__name__} {record.pk}: the write did not bump updated_at"
    stamp(model, [record.pk], timezone.now() - datetime.timedelta(seconds=10))
    return after


def assert_exact_mirror(rows, queryset, field):
    """Each change once, in (updated_at, id) order; the last row of each record is the record as it is now."""
    seen = [(row["id"], row["updated_at"]) for row in rows]
    assert len(seen) == len(set(seen)), "a change was sent twice"
    mirror = {row["id"]: row for row in rows}
    assert set(mirror) == set(queryset.values_list("pk", flat=True)), "a record was missed"
    for record in queryset:
        assert mirror[record.pk][field] == getattr(record, field), (record.pk, field)
    keys = [(parse_since(row["updated_at"]), row["id"]) for row in rows]
    assert keys == sorted(keys)
    return mirror


def sent(rows, pk, field):
    return [row[field] for row in rows if row["id"] == pk]


# --- Roster imports ------------------------------------------------------------------------------------


def make_import(user, region, campaign, **fields):
    return RosterImport.objects.create(
        created_by=user,
        file_name=f"{region.name}名单.xlsx",
        sha256="ab" * 32,
        file="imports/2021/03/roster.xlsx",
        region=region,
        campaign=campaign,
        **{"status": ImportStatus.PREVIEWED, **fields},
    )


def worker_progress(record, percent):
    """The worker's progress write, as made outside a transaction (a test always runs inside one)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(import_services, "connection", type("Outside", (), {"in_atomic_block": False})())
        import_services.Progress(record)(percent)


def test_import_sync_during_progress_claims_and_failures(regions, users, campaign):
    _c, _t, http = api_client_for(regions["county_a"])
    records = [make_import(users["town_a1"], regions["town_a1"], campaign) for _index in range(8)]
    make_import(users["city"], regions["town_b1"], campaign)  # another county: never sent
    spread(RosterImport, records)
    for record in records:
        record.refresh_from_db()
    already, not_yet, failing = records[1], records[6], records[2]

    def change_during_the_pull(page):
        if page != 2:
            return
        import_services.claim_for_commit(already, users["town_a1"], skip_errors=False)  # a set-based update
        bumped(RosterImport, already)
        worker_progress(not_yet, 40)
        bumped(RosterImport, not_yet)
        import_services._fail(failing, RuntimeError("磁盘已满"))
        bumped(RosterImport, failing)

    rows = pull(http, V1 + "imports/", {"updated_since": EPOCH, "page_size": 2}, on_page=change_during_the_pull)
    assert_exact_mirror(rows, RosterImport.objects.filter(region__path__startswith=regions["county_a"].path), "status")
    assert sent(rows, already.pk, "status") == ["previewed", "committing"]
    assert sent(rows, not_yet.pk, "progress") == [40]
    assert sent(rows, failing.pk, "status") == ["previewed", "failed"]
    assert rows[-1]["updated_at"].endswith("+08:00")
    assert pull(http, V1 + "imports/", {"updated_since": rows[-1]["updated_at"]}) == []


def test_an_unreadable_file_bumps_updated_at(regions, users, campaign):
    """The preview saves the failure with named fields (save(update_fields=...)): updated_at is among them."""
    record = make_import(users["town_a1"], regions["town_a1"], campaign, status=ImportStatus.PREVIEWING)
    record.file.save("roster.xlsx", ContentFile(b"not a workbook"), save=True)
    stamp(RosterImport, [record.pk], timezone.now() - datetime.timedelta(hours=1))
    record.refresh_from_db()
    before = record.updated_at
    import_services.preview(record, users["town_a1"])
    assert RosterImport.objects.get(pk=record.pk).status == ImportStatus.FAILED
    bumped(RosterImport, record, before)


# --- Quarterly supervision reports ---------------------------------------------------------------------


def test_report_sync_while_the_worker_builds(regions, users, campaign):
    _c, _t, http = api_client_for(regions["county_a"])
    reports = [
        SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=regions["county_a"])
        for _index in range(6)
    ]
    SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=regions["county_b"])
    spread(SupervisionReport, reports)
    for report in reports:
        report.refresh_from_db()
    already, not_yet = reports[0], reports[5]

    def build_during_the_pull(page):
        if page != 2:
            return
        for report, progress in ((already, 60), (not_yet, 30)):
            report_builder._set(report, status=ReportStatus.RUNNING, progress=progress)
            bumped(SupervisionReport, report)

    rows = pull(http, V1 + "reports/", {"updated_since": EPOCH, "page_size": 2}, on_page=build_during_the_pull)
    assert_exact_mirror(rows, SupervisionReport.objects.filter(region=regions["county_a"]), "progress")
    assert sent(rows, already.pk, "status") == ["queued", "running"]
    assert sent(rows, not_yet.pk, "progress") == [30]
    assert pull(http, V1 + "reports/", {"updated_since": rows[-1]["updated_at"]}) == []


# --- Notifications -------------------------------------------------------------------------------------


def notification(user, title):
    return Notification.objects.create(
        recipient=user, kind=NotificationKind.TASK_OVERDUE, title=title, link="/tasks/1/", dedup_key=f"t:{title}"
    )


def test_notification_sync_of_ones_own_while_they_are_read(regions, users):
    api, _t, http = api_client_for(regions["county_a"], write=True)
    mine = [notification(api.user, f"消息{index}") for index in range(7)]
    notification(users["county_a"], "别人的消息")  # same region, another recipient: never sent
    spread(Notification, mine)
    for row in mine:
        row.refresh_from_db()
    already, not_yet = mine[0], mine[6]

    def read_during_the_pull(page):
        if page != 2:
            return
        assert mark_read(api.user, [already.pk]) == 1
        bumped(Notification, already)
        # Through the API, as a client marks it read.
        assert http.post(f"{V1}notifications/{not_yet.pk}/read/").status_code == 200
        bumped(Notification, not_yet)

    rows = pull(http, V1 + "notifications/", {"updated_since": EPOCH, "page_size": 3}, on_page=read_during_the_pull)
    assert_exact_mirror(rows, Notification.objects.filter(recipient=api.user), "is_read")
    assert sent(rows, already.pk, "is_read") == [False, True]
    assert sent(rows, not_yet.pk, "is_read") == [True]
    last = rows[-1]["updated_at"]
    assert pull(http, V1 + "notifications/", {"updated_since": last}) == []
    # Marking all read brings back each one that changed, and only those.
    stamp(Notification, [n.pk for n in mine], timezone.now() - datetime.timedelta(minutes=1))
    assert mark_all_read(api.user) == 5
    stamp(
        Notification,
        Notification.objects.filter(recipient=api.user, updated_at__gt=parse_since(last)).values("pk"),
        timezone.now() - datetime.timedelta(seconds=10),
    )
    again = pull(http, V1 + "notifications/", {"updated_since": (timezone.now() - datetime.timedelta(seconds=30))})
    assert sorted(row["id"] for row in again) == sorted(n.pk for n in mine if n.pk not in (already.pk, not_yet.pk))
    assert all(row["is_read"] for row in again)


# --- Surveys -------------------------------------------------------------------------------------------


def answers(**non_conforming):
    """All eight requirements conforming except those given as area=note (the service's form)."""
    return {area: (area not in non_conforming, non_conforming.get(area, "")) for area in AccessArea.values}


def payload(enterprise, campaign, **non_conforming):
    return {
        "enterprise": enterprise.uscc,
        "campaign": campaign.pk,
        "surveyed_on": "2021-03-10",
        "surveyed_by": "张三、李四",
        "note": "现场摸排",
        "items": {
            area: {"conforming": conforming, "note": note}
            for area, (conforming, note) in answers(**non_conforming).items()
        },
    }


def survey_of(enterprise, campaign, actor, **non_conforming):
    return inspection_services.save_survey(
        enterprise=enterprise, campaign=campaign, actor=actor, items=answers(**non_conforming), surveyed_on=SURVEYED_ON
    )


@pytest.fixture
def surveys(regions, users, campaign):
    a1 = survey_of(EnterpriseFactory(township=regions["town_a1"], name="甲一化工"), campaign, users["town_a1"])
    a2 = survey_of(
        EnterpriseFactory(township=regions["town_a2"], name="甲二化工"), campaign, users["town_a2"], land="违规占地"
    )
    b1 = survey_of(EnterpriseFactory(township=regions["town_b1"], name="乙一化工"), campaign, users["city"])
    return {"a1": a1, "a2": a2, "b1": b1}


def get(http, url, params=None, status=200):
    response = http.get(url, params or {})
    assert response.status_code == status, response.content[:800]
    return response.json()


def ids(body):
    return sorted(row["id"] for row in body["results"])


def test_survey_list_detail_and_filters(regions, users, campaign, surveys):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, V1 + "surveys/")
    assert ids(body) == sorted([surveys["a1"].pk, surveys["a2"].pk])
    row = get(county, f"{V1}surveys/{surveys['a2'].pk}/")
    enterprise = surveys["a2"].enterprise
    assert row["enterprise"] == {"id": enterprise.pk, "uscc": enterprise.uscc, "name": "甲二化工"}
    assert row["region_code"] == regions["town_a2"].code
    assert row["campaign"] == {"id": campaign.pk, "name": campaign.name}
    assert row["surveyed_on"] == "2021-03-10" and row["updated_at"].endswith("+08:00")
    assert [item["area"] for item in row["items"]] == AccessArea.values
    land = next(item for item in row["items"] if item["area"] == "land")
    assert (land["conforming"], land["note"], land["area_display"]) == (False, "违规占地", "土地")
    assert row["recorded_by"] == (users["town_a2"].get_full_name() or users["town_a2"].username)

    assert ids(get(county, V1 + "surveys/", {"region": regions["town_a1"].code})) == [surveys["a1"].pk]
    assert ids(get(county, V1 + "surveys/", {"enterprise": enterprise.uscc.lower()})) == [surveys["a2"].pk]
    assert ids(get(county, V1 + "surveys/", {"non_conforming": "land"})) == [surveys["a2"].pk]
    assert ids(get(county, V1 + "surveys/", {"non_conforming": "energy_use"})) == []
    assert ids(get(county, V1 + "surveys/", {"campaign": campaign.pk + 1000})) == []
    assert len(get(county, V1 + "surveys/", {"campaign": campaign.pk})["results"]) == 2
    assert "non_conforming" in get(county, V1 + "surveys/", {"non_conforming": "moon"}, status=400)["errors"]
    # Another county's region is refused by name, not silently ignored.
    assert "region" in get(county, V1 + "surveys/", {"region": regions["county_b"].code}, status=400)["errors"]


def test_township_token_gets_404_for_another_townships_survey(regions, surveys):
    _c, _t, town = api_client_for(regions["town_a1"])
    assert ids(get(town, V1 + "surveys/")) == [surveys["a1"].pk]
    assert get(town, f"{V1}surveys/{surveys['a2'].pk}/", status=404)["code"] == "not_found"
    assert get(town, f"{V1}surveys/{surveys['b1'].pk}/", status=404)["code"] == "not_found"


def test_post_records_a_survey_through_the_service(regions, users, campaign):
    api, _t, writer = api_client_for(regions["town_a1"], write=True)
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    response = writer.post(V1 + "surveys/", payload(enterprise, campaign, land="未取得土地使用证"), format="json")
    assert response.status_code == 201, response.content[:800]
    body = response.json()
    survey = Survey.objects.get(enterprise=enterprise, campaign=campaign)
    assert body["id"] == survey.pk and survey.recorded_by == api.user
    assert (survey.surveyed_by, survey.note) == ("张三、李四", "现场摸排")
    assert survey.items.count() == 8 and not survey.items.get(area="land").conforming
    [finding] = Finding.objects.filter(survey=survey)
    assert (finding.area, finding.description, finding.status) == ("land", "未取得土地使用证", FindingStatus.OPEN)
    assert survey.history.first().history_user == api.user  # the history names the client

    # Again, the land now conforming: the same survey is updated (200), its finding awaits verification.
    before = Survey.objects.values_list("updated_at", flat=True).get(pk=survey.pk)
    response = writer.post(V1 + "surveys/", payload(enterprise, campaign), format="json")
    assert response.status_code == 200, response.content[:800]
    assert Survey.objects.count() == 1
    finding.refresh_from_db()
    assert finding.status == FindingStatus.AWAITING_VERIFICATION
    # Only an item changed: the survey's updated_at moved all the same (so a sync sends it again).
    assert Survey.objects.values_list("updated_at", flat=True).get(pk=survey.pk) > before
    assert response.json()["items"][4] == {
        "area": "land",
        "area_display": "土地",
        "conforming": True,
        "note": "",
    }


def test_post_errors_are_keyed_by_area_code_in_both_languages(regions, campaign):
    _c, _t, writer = api_client_for(regions["town_a1"], write=True)
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    data = payload(enterprise, campaign)
    data["items"]["environment"] = {"conforming": False, "note": ""}
    del data["items"]["land"]
    response = writer.post(V1 + "surveys/", data, format="json")
    assert response.status_code == 400, response.content[:800]
    errors = response.json()["errors"]
    assert set(errors) == {"environment", "land"}
    assert errors["land"][0]["message_en"].startswith("Say whether Land conforms")
    assert "土地" in errors["land"][0]["message_zh"]
    assert errors["environment"][0]["message_en"].startswith("Describe what does not conform")

    data = payload(enterprise, campaign)
    data["items"]["energy_use"] = "yes"
    data["items"]["moon"] = {"conforming": True}
    errors = writer.post(V1 + "surveys/", data, format="json").json()["errors"]
    assert set(errors) == {"energy_use"} and errors["energy_use"][0]["message_zh"]
    del data["items"]["energy_use"]
    data["items"]["energy_use"] = {"conforming": True}
    errors = writer.post(V1 + "surveys/", data, format="json").json()["errors"]
    assert errors["items"][0]["message_en"].startswith("Unknown access requirement(s): moon")

    data = payload(enterprise, campaign)
    data["surveyed_on"] = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    assert "surveyed_on" in writer.post(V1 + "surveys/", data, format="json").json()["errors"]
    data = payload(enterprise, campaign)
    data["items"] = ["land"]
    assert "items" in writer.post(V1 + "surveys/", data, format="json").json()["errors"]
    assert not Survey.objects.exists() and not Finding.objects.exists()


def test_post_refusals(regions, users, campaign, client):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    _c, _t, reader = api_client_for(regions["town_a1"])
    response = reader.post(V1 + "surveys/", payload(enterprise, campaign), format="json")
    assert response.status_code == 403 and response.json()["code"] == "read_only"
    # A write client of another township: the enterprise is not found inside its region (nothing leaks).
    _c, _t, other = api_client_for(regions["town_a2"], write=True)
    response = other.post(V1 + "surveys/", payload(enterprise, campaign), format="json")
    assert response.status_code == 400 and "enterprise" in response.json()["errors"]
    # The supervision team may write through the API but does not record surveys: refused with the reason.
    client.force_login(users["supervisor"])
    response = client.post(
        V1 + "surveys/", payload(enterprise, campaign), content_type="application/json", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 403, response.content[:500]
    assert "survey" in response.json()["detail_en"]
    assert not Survey.objects.exists()


def test_survey_sync_while_surveys_change(regions, users, campaign):
    _c, _t, http = api_client_for(regions["county_a"])
    records = [survey_of(EnterpriseFactory(township=regions["town_a1"]), campaign, users["town_a1"]) for _i in range(7)]
    spread(Survey, records)
    for record in records:
        record.refresh_from_db()
    already, not_yet = records[0], records[5]

    def resurvey_during_the_pull(page):
        if page != 2:
            return
        for record in (already, not_yet):
            survey_of(record.enterprise, campaign, users["town_a1"], land="违规占地")  # only an item changes
            bumped(Survey, record)

    rows = pull(http, V1 + "surveys/", {"updated_since": EPOCH, "page_size": 2}, on_page=resurvey_during_the_pull)
    assert_exact_mirror(rows, Survey.objects.all(), "note")
    land = [
        next(i["conforming"] for i in row["items"] if i["area"] == "land") for row in rows if row["id"] == already.pk
    ]
    assert land == [True, False]
    assert len(sent(rows, not_yet.pk, "id")) == 1
    assert pull(http, V1 + "surveys/", {"updated_since": rows[-1]["updated_at"]}) == []


def test_deleted_surveys_reach_the_sync(regions, users, campaign, settings):
    from core.history import delete_tracked

    settings.API_SYNC_SETTLE_SECONDS = 0
    record = survey_of(EnterpriseFactory(township=regions["town_a1"]), campaign, users["town_a1"])
    pk = record.pk
    enterprise = record.enterprise
    delete_tracked(enterprise, actor=users["city"], reason="重复登记")
    assert not Survey.objects.filter(pk=pk).exists()
    cache.clear()
    _c, _t, county = api_client_for(regions["county_a"])
    _c, _t, other = api_client_for(regions["county_b"])
    rows = pull(county, V1 + "surveys/deleted/", {"updated_since": EPOCH})
    assert pull(other, V1 + "surveys/deleted/", {"updated_since": EPOCH}) == []
    assert pull(county, V1 + "surveys/", {"updated_since": EPOCH}) == []
    assert [(row["id"], row["reason"], row["surveyed_on"]) for row in rows] == [(pk, "deleted", "2021-03-10")]


def test_survey_list_cost_does_not_depend_on_rows(regions, users, campaign, surveys):
    _c, _t, county = api_client_for(regions["county_a"])

    def count():
        cache.clear()
        with CaptureQueriesContext(connection) as context:
            response = county.get(V1 + "surveys/")
        assert response.status_code == 200, response.content[:500]
        assert response.json()["results"]
        return len(context.captured_queries)

    count()  # the first request of a client also notes its use
    small = count()
    for _index in range(3):
        recorder = UserFactory(region=regions["town_a1"], role="township")
        survey_of(EnterpriseFactory(township=regions["town_a1"]), campaign, recorder, land="违规占地")
    large = count()
    assert small == large, f"{small} queries with few rows, {large} with more"
    check_against_baseline("api_survey_list", large)


def test_the_migrations_date_existing_rows_by_their_last_known_moment(regions, users, campaign):
    """Rows older than the updated_at column get the last moment they recorded, not the migration's."""
    import importlib

    from django.apps import apps

    day = timezone.make_aware(datetime.datetime(2021, 3, 1, 10))
    record = make_import(users["town_a1"], regions["town_a1"], campaign, committed_at=day)
    report = SupervisionReport.objects.create(
        campaign=campaign, quarter="2021Q1", region=regions["county_a"], requested_at=day - datetime.timedelta(days=2)
    )
    started = SupervisionReport.objects.create(
        campaign=campaign, quarter="2021Q1", region=regions["county_a"], started_at=day - datetime.timedelta(days=1)
    )
    unread = notification(users["county_a"], "未读")
    Notification.objects.filter(pk=unread.pk).update(created_at=day)
    read = notification(users["county_a"], "已读")
    Notification.objects.filter(pk=read.pk).update(created_at=day, read_at=day + datetime.timedelta(hours=1))
    for app, migration in (
        ("imports", "0002_api_sync"),
        ("rectification", "0004_report_sync"),
        ("core", "0002_api_sync"),
    ):
        importlib.import_module(f"{app}.migrations.{migration}").stamp_existing(apps, None)
    assert RosterImport.objects.get(pk=record.pk).updated_at == day
    assert SupervisionReport.objects.get(pk=report.pk).updated_at == day - datetime.timedelta(days=2)
    assert SupervisionReport.objects.get(pk=started.pk).updated_at == day - datetime.timedelta(days=1)
    assert Notification.objects.get(pk=unread.pk).updated_at == day
    assert Notification.objects.get(pk=read.pk).updated_at == day + datetime.timedelta(hours=1)
