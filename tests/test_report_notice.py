"""The notice (通报) as an official document and the request form: 2026年第三季度 wherever a person reads a quarter
(never 2026Q3), issuing office and 文号 entered on request with defaults from settings, the issue date,
percentages as 39.0%, no nested quotation marks, A4 print settings; the quarter chosen from the campaign's
quarters that have started; the API keeps taking 2026Q3."""

import datetime
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from core.models import Notification
from inspections.models import Survey
from rectification.models import ReportStatus, SupervisionReport
from rectification.quarters import Quarter, campaign_quarters
from rectification.reports import normalize_document_number, percent, request_report

from .api_support import api_client_for
from .factories import CampaignFactory, ClassificationFactory, EnterpriseFactory, TargetFactory
from .test_report_counts import backdate_history

QUARTER_CODE = re.compile(r"\d{4}\s*-?\s*Q\s*[1-4]", re.IGNORECASE)
NESTED_QUOTES = re.compile(r"“[^”]*“")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def campaign(regions):
    campaign = CampaignFactory(name="化工企业“四个一批”专项整治行动")
    TargetFactory(campaign=campaign, region=regions["town_a1"], year=2021, shutdown=3, upgrade=2)
    for n, (category, state) in enumerate(
        [("shutdown", "accepted"), ("shutdown", "in_progress"), ("upgrade", "accepted")]
    ):
        enterprise = EnterpriseFactory(township=regions["town_a1"], name=f"{n}号化工")
        Survey.objects.create(enterprise=enterprise, campaign=campaign, surveyed_on=datetime.date(2021, 2, 1))
        ClassificationFactory(enterprise=enterprise, campaign=campaign, category=category, state=state)
    backdate_history()  # all recorded in 2021Q3
    return campaign


def test_quarters_are_read_as_people_write_them():
    with translation.override("zh-hans"):
        assert Quarter.parse("2026Q3").label() == "2026年第三季度"
        assert [Quarter(2026, n).label() for n in (1, 2, 4)] == ["2026年第一季度", "2026年第二季度", "2026年第四季度"]
    with translation.override("en"):
        assert Quarter(2026, 3).label() == "third quarter of 2026"
    for text in (
        "2026Q3",
        "2026q3",
        "2026-Q3",
        "2026年第三季度",
        "2026年三季度",
        "2026年第3季度",
        " 2026 年 第三 季度 ",
    ):
        assert Quarter.parse(text) == Quarter(2026, 3), text
    for text in ("2026Q5", "20263", "2026-3", "第三季度", ""):
        with pytest.raises(ValidationError):
            Quarter.parse(text)
    assert str(Quarter(2026, 3)) == "2026Q3"  # the code stored and exchanged


def test_percentages_and_document_numbers_as_documents_write_them():
    assert [percent(r) for r in (0.39, 0.3333, 1.5, 0, None)] == ["39.0%", "33.3%", "150.0%", "0.0%", "—"]
    assert normalize_document_number("临化治办[2026]12号") == "临化治办〔2026〕12号"
    assert normalize_document_number(" 临化治办（2026）12号") == "临化治办〔2026〕12号"
    assert normalize_document_number("临化治办【2026】 12号") == "临化治办〔2026〕12号"
    assert normalize_document_number("临化治办〔2026〕12号") == "临化治办〔2026〕12号"


