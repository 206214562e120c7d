"""The base of the register's management commands."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation


class RegisterCommand(BaseCommand):
    """A command of the register: from the command line it speaks the project's LANGUAGE_CODE (Chinese first),
    as the pages do for a user who has not chosen English, whatever the shell's locale. call_command() keeps the
    language its caller set (a page or a test may ask for English)."""

    def run_from_argv(self, argv):
        with translation.override(settings.LANGUAGE_CODE):
            super().run_from_argv(argv)
