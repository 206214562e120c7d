"""Change history: one mechanism (django-simple-history) for every register record.

Writing: services save through `save_tracked`, so each historical row names the actor and, where given,
the reason (e.g. "导入 #12"). A save is made only when something changed (`apply_changes`,
`apply_many_to_many` say what), so no empty entry is written. Many-to-many sets recorded in the history
(an enterprise's key processes) are set through `apply_many_to_many`: the one row of the save holds the
new set, instead of the extra row per add/remove/clear that simple-history's m2m_changed handler writes.
Bulk writers use core.bulk.insert_history, which records the sets in the same way.

Reading: `read_history` turns the rows of a page into entries a person reads: linked records by name
(临港化工园区 → 新桥化工集聚区, not 1 → 4; a deleted one by its last known name), sets as names added
and removed, coded values by their labels. It is set-based: one query per source, one per many-to-many
field and one per linked model (plus one per linked model with deleted records), whatever the number of
rows.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _
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
    old: str = ""
    new: str = ""
    #: A many-to-many field: the names added and removed (old/new stay empty).
    many: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class HistoryEntry:
    when: datetime
    who: str
    action: str  # "+", "~", "-"
    record: str
    reason: str
    changes: list[FieldChange]


@dataclass
class HistorySource:
    """Historical rows of one model that a page shows (of one or several records), and how to name each
    row's record (from the row's own fields: `row.instance` would query)."""

    rows: models.QuerySet
    label: Callable[[models.Model], str]


#: An unresolved reference: (related model, primary key); names are filled in set-based afterwards.
_Ref = tuple[type[models.Model], object]


@dataclass
class _PendingChange:
    field: str
    label: str
    #: Plain fields: the readable old and new values, or _Ref of a foreign key.
    old: object = None
    new: object = None
    many: bool = False
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)


def _shown_fields(history_model) -> list:
    """The tracked fields a person reads: not the key, bookkeeping stamps or the version counter."""
    return [
        f
        for f in history_model.tracked_fields
        if not f.primary_key
        and not getattr(f, "auto_now", False)
        and not getattr(f, "auto_now_add", False)
        and f.name != "version"
    ]


def _plain(model_field, value) -> str:
    """A readable value of a field that is not a link: a coded value by its label, yes/no, a local time."""
    if value is None or value == "":
        return "—"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _ranked(rows: models.QuerySet, limit: int | None) -> list:
    """The newest `limit` + 1 rows of each record (enough to diff its newest `limit`), newest first per
    record, in one query whatever the length of each record's history."""
    rows = rows.select_related("history_user")
    if limit is not None:
        rows = rows.annotate(
            history_rank=Window(
                RowNumber(), partition_by=[F("id")], order_by=[F("history_date").desc(), F("history_id").desc()]
            )
        ).filter(history_rank__lte=limit + 1)
    return list(rows.order_by("id", "-history_date", "-history_id"))


def _m2m_sets(history_model, rows) -> dict:
    """{(field name, history id): set of related ids} for `rows`: one query per many-to-many field."""
    sets = {}
    ids = [row.history_id for row in rows]
    for m2m, m2m_history in history_m2m_fields(history_model.instance_type):
        target = m2m_history._meta.get_field(get_m2m_reverse_field_name(m2m)).attname
        for history_id in ids:
            sets[(m2m.name, history_id)] = set()
        for start in range(0, len(ids), 500):
            for history_id, target_id in m2m_history.objects.filter(
                history_id__in=ids[start : start + 500]
            ).values_list("history_id", target):
                sets[(m2m.name, history_id)].add(target_id)
    return sets


