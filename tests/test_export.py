"""xlsx export of the enterprise list: same filters, scoped to the user, formula-safe cells, translated headers."""

import datetime
import io

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import trans_real
from openpyxl import load_workbook

from core.xlsx import escape_cell, write_xlsx_rows
from enterprises.choices import OperatingStatus

from .factories import EnterpriseFactory

EXPORT = reverse("enterprises:export")


def read_sheet(response):
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def exported(regions):
    return {
        "a1": EnterpriseFactory(name='=HYPERLINK("http://x")', township=regions["town_a1"]),
        "a1b": EnterpriseFactory(name="甲一停产企业", township=regions["town_a1"], status=OperatingStatus.SUSPENDED),
        "a2": EnterpriseFactory(name="甲二企业", township=regions["town_a2"]),
        "b1": EnterpriseFactory(name="乙一企业", township=regions["town_b1"]),
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 123", "'+86 123"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("化工", "化工"),
        ("a=b", "a=b"),
        (-5, -5),
        (None, None),
        (datetime.date(2024, 1, 2), datetime.date(2024, 1, 2)),
    ],
)
def test_escape_cell(value, expected):
    assert escape_cell(value) == expected


def test_write_xlsx_rows_streams_rows():
    buffer = io.BytesIO()
    count = write_xlsx_rows(buffer, title="t", headers=["a", "=b"], rows=([i, f"={i}"] for i in range(3)))
    assert count == 3
    buffer.seek(0)
    rows = list(load_workbook(buffer, read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == ("a", "'=b")
    assert rows[1] == (0, "'=0")


def test_export_escapes_formula_names(exported, users, client_for):
    rows = read_sheet(client_for(users["city"]).get(EXPORT))
    names = [row[1] for row in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in names
    assert all(not str(name).startswith("=") for name in names)


def test_export_applies_the_list_filters(exported, users, client_for):
    rows = read_sheet(client_for(users["city"]).get(EXPORT, {"status": "suspended"}))
    assert [row[1] for row in rows[1:]] == ["甲一停产企业"]
    rows = read_sheet(client_for(users["city"]).get(EXPORT, {"region": "320502"}))
    assert [row[1] for row in rows[1:]] == ["乙一企业"]


def test_export_is_scoped_to_the_user(exported, users, client_for):
    rows = read_sheet(client_for(users["town_a1"]).get(EXPORT))
    assert sorted(row[0] for row in rows[1:]) == sorted([exported["a1"].uscc, exported["a1b"].uscc])


def test_export_needs_the_export_capability(exported, db, client_for):
    from accounts.choices import Role

    from .factories import UserFactory

    api_user = UserFactory(username="platform", role=Role.API, region=exported["a1"].township)
    response = client_for(api_user).get(EXPORT)
    assert response.status_code == 403
    assert "无权导出" in response.content.decode()


def test_export_file_name_has_the_date(exported, users, client_for):
    response = client_for(users["city"]).get(EXPORT)
    assert timezone.localdate().isoformat() in response["Content-Disposition"]
    assert response["Content-Disposition"].startswith("attachment")


@pytest.fixture
def chinese_catalogue():
    """Put a few Chinese translations in the active catalogue, as the compiled .po file will."""
    with translation.override("zh-hans"):
        catalog = trans_real.translation("zh-hans")._catalog._catalogs[0]  # a plain dict
        entries = {"unified social credit code": "统一社会信用代码", "enterprise name": "企业名称", "Tier": "分档"}
        saved = {key: catalog.get(key) for key in entries}
        for key, value in entries.items():
            catalog[key] = value
        yield entries
        for key, value in saved.items():
            if value is None:
                catalog.pop(key, None)
            else:
                catalog[key] = value


def test_export_headers_are_translated(exported, users, client_for, chinese_catalogue):
    client = client_for(users["city"])
    rows = read_sheet(client.get(EXPORT, HTTP_ACCEPT_LANGUAGE="en"))  # the browser's language is not followed
    assert rows[0][:2] == ["统一社会信用代码", "企业名称"]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the user switched to English
    english = read_sheet(client.get(EXPORT))
    assert english[0][:2] == ["unified social credit code", "enterprise name"]
