"""Tasks of the common app."""

from celery import shared_task


@shared_task(bind=True)
def ping(self) -> str:
    """Answer "pong" and the name of the node that ran it: shows which worker consumes a queue (health check, tests)."""
    return f"pong {self.request.hostname}"
