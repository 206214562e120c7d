"""Create an API client: `python manage.py create_api_client NAME --region CODE [--write] [--expires-days N]`.

Prints what was created, then the token, once, alone on the last line (scripts take `tail -n 1`).
Only the token's SHA-256 is stored: a lost token cannot be shown again; revoke the client in the
admin and create a new one.
"""

import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.api_clients import create_api_client
from accounts.models import User
from core.management.base import RegisterCommand
from regions.models import Region


class Command(RegisterCommand):
    help = (
        "Create a token for another system to use the REST API, scoped to a region; read-only unless --write. "
        "The token is printed once, alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="name of the client, e.g. the system it stands for (shown in history)")
        parser.add_argument("--region", required=True, help="region code (6-digit city/county, 9-digit township)")
        parser.add_argument("--write", action="store_true", help="allow changes (default: read-only)")
        parser.add_argument("--expires-days", type=int, help="the token expires after this many days (default: never)")
        parser.add_argument("--created-by", help="username of the person the client is created for (recorded)")

    def handle(self, *args, **options):
        region = Region.objects.filter(code=options["region"].strip()).first()
        if region is None:
            raise CommandError(_("No region has the code %(code)s.") % {"code": options["region"]})
        expires_at = None
        if options["expires_days"] is not None:
            if options["expires_days"] < 1:
                raise CommandError(_("--expires-days must be at least 1."))
            expires_at = timezone.now() + datetime.timedelta(days=options["expires_days"])
        created_by = None
        if options["created_by"]:
            created_by = User.objects.filter(username=options["created_by"]).first()
            if created_by is None:
                raise CommandError(_("No user is called %(username)s.") % {"username": options["created_by"]})
        try:
            client, token = create_api_client(
                name=options["name"],
                region=region,
                can_write=options["write"],
                expires_at=expires_at,
                created_by=created_by,
            )
        except ValidationError as error:
            lines = [f"{field}: {message}" for field, messages in error.message_dict.items() for message in messages]
            raise CommandError(_("The API client was not created:") + "\n" + "\n".join(lines)) from error

        access = _("read and write") if client.can_write else _("read-only")
        expiry = timezone.localtime(client.expires_at).strftime("%Y-%m-%d %H:%M") if client.expires_at else _("never")
        self.stdout.write(
            _("API client %(name)s created: region %(region)s (%(code)s), %(access)s, expires %(expiry)s.")
            % {"name": client.name, "region": region.name, "code": region.code, "access": access, "expiry": expiry}
        )
        self.stdout.write(
            _(
                "Send it as the header 'Authorization: Token <token>'. Store the token now: "
                "it is shown only this once. The token:"
            )
        )
        self.stdout.write(token)
