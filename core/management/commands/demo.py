"""`manage.py demo`: load the demo city (临江市) and its demo users; safe to run again."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.demo import DEMO_PASSWORD, DEMO_URL, build_demo


class Command(BaseCommand):
    help = (
        "Load the fictional demo city 临江市 (3 counties, 20 townships, about 600 enterprises, 4 parks) "
        f"and one demo user per role, all with the password {DEMO_PASSWORD}. Running it again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load the demo even with DEBUG off. Never on a live register: the demo users share a published password.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off, so this looks like a live installation; the demo users have a published password. "
                "Use --force to load the demo anyway (演示账号密码公开，请勿在正式环境加载演示数据)."
            )
        result = build_demo(stdout=self.stdout)
        if result.extensions:
            self.stdout.write("Demo data also loaded by: " + ", ".join(result.extensions))

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo users (password {DEMO_PASSWORD}):"))
        for user in result.users:
            role = user.get_role_display() if user.role else _("Superuser")
            region = user.region.name if user.region_id else _("All regions")
            department = f" · {user.department.name}" if user.department_id else ""
            self.stdout.write(f"  {user.username:<13} {role} · {region}{department}")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Open {DEMO_URL} and log in as one of them."))
