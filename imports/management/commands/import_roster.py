"""`python manage.py import_roster FILE --user USERNAME --campaign "NAME" [--commit] [--skip-errors] [--json]`.

The same service as the import page, scoped by the user's region. Without --commit it only previews.
Exit status: 0 when it did what was asked, 1 when errors kept it from committing, 2 for an unreadable file
or bad arguments.
"""

import json
import os
import sys

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.utils.translation import gettext as _

from core.management.base import RegisterCommand
from imports import services
from imports.models import ImportStatus
from rectification.models import Campaign


class Command(RegisterCommand):
    help = "Preview (and with --commit import) a township's Excel roster as the given user."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The roster (.xlsx).")
        parser.add_argument(
            "--user", required=True, help="The importing user's username: the import is scoped to their region."
        )
        parser.add_argument("--campaign", required=True, help="The campaign's name.")
        parser.add_argument("--commit", action="store_true", help="Import; without it the roster is only previewed.")
        parser.add_argument(
            "--skip-errors",
            action="store_true",
            help="With --commit: import the valid rows, leave out the rows in error.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object with the counts, the errors and the warnings."
        )

    def handle(self, *args, **options):
        self.as_json = options["json"]
        try:
            user = get_user_model().objects.select_related("region").get(username=options["user"], is_active=True)
        except get_user_model().DoesNotExist:
            self._fail(_("No active user %(user)s.") % {"user": options["user"]})
        campaign = Campaign.objects.filter(name=options["campaign"]).first()
        if campaign is None:
            self._fail(_("No campaign named %(campaign)s.") % {"campaign": options["campaign"]})
        path = options["file"]
        if not os.path.isfile(path):
            self._fail(_("No file %(path)s.") % {"path": path})
        try:
            with open(path, "rb") as handle:
                upload = File(handle, name=os.path.basename(path))
                record = services.start_import(file=upload, user=user, campaign=campaign)
        except (ValidationError, PermissionDenied) as error:
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            self._fail(" ".join(messages))
        services.preview(record, user)
        if record.status == ImportStatus.FAILED:
            self._fail(record.message, record=record)
        committed = False
        exit_status = 0
        if options["commit"]:
            try:
                services.commit(record, user, skip_errors=options["skip_errors"])
                committed = True
            except services.ImportRefused as error:
                exit_status = 1 if record.status == ImportStatus.REFUSED else 2
                if not self.as_json:
                    self.stderr.write(str(error))
            except PermissionDenied as error:
                self._fail(str(error), record=record)
        self._report(record, committed)
        if exit_status:
            sys.exit(exit_status)

    def _summary(self, record, committed: bool) -> dict:
        return {
            "rows": record.rows_read,
            "created": record.created_count,
            "updated": record.updated_count,
            "unchanged": record.unchanged_count,
            "skipped": record.skipped_count,
            "errors": [
                {"row": error["row"], "column": error["column"], "message": error["message"]} for error in record.errors
            ],
            # Imported rows still missing what the county needs before it submits: never block, never errors.
            "warnings": [
                {"row": warning["row"], "column": warning["column"], "message": warning["message"]}
                for warning in record.warnings
            ],
            "surveyed": record.surveyed_count,
            "committed": committed,
        }

    def _report(self, record, committed: bool) -> None:
        summary = self._summary(record, committed)
        if self.as_json:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        counts = {
            "pk": record.pk,
            "file": record.file_name,
            **summary,
            "errors": record.error_row_count,
            "warnings": record.warning_row_count,
        }
        if committed:
            line = _(
                "Imported #%(pk)s %(file)s: %(rows)s rows, %(created)s new, %(updated)s changed, %(unchanged)s "
                "unchanged, %(skipped)s skipped, %(errors)s in error, %(warnings)s with warnings, %(surveyed)s "
                "recorded as surveyed."
            )
        else:
            line = _(
                "Preview #%(pk)s %(file)s: %(rows)s rows, %(created)s new, %(updated)s changed, %(unchanged)s "
                "unchanged, %(skipped)s skipped, %(errors)s in error, %(warnings)s with warnings, %(surveyed)s "
                "recorded as surveyed."
            )
        self.stdout.write(line % counts)
        for error in summary["errors"]:
            self.stdout.write("  " + _("row %(row)s [%(column)s]: %(message)s") % error)
        for warning in summary["warnings"]:
            self.stdout.write("  " + _("row %(row)s [%(column)s] (warning): %(message)s") % warning)

    def _fail(self, message: str, record=None):
        if self.as_json:
            summary = (
                self._summary(record, False)
                if record is not None
                else {
                    "rows": 0,
                    "created": 0,
                    "updated": 0,
                    "unchanged": 0,
                    "skipped": 0,
                    "errors": [],
                    "warnings": [],
                    "surveyed": 0,
                    "committed": False,
                }
            )
            summary["errors"].append({"row": 0, "column": "", "message": message})
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
        else:
            self.stderr.write(message)
        sys.exit(2)
