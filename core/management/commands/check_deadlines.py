"""python manage.py check_deadlines [--date YYYY-MM-DD]: run the deadline checks now and print the report."""

import datetime
import json

from django.core.management.base import CommandError

from core.deadline_checks import run_deadline_checks
from core.management.base import RegisterCommand


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--date {value!r}: expected a date as YYYY-MM-DD, e.g. 2021-03-31.") from error


class Command(RegisterCommand):
    help = "Run the deadline checks (overdue tasks and findings, reminders, 五彻底, tier 3, permits, parks, 回头看 sample)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Run as of this day (YYYY-MM-DD); today by default.")
        parser.add_argument("--no-email", action="store_true", help="Create the notifications without e-mailing them.")

    def handle(self, *args, date=None, no_email=False, **options):
        on_date = _date(date) if date else None
        report = run_deadline_checks(on_date, send_email=not no_email)
        self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
