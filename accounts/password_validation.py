"""Password rules: Django's own, with every message in our catalogue.

Django 5.2 reworded the minimum-length message and its zh_Hans catalogue has no translation for the new wording,
so `add_user` answered "This password is too short…" next to "这个密码太常见了". The validator below says the same
words, so makemessages keeps them (with their Chinese) in locale/.
"""

from django.contrib.auth import password_validation
from django.utils.translation import ngettext


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def get_error_message(self):
        return (
            ngettext(
                "This password is too short. It must contain at least %d character.",
                "This password is too short. It must contain at least %d characters.",
                self.min_length,
            )
            % self.min_length
        )
