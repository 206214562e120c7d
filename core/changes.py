"""Mark rows changed for the API's incremental sync without a save per row."""

from django.db.models import F
from django.utils import timezone


def mark_changed(queryset) -> int:
    """updated_at = now (and version + 1 where the model has one), in one UPDATE.

    For rows whose API representation shows something that changed elsewhere (an enterprise's
    name on its tasks): a client syncing by updated_at must fetch them again.
    """
    values = {"updated_at": timezone.now()}
    if any(field.name == "version" for field in queryset.model._meta.concrete_fields):
        values["version"] = F("version") + 1
    return queryset.update(**values)
