"""Admin forms for user accounts: the role–region–department rule of accounts.services, on a form."""

from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError

from .services import check_assignment


class RoleAssignmentFormMixin:
    """Validate role, region and department together with the rule `add_user` applies (check_assignment)."""

    def clean(self):
        cleaned = super().clean()
        if not {"role", "region", "department"} & set(self.fields):
            return cleaned
        if {"role", "region", "department"} & set(self.errors):
            return cleaned  # the field's own error says enough
        is_superuser = cleaned.get("is_superuser", self.instance.is_superuser)
        try:
            check_assignment(
                role=cleaned.get("role", self.instance.role),
                region=cleaned.get("region", self.instance.region if self.instance.region_id else None),
                department=cleaned.get("department", self.instance.department if self.instance.department_id else None),
                is_superuser=bool(is_superuser),
            )
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        return cleaned


class UserAddForm(RoleAssignmentFormMixin, AdminUserCreationForm):
    pass


class UserEditForm(RoleAssignmentFormMixin, UserChangeForm):
    pass
