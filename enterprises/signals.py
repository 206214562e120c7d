"""Signals of the enterprise register that other apps listen to, so enterprises need not import them."""

from django.dispatch import Signal

#: Sent (keyword `enterprise_ids`) after enterprises changed a field that records of other apps show as
#: their enterprise reference (REFERENCE_FIELDS): those records must look changed to the API's sync.
enterprise_reference_changed = Signal()

#: Fields of Enterprise that other records carry in their API representation.
REFERENCE_FIELDS = frozenset({"uscc", "name", "township"})