def _diff(row, previous, fields, m2m_sets: dict) -> list[_PendingChange]:
    model = row.instance_type
    changes = []
    for model_field in fields:
        old, new = getattr(previous, model_field.attname), getattr(row, model_field.attname)
        if old == new:
            continue
        label = str(model_field.verbose_name)
        if model_field.is_relation:
            related = model_field.related_model
            changes.append(
                _PendingChange(
                    model_field.name,
                    label,
                    (related, old) if old is not None else None,
                    (related, new) if new is not None else None,
                )
            )
        else:
            changes.append(_PendingChange(model_field.name, label, _plain(model_field, old), _plain(model_field, new)))
    for m2m, _history in history_m2m_fields(model):
        old = m2m_sets.get((m2m.name, previous.history_id), set())
        new = m2m_sets.get((m2m.name, row.history_id), set())
        if old != new:
            related = m2m.related_model
            changes.append(
                _PendingChange(
                    m2m.name,
                    str(m2m.verbose_name),
                    many=True,
                    added=[(related, pk) for pk in sorted(new - old)],
                    removed=[(related, pk) for pk in sorted(old - new)],
                )
            )
    return changes


def _object_label(obj) -> str:
    if isinstance(obj, get_user_model()):
        return obj.get_full_name() or obj.get_username()
    return str(obj)


def _names(refs: Iterable[_Ref]) -> dict:
    """{(model, pk): name} of every reference: one query per model, one more per model with deleted records
    (their last known name from the history, else "(deleted #id)")."""
    wanted = defaultdict(set)
    for model, pk in refs:
        wanted[model].add(pk)
    names = {}
    for model, pks in wanted.items():
        for obj in model._base_manager.filter(pk__in=pks):
            names[(model, obj.pk)] = _object_label(obj)
        missing = pks - {pk for (m, pk) in names if m is model}
        history = getattr(model, "history", None) if missing else None
        if history is not None:
            tracked = history.model.tracked_fields
            for row in history.model.objects.filter(id__in=missing).order_by("id", "-history_date", "-history_id"):
                if (model, row.id) not in names:
                    last = model(**{f.attname: getattr(row, f.attname) for f in tracked})
                    names[(model, row.id)] = getattr(last, "name", None) or _object_label(last)
        for pk in missing:
            names.setdefault((model, pk), _("(deleted #%(id)s)") % {"id": pk})
    return names


def read_history(sources: Iterable[HistorySource], *, limit: int | None = None) -> list[HistoryEntry]:
    """The readable entries of the rows of `sources`, newest first (the newest `limit` when given)."""
    candidates = []  # (row, previous row of the same record or None)
    by_model = defaultdict(list)
    for source in sources:
        rows = _ranked(source.rows, limit)
        for index, row in enumerate(rows):
            following = rows[index + 1] if index + 1 < len(rows) else None
            previous = following if following is not None and following.id == row.id else None
            candidates.append((row, previous, source.label))
    candidates.sort(key=lambda item: (item[0].history_date, item[0].history_id), reverse=True)
    if limit is not None:
        candidates = candidates[:limit]
    for row, previous, _label in candidates:
        if row.history_type == "~" and previous is not None:
            by_model[type(row)].extend((row, previous))
    m2m_sets = {}
    for history_model, rows in by_model.items():
        m2m_sets[history_model] = _m2m_sets(history_model, rows)

    pending = []
    refs = []
    for row, previous, label in candidates:
        changes = []
        if row.history_type == "~" and previous is not None:
            changes = _diff(row, previous, _shown_fields(type(row)), m2m_sets[type(row)])
            for change in changes:
                refs.extend(ref for ref in (change.old, change.new) if isinstance(ref, tuple))
                refs.extend(change.added + change.removed)
        pending.append((row, label, changes))
    names = _names(refs)

    def name(value):
        if value is None:
            return "—"
        return names[value] if isinstance(value, tuple) else value

    entries = []
    for row, label, changes in pending:
        user = row.history_user
        entries.append(
            HistoryEntry(
                when=row.history_date,
                who=(user.get_full_name() or user.get_username()) if user else "",
                action=row.history_type,
                record=label(row),
                reason=row.history_change_reason or "",
                changes=[
                    FieldChange(
                        field=change.field,
                        label=change.label,
                        old="" if change.many else name(change.old),
                        new="" if change.many else name(change.new),
                        many=change.many,
                        added=[names[ref] for ref in change.added],
                        removed=[names[ref] for ref in change.removed],
                    )
                    for change in changes
                ],
            )
        )
    return entries
