"""Worker tasks of the roster import: thin wrappers around imports.services."""

from celery import shared_task

from . import services


@shared_task
def preview_roster_import(import_id: int) -> str:
    """Read a large roster and record its preview; returns the import's status."""
    return services.run_preview(import_id)


@shared_task
def commit_roster_import(import_id: int, user_id: int, skip_errors: bool = False) -> str:
    """Import a previewed large roster (claimed by the page); returns the import's status."""
    return services.run_commit(import_id, user_id, skip_errors)
