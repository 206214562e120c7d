"""API imports (read-only), quarterly supervision reports (request, poll, download) and the caller's own
notifications: list, detail, filters, region scoping (404), write refusals, query counts."""

import datetime
import io

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from openpyxl import load_workbook

from core.models import Notification, NotificationKind
from imports.models import ImportStatus, RosterImport
from rectification.models import ReportStatus, SupervisionReport

from .api_support import api_client_for
from .factories import CampaignFactory, UserFactory
from .test_query_counts import check_against_baseline

V1 = "/api/v1/"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批 2021-2023")


def zh(label) -> str:
    with translation.override("zh-hans"):
        return str(label)


def get(http, url, params=None, status=200):
    response = http.get(url, params or {})
    assert response.status_code == status, response.content[:800]
    return response.json()


def ids(body):
    return sorted(row["id"] for row in body["results"])


def make_import(user, region, campaign, *, status=ImportStatus.COMMITTED, created_at=None, **fields):
    record = RosterImport.objects.create(
        created_by=user,
        file_name=f"{region.name}名单.xlsx",
        sha256="ab" * 32,
        file="imports/2021/03/roster.xlsx",
        size=2048,
        region=region,
        campaign=campaign,
        status=status,
        **fields,
    )
    if created_at is not None:
        RosterImport.objects.filter(pk=record.pk).update(created_at=created_at)
    return record


def moment(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(10, 0)))


@pytest.fixture
def imports(regions, users, campaign):
    a1 = make_import(
        users["town_a1"],
        regions["town_a1"],
        campaign,
        created_at=moment(datetime.date(2021, 3, 1)),
        committed_at=moment(datetime.date(2021, 3, 1)),
        rows_read=12,
        created_count=3,
        updated_count=4,
        unchanged_count=2,
        skipped_count=1,
        error_row_count=2,
        findings_count=5,
        errors=[
            {"row": 7, "column": "统一社会信用代码", "message": "统一社会信用代码校验位不对"},
            {"row": 9, "column": "企业名称", "message": "企业名称为空"},
        ],
        ignored_columns=["备注2"],
        progress=100,
    )
    a2 = make_import(
        users["town_a2"],
        regions["town_a2"],
        campaign,
        status=ImportStatus.PREVIEWED,
        created_at=moment(datetime.date(2021, 4, 15)),
    )
    b1 = make_import(users["city"], regions["town_b1"], campaign, created_at=moment(datetime.date(2021, 5, 2)))
    return {"a1": a1, "a2": a2, "b1": b1}


# --- Imports -------------------------------------------------------------------------------------------


