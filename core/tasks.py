"""Tasks of the common app."""

from celery import shared_task


@shared_task(bind=True)
def ping(self) -> str:
    """Answer "pong" and the name of the node that ran it: shows which worker consumes a queue (health check, tests)."""
    return f"pong {self.request.hostname}"


@shared_task
def check_deadlines(on_date: str | None = None) -> dict:
    """The daily deadline checks (core.deadline_checks); `on_date` as YYYY-MM-DD, today by default."""
    import datetime

    from .deadline_checks import run_deadline_checks

    return run_deadline_checks(datetime.date.fromisoformat(on_date) if on_date else None)


@shared_task
def send_notification_emails() -> int:
    """E-mail the notifications not e-mailed yet (also done at the end of every deadline check)."""
    from .notifications import send_pending_emails

    return send_pending_emails()
