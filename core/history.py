"""Change history: one mechanism (django-simple-history) for every register record.

Services save through `save_tracked` so each historical row names the actor and,
where given, the reason (e.g. "导入 #12"); views read it back through `record_changes`.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import models


def apply_changes(instance: models.Model, data: dict) -> list[str]:
    """Set the attributes of `instance` that differ from `data`; return the changed field names."""
    changed = []
    for field, value in data.items():
        if getattr(instance, field) != value:
            setattr(instance, field, value)
            changed.append(field)
    return changed


def save_tracked(instance: models.Model, *, actor=None, reason: str = "", validate: bool = True) -> None:
    """full_clean() and save, recording who and why in the history row."""
    if validate:
        instance.full_clean()
    if actor is not None and getattr(actor, "pk", None):
        instance._history_user = actor
    if reason:
        instance._change_reason = reason
    instance.save()


def delete_tracked(instance: models.Model, *, actor=None, reason: str = "") -> None:
    if actor is not None and getattr(actor, "pk", None):
        instance._history_user = actor
    if reason:
        instance._change_reason = reason
    instance.delete()


@dataclass
class FieldChange:
    field: str
    label: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    when: datetime
    who: str
    action: str  # "+", "~", "-"
    record: str
    reason: str
    changes: list[FieldChange]


def _display(model, field_name, value):
    if value is None or value == "":
        return "—"
    try:
        field = model._meta.get_field(field_name)
    except Exception:
        return str(value)
    if getattr(field, "choices", None):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        from django.utils.translation import gettext

        return gettext("Yes") if value else gettext("No")
    if isinstance(value, list):  # many-to-many as recorded by simple-history
        return "、".join(str(v) for v in value) or "—"
    return str(value)


def record_changes(history_rows, *, label=None) -> list[HistoryEntry]:
    """Turn historical rows (newest first, each with prev_record reachable) into readable entries.

    `history_rows` must be a list ordered newest first for ONE object; the previous row is
    taken from the list itself, so no query is made per row.
    """
    entries = []
    rows = list(history_rows)
    for index, row in enumerate(rows):
        previous = rows[index + 1] if index + 1 < len(rows) else None
        model = row.instance_type
        changes = []
        if previous is not None and row.history_type == "~":
            delta = row.diff_against(previous)
            for change in delta.changes:
                try:
                    verbose = str(model._meta.get_field(change.field).verbose_name)
                except Exception:
                    verbose = change.field
                changes.append(
                    FieldChange(
                        field=change.field,
                        label=verbose,
                        old=_display(model, change.field, change.old),
                        new=_display(model, change.field, change.new),
                    )
                )
        user = row.history_user
        entries.append(
            HistoryEntry(
                when=row.history_date,
                who=(user.get_full_name() or user.username) if user else "",
                action=row.history_type,
                record=label(row) if label else str(row.instance),
                reason=row.history_change_reason or "",
                changes=changes,
            )
        )
    return entries