def test_import_list_detail_and_filters(regions, users, campaign, imports):
    _c, _t, county = api_client_for(regions["county_a"])
    body = get(county, V1 + "imports/")
    assert body["count"] == 2 and [row["id"] for row in body["results"]] == [imports["a2"].pk, imports["a1"].pk]
    row = next(r for r in body["results"] if r["id"] == imports["a1"].pk)
    assert (row["file_name"], row["sha256"], row["region_code"]) == ("甲一镇名单.xlsx", "ab" * 32, "320501001")
    assert row["campaign"] == {"id": campaign.pk, "name": "四个一批 2021-2023"}
    assert (row["status"], row["status_display"]) == ("committed", zh(ImportStatus.COMMITTED.label))
    assert row["counts"] == {
        "rows": 12,
        "created": 3,
        "updated": 4,
        "unchanged": 2,
        "skipped": 1,
        "errors": 2,
        "findings": 5,
        "warnings": 0,
        "surveyed": 0,
    }
    assert row["created_by"] == users["town_a1"].username
    assert row["created_at"].startswith("2021-03-01T10:00:00") and row["created_at"].endswith("+08:00")
    assert row["committed_at"].endswith("+08:00")
    assert "errors" not in row  # the list leaves the (possibly long) error list to the detail
    detail = get(county, f"{V1}imports/{imports['a1'].pk}/")
    assert detail["errors"] == [
        {"row": 7, "column": "统一社会信用代码", "message": "统一社会信用代码校验位不对"},
        {"row": 9, "column": "企业名称", "message": "企业名称为空"},
    ]
    assert detail["ignored_columns"] == ["备注2"] and detail["counts"]["errors"] == 2

    assert ids(get(county, V1 + "imports/", {"status": "previewed"})) == [imports["a2"].pk]
    assert ids(get(county, V1 + "imports/", {"region": regions["town_a1"].code})) == [imports["a1"].pk]
    assert ids(get(county, V1 + "imports/", {"campaign": campaign.pk + 999})) == []
    assert ids(get(county, V1 + "imports/", {"created_after": "2021-04-15"})) == [imports["a2"].pk]
    assert ids(get(county, V1 + "imports/", {"created_before": "2021-03-01"})) == [imports["a1"].pk]
    assert ids(get(county, V1 + "imports/", {"created_before": "2021-02-28"})) == []
    _c, _t, city = api_client_for(regions["city"])
    assert ids(get(city, V1 + "imports/", {"region": regions["county_b"].code})) == [imports["b1"].pk]
    # A region outside the caller's is refused by name, not silently ignored.
    refused = get(county, V1 + "imports/", {"region": regions["county_b"].code}, status=400)
    assert "region" in refused["errors"]
    # A malformed updated_since is refused with the reason, in both languages (the sync: test_api_sync_more.py).
    refused = get(county, V1 + "imports/", {"updated_since": "yesterday"}, status=400)
    message = refused["errors"]["updated_since"][0]
    assert message["message_zh"] and message["message_en"].startswith("yesterday is not an ISO 8601 date-time")


def test_imports_are_read_only(regions, imports):
    _c, _t, writer = api_client_for(regions["county_a"], write=True)
    assert writer.post(V1 + "imports/", {"file_name": "x.xlsx"}, format="json").status_code == 405
    assert writer.delete(f"{V1}imports/{imports['a1'].pk}/").status_code == 405
    assert RosterImport.objects.count() == 3


def test_township_token_gets_404_for_another_townships_import(regions, imports):
    _c, _t, town_a2 = api_client_for(regions["town_a2"])
    body = get(town_a2, f"{V1}imports/{imports['a1'].pk}/", status=404)
    assert body["code"] == "not_found" and body["detail_zh"] and body["detail_en"]
    assert ids(get(town_a2, V1 + "imports/")) == [imports["a2"].pk]


# --- Reports ---------------------------------------------------------------------------------------------


