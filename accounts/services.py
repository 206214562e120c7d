"""Writes to user accounts: provisioning from the command line and the rule that ties a role to a region.

`check_assignment` is the one rule for "which role may sit at which region, with which department";
`provision_user` (the `add_user` command) and the admin's user forms both apply it.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from regions.choices import RegionLevel
from regions.models import Region

from .choices import Role
from .models import Department
from .permissions import STAFF_ROLES, Capability, require

#: The region levels each role may be attached to.
ROLE_REGION_LEVELS: dict[str, set[str]] = {
    Role.CITY: {RegionLevel.CITY},
    Role.COUNTY: {RegionLevel.COUNTY},
    Role.TOWNSHIP: {RegionLevel.TOWNSHIP},
    Role.REVIEWER: {RegionLevel.CITY, RegionLevel.COUNTY},
    Role.SUPERVISOR: {RegionLevel.CITY, RegionLevel.COUNTY},
    # Another bureau's system reads at whatever level its platform serves.
    Role.API: {RegionLevel.CITY, RegionLevel.COUNTY, RegionLevel.TOWNSHIP},
}

#: Roles `add_user` provisions: the people. API clients have their own command and credentials.
HUMAN_ROLES = [Role.CITY, Role.COUNTY, Role.TOWNSHIP, Role.REVIEWER, Role.SUPERVISOR]

#: Roles that must name their department.
DEPARTMENT_ROLES = {Role.REVIEWER}

# Generated passwords avoid characters that are easily misread when read out or copied from paper.
PASSWORD_CHARS = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 16


class SystemActor:
    """The actor of trusted commands run from the server's shell (load_reference, …).

    It passes every permission check and, having no primary key, leaves the history user empty;
    such changes are recognised by their change reason (e.g. "load_reference regions.xlsx").
    """

    pk = None
    id = None
    region = None
    region_id = None
    department = None
    role = ""
    username = "system"
    is_active = True
    is_authenticated = True
    is_anonymous = False
    is_superuser = True
    is_staff = True

    def __str__(self):
        return _("system")


def system_actor() -> SystemActor:
    return SystemActor()


def check_assignment(*, role: str, region, department, is_superuser: bool = False) -> None:
    """Raise a field-keyed ValidationError when `role` cannot sit at `region` with `department`."""
    errors = {}
    if not role:
        if not is_superuser:
            errors["role"] = _("Choose a role.")
    elif role not in ROLE_REGION_LEVELS:
        errors["role"] = _("Unknown role %(role)s.") % {"role": role}
    elif region is None:
        errors["region"] = _("Choose the region the user works in.")
    elif region.level not in ROLE_REGION_LEVELS[role]:
        allowed = "、".join(str(RegionLevel(level).label) for level in RegionLevel if level in ROLE_REGION_LEVELS[role])
        errors["region"] = _(
            "A %(role)s works at a %(levels)s; %(region)s (%(code)s) is a %(level)s. Choose a region of the right level."
        ) % {
            "role": Role(role).label,
            "levels": allowed,
            "region": region.name,
            "code": region.code,
            "level": RegionLevel(region.level).label,
        }
    if role in DEPARTMENT_ROLES and department is None:
        errors["department"] = _("A %(role)s must name their department.") % {"role": Role(role).label}
    if errors:
        raise ValidationError(errors)


def staff_flag(role: str, is_superuser: bool = False) -> bool:
    """City and county offices get into the admin; nobody else does (superusers always)."""
    return is_superuser or role in STAFF_ROLES


def assign_role(user, *, role: str, region, department) -> list[str]:
    """Check and set role, region, department and the staff flag; return the names of the changed fields.

    The caller saves the user.
    """
    check_assignment(role=role, region=region, department=department, is_superuser=user.is_superuser)
    wanted = {
        "role": role,
        "region_id": region.pk if region else None,
        "department_id": department.pk if department else None,
        "is_staff": staff_flag(role, user.is_superuser),
    }
    changed = []
    for name, value in wanted.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name.removesuffix("_id"))
    if "region" in changed:
        user.region = region
    if "department" in changed:
        user.department = department
    return changed


def find_region(code: str) -> Region:
    code = (code or "").strip()
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise ValidationError(
            {
                "region": _(
                    "No region has the code %(code)s. Check the code, or load the regions first with load_reference."
                )
                % {"code": code}
            }
        )
    return region


def find_department(name: str) -> Department:
    """The department with this name or short name."""
    name = (name or "").strip()
    matches = list(Department.objects.filter(Q(name=name) | Q(short_name=name))[:5])
    exact = [department for department in matches if department.name == name]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValidationError(
            {
                "department": _(
                    "No department is called %(name)s. Use the full name or short name of a department "
                    "listed in the admin under Departments."
                )
                % {"name": name}
            }
        )
    raise ValidationError(
        {
            "department": _("%(name)s names several departments (%(matches)s); use the full name.")
            % {"name": name, "matches": "、".join(department.name for department in matches)}
        }
    )


def generate_password() -> str:
    return get_random_string(PASSWORD_LENGTH, PASSWORD_CHARS)


@dataclass
class ProvisionResult:
    user: object
    created: bool
    #: Names of the fields changed on an existing user (empty when created or nothing changed).
    changed: list[str] = field(default_factory=list)
    #: The generated password, to show once; None when a password was given or kept.
    generated_password: str | None = None


@transaction.atomic
def provision_user(
    *,
    actor,
    username: str,
    role: str,
    region_code: str,
    department: str | None = None,
    password: str | None = None,
    email: str | None = None,
) -> ProvisionResult:
    """Create the user, or bring an existing one to the given role, region, department and e-mail.

    `department` and `email`: None keeps the current value (nothing for a new user), "" clears it.
    `password`: None generates one for a new user and keeps the current one of an existing user.
    Every problem is reported at once, keyed by field (username, role, region, department, password, email).
    """
    User = get_user_model()
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}

    def collect(error: ValidationError):
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)

    if role not in HUMAN_ROLES:
        errors["role"] = [
            _("Role %(role)s cannot be provisioned here; choose one of %(roles)s.")
            % {"role": role, "roles": ", ".join(HUMAN_ROLES)}
        ]
    region = None
    try:
        region = find_region(region_code)
    except ValidationError as error:
        collect(error)
    user = User.objects.filter(username=username).first()
    created = user is None
    if created:
        user = User(username=username)
    department_obj = user.department if not created else None
    if department is not None:
        department_obj = None
        if department.strip():
            try:
                department_obj = find_department(department)
            except ValidationError as error:
                collect(error)
    if errors:
        raise ValidationError(errors)

    if region is not None:
        require(actor, Capability.MANAGE_USERS, region)
    changed = []
    try:
        changed = assign_role(user, role=role, region=region, department=department_obj)
    except ValidationError as error:
        collect(error)
    if email is not None and user.email != email.strip():
        user.email = email.strip()
        changed.append("email")

    generated = None
    if password is None and created:
        generated = password = generate_password()
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as error:
            errors.setdefault("password", []).extend(error.messages)
        user.set_password(password)
        if not created:
            changed.append("password")
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as error:
        collect(error)
    if errors:
        raise ValidationError(errors)
    if created or changed:
        user.save()
    return ProvisionResult(user=user, created=created, changed=[] if created else changed, generated_password=generated)
