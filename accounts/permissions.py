"""Who may do what: the one place where roles are turned into permissions.

A permission check has two halves: the role must carry the capability, and the
record's region must lie inside the user's region (regions.scoping). Views, admin,
services and the API all ask `can()` / `require()`; none of them tests roles itself.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from regions.scoping import region_in_scope

from .choices import Role


class Capability:
    VIEW_REGISTER = "view_register"
    CHANGE_ENTERPRISE = "change_enterprise"
    CHANGE_PARK = "change_park"
    EXPORT = "export"
    USE_ADMIN = "use_admin"
    #: Change anything through the REST API (the service called still checks its own capability).
    #: Read-only API clients lack it, so every write of theirs is refused before it starts.
    API_WRITE = "api_write"
    #: Create and edit user accounts of one's region in the admin.
    MANAGE_USERS = "manage_users"
    #: Edit reference data in the admin: regions below one's own, departments.
    MANAGE_REFERENCE = "manage_reference"

    # Surveys, inspections and findings (inspections/).
    #: Fill in the 摸排 survey of an enterprise.
    RECORD_SURVEY = "record_survey"
    #: Record or plan an inspection (incl. acceptance checks and 回头看 re-checks) and its attachments.
    RECORD_INSPECTION = "record_inspection"
    #: Record findings and report their progress (being fixed, fixed, reopened).
    MANAGE_FINDINGS = "manage_findings"
    #: Verify a reported fix and close (销号) a general finding.
    VERIFY_FINDING = "verify_finding"
    #: Verify and close a major accident hazard (重大事故隐患): county level and above only.
    VERIFY_MAJOR_FINDING = "verify_major_finding"

    # Campaigns, the "四个一批" classification workflow, plans and tasks (rectification/).
    #: Create and edit campaigns (专项行动).
    MANAGE_CAMPAIGNS = "manage_campaigns"
    #: Set the targets (责任状) of regions inside one's own.
    SET_TARGETS = "set_targets"
    #: Propose a classification (township), edit or withdraw the proposal.
    PROPOSE_CLASSIFICATION = "propose_classification"
    #: Submit a proposal for pre-review, adjust it, resubmit it or forward it to the city (county office).
    SUBMIT_CLASSIFICATION = "submit_classification"
    #: Give a pre-review opinion for one's department.
    GIVE_OPINION = "give_opinion"
    #: Approve a classification or return it to the county (city office).
    APPROVE_CLASSIFICATION = "approve_classification"
    #: Add, edit, reorder and delete tasks, report progress, upload evidence, record the stop order,
    #: request acceptance.
    MANAGE_TASKS = "manage_tasks"
    #: Verify a task marked done by someone else and close it (销号).
    VERIFY_TASK = "verify_task"
    #: Accept (销号) a classification or record a failed acceptance.
    ACCEPT_CLASSIFICATION = "accept_classification"
    #: Reopen an accepted classification (回头看 found it producing again).
    REOPEN_CLASSIFICATION = "reopen_classification"
    #: Request the quarterly supervision report (季度督查通报) of one's region and download it.
    REQUEST_REPORT = "request_report"


_HUMAN_READ = {Capability.VIEW_REGISTER, Capability.EXPORT}

ROLE_CAPABILITIES: dict[str, set[str]] = {
    Role.CITY: _HUMAN_READ
    | {
        Capability.CHANGE_ENTERPRISE,
        Capability.CHANGE_PARK,
        Capability.USE_ADMIN,
        Capability.MANAGE_USERS,
        Capability.MANAGE_REFERENCE,
    },
    Role.COUNTY: _HUMAN_READ
    | {Capability.CHANGE_ENTERPRISE, Capability.CHANGE_PARK, Capability.USE_ADMIN, Capability.MANAGE_USERS},
    # Township officers surveyed the enterprises themselves and correct them.
    Role.TOWNSHIP: _HUMAN_READ | {Capability.CHANGE_ENTERPRISE},
    Role.REVIEWER: set(_HUMAN_READ),
    Role.SUPERVISOR: set(_HUMAN_READ),
    Role.API: {Capability.VIEW_REGISTER},
}

# Surveys, inspections and findings: the offices and townships survey and follow up; the departments
# and the supervision team inspect too; a township may not close a major accident hazard itself.
_INSPECTION_CAPABILITIES = {
    Capability.RECORD_INSPECTION,
    Capability.MANAGE_FINDINGS,
    Capability.VERIFY_FINDING,
}
ROLE_CAPABILITIES[Role.CITY] |= _INSPECTION_CAPABILITIES | {Capability.RECORD_SURVEY, Capability.VERIFY_MAJOR_FINDING}
ROLE_CAPABILITIES[Role.COUNTY] |= _INSPECTION_CAPABILITIES | {Capability.RECORD_SURVEY, Capability.VERIFY_MAJOR_FINDING}
ROLE_CAPABILITIES[Role.TOWNSHIP] |= _INSPECTION_CAPABILITIES | {Capability.RECORD_SURVEY}
ROLE_CAPABILITIES[Role.REVIEWER] |= _INSPECTION_CAPABILITIES | {Capability.VERIFY_MAJOR_FINDING}
ROLE_CAPABILITIES[Role.SUPERVISOR] |= _INSPECTION_CAPABILITIES | {Capability.VERIFY_MAJOR_FINDING}

# Rectification: the township proposes and reports progress, the county submits, adjusts and accepts,
# the departments give opinions, the city approves; the supervision team may reopen after a 回头看.
ROLE_CAPABILITIES[Role.CITY] |= {
    Capability.MANAGE_CAMPAIGNS,
    Capability.SET_TARGETS,
    Capability.PROPOSE_CLASSIFICATION,
    Capability.APPROVE_CLASSIFICATION,
    Capability.MANAGE_TASKS,
    Capability.VERIFY_TASK,
    Capability.ACCEPT_CLASSIFICATION,
    Capability.REOPEN_CLASSIFICATION,
}
ROLE_CAPABILITIES[Role.COUNTY] |= {
    Capability.SET_TARGETS,
    Capability.PROPOSE_CLASSIFICATION,
    Capability.SUBMIT_CLASSIFICATION,
    Capability.MANAGE_TASKS,
    Capability.VERIFY_TASK,
    Capability.ACCEPT_CLASSIFICATION,
    Capability.REOPEN_CLASSIFICATION,
}
ROLE_CAPABILITIES[Role.TOWNSHIP] |= {Capability.PROPOSE_CLASSIFICATION, Capability.MANAGE_TASKS}
ROLE_CAPABILITIES[Role.REVIEWER] |= {Capability.GIVE_OPINION}
ROLE_CAPABILITIES[Role.SUPERVISOR] |= {Capability.REOPEN_CLASSIFICATION}

#: Roles whose users get into the Django admin (bureau staff).
STAFF_ROLES = {Role.CITY, Role.COUNTY}

CAPABILITY_REFUSALS = {
    Capability.VIEW_REGISTER: _("Your role cannot view the register."),
    Capability.CHANGE_ENTERPRISE: _("Your role cannot create or edit enterprises."),
    Capability.CHANGE_PARK: _("Only city and county offices can create or edit chemical parks."),
    Capability.EXPORT: _("Your role cannot export data."),
    Capability.USE_ADMIN: _("Your role cannot use the administration site."),
    Capability.MANAGE_USERS: _("Only city and county offices can manage user accounts."),
    Capability.MANAGE_REFERENCE: _("Only the city office can change reference data such as regions and departments."),
    Capability.RECORD_SURVEY: _("Only city, county and township offices can record surveys."),
    Capability.RECORD_INSPECTION: _("Your role cannot record inspections."),
    Capability.MANAGE_FINDINGS: _("Your role cannot record findings or report their progress."),
    Capability.VERIFY_FINDING: _("Your role cannot verify findings."),
    Capability.VERIFY_MAJOR_FINDING: _(
        "A major accident hazard is verified and closed at county level or above, not by a township."
    ),
}


CAPABILITY_REFUSALS.update(
    {
        Capability.MANAGE_CAMPAIGNS: _("Only the city office can create or edit campaigns."),
        Capability.SET_TARGETS: _("Only city and county offices can set targets."),
        Capability.PROPOSE_CLASSIFICATION: _("Only township, county and city offices can propose a classification."),
        Capability.SUBMIT_CLASSIFICATION: _(
            "Only the county office submits, adjusts and forwards classifications; your role cannot."
        ),
        Capability.GIVE_OPINION: _("Only a pre-review department gives pre-review opinions."),
        Capability.APPROVE_CLASSIFICATION: _("Only the city office approves or returns classifications."),
        Capability.MANAGE_TASKS: _("Your role cannot change rectification plans and tasks."),
        Capability.VERIFY_TASK: _("Only county and city offices verify and close tasks."),
        Capability.ACCEPT_CLASSIFICATION: _("Only county and city offices carry out acceptance."),
        Capability.REOPEN_CLASSIFICATION: _(
            "Only county and city offices and the supervision team can reopen a closed classification."
        ),
    }
)


# REST API (core/api/): people may make through the browsable API, with their session, the changes
# their role allows anyway. A system (role API) reads only, unless its client was created with
# --write: then it also holds API_WRITE_CAPABILITIES, in its own region only like everyone else.
for _role in (Role.CITY, Role.COUNTY, Role.TOWNSHIP, Role.REVIEWER, Role.SUPERVISOR):
    ROLE_CAPABILITIES[_role].add(Capability.API_WRITE)

#: What a write-enabled API client may do (the API resources that accept writes call these services).
#: Besides enterprises: pre-review opinions (the client's service user must belong to a pre-review department),
#: task progress with evidence (MANAGE_TASKS also covers the stop order and requesting acceptance), findings
#: and surveys (摸排) with their eight access requirements, and a township's proposal of a classification (a
#: township system sending its roster's proposals, incomplete ones included, like the roster import).
#: Requesting a quarterly supervision report creates a record (it is built by the worker), so only write clients
#: may, for a city or county inside their region. Submitting, approving and accepting stay with the offices' staff.
API_WRITE_CAPABILITIES = {
    Capability.API_WRITE,
    Capability.CHANGE_ENTERPRISE,
    Capability.PROPOSE_CLASSIFICATION,
    Capability.GIVE_OPINION,
    Capability.MANAGE_TASKS,
    Capability.MANAGE_FINDINGS,
    Capability.RECORD_SURVEY,
    Capability.REQUEST_REPORT,
}

CAPABILITY_REFUSALS[Capability.API_WRITE] = _(
    "This API client is read-only: changes need a client created with --write."
)

# Quarterly supervision reports: the supervision team and the city and county offices.
for _role in (Role.CITY, Role.COUNTY, Role.SUPERVISOR):
    ROLE_CAPABILITIES[_role].add(Capability.REQUEST_REPORT)
CAPABILITY_REFUSALS[Capability.REQUEST_REPORT] = _(
    "Only the supervision team and the city and county offices request quarterly supervision reports."
)


def _api_client_can_write(user) -> bool:
    """True when the user is the service user of a write-enabled, usable API client."""
    client = getattr(user, "api_client", None)  # cached by the API authentication: no query there
    return client is not None and client.can_write and client.refusal() is None


def role_can(user, capability: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if capability in ROLE_CAPABILITIES.get(user.role, set()):
        return True
    return user.role == Role.API and capability in API_WRITE_CAPABILITIES and _api_client_can_write(user)


def can(user, capability: str, region=None) -> bool:
    """True when the user's role has `capability` and `region` (if given) is in their scope."""
    if not role_can(user, capability):
        return False
    return region is None or region_in_scope(user, region)


def require(user, capability: str, region=None) -> None:
    """Raise PermissionDenied with a message that says why."""
    if not role_can(user, capability):
        raise PermissionDenied(CAPABILITY_REFUSALS.get(capability, _("You do not have permission to do this.")))
    if region is not None and not region_in_scope(user, region):
        raise PermissionDenied(_("%(region)s lies outside your region.") % {"region": region})