def test_report_requested_through_the_api_is_built_and_downloadable(
    regions, campaign, django_capture_on_commit_callbacks
):
    client, _t, writer = api_client_for(regions["county_a"], write=True, name="市督查系统")
    with django_capture_on_commit_callbacks(execute=True):
        response = writer.post(V1 + "reports/", {"campaign": campaign.pk, "quarter": "2021q1"}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["quarter"] == "2021Q1" and created["region_code"] == regions["county_a"].code
    assert created["requested_by"] == "市督查系统" and created["campaign"]["id"] == campaign.pk
    report = SupervisionReport.objects.get()
    assert report.requested_by == client.user and report.region == regions["county_a"]
    # Built by the worker task (eager without a broker) once the request committed.
    detail = get(writer, f"{V1}reports/{report.pk}/")
    assert (detail["status"], detail["status_display"], detail["progress"]) == (
        "done",
        zh(ReportStatus.DONE.label),
        100,
    )
    assert detail["error"] == "" and detail["finished_at"].endswith("+08:00") and detail["created_at"]
    assert detail["download_url"] == f"http://testserver{V1}reports/{report.pk}/download/"
    download = writer.get(detail["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in download["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert len(workbook.sheetnames) >= 2
    # The requester (the client's service user) is told the report is ready.
    notifications = get(writer, V1 + "notifications/")
    assert [row["kind"] for row in notifications["results"]] == ["report_ready"]
    listing = get(writer, V1 + "reports/", {"status": "done"})
    assert ids(listing) == [report.pk] and listing["results"][0]["download_url"] == detail["download_url"]
    assert ids(get(writer, V1 + "reports/", {"status": "queued"})) == []
    assert ids(get(writer, V1 + "reports/", {"quarter": "2021Q1", "campaign": campaign.pk})) == [report.pk]


def test_report_not_ready_or_failed_download_answers_409(regions, campaign):
    queued = SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=regions["county_a"])
    failed = SupervisionReport.objects.create(
        campaign=campaign, quarter="2021Q2", region=regions["county_a"], status=ReportStatus.FAILED, error="磁盘已满"
    )
    _c, _t, county = api_client_for(regions["county_a"])
    detail = get(county, f"{V1}reports/{queued.pk}/")
    assert detail["status"] == "queued" and detail["download_url"] is None
    body = get(county, f"{V1}reports/{queued.pk}/download/", status=409)
    assert body["code"] == "not_ready"
    assert "queued" in body["detail_en"] and "queued" in body["detail_zh"]  # both languages rendered
    body = get(county, f"{V1}reports/{failed.pk}/download/", status=409)
    assert body["code"] == "report_failed" and "磁盘已满" in body["detail_en"] and "磁盘已满" in body["detail_zh"]


def test_report_scoping_404(regions, campaign):
    county_a = SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=regions["county_a"])
    county_b = SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=regions["county_b"])
    city = SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=regions["city"])
    _c, _t, reader_a = api_client_for(regions["county_a"])
    assert ids(get(reader_a, V1 + "reports/")) == [county_a.pk]
    for report in (county_b, city):
        assert get(reader_a, f"{V1}reports/{report.pk}/", status=404)["code"] == "not_found"
        assert get(reader_a, f"{V1}reports/{report.pk}/download/", status=404)["code"] == "not_found"
    _c, _t, town = api_client_for(regions["town_a2"])
    assert get(town, f"{V1}reports/{county_a.pk}/", status=404)["code"] == "not_found"
    _c, _t, whole_city = api_client_for(regions["city"])
    assert ids(get(whole_city, V1 + "reports/")) == sorted([county_a.pk, county_b.pk, city.pk])
    assert ids(get(whole_city, V1 + "reports/", {"region": regions["county_b"].code})) == [county_b.pk]


def test_report_request_refusals(regions, campaign):
    _c, _t, reader = api_client_for(regions["county_a"])
    response = reader.post(V1 + "reports/", {"campaign": campaign.pk, "quarter": "2021Q1"}, format="json")
    assert response.status_code == 403 and response["Content-Type"] == "application/json"
    assert response.json()["code"] == "read_only" and response.json()["detail_zh"] and response.json()["detail_en"]

    _c, _t, writer = api_client_for(regions["county_a"], write=True)
    # Another county's region, a quarter not begun, a malformed quarter, an unknown campaign: 400 by field.
    for data, field in (
        ({"campaign": campaign.pk, "quarter": "2021Q1", "region_code": regions["county_b"].code}, "region_code"),
        ({"campaign": campaign.pk, "quarter": "2999Q1"}, "quarter"),
        ({"campaign": campaign.pk, "quarter": "2021-1"}, "quarter"),
        ({"campaign": campaign.pk + 999, "quarter": "2021Q1"}, "campaign"),
    ):
        response = writer.post(V1 + "reports/", data, format="json")
        assert response.status_code == 400, (data, response.content)
        errors = response.json()["errors"]
        assert list(errors) == [field], errors
        assert errors[field][0]["message_zh"] and errors[field][0]["message_en"]
    # A township is not a report region (reports cover a city or a county).
    _c, _t, town_writer = api_client_for(regions["town_a1"], write=True)
    response = town_writer.post(V1 + "reports/", {"campaign": campaign.pk, "quarter": "2021Q1"}, format="json")
    assert response.status_code == 400 and "region_code" in response.json()["errors"]
    message = response.json()["errors"]["region_code"][0]
    assert message["message_en"].startswith("A report covers a city or a county") and message["message_zh"]
    assert SupervisionReport.objects.count() == 0


# --- Notifications ---------------------------------------------------------------------------------------


