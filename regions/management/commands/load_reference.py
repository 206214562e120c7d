"""Load a reference workbook: `python manage.py load_reference FILE` (.xlsx, or a .csv of regions).

The sheets it understands are registered by the apps (core.reference); a file loads entirely or
not at all, and loading the same file again changes nothing.
"""

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.services import system_actor
from core import reference
from core.management.base import RegisterCommand

#: Errors listed one by one; the rest are only counted, so a wholly wrong file stays readable.
MAX_ERRORS_SHOWN = 200


class Command(RegisterCommand):
    help = (
        "Load reference data (regions, chemical parks, …) from an .xlsx workbook, one sheet per kind, "
        "or regions alone from a .csv with columns code,name,parent_code. Re-running changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the .xlsx workbook or .csv file")
        parser.add_argument(
            "--reason", default="", help="change reason recorded in the history (default: the file name)"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("%(path)s does not exist or is not a file.") % {"path": path})
        try:
            report = reference.load_file(path, actor=system_actor(), reason=options["reason"])
        except reference.UnreadableFile as error:
            raise CommandError(str(error)) from error

        for notice in report.notices:
            self.stdout.write(self.style.WARNING(notice))
        if report.errors:
            for error in report.errors[:MAX_ERRORS_SHOWN]:
                self.stderr.write(str(error))
            hidden = len(report.errors) - MAX_ERRORS_SHOWN
            if hidden > 0:
                self.stderr.write(
                    ngettext("… and %(count)d more error.", "… and %(count)d more errors.", hidden) % {"count": hidden}
                )
            count = len(report.errors)
            raise CommandError(
                ngettext(
                    "%(count)d error in %(name)s; nothing was loaded. Correct the file and run the command again.",
                    "%(count)d errors in %(name)s; nothing was loaded. Correct the file and run the command again.",
                    count,
                )
                % {"count": count, "name": path.name}
            )
        for counts in report.counts:
            self.stdout.write(
                _("%(sheet)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
                % {
                    "sheet": counts.sheet,
                    "created": counts.created,
                    "updated": counts.updated,
                    "unchanged": counts.unchanged,
                }
            )
        self.stdout.write(self.style.SUCCESS(_("%(name)s loaded.") % {"name": path.name}))
