"""Notifications: deduplicated creation, the bell, the list (own only), mark read, e-mail once."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import Notification, NotificationKind
from core.notifications import Message, mark_read, notify, notify_many, send_pending_emails, unread_count
from rectification.models import SupervisionReport

from .factories import CampaignFactory, EnterpriseFactory, UserFactory
from .test_query_counts import check_against_baseline


def tell(users, key="k1", title="任务逾期", link="/enterprises/1/"):
    return notify(users, kind=NotificationKind.TASK_OVERDUE, title=title, body="正文", link=link, dedup_key=key)


def test_notify_is_deduplicated_per_recipient(users):
    assert tell([users["city"], users["county_a"]]) == 2
    assert tell([users["city"], users["county_a"]]) == 0
    assert tell([users["city"].pk]) == 0  # ids work too
    assert tell([users["city"]], key="k2") == 1
    assert Notification.objects.count() == 3
    # The same pair twice in one call is stored once.
    message = Message(kind=NotificationKind.TASK_OVERDUE, title="t", body="", link="", dedup_key="k3")
    assert notify_many([(users["city"], message), (users["city"], message)]) == 1


def test_notify_records_the_target(users, regions):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    notify([users["town_a1"]], kind=NotificationKind.PERMIT_EXPIRED, title="t", dedup_key="x", target=enterprise)
    stored = Notification.objects.get()
    assert stored.content_type.model == "enterprise" and stored.object_id == enterprise.pk


def test_bell_shows_the_unread_count(users, client_for):
    tell([users["town_a1"]], key="a")
    tell([users["town_a1"]], key="b")
    tell([users["town_a2"]], key="c")
    page = client_for(users["town_a1"]).get(reverse("home")).content.decode()
    assert 'data-testid="nav-bell-count">2<' in page
    mark_read(users["town_a1"], Notification.objects.filter(recipient=users["town_a1"]).values_list("pk", flat=True))
    page = client_for(users["town_a1"]).get(reverse("home")).content.decode()
    assert 'data-testid="nav-bell"' in page and "nav-bell-count" not in page


def test_list_shows_only_own_notifications_and_marks_read(users, client_for):
    tell([users["town_a1"]], key="mine", title="我的通知")
    tell([users["town_a2"]], key="theirs", title="别人的通知")
    client = client_for(users["town_a1"])
    page = client.get(reverse("notifications"))
    content = page.content.decode()
    assert "我的通知" in content and "别人的通知" not in content
    mine = Notification.objects.get(recipient=users["town_a1"])
    theirs = Notification.objects.get(recipient=users["town_a2"])
    # Someone else's: 404, and nothing changes.
    assert client.post(reverse("notification_read", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notification_open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    # GET does not change anything (POST with CSRF only).
    assert client.get(reverse("notification_read", args=[mine.pk])).status_code == 405
    response = client.post(reverse("notification_open", args=[mine.pk]))
    assert response.status_code == 302 and response["Location"] == "/enterprises/1/"
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert unread_count(users["town_a1"]) == 0


def test_mark_read_and_mark_all_read(users, client_for):
    for key in ("a", "b", "c"):
        tell([users["county_a"]], key=key)
    tell([users["city"]], key="d")
    client = client_for(users["county_a"])
    first = Notification.objects.filter(recipient=users["county_a"]).first()
    assert client.post(reverse("notification_read", args=[first.pk]), {"next": "/notifications/"}).status_code == 302
    assert unread_count(users["county_a"]) == 2
    assert "2" in client.get(reverse("notifications") + "?unread=1").content.decode()
    client.post(reverse("notifications_read_all"))
    assert unread_count(users["county_a"]) == 0
    assert unread_count(users["city"]) == 1  # someone else's untouched


def test_csrf_is_enforced(users):
    from django.test import Client

    tell([users["city"]])
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["city"])
    assert client.post(reverse("notifications_read_all")).status_code == 403
    assert unread_count(users["city"]) == 1


def test_open_refuses_links_to_other_sites(users, client_for):
    tell([users["city"]], link="https://evil.example.com/")
    notification = Notification.objects.get()
    response = client_for(users["city"]).post(reverse("notification_open", args=[notification.pk]))
    assert response["Location"] == reverse("notifications")


def test_email_sent_once_to_users_with_an_address(users, settings):
    settings.SITE_URL = "https://chemreg.example.cn"
    users["city"].email = "city@example.cn"
    users["city"].save()
    tell([users["city"], users["county_a"]], key="a")  # county_a has no address
    tell([users["city"]], key="b", title="第二条")
    assert send_pending_emails() == 2
    assert len(mail.outbox) == 1  # one message per recipient and batch
    message = mail.outbox[0]
    assert message.to == ["city@example.cn"]
    assert "任务逾期" in message.body and "第二条" in message.body
    assert "https://chemreg.example.cn/enterprises/1/" in message.body
    assert send_pending_emails() == 0 and len(mail.outbox) == 1
    assert Notification.objects.filter(recipient=users["county_a"], emailed_at__isnull=True).count() == 1


def test_email_batches_and_age_limit(users):
    users["city"].email = "city@example.cn"
    users["city"].save()
    for n in range(5):
        tell([users["city"]], key=f"k{n}")
    Notification.objects.filter(dedup_key="k0").update(created_at=timezone.now() - datetime.timedelta(days=30))
    with CaptureQueriesContext(connection) as queries:
        assert send_pending_emails(batch_size=2) == 4
    assert len(mail.outbox) == 2  # batches of 2: two digests
    assert len(queries) <= 3 * 3 + 2


def test_notification_and_report_list_query_counts(users, client_for, regions):
    for n in range(30):
        tell([users["county_a"]], key=f"n{n}")
    campaign = CampaignFactory()
    for n in range(10):
        SupervisionReport.objects.create(
            campaign=campaign,
            quarter="2021Q1",
            region=regions["county_a"],
            requested_by=users["county_a"] if n % 2 else None,
        )
    client = client_for(users["county_a"])
    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse("notifications")).status_code == 200
    check_against_baseline("notification_list", len(context))
    with CaptureQueriesContext(connection) as context:
        assert client.get(reverse("rectification:reports")).status_code == 200
    check_against_baseline("report_list", len(context))


@pytest.mark.parametrize("name", ["notifications", "rectification:reports"])
def test_pages_need_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "login" in response["Location"]


def test_other_users_report_links_from_notifications(users):
    other = UserFactory(username="other", role="township", region=users["town_a1"].region)
    tell([other], key="z")
    assert unread_count(users["town_a1"]) == 0 and unread_count(other) == 1
