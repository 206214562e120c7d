"""The import pages as a township officer: upload, preview tabs, confirm, history, downloads, scoping."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from enterprises.models import Enterprise
from imports import services
from imports.models import ImportStatus, RosterImport

from .factories import CampaignFactory, EnterpriseFactory, next_uscc
from .import_support import roster_upload, row
from .test_query_counts import check_against_baseline


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项行动")


def content(response) -> bytes:
    return b"".join(response.streaming_content) if hasattr(response, "streaming_content") else response.content


def upload(client, campaign, rows, **options):
    return client.post(
        reverse("imports:upload"),
        {"campaign": campaign.pk, "file": roster_upload(rows, **options)},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_page_flow_as_a_township_officer(client_for, users, regions, campaign):
    officer = users["town_a1"]
    client = client_for(officer)
    existing = EnterpriseFactory(township=regions["town_a1"], name="旧名称")
    page = client.get(reverse("imports:upload"))
    assert page.status_code == 200
    assert "甲一镇" in page.content.decode()  # the township is the user's own
    assert "四个一批专项行动" in page.content.decode()

    good = next_uscc()
    response = upload(
        client,
        campaign,
        [row(good, "新企业", category="关停", deadline="2021年底"), row(existing.uscc, "新名称"), row("BAD", "坏代码")],
    )
    record = RosterImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:detail", args=[record.pk])
    assert record.status == ImportStatus.PREVIEWED
    assert not Enterprise.objects.filter(uscc=good).exists()

    detail = client.get(response["Location"])
    text = detail.content.decode()
    assert detail.status_code == 200
    assert 'data-testid="tab-errors"' in text and "坏代码" in text  # errors tab shown first
    assert "is not a valid unified social credit code" in text
    assert "统一社会信用代码" in text
    changed = client.get(response["Location"], {"tab": "changed"}).content.decode()
    assert "旧名称" in changed and "新名称" in changed
    new = client.get(response["Location"], {"tab": "new"}).content.decode()
    assert "新企业" in new and "Shut down" in new

    refused = client.post(reverse("imports:commit", args=[record.pk]), follow=True)
    assert "1 row(s) are in error; nothing was imported" in refused.content.decode()
    assert not Enterprise.objects.filter(uscc=good).exists()

    done = client.post(reverse("imports:commit", args=[record.pk]), {"skip_errors": "on"}, follow=True)
    assert "Imported: 1 new, 1 changed" in done.content.decode()
    record.refresh_from_db()
    assert record.status == ImportStatus.COMMITTED
    assert Enterprise.objects.get(uscc=good).township == regions["town_a1"]
    existing.refresh_from_db()
    assert existing.name == "新名称"

    listing = client.get(reverse("imports:list")).content.decode()
    assert "甲一镇名单.xlsx" in listing and reverse("imports:detail", args=[record.pk]) in listing


def test_error_workbook_holds_the_rows_in_error_with_an_explanation(client_for, users, campaign):
    client = client_for(users["town_a1"])
    upload(
        client, campaign, [row(next_uscc(), "好"), row("BAD", "@坏代码"), row(next_uscc(), "坏日期", deadline="明年")]
    )
    record = RosterImport.objects.get()
    response = client.get(reverse("imports:errors", args=[record.pk]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(content(response))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("序号", "统一社会信用代码", "企业名称", "乡镇（街道）")
    assert rows[0][-2:] == ("原行号", "错误说明")
    assert [r[-2] for r in rows[1:]] == [5, 6]
    assert rows[1][2] == "'@坏代码"  # formula-like text escaped
    assert "统一社会信用代码" in rows[1][-1] and "GB 32100-2015" in rows[1][-1]
    assert "完成时限" in rows[2][-1]


def test_template_has_headers_drop_downs_example_and_notes(client_for, users, campaign):
    response = client_for(users["town_a1"]).get(reverse("imports:template"))
    assert response.status_code == 200
    data = content(response)
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook["企业名单"]
    headers = [cell.value for cell in sheet[1]]
    assert headers[1:4] == ["统一社会信用代码", "企业名称", "乡镇（街道）"]
    validated = {str(dv.sqref).split(":")[0][0] for dv in sheet.data_validations.dataValidation}
    letters = {header: sheet.cell(row=1, column=index + 1).column_letter for index, header in enumerate(headers)}
    for header in ("企业类型", "规模", "生产状态", "四个一批分类", "乡镇（街道）", "所在园区"):
        assert letters[header] in validated
    assert sheet.cell(row=2, column=3).value.startswith("示例化工")
    assert "填写说明" in workbook.sheetnames
    assert workbook["选项"].sheet_state == "hidden"
    # The template itself is read by the importer (its example row is a valid row).
    from imports.roster import read_roster

    parsed = read_roster(io.BytesIO(data))
    assert parsed.rows[0].errors == []
    assert parsed.ignored_columns == []


def test_original_file_is_served_only_inside_the_region(client_for, users, campaign):
    upload(client_for(users["town_a1"]), campaign, [row(next_uscc(), "甲")])
    record = RosterImport.objects.get()
    assert client_for(users["county_a"]).get(reverse("imports:file", args=[record.pk])).status_code == 200
    other = client_for(users["town_a2"])
    for name in ("imports:detail", "imports:file", "imports:errors", "imports:status"):
        assert other.get(reverse(name, args=[record.pk])).status_code == 404
    assert other.post(reverse("imports:commit", args=[record.pk])).status_code == 404
    assert "甲一镇名单.xlsx" not in other.get(reverse("imports:list")).content.decode()


def test_only_the_uploader_confirms(client_for, users, campaign):
    upload(client_for(users["town_a1"]), campaign, [row(next_uscc(), "甲")])
    record = RosterImport.objects.get()
    county = client_for(users["county_a"])
    page = county.get(reverse("imports:detail", args=[record.pk])).content.decode()
    assert "who uploaded this roster, can import it" in page
    county.post(reverse("imports:commit", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.PREVIEWED and not Enterprise.objects.exists()


def test_roles_without_enterprise_rights_get_a_403_with_the_reason(client_for, users):
    response = client_for(users["supervisor"]).get(reverse("imports:upload"))
    assert response.status_code == 403
    assert "cannot create or edit enterprises" in response.content.decode()


def test_unreadable_upload_gets_one_clear_message(client_for, users, campaign):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(users["town_a1"])
    response = client.post(
        reverse("imports:upload"),
        {
            "campaign": campaign.pk,
            "file": SimpleUploadedFile("名单.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)),
        },
    )
    assert response.status_code == 200
    assert "password-protected" in response.content.decode()
    assert not RosterImport.objects.exists()
    response = upload(client, campaign, [], headers=["甲", "乙"], total=False)
    detail = client.get(response["Location"]).content.decode()
    assert "No header row found" in detail
    assert RosterImport.objects.get().status == ImportStatus.FAILED


def test_large_file_goes_through_the_worker_with_progress(client_for, users, campaign, settings):
    settings.IMPORT_INLINE_MAX_ROWS = 3  # tasks run in-process on the embedded default
    client = client_for(users["town_a1"])
    rows = [row(next_uscc(), f"企业{index}") for index in range(5)]
    response = upload(client, campaign, rows)
    record = RosterImport.objects.get()
    record.refresh_from_db()
    assert record.status == ImportStatus.PREVIEWED and record.created_count == 5 and record.task_id
    status = client.get(reverse("imports:status", args=[record.pk])).json()
    assert status == {
        "status": "previewed",
        "status_display": "Previewed, not imported",
        "progress": 100,
        "running": False,
    }
    client.post(reverse("imports:commit", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == ImportStatus.COMMITTED
    assert Enterprise.objects.count() == 5
    assert response.status_code == 302


def test_progress_bar_while_running(client_for, users, campaign):
    client = client_for(users["town_a1"])
    upload(client, campaign, [row(next_uscc(), "甲")])
    record = RosterImport.objects.get()
    RosterImport.objects.filter(pk=record.pk).update(status=ImportStatus.COMMITTING, progress=42)
    page = client.get(reverse("imports:detail", args=[record.pk])).content.decode()
    assert 'data-testid="import-progress"' in page and "42%" in page and "imports/progress.js" in page
    assert client.get(reverse("imports:status", args=[record.pk])).json()["running"] is True


def test_import_list_query_count_is_fixed(client_for, users, campaign):
    user = users["town_a1"]
    for index in range(4):
        record = services.start_import(
            file=roster_upload([row(next_uscc(), f"企业{index}")]), user=user, campaign=campaign
        )
        services.preview(record, user)
    client = client_for(users["county_a"])
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("imports:list")).status_code == 200
    for index in range(6):
        record = services.start_import(
            file=roster_upload([row(next_uscc(), f"更多{index}")]), user=user, campaign=campaign
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("imports:list")).status_code == 200
    assert len(few.captured_queries) == len(many.captured_queries)
    check_against_baseline("import_list", len(many.captured_queries))


def test_corrected_error_workbook_can_be_uploaded_again(client_for, users, campaign):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(users["town_a1"])
    good = next_uscc()
    upload(client, campaign, [row(next_uscc(), "好"), row("BAD", "待改正")])
    first = RosterImport.objects.get()
    workbook = load_workbook(io.BytesIO(content(client.get(reverse("imports:errors", args=[first.pk])))))
    sheet = workbook.active
    assert sheet.cell(row=2, column=3).value == "待改正"
    sheet.cell(row=2, column=2).value = good  # the officer corrects the code
    buffer = io.BytesIO()
    workbook.save(buffer)
    client.post(
        reverse("imports:upload"),
        {"campaign": campaign.pk, "file": SimpleUploadedFile("改正后.xlsx", buffer.getvalue())},
    )
    second = RosterImport.objects.exclude(pk=first.pk).get()
    assert (second.header_row, second.created_count, second.error_row_count) == (1, 1, 0)
    assert second.ignored_columns == []  # 原行号 and 错误说明 are not reported as unknown columns