def test_the_quarter_list_holds_the_campaigns_started_quarters(regions, users, campaign, client_for):
    later = CampaignFactory(
        name="2026年专项行动", starts_on=datetime.date(2026, 2, 1), ends_on=datetime.date(2028, 12, 31)
    )
    today = timezone.localdate()
    assert campaign_quarters(later, datetime.date(2026, 8, 15)) == [
        Quarter(2026, 3),
        Quarter(2026, 2),
        Quarter(2026, 1),
    ]
    assert campaign_quarters(later, datetime.date(2025, 12, 31)) == []
    assert campaign_quarters(campaign, datetime.date(2030, 1, 1))[0] == Quarter(2023, 4)  # not past the end
    assert len(campaign_quarters(campaign, datetime.date(2030, 1, 1))) == 12
    client = client_for(users["county_a"])
    page = client.get(reverse("rectification:reports"))
    form = page.context["form"]
    codes = [code for code, _label in form.fields["quarter"].choices]
    expected = campaign_quarters(later, today) + campaign_quarters(campaign, today)
    assert codes == [str(q) for q in sorted(expected, reverse=True)]
    html = page.content.decode()
    # Each option names its campaigns (the page offers only the chosen campaign's) and reads 2021年第三季度.
    assert f'<option value="2021Q3" data-campaigns="{campaign.pk}">2021年第三季度</option>' in html
    assert f'data-campaigns="{later.pk}">2026年第一季度</option>' in html
    assert "rectification/report-request.js" in html
    assert not QUARTER_CODE.search(re.sub(r'value="[^"]*"', "", html))  # only in the options' values
    # A quarter of another campaign, or one not offered at all, is refused on the quarter field.
    refused = client.post(
        reverse("rectification:reports"),
        {"campaign": campaign.pk, "quarter": "2026Q1", "region": regions["county_a"].pk},
    )
    assert "quarter" in refused.context["form"].errors
    assert "2021年1月1日" in str(refused.context["form"].errors["quarter"])
    other = client.post(
        reverse("rectification:reports"),
        {"campaign": campaign.pk, "quarter": "2024Q1", "region": regions["county_a"].pk},
    )
    assert "quarter" in other.context["form"].errors
    assert not SupervisionReport.objects.exists()


def test_request_service_checks_the_campaigns_period(regions, users, campaign):
    with pytest.raises(ValidationError) as outside:
        request_report(actor=users["county_a"], campaign=campaign, quarter="2020Q4", region=regions["county_a"])
    assert "quarter" in outside.value.message_dict
    with pytest.raises(ValidationError) as future:
        request_report(actor=users["county_a"], campaign=campaign, quarter="2999Q1", region=regions["county_a"])
    assert "quarter" in future.value.message_dict
    with pytest.raises(ValidationError) as early:
        request_report(
            actor=users["county_a"],
            campaign=campaign,
            quarter="2021年第三季度",
            region=regions["county_a"],
            issued_on=datetime.date(2021, 6, 30),
        )
    assert "issued_on" in early.value.message_dict
    report = request_report(
        actor=users["county_a"], campaign=campaign, quarter="2021年第三季度", region=regions["county_a"]
    )
    assert report.quarter == "2021Q3"


def test_office_and_document_number_default_from_settings_and_count_up(regions, users, campaign, settings):
    settings.REPORT_ISSUING_OFFICE = "临江市化工企业专项整治工作领导小组办公室"
    settings.REPORT_DOCUMENT_PREFIX = "临化治办"
    year = timezone.localdate().year
    first = request_report(actor=users["county_a"], campaign=campaign, quarter="2021Q3", region=regions["county_a"])
    assert first.issuing_office == "临江市化工企业专项整治工作领导小组办公室"
    assert first.document_number == f"临化治办〔{year}〕1号" and first.issued_on == timezone.localdate()
    typed = request_report(
        actor=users["county_a"],
        campaign=campaign,
        quarter="2021Q3",
        region=regions["county_a"],
        issuing_office="甲县化治办",
        document_number=f"临化治办[{year}]12号",
    )
    assert (typed.issuing_office, typed.document_number) == ("甲县化治办", f"临化治办〔{year}〕12号")
    after = request_report(actor=users["county_a"], campaign=campaign, quarter="2021Q4", region=regions["county_a"])
    assert after.document_number == f"临化治办〔{year}〕13号"


