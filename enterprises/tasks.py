"""Worker tasks of the enterprise register: thin wrappers around services."""

from celery import shared_task

from . import services


@shared_task
def recompute_hazard_levels() -> int:
    """Recompute every major hazard source's level from its inventory; returns how many changed."""
    return services.recompute_hazard_levels()
