"""Change history: one mechanism (django-simple-history) for every register record.

Writing: services save through `save_tracked`, so each historical row names the actor and, where given,
the reason (e.g. "导入 #12"). A save is made only when something changed (`apply_changes`,
`apply_many_to_many` say what), so no empty entry is written. Many-to-many sets recorded in the history
(an enterprise's key processes) are set through `apply_many_to_many`: the one row of the save holds the
new set, instead of the extra row per add/remove/clear that simple-history's m2m_changed handler writes.
Bulk writers use core.bulk.insert_history, which records the sets in the same way.

Views read the rows back through `record_changes`.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import models
from simple_history.manager import HistoryManager as SimpleHistoryManager
from simple_history.models import HistoricalRecords
from simple_history.utils import get_m2m_field_name, get_m2m_reverse_field_name

# --- Writing -----------------------------------------------------------------------------------------


def apply_changes(instance: models.Model, data: dict) -> list[str]:
    """Set the attributes of `instance` that differ from `data`; return the changed field names."""
    changed = []
    for name, value in data.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def history_m2m_fields(model) -> list[tuple[models.ManyToManyField, type[models.Model]]]:
    """The many-to-many fields whose sets the history of `model` records, each with its history model."""
    return [(m2m, history) for m2m, history in HistoricalRecords.m2m_models.items() if m2m.model is model]


def record_m2m_history(model, history_ids: dict) -> None:
    """Copy the current many-to-many links of records of `model` into their new history rows (`history_ids`:
    pk -> history id), as simple-history does for a single save. For rows written in bulk: without the links
    a row says the sets are empty, and the next entry would show them all as added again."""
    pks = list(history_ids)
    for m2m, m2m_history in history_m2m_fields(model):
        through = m2m.remote_field.through
        source = through._meta.get_field(get_m2m_field_name(m2m)).attname
        target = through._meta.get_field(get_m2m_reverse_field_name(m2m)).attname
        copies = []
        for start in range(0, len(pks), 1000):
            links = through.objects.filter(**{f"{source}__in": pks[start : start + 1000]})
            for link_id, owner_id, target_id in links.values_list("pk", source, target):
                copies.append(
                    m2m_history(id=link_id, **{source: owner_id, target: target_id}, history_id=history_ids[owner_id])
                )
        m2m_history.objects.bulk_create(copies, batch_size=1000)


def record_m2m_in_created_rows(model, pks) -> None:
    """For records bulk-created before their many-to-many links (demo data): record the links in their
    "created" history rows, as creating them with one save would."""
    pks = list(pks)
    history = model.history.filter(history_type="+")
    for start in range(0, len(pks), 1000):
        chunk = pks[start : start + 1000]
        record_m2m_history(model, dict(history.filter(id__in=chunk).values_list("id", "history_id")))


class HistoryManager(SimpleHistoryManager):
    """simple-history's history manager, for models whose history keeps many-to-many sets: its bulk writes
    (bulk_create_with_history, bulk_update_with_history) record each row's sets too, as a single save does."""

    def bulk_history_create(self, objs, *args, **kwargs):
        rows = super().bulk_history_create(objs, *args, **kwargs)
        if rows:
            if any(row.history_id is None for row in rows):  # a database that does not return new keys
                latest = self.model.objects.filter(id__in=[row.id for row in rows]).order_by("id", "history_id")
                history_ids = dict(latest.values_list("id", "history_id"))  # the last per record wins
            else:
                history_ids = {row.id: row.history_id for row in rows}
            record_m2m_history(self.model.instance_type, history_ids)
        return rows


@contextmanager
def _without_history(instance: models.Model):
    """simple-history writes no row for `instance` meanwhile (its post_save and m2m_changed handlers look
    for this attribute)."""
    already = hasattr(instance, "skip_history_when_saving")
    instance.skip_history_when_saving = True
    try:
        yield
    finally:
        if not already:
            del instance.skip_history_when_saving


def apply_many_to_many(instance: models.Model, data: dict) -> list[str]:
    """Set the many-to-many fields in `data` ({name: objects}) whose set differs; return the changed names.

    Without a history row per add/remove (simple-history writes one from m2m_changed): the caller's
    save_tracked then writes one row for the whole change, holding the new sets. `instance` must be saved.
    """
    changed = []
    for name, objects in data.items():
        manager = getattr(instance, name)
        objects = list(objects)
        if {obj.pk for obj in objects} == set(manager.values_list("pk", flat=True)):
            continue
        with _without_history(instance):
            manager.set(objects)
        changed.append(name)
    return changed


def save_tracked(
    instance: models.Model, *, actor=None, reason: str = "", validate: bool = True, many_to_many: dict | None = None
) -> None:
    """full_clean() and save, recording who and why in ONE history row.

    `many_to_many` ({name: objects}) sets those fields with the save; the row records them. For a new
    record they are set before its "created" row is written, so that row holds them.
    """
    if validate:
        instance.full_clean()
    user = actor if actor is not None and getattr(actor, "pk", None) else None
    if user is not None:
        instance._history_user = user
    if reason:
        instance._change_reason = reason
    if many_to_many and instance._state.adding:
        from .bulk import insert_history

        with _without_history(instance):
            instance.save()
            apply_many_to_many(instance, many_to_many)
        insert_history(type(instance), [instance], user=user, reason=reason, history_type="+")
        return
    if many_to_many:
        apply_many_to_many(instance, many_to_many)
    instance.save()


def delete_tracked(instance: models.Model, *, actor=None, reason: str = "") -> None:
    if actor is not None and getattr(actor, "pk", None):
        instance._history_user = actor
    if reason:
        instance._change_reason = reason
    instance.delete()


# --- Reading -----------------------------------------------------------------------------------------


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