def _notification(user, title, *, read=False, link="/tasks/1/", kind=NotificationKind.TASK_OVERDUE):
    return Notification.objects.create(
        recipient=user,
        kind=kind,
        title=title,
        body="请尽快处理",
        link=link,
        dedup_key=f"test:{title}",
        read_at=timezone.now() if read else None,
    )


def test_notifications_are_the_callers_own(regions, users):
    client, _t, writer = api_client_for(regions["county_a"], write=True)
    mine = _notification(client.user, "任务逾期")
    read = _notification(client.user, "许可证将到期", read=True, link="", kind=NotificationKind.PERMIT_EXPIRING)
    others = _notification(users["county_a"], "别人的消息")  # same region, another user
    body = get(writer, V1 + "notifications/")
    assert ids(body) == sorted([mine.pk, read.pk])
    row = next(r for r in body["results"] if r["id"] == mine.pk)
    assert (row["kind"], row["kind_display"]) == ("task_overdue", zh(NotificationKind.TASK_OVERDUE.label))
    assert (row["title"], row["body"], row["read_at"], row["is_read"]) == ("任务逾期", "请尽快处理", None, False)
    assert row["link"] == "http://testserver/tasks/1/" and row["created_at"].endswith("+08:00")
    assert next(r for r in body["results"] if r["id"] == read.pk)["link"] is None
    assert ids(get(writer, V1 + "notifications/", {"unread": "true"})) == [mine.pk]
    assert ids(get(writer, V1 + "notifications/", {"unread": "false"})) == [read.pk]
    assert ids(get(writer, V1 + "notifications/", {"kind": "permit_expiring"})) == [read.pk]
    assert get(writer, f"{V1}notifications/{mine.pk}/")["title"] == "任务逾期"
    assert get(writer, f"{V1}notifications/{others.pk}/", status=404)["code"] == "not_found"
    assert writer.post(f"{V1}notifications/{others.pk}/read/").status_code == 404
    others.refresh_from_db()
    assert others.read_at is None
    # Incremental sync of one's own notifications only (more in test_api_sync_more.py).
    assert "next" in get(writer, V1 + "notifications/", {"updated_since": "2021-01-01"})


def test_marking_notifications_read(regions, users, client):
    api, _t, writer = api_client_for(regions["county_a"], write=True)
    first = _notification(api.user, "一")
    second = _notification(api.user, "二")
    third = _notification(api.user, "三")
    others = _notification(users["county_a"], "别人的")
    response = writer.post(f"{V1}notifications/{first.pk}/read/")
    assert response.status_code == 200, response.content
    assert response.json()["is_read"] is True and response.json()["read_at"]
    first.refresh_from_db()
    assert first.read_at is not None
    assert ids(get(writer, V1 + "notifications/", {"unread": "true"})) == sorted([second.pk, third.pk])
    response = writer.post(f"{V1}notifications/read-all/")
    assert response.status_code == 200 and response.json() == {"marked": 2}
    assert ids(get(writer, V1 + "notifications/", {"unread": "true"})) == []
    others.refresh_from_db()
    assert others.read_at is None  # read-all touches only the caller's own
    # A read-only token reads its notifications but changes nothing, like every read-only client.
    reader_client, _t, reader = api_client_for(regions["county_a"])
    mine = _notification(reader_client.user, "只读")
    assert ids(get(reader, V1 + "notifications/")) == [mine.pk]
    response = reader.post(f"{V1}notifications/{mine.pk}/read/")
    assert response.status_code == 403 and response.json()["code"] == "read_only"
    assert reader.post(f"{V1}notifications/read-all/").status_code == 403
    mine.refresh_from_db()
    assert mine.read_at is None
    # A person with a session marks their own (CSRF is enforced for sessions; the test client skips the check).
    client.force_login(users["county_a"])
    response = client.post(f"{V1}notifications/{others.pk}/read/")
    assert response.status_code == 200 and response.json()["is_read"] is True


# --- Schema and query counts -----------------------------------------------------------------------------


