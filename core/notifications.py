"""Notifications: create them in bulk (deduplicated), read and mark them, e-mail them in batches.

A notification is keyed by (recipient, dedup_key): the deadline checks build keys from the rule, the record
and the date that matters (e.g. "task-overdue:17:2021-03-31"), so running a rule twice, or again after a
crash, notifies nobody twice. E-mail goes through Django's e-mail backend (console on the embedded
default) to recipients with an address; each notification is e-mailed once (`emailed_at`).
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import Notification

#: Notifications written per INSERT (and existing keys looked up per query).
NOTIFY_CHUNK = 1000
#: Notifications read per e-mail batch (one message per recipient in the batch).
EMAIL_BATCH = 500


@dataclass(frozen=True)
class Message:
    """What to tell a set of users about one record."""

    kind: str
    title: str
    body: str
    link: str
    dedup_key: str
    target: object | None = None


def _content_ref(target) -> tuple[int | None, int | None]:
    if target is None:
        return None, None
    return ContentType.objects.get_for_model(type(target)).pk, target.pk


def notify(recipients, *, kind: str, title: str, body: str = "", link: str = "", dedup_key: str, target=None) -> int:
    """Notify each of `recipients` (users or user ids) once; returns how many notifications were new."""
    message = Message(kind=kind, title=title, body=body, link=link, dedup_key=dedup_key, target=target)
    return notify_many((recipient, message) for recipient in recipients)


def notify_many(pairs: Iterable[tuple[object, Message]]) -> int:
    """Store (recipient, message) pairs in chunks, skipping those already notified; returns how many were new.

    Each chunk costs two queries (the keys already there, one INSERT); the INSERT also ignores conflicts, so
    two runs racing each other still cannot notify twice.
    """
    created = 0
    chunk: list[Notification] = []
    seen: set[tuple[int, str]] = set()
    for recipient, message in pairs:
        recipient_id = recipient if isinstance(recipient, int) else recipient.pk
        if (recipient_id, message.dedup_key) in seen:
            continue
        seen.add((recipient_id, message.dedup_key))
        content_type_id, object_id = _content_ref(message.target)
        chunk.append(
            Notification(
                recipient_id=recipient_id,
                kind=message.kind,
                title=str(message.title)[:200],
                body=str(message.body),
                link=message.link[:500],
                content_type_id=content_type_id,
                object_id=object_id,
                dedup_key=message.dedup_key[:200],
            )
        )
        if len(chunk) >= NOTIFY_CHUNK:
            created += _store(chunk)
            chunk = []
    if chunk:
        created += _store(chunk)
    return created


def _store(chunk: list[Notification]) -> int:
    keys = {n.dedup_key for n in chunk}
    recipients = {n.recipient_id for n in chunk}
    existing = set(
        Notification.objects.filter(dedup_key__in=keys, recipient_id__in=recipients).values_list(
            "recipient_id", "dedup_key"
        )
    )
    new = [n for n in chunk if (n.recipient_id, n.dedup_key) not in existing]
    if new:
        Notification.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


# --- Reading -------------------------------------------------------------------------------------


def notifications_for(user):
    """The user's own notifications, newest first (nobody reads anyone else's)."""
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user)


def unread_count(user) -> int:
    return notifications_for(user).filter(read_at__isnull=True).count()


def mark_read(user, notification_ids) -> int:
    """Mark the user's own notifications read (others' ids are ignored); returns how many changed."""
    return (
        notifications_for(user)
        .filter(pk__in=list(notification_ids), read_at__isnull=True)
        .update(read_at=timezone.now(), updated_at=timezone.now())
    )


def mark_all_read(user) -> int:
    now = timezone.now()
    # A set-based update skips auto_now: updated_at is named so the API's incremental sync sees the change.
    return notifications_for(user).filter(read_at__isnull=True).update(read_at=now, updated_at=now)


# --- E-mail --------------------------------------------------------------------------------------


def absolute_url(link: str) -> str:
    if not link or link.startswith(("http://", "https://")):
        return link
    return settings.SITE_URL.rstrip("/") + link


def _email_for(user, notifications: list[Notification]) -> EmailMessage:
    with translation.override(settings.LANGUAGE_CODE):
        if len(notifications) == 1:
            subject = notifications[0].title
        else:
            subject = _("%(count)d new notifications") % {"count": len(notifications)}
        parts = []
        for notification in notifications:
            lines = [notification.title]
            if notification.body:
                lines.append(notification.body)
            if notification.link:
                lines.append(absolute_url(notification.link))
            parts.append("\n".join(lines))
        footer = _("You receive this because you are registered in %(app)s.") % {"app": settings.APP_TITLE}
    return EmailMessage(
        subject=subject[:200],
        body="\n\n".join(parts) + "\n\n-- \n" + footer,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )


def send_pending_emails(batch_size: int = EMAIL_BATCH, max_age_days: int | None = None) -> int:
    """E-mail notifications not e-mailed yet to recipients with an address; returns the number e-mailed.

    Batches of `batch_size` notifications, one message per recipient and batch, then `emailed_at` is set for
    the batch. Notifications older than `max_age_days` (settings.NOTIFICATION_EMAIL_MAX_AGE_DAYS) are not
    e-mailed any more: a user who adds an address later is not flooded with old news.
    """
    max_age_days = settings.NOTIFICATION_EMAIL_MAX_AGE_DAYS if max_age_days is None else max_age_days
    since = timezone.now() - datetime.timedelta(days=max_age_days)
    pending = Notification.objects.filter(
        emailed_at__isnull=True,
        created_at__gte=since,
        recipient__is_active=True,
    ).exclude(Q(recipient__email="") | Q(recipient__email__isnull=True))
    sent = 0
    last_id = 0
    connection = get_connection()
    while True:
        with transaction.atomic():
            batch = list(pending.filter(pk__gt=last_id).select_related("recipient").order_by("pk")[:batch_size])
            if not batch:
                break
            last_id = batch[-1].pk
            by_user = defaultdict(list)
            for notification in batch:
                by_user[notification.recipient].append(notification)
            connection.send_messages([_email_for(user, items) for user, items in by_user.items()])
            Notification.objects.filter(pk__in=[n.pk for n in batch], emailed_at__isnull=True).update(
                emailed_at=timezone.now()
            )
            sent += len(batch)
    return sent