def test_the_notice_reads_as_an_official_document(
    regions, users, campaign, client_for, django_capture_on_commit_callbacks
):
    client = client_for(users["county_a"])
    page = client.get(reverse("rectification:reports"))
    initial = page.context["form"].initial
    assert initial["issuing_office"] == django_settings.REPORT_ISSUING_OFFICE
    assert initial["issued_on"] == timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("rectification:reports"),
            {
                "campaign": campaign.pk,
                "quarter": "2021Q3",
                "region": regions["county_a"].pk,
                "issuing_office": "甲县化工企业专项整治工作领导小组办公室",
                "document_number": "甲化治办〔2021〕12号",
                "issued_on": "2021-10-15",
            },
        )
    assert response.status_code == 302
    report = SupervisionReport.objects.get()
    assert report.status == ReportStatus.DONE, report.error
    assert (report.issuing_office, report.document_number, report.issued_on) == (
        "甲县化工企业专项整治工作领导小组办公室",
        "甲化治办〔2021〕12号",
        datetime.date(2021, 10, 15),
    )
    html = client.get(reverse("rectification:report_notice", args=[report.pk])).content.decode()
    assert 'data-testid="notice-office">甲县化工企业专项整治工作领导小组办公室<' in html
    assert 'data-testid="notice-number">甲化治办〔2021〕12号<' in html
    assert "关于2021年第三季度化工企业“四个一批”专项整治行动进展情况的通报" in html
    assert 'data-testid="notice-date">2021年10月15日<' in html
    assert "截至2021年9月30日，甲县共摸排3家，经精准识别剔除0家，纳入整治3家（整治类别已经审批），" in html
    assert "其中关停2家（占66.7%）、升级1家（占33.3%）。" in html
    # Completed 1 shutdown of a target of 3, 1 upgrade of 2: (1 + 1) / 5 = 40.0%.
    assert 'data-testid="notice-overall-rate">40.0%<' in html
    assert "统计口径" in html and "入园进区率" in html and "关闭率" in html
    assert "rectification/notice.css" in html
    # What a person reads: no quarter code, no quotation marks inside quotation marks, no "39 %" spacing.
    text = re.sub(r"<[^>]+>", " ", html)
    assert not QUARTER_CODE.search(text)
    assert not NESTED_QUOTES.search(text)
    assert not re.search(r"\d %", text)
    # The list, the notification and the download name read the quarter too.
    listing = client.get(reverse("rectification:reports")).content.decode()
    assert 'data-testid="report-quarter">2021年第三季度<' in listing and "甲化治办〔2021〕12号" in listing
    notification = Notification.objects.get(recipient=users["county_a"])
    assert "2021年第三季度" in notification.title and not QUARTER_CODE.search(notification.title)
    download = client.get(reverse("rectification:report_download", args=[report.pk]))
    assert "2021年第三季度" in unquote(download["Content-Disposition"])


def test_the_print_stylesheet_sets_a4_and_hides_navigation():
    root = Path(django_settings.BASE_DIR) / "static"
    notice = (root / "rectification" / "notice.css").read_text()
    assert re.search(r"@page\s*\{[^}]*size:\s*A4", notice)
    app = (root / "css" / "app.css").read_text()
    assert re.search(r"@media print\s*\{[^@]*@page\s*\{[^}]*A4", app)
    assert re.search(r"@media print\s*\{.*?\.app-navbar[^}]*display:\s*none", app, re.DOTALL)


def test_an_unnumbered_notice_says_so(regions, campaign, client_for, users):
    report = SupervisionReport.objects.create(campaign=campaign, quarter="2021Q3", region=regions["county_a"])
    from rectification.reports import build_report

    build_report(report.pk)
    html = client_for(users["county_a"]).get(reverse("rectification:report_notice", args=[report.pk])).content.decode()
    assert 'data-testid="notice-unnumbered"' in html and 'data-testid="notice-number"' not in html


def test_the_api_takes_the_quarter_code_and_the_documents_fields(regions, campaign, django_capture_on_commit_callbacks):
    _client, _token, writer = api_client_for(regions["county_a"], write=True, name="市督查系统")
    with django_capture_on_commit_callbacks(execute=True):
        response = writer.post(
            "/api/v1/reports/",
            {
                "campaign": campaign.pk,
                "quarter": "2021Q3",
                "issuing_office": "甲县化治办",
                "document_number": "甲化治办[2021]3号",
                "issued_on": "2021-10-20",
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["quarter"] == "2021Q3" and body["quarter_display"] == "2021年第三季度"
    assert (body["issuing_office"], body["document_number"], body["issued_on"]) == (
        "甲县化治办",
        "甲化治办〔2021〕3号",
        "2021-10-20",
    )
    listed = writer.get("/api/v1/reports/", {"quarter": "2021年第三季度"}).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    refused = writer.post("/api/v1/reports/", {"campaign": campaign.pk, "quarter": "2020Q4"}, format="json")
    assert refused.status_code == 400 and "quarter" in refused.content.decode()
