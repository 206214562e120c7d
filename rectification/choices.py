import unicodedata

from django.db import models
from django.utils.translation import gettext_lazy as _


class CampaignKind(models.TextChoices):
    FOUR_BATCHES = "four_batches", _("Four batches (四个一批)")
    CAMPAIGN_263 = "campaign_263", _("263 campaign")
    SCATTERED_POLLUTING = "scattered_polluting", _("Scattered and polluting (散乱污)")
    OTHER = "other", _("Other")


class CampaignStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Finished")


class Category(models.TextChoices):
    SHUTDOWN = "shutdown", _("Shut down")
    RELOCATE = "relocate", _("Relocate")
    UPGRADE = "upgrade", _("Upgrade")
    RESTRUCTURE = "restructure", _("Restructure")
    EXCLUDED = "excluded", _("Excluded")
    UNDECIDED = "undecided", _("Undecided")


#: The four batches (四个一批): the categories that get a plan with tasks and a target.
FOUR_BATCHES = [Category.SHUTDOWN, Category.RELOCATE, Category.UPGRADE, Category.RESTRUCTURE]


class ClassificationState(models.TextChoices):
    PROPOSED = "proposed", _("Proposed by the township")
    UNDER_REVIEW = "under_review", _("In pre-review")
    REVIEWED = "reviewed", _("Pre-review complete")
    PENDING_APPROVAL = "pending_approval", _("Awaiting city approval")
    RETURNED = "returned", _("Returned by the city")
    APPROVED = "approved", _("Approved")
    IN_PROGRESS = "in_progress", _("Rectification in progress")
    AWAITING_ACCEPTANCE = "awaiting_acceptance", _("Awaiting acceptance")
    ACCEPTED = "accepted", _("Accepted (closed)")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    SUPERSEDED = "superseded", _("Superseded by a later decision")


#: States of a proposal still on its way to a decision (at most one such row per enterprise and campaign
#: besides the decision in force).
OPEN_PROPOSAL_STATES = [
    ClassificationState.PROPOSED,
    ClassificationState.UNDER_REVIEW,
    ClassificationState.REVIEWED,
    ClassificationState.PENDING_APPROVAL,
    ClassificationState.RETURNED,
]

#: States of a decided (approved) classification.
DECIDED_STATES = [
    ClassificationState.APPROVED,
    ClassificationState.IN_PROGRESS,
    ClassificationState.AWAITING_ACCEPTANCE,
    ClassificationState.ACCEPTED,
]


class StepAction(models.TextChoices):
    PROPOSE = "propose", _("Proposed")
    UPDATE_PROPOSAL = "update_proposal", _("Proposal updated")
    SUBMIT = "submit", _("Submitted for pre-review")
    OPINION = "opinion", _("Pre-review opinion")
    REVIEW_COMPLETE = "review_complete", _("Pre-review complete")
    ADJUST = "adjust", _("Adjusted by the county")
    RESUBMIT = "resubmit", _("Resubmitted for pre-review")
    FORWARD = "forward", _("Forwarded to the city")
    APPROVE = "approve", _("Approved")
    RETURN = "return", _("Returned to the county")
    START = "start", _("Rectification started")
    WITHDRAW = "withdraw", _("Withdrawn")
    SUPERSEDE = "supersede", _("Superseded")
    STOP_ORDER = "stop_order", _("Stop order recorded")
    FIVE_THOROUGH = "five_thorough", _("Flagged for the 五彻底 forced measures")
    REQUEST_ACCEPTANCE = "request_acceptance", _("Acceptance requested")
    ACCEPT = "accept", _("Accepted (closed)")
    FAIL_ACCEPTANCE = "fail_acceptance", _("Acceptance failed")
    REOPEN = "reopen", _("Reopened")


class Opinion(models.TextChoices):
    AGREE = "agree", _("Agree")
    AGREE_WITH_CHANGES = "agree_with_changes", _("Agree with changes")
    DISAGREE = "disagree", _("Disagree")


class TaskStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    OVERDUE = "overdue", _("Overdue")
    VERIFIED_CLOSED = "verified_closed", _("Verified and closed")


#: Task statuses still waiting for work (the overdue rule and the reminders look at these).
OPEN_TASK_STATUSES = [TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE]


class StandardItem(models.TextChoices):
    # 关停: 两断三清, hazardous materials and the business licence.
    WATER_CUT = "water_cut", _("Water supply cut")
    POWER_CUT = "power_cut", _("Power supply cut")
    EQUIPMENT_REMOVED = "equipment_removed", _("Production equipment removed")
    MATERIALS_CLEARED = "materials_cleared", _("Raw materials cleared")
    PRODUCTS_CLEARED = "products_cleared", _("Products cleared")
    HAZARDOUS_DISPOSED = "hazardous_disposed", _("Hazardous materials safely disposed of")
    LICENCE_CHANGED = "licence_changed", _("Business licence changed or cancelled")
    # 转移
    SIGNED = "signed", _("Relocation agreement signed")
    CONSTRUCTION_STARTED = "construction_started", _("Construction started in the new park")
    COMPLETED = "completed", _("Construction completed")
    PRODUCTION_STARTED = "production_started", _("Production started in the new park")
    OLD_SITE_CLOSED = "old_site_closed", _("Old site closed")
    # 升级
    RETROFIT_DONE = "retrofit_done", _("Sealed and automated retrofit done")
    EXPERT_ACCEPTANCE = "expert_acceptance", _("Expert acceptance passed")
    CLEAN_PRODUCTION_AUDIT = "clean_production_audit", _("Clean-production audit passed")
    SAFETY_EVALUATION = "safety_evaluation", _("Safety-facility design diagnosis and safety evaluation")
    # 重组
    AGREEMENT_SIGNED = "agreement_signed", _("Merger agreement signed")
    MERGER_COMPLETED = "merger_completed", _("Merger completed")


