"""Provision one user account: `python manage.py add_user USERNAME --role ROLE --region CODE`.

Safe to script and to re-run: for an existing username it updates role, region and, when given,
department, e-mail and password, and says what changed. Without --password a new user gets a
generated password, printed once, alone on the last line of the output.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from accounts.choices import Role
from accounts.services import HUMAN_ROLES, provision_user, system_actor
from core.management.base import RegisterCommand


def field_label(name: str) -> str:
    try:
        return str(get_user_model()._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


class Command(RegisterCommand):
    help = (
        "Create a user with a role and a region, or update the existing user of that name. "
        "Without --password a new user gets a generated password, printed once on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[str(role) for role in HUMAN_ROLES])
        parser.add_argument("--region", required=True, help="region code (6-digit city/county, 9-digit township)")
        parser.add_argument(
            "--department",
            help="department name or short name (required for reviewers; an empty value clears it)",
        )
        parser.add_argument("--password", help="initial password; omit to generate one (new users only)")
        parser.add_argument("--email", help="e-mail address (an empty value clears it)")

    def handle(self, *args, **options):
        try:
            result = provision_user(
                actor=system_actor(),
                username=options["username"],
                role=options["role"],
                region_code=options["region"],
                department=options["department"],
                password=options["password"],
                email=options["email"],
            )
        except ValidationError as error:
            lines = [
                f"{field_label(name)}: {message}"
                for name, messages in error.message_dict.items()
                for message in messages
            ]
            raise CommandError(
                _("User %(username)s was not saved:") % {"username": options["username"]} + "\n" + "\n".join(lines)
            ) from error

        user = result.user
        summary = {
            "username": user.username,
            "role": Role(user.role).label,
            "region": user.region.name,
            "code": user.region.code,
        }
        if result.created:
            self.stdout.write(_("Created user %(username)s: %(role)s, %(region)s (%(code)s).") % summary)
        elif result.changed:
            changed = "、".join(field_label(name) for name in result.changed)
            self.stdout.write(
                _("User %(username)s already existed; updated %(changed)s. Now: %(role)s, %(region)s (%(code)s).")
                % {**summary, "changed": changed}
            )
        else:
            self.stdout.write(
                _("User %(username)s already existed and is up to date: %(role)s, %(region)s (%(code)s).") % summary
            )
        if result.generated_password:
            self.stdout.write(_("Generated password, shown only this once (hand it over; the user should change it):"))
            self.stdout.write(result.generated_password)
