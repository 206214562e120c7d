"""What a new user stumbles on (issue 17), page by page, in the Chinese interface every user starts with."""

import html
import re

import pytest
from django.urls import reverse

from imports.models import ImportStatus, RosterImport

from .factories import CampaignFactory, EnterpriseFactory, next_uscc
from .import_support import roster_upload, row


@pytest.fixture
def campaign(db):
    return CampaignFactory(name="四个一批专项行动")


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def count_card(page: str, key: str) -> tuple[str, str]:
    """(label, number) of one count card of the import page."""
    match = re.search(
        rf'<div class="small text-muted">([^<]*)</div><div class="fs-5[^"]*" data-count="{key}">(\d+)</div>', page
    )
    assert match, f"no count card {key}"
    return match.group(1), match.group(2)


# --- Import result page -----------------------------------------------------------------------------


def test_the_import_page_speaks_of_the_future_before_and_of_the_past_after_the_commit(
    client_for, users, regions, campaign
):
    client = client_for(users["town_a1"])
    existing = EnterpriseFactory(township=regions["town_a1"], name="旧名称")
    client.post(
        reverse("imports:upload"),
        {
            "campaign": campaign.pk,
            "file": roster_upload(
                [
                    row(next_uscc(), "新企业", problems="1、未取得安全生产许可证；2、环评手续不全"),
                    row(existing.uscc, "新名称"),
                ]
            ),
        },
    )
    record = RosterImport.objects.get()
    url = reverse("imports:detail", args=[record.pk])
    before = text_of(client.get(url))
    assert count_card(before, "created") == ("将新增", "1")
    assert count_card(before, "updated") == ("将更新", "1")
    assert "2个问题将登记为新隐患。" in before

    client.post(reverse("imports:commit", args=[record.pk]))
    after = text_of(client.get(url))
    assert count_card(after, "created") == ("已新增", "1")
    assert count_card(after, "updated") == ("已更新", "1")
    assert "更新时间" not in after
    assert "2个问题已登记为新隐患。" in after
    assert "将登记" not in after and "将新增" not in after


def test_a_refused_commit_says_why_once_and_the_import_can_still_be_confirmed(client_for, users, campaign):
    client = client_for(users["town_a1"])
    client.post(
        reverse("imports:upload"),
        {"campaign": campaign.pk, "file": roster_upload([row(next_uscc(), "好企业"), row("BAD", "坏代码")])},
    )
    record = RosterImport.objects.get()
    page = text_of(client.post(reverse("imports:commit", args=[record.pk]), follow=True))
    record.refresh_from_db()
    assert record.status == ImportStatus.REFUSED
    assert record.message and page.count(record.message) == 1
    badge = re.search(r'data-testid="import-status">([^<]*)<', page).group(1)
    assert badge == "尚未导入：有错误行"
    assert "已拒绝" not in page
    assert 'data-testid="commit-button"' in page  # still confirmable

    done = text_of(client.post(reverse("imports:commit", args=[record.pk]), {"skip_errors": "on"}, follow=True))
    record.refresh_from_db()
    assert record.status == ImportStatus.COMMITTED
    assert re.search(r'data-testid="import-status">已导入<', done)


# --- Navigation ---------------------------------------------------------------------------------------


def nav_active(page: str) -> list[str]:
    """data-testid of the highlighted navigation items."""
    return re.findall(r'<a class="nav-link active"[^>]*data-testid="(nav-[a-z]+)"', page)


def test_the_reports_page_highlights_only_the_reports_item(client_for, users):
    page = text_of(client_for(users["city"]).get(reverse("rectification:reports")))
    assert nav_active(page) == ["nav-reports"]
    campaigns = text_of(client_for(users["city"]).get(reverse("rectification:campaigns")))
    assert nav_active(campaigns) == ["nav-campaigns"]


def test_a_township_officer_has_no_reports_item_and_the_page_says_why(client_for, users):
    client = client_for(users["town_a1"])
    home = text_of(client.get(reverse("enterprises:list")))
    assert 'data-testid="nav-reports"' not in home
    page = text_of(client.get(reverse("rectification:reports")))
    why = re.search(r'data-testid="report-why-not">([^<]*)<', page).group(1)
    assert "只有" in why or "督查组" in why  # the capability's refusal, in Chinese
    assert "本乡镇的情况见所在县（市、区）的通报" in why
    assert 'data-testid="report-request"' not in page


def test_a_reviewer_sees_the_reports_of_the_city_and_why_there_is_no_form(client_for, users):
    client = client_for(users["reviewer"])
    assert 'data-testid="nav-reports"' in text_of(client.get(reverse("enterprises:list")))
    page = text_of(client.get(reverse("rectification:reports")))
    why = re.search(r'data-testid="report-why-not">([^<]*)<', page).group(1)
    assert why.strip() and "本乡镇" not in why
    supervisor = text_of(client_for(users["supervisor"]).get(reverse("rectification:reports")))
    assert 'data-testid="report-request"' in supervisor and 'data-testid="report-why-not"' not in supervisor
