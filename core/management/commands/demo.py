"""`manage.py demo`: load the demo city (临江市) and its demo users; safe to run again."""

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from core.demo import DEMO_PASSWORD, DEMO_URL, build_demo
from core.management.base import RegisterCommand


class Command(RegisterCommand):
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
        parser.add_argument(
            "--address",
            help="The address the server listens on, as runserver takes it (make run passes HOST, e.g. "
            "127.0.0.1:8101); the address printed to open. Default: " + DEMO_URL,
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                _(
                    "DEBUG is off, so this looks like a live installation; the demo users have a published "
                    "password. Use --force to load the demo anyway."
                )
            )
        result = build_demo(stdout=self.stdout)
        if result.extensions:
            self.stdout.write(_("Demo data also loaded by: %(apps)s") % {"apps": "、".join(result.extensions)})

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(_("Demo users (password %(password)s):") % {"password": DEMO_PASSWORD}))
        for user in result.users:
            role = user.get_role_display() if user.role else _("Superuser")
            region = user.region.name if user.region_id else _("All regions")
            department = f" · {user.department.name}" if user.department_id else ""
            self.stdout.write(f"  {user.username:<13} {role} · {region}{department}")
        self.stdout.write("")
        url = address_url(options["address"])
        self.stdout.write(self.style.SUCCESS(_("Open %(url)s and log in as one of them.") % {"url": url}))


def address_url(address: str | None) -> str:
    """The URL to open for runserver's address: 127.0.0.1:8101 → http://127.0.0.1:8101/; a bare port or an address
    listening on every interface (0.0.0.0, [::]) is opened on this machine."""
    if not address:
        return DEMO_URL
    host, _sep, port = address.rpartition(":")
    if not _sep:  # "8101": a port alone
        host, port = "", address
    if host in ("", "0.0.0.0", "0", "[::]", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{port}/"
