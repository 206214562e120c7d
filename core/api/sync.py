"""Incremental sync: `updated_since`, the settle window, keyset cursors, tombstones.

How a client pulls every change exactly once:
- `?updated_since=T` lists the records with updated_at strictly after T, ordered by (updated_at, id),
  in pages linked by `next` (an opaque cursor holding the last (updated_at, id) served);
- only records with updated_at older than now minus API_SYNC_SETTLE_SECONDS are served. updated_at is
  set when a transaction writes, not when it commits, so a slow transaction may commit a row stamped
  a little in the past; holding back the last few seconds means no row can appear later behind the
  cursor. The window must exceed the longest write transaction (default 5 s);
- a record changed during the pull gets a new updated_at and comes again, later in the same pull, with
  its new content (a change is never skipped; a record is sent once per change);
- when `next` is null the client is up to date; it keeps the updated_at of the last record received
  and passes it as `updated_since` next time.
Deletions come from the change history (django-simple-history "-" rows): `<resource>/deleted/`
lists tombstones the same way, and for clients limited to a region also records that left the region
(moved to a township outside it). A tombstone applies when its deleted_at is later than the
updated_at the client holds for that id.
"""

import base64
import binascii
import datetime
import json
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Case, CharField, F, OuterRef, Q, Subquery, Value, When
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from regions.scoping import ALL_REGIONS, scope_region

SINCE_PARAM = "updated_since"
CURSOR_PARAM = "cursor"

# "+08:00" sent unencoded in a query string arrives as " 08:00": after a time, a space before the
# offset can only have been a plus sign.
_DECODED_PLUS = re.compile(r"(.*T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)")


def parse_since(value: str) -> datetime.datetime:
    """An ISO 8601 datetime (or date); without an offset it is read in the server's time zone (+08:00)."""
    text = (value or "").strip()
    match = _DECODED_PLUS.fullmatch(text)
    if match:
        text = f"{match[1]}+{match[2]}"
    moment = None
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            if day is not None:
                moment = datetime.datetime.combine(day, datetime.time())
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError(
            {
                SINCE_PARAM: ValidationError(
                    _("%(value)s is not an ISO 8601 date-time such as 2024-05-01T08:30:00+08:00."),
                    code="invalid",
                    params={"value": value},
                )
            }
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def settle_cutoff(now=None) -> datetime.datetime:
    """Rows stamped at or after this moment are held back until the next pull (see the module docstring)."""
    return (now or timezone.now()) - datetime.timedelta(seconds=settings.API_SYNC_SETTLE_SECONDS)


def encode_cursor(moment: datetime.datetime, pk: int) -> str:
    payload = json.dumps([moment.astimezone(datetime.UTC).isoformat(), pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment_text, pk = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        moment = datetime.datetime.fromisoformat(moment_text)
        if timezone.is_naive(moment) or not isinstance(pk, int):
            raise ValueError(cursor)
        return moment, pk
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise ValidationError(
            {
                CURSOR_PARAM: ValidationError(
                    _("This cursor is damaged: follow the next links exactly as the API returns them."),
                    code="invalid",
                )
            }
        ) from None


def after_cursor(queryset, time_field: str, id_field: str, moment, pk):
    """Rows after (moment, pk) in (time, id) order; the first condition lets the database use the time index.

    Where the database compares row values (PostgreSQL), `(time, id) > (moment, pk)` is added: with an index
    on (time, id) the next page starts with an index seek, also inside a group of rows sharing one timestamp
    (a set-based update of thousands of tasks), instead of stepping over the rows already served.
    """
    queryset = queryset.filter(**{f"{time_field}__gte": moment}).filter(
        Q(**{f"{time_field}__gt": moment}) | Q(**{id_field + "__gt": pk})
    )
    if connections[queryset.db].features.supports_tuple_lookups:
        queryset = queryset.filter(TupleGreaterThan(Tuple(F(time_field), F(id_field)), (moment, pk)))
    return queryset


def sync_window(queryset, since, time_field: str = "updated_at"):
    """Changed after `since`, settled (older than the settle window), in (time, id) order."""
    if since is not None:
        queryset = queryset.filter(**{f"{time_field}__gt": since})
    return queryset.filter(**{f"{time_field}__lt": settle_cutoff()}).order_by(time_field, "pk")


# --- Tombstones ----------------------------------------------------------------------------------------

DELETED = "deleted"
MOVED_OUT = "moved_out"


def _previous_value(history_model, lookup: str):
    """The value of `lookup` in the history row just before this one, for the same record."""
    return Subquery(
        history_model.objects.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
        .order_by("-history_id")
        .values(lookup)[:1]
    )


@dataclass
class TombstoneSource:
    """Where a resource's deletions (and departures from a region) are read from: its history model.

    `region_path` is the lookup from a history row to the materialised path of its region, or a callable
    returning an expression for it. `tracks_moves`: the record itself can move to another region, so a
    history row outside the region following one inside it is a departure.
    """

    model: type
    key_field: str
    region_path: object = "township__path"
    tracks_moves: bool = True
    extra_fields: list = field(default_factory=list)

    @property
    def history_model(self):
        return self.model.history.model

    def _path_expression(self):
        return self.region_path() if callable(self.region_path) else F(self.region_path)

    def rows(self, user):
        """History rows that are tombstones for `user`, annotated with `reason`; ordered by the caller."""
        history = self.history_model.objects.annotate(region_path_now=self._path_expression())
        scope = scope_region(user)
        if scope is None:
            return history.none()
        deleted = Q(history_type="-")
        if scope is ALL_REGIONS:
            return history.filter(deleted).annotate(reason=Value(DELETED, output_field=CharField()))
        inside = Q(region_path_now__startswith=scope.path)
        condition = deleted & inside
        if self.tracks_moves and isinstance(self.region_path, str):
            history = history.annotate(region_path_before=_previous_value(self.history_model, self.region_path))
            condition |= Q(history_type="~", region_path_before__startswith=scope.path) & ~inside
        return history.filter(condition).annotate(
            reason=Case(When(history_type="-", then=Value(DELETED)), default=Value(MOVED_OUT), output_field=CharField())
        )