def test_schema_describes_the_three_resources():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache
    paths = schema["paths"]
    for resource, filters in (
        ("imports", {"status", "campaign", "region", "created_after", "created_before", "ordering"}),
        ("reports", {"status", "campaign", "quarter", "region"}),
        ("notifications", {"unread", "kind"}),
    ):
        listing = paths[f"/api/v1/{resource}/"]["get"]
        names = {p["name"] for p in listing["parameters"]}
        assert filters | {"page", "page_size"} <= names, resource
        assert {"updated_since", "cursor"} <= names, resource
        assert all(p.get("description") for p in listing["parameters"]), resource
        assert listing["summary"] and listing["description"]
        assert {"401", "403", "429"} <= set(listing["responses"])
        assert "404" in paths[f"/api/v1/{resource}/{{id}}/"]["get"]["responses"]
    assert "post" not in paths["/api/v1/imports/"]
    request = paths["/api/v1/reports/"]["post"]
    assert {"201", "400", "401", "403", "429"} <= set(request["responses"])
    download = paths["/api/v1/reports/{id}/download/"]["get"]["responses"]
    assert {"200", "404", "409"} <= set(download)
    assert "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in download["200"]["content"]
    assert "post" in paths["/api/v1/notifications/{id}/read/"] and "post" in paths["/api/v1/notifications/read-all/"]
    components = schema["components"]["schemas"]
    assert {"download_url", "status", "status_display", "progress"} <= set(
        components["SupervisionReport"]["properties"]
    )
    assert {"counts", "errors", "sha256"} <= set(components["RosterImportDetail"]["properties"])
    assert {"ImportStatusEnum", "ReportStatusEnum"} <= set(components)


def _grow(regions, users, campaign, api_user, n):
    for index in range(n):
        user = UserFactory(region=regions["town_a1"], role="township")
        make_import(user, regions["town_a1"], campaign, errors=[{"row": 1, "column": "x", "message": "y"}])
        SupervisionReport.objects.create(
            campaign=CampaignFactory(), quarter="2021Q1", region=regions["county_a"], requested_by=user
        )
        _notification(api_user, f"消息{index}")


@pytest.mark.parametrize(
    ("name", "url", "params"),
    [
        ("api_import_list", V1 + "imports/", {}),
        ("api_import_list_filtered", V1 + "imports/", {"status": "committed", "region": "320501001"}),
        ("api_report_list", V1 + "reports/", {}),
        ("api_notification_list", V1 + "notifications/", {"unread": "true"}),
    ],
)
def test_list_cost_does_not_depend_on_rows(regions, users, campaign, imports, name, url, params):
    api, _t, county = api_client_for(regions["county_a"])
    SupervisionReport.objects.create(campaign=campaign, quarter="2021Q1", region=regions["county_a"])
    _notification(api.user, "第一条")

    def count():
        cache.clear()
        with CaptureQueriesContext(connection) as context:
            response = county.get(url, params)
        assert response.status_code == 200, response.content[:500]
        assert response.json()["results"], name
        return len(context.captured_queries)

    count()  # the first request of a client also notes its use
    small = count()
    _grow(regions, users, campaign, api.user, 3)
    large = count()
    assert small == large, f"{name}: {small} queries with few rows, {large} with more"
    check_against_baseline(name, large)


def test_fast_representation_matches_drf(regions, users, imports):
    """The import and notification serializers read plain columns directly: same output as DRF's own."""
    from rest_framework import serializers as drf

    from core.api.notifications import NotificationSerializer
    from core.api.serializers import FastRepresentationMixin
    from imports.api.serializers import RosterImportSerializer

    _notification(users["county_a"], "任务逾期", link="")
    for serializer_class, rows in (
        (RosterImportSerializer, RosterImport.objects.select_related("created_by", "campaign", "region")),
        (NotificationSerializer, Notification.objects.all()),
    ):
        assert rows, serializer_class
        for row in rows:
            serializer = serializer_class()
            fast = FastRepresentationMixin.to_representation(serializer, row)
            assert fast == drf.ModelSerializer.to_representation(serializer, row), serializer_class.__name__
