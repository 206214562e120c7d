"""Exceptions services raise besides Django's ValidationError and PermissionDenied."""

from django.utils.translation import gettext_lazy as _


class ConflictError(Exception):
    """An update was based on an old version of the record (optimistic concurrency).

    Raised by a service given `expected_version` when the stored version differs, so a change made
    meanwhile by someone else is not overwritten. The API answers 409 with `current_version`.
    The message stays lazy so it can be rendered in every language.
    """

    message = _(
        "This record was changed by someone else meanwhile (it is now at version %(current)s, your change was "
        "based on version %(expected)s). Reload it and apply your change again."
    )

    def __init__(self, *, current_version: int, expected_version: int):
        self.current_version = current_version
        self.expected_version = expected_version
        super().__init__(str(self))

    @property
    def params(self) -> dict:
        return {"current": self.current_version, "expected": self.expected_version}

    def __str__(self):
        return str(self.message) % self.params
