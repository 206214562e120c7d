from django.db import models
from django.utils.translation import gettext_lazy as _

from rectification.choices import SHUTDOWN_CHECKLIST, STANDARD_TASKS, Category


class AccessArea(models.TextChoices):
    """The eight access requirements (准入条件) a chemical enterprise is surveyed and inspected against."""

    WORK_SAFETY = "work_safety", _("Work safety")
    ENVIRONMENT = "environment", _("Environmental protection")
    TECHNOLOGY_QUALITY = "technology_quality", _("Technology and quality")
    STAFF_QUALIFICATION = "staff_qualification", _("Staff qualification")
    LAND = "land", _("Land")
    ENERGY_USE = "energy_use", _("Energy use")
    PROJECT_APPROVAL = "project_approval", _("Project approval")
    BUSINESS_REGISTRATION = "business_registration", _("Business registration")


class SurveySource(models.TextChoices):
    """How a survey (摸排) came into the register."""

    #: Recorded in the browser (or the API) against the eight access requirements: the full record.
    BROWSER = "browser", _("Survey of the eight access requirements")
    #: A township's roster is its survey result: its enterprises count as surveyed from the import's date. A survey
    #: of the eight requirements recorded later supersedes it (the same record, upgraded).
    ROSTER_IMPORT = "roster_import", _("Roster import")


class InspectionKind(models.TextChoices):
    DAILY = "daily", _("Daily inspection")
    QUARTERLY_JOINT = "quarterly_joint", _("Quarterly joint supervision")
    JOINT_ENFORCEMENT = "joint_enforcement", _("Joint enforcement")
    EXPERT_VERIFICATION = "expert_verification", _("Expert on-site verification")
    ACCEPTANCE = "acceptance", _("Acceptance check")
    RECHECK = "recheck", _("Re-check of a closed enterprise")
    DOUBLE_RANDOM = "double_random", _("Double-random inspection")


#: Kinds recorded through their own services (record_acceptance, record_recheck), not record_inspection.
WORKFLOW_KINDS = {InspectionKind.ACCEPTANCE, InspectionKind.RECHECK}


class InspectionStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    DONE = "done", _("Carried out")


class InspectionResult(models.TextChoices):
    NO_ISSUES = "no_issues", _("No issues found")
    ISSUES_FOUND = "issues_found", _("Issues found")
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Not passed")
    NOT_PRODUCING = "not_producing", _("Still closed")
    PRODUCING_AGAIN = "producing_again", _("Producing again")


#: Results each kind of inspection may end with.
RESULTS_BY_KIND = {
    InspectionKind.ACCEPTANCE: {InspectionResult.PASSED, InspectionResult.FAILED},
    InspectionKind.RECHECK: {InspectionResult.NOT_PRODUCING, InspectionResult.PRODUCING_AGAIN},
}
GENERAL_RESULTS = {InspectionResult.NO_ISSUES, InspectionResult.ISSUES_FOUND}


class Severity(models.TextChoices):
    GENERAL = "general", _("General hazard")
    MAJOR = "major", _("Major accident hazard")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("To be fixed")
    FIXING = "fixing", _("Being fixed")
    AWAITING_VERIFICATION = "awaiting_verification", _("Awaiting verification")
    CLOSED = "closed", _("Verified and closed")
    REOPENED = "reopened", _("Reopened")


#: Findings still waiting for the responsible unit to act (they can become overdue).
ACTIVE_FINDING_STATES = (FindingStatus.OPEN, FindingStatus.FIXING, FindingStatus.REOPENED)
#: Findings not yet closed (销号).
UNCLOSED_FINDING_STATES = (*ACTIVE_FINDING_STATES, FindingStatus.AWAITING_VERIFICATION)


class EvidenceStage(models.TextChoices):
    FOUND = "found", _("As found")
    FIXED = "fixed", _("After fixing")


#: The items an acceptance of a shutdown checks: the plan's shutdown items (两断三清, hazardous
#: materials, business licence), with the codes and labels of rectification's standard tasks.
SHUTDOWN_CHECK_ITEMS = STANDARD_TASKS[Category.SHUTDOWN]
SHUTDOWN_CHECK_CHOICES = [(item.value, item.label) for item in SHUTDOWN_CHECK_ITEMS]
#: 两断三清: every shutdown acceptance must check these five.
REQUIRED_SHUTDOWN_CHECKS = tuple(SHUTDOWN_CHECKLIST)