#: The standard tasks a plan starts with, per category, in order (DOMAIN.md "Rectification plan and tasks").
STANDARD_TASKS = {
    Category.SHUTDOWN: [
        StandardItem.WATER_CUT,
        StandardItem.POWER_CUT,
        StandardItem.EQUIPMENT_REMOVED,
        StandardItem.MATERIALS_CLEARED,
        StandardItem.PRODUCTS_CLEARED,
        StandardItem.HAZARDOUS_DISPOSED,
        StandardItem.LICENCE_CHANGED,
    ],
    Category.RELOCATE: [
        StandardItem.SIGNED,
        StandardItem.CONSTRUCTION_STARTED,
        StandardItem.COMPLETED,
        StandardItem.PRODUCTION_STARTED,
        StandardItem.OLD_SITE_CLOSED,
    ],
    Category.UPGRADE: [
        StandardItem.RETROFIT_DONE,
        StandardItem.EXPERT_ACCEPTANCE,
        StandardItem.CLEAN_PRODUCTION_AUDIT,
        StandardItem.SAFETY_EVALUATION,
    ],
    Category.RESTRUCTURE: [
        StandardItem.AGREEMENT_SIGNED,
        StandardItem.MERGER_COMPLETED,
    ],
}

#: The 两断三清 items an acceptance inspection of a shutdown checks one by one.
SHUTDOWN_CHECKLIST = STANDARD_TASKS[Category.SHUTDOWN][:5]

#: A shutdown's expert acceptance is due this many months after the stop order; later → 五彻底.
SHUTDOWN_ACCEPTANCE_MONTHS = 1


# --- Category words ----------------------------------------------------------------------------

#: Every word the seeds and the townships' rosters use for a category, as compared by category_key()
#: (a leading 拟/建议/计划 and brackets are ignored: 拟关停 = 关停, 关停（取缔） = 关停取缔). The importer, and any
#: input that takes the category as free text, reads categories through category_from_word().
CATEGORY_WORDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "关停",
            "关闭",
            "关停取缔",
            "清理取缔",
            "取缔",
            "关停退出",
            "关闭退出",
            "关闭淘汰",
            "淘汰退出",
            "转停",
            "转产",
            "退二进三",
        ),
        Category.SHUTDOWN,
    ),
    **dict.fromkeys(("转移", "搬迁", "搬迁入园", "整合搬迁", "异地搬迁", "入园"), Category.RELOCATE),
    **dict.fromkeys(
        (
            "升级",
            "升级改造",
            "改造提升",
            "提升改造",
            "原地提升",
            "原地整治提升",
            "原址提升",
            "就地改造",
            "整治提升",
            "整合提升",
        ),
        Category.UPGRADE,
    ),
    **dict.fromkeys(("重组", "兼并重组", "整合重组", "兼并"), Category.RESTRUCTURE),
    **dict.fromkeys(("剔除", "不纳入"), Category.EXCLUDED),
    "待定": Category.UNDECIDED,
}

#: Prefixes of a proposal (拟关停 "to be shut down", 建议搬迁 "relocation advised", 计划转移 …): ignored.
CATEGORY_PREFIXES = ("拟", "建议", "计划")
_CATEGORY_BRACKETS = str.maketrans("", "", "()[]{}<>（）【】〔〕［］｛｝〈〉《》「」『』")


def category_key(text) -> str:
    """A category word as compared: NFKC, no spaces or invisible characters, no brackets, no leading 拟/建议/计划."""
    if text is None:
        return ""
    normal = unicodedata.normalize("NFKC", str(text))
    key = "".join(ch for ch in normal if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc"))
    key = key.translate(_CATEGORY_BRACKETS)
    stripped = True
    while stripped and key:
        stripped = False
        for prefix in CATEGORY_PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix):
                key, stripped = key[len(prefix) :], True
    return key


def category_from_word(text) -> str | None:
    """The Category a word written by an officer means (a code such as "shutdown" too), or None."""
    key = category_key(text)
    if key in CATEGORY_WORDS:
        return CATEGORY_WORDS[key]
    lowered = key.lower()
    return lowered if lowered in Category.values else None


def category_words_listing() -> str:
    """The accepted words grouped by category, for an error message: 关停：关停、关闭…；转移：…"""
    groups: dict[str, list[str]] = {}
    for word, category in CATEGORY_WORDS.items():
        groups.setdefault(category, []).append(word)
    return "；".join(f"{words[0]}：{'、'.join(words)}" for words in groups.values())
