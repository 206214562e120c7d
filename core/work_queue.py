"""The work queue: what waits for the user, by role (proposals to submit, opinions to give, approvals,
acceptances, tasks due or overdue, tasks and findings to verify; the navigation badge counts these), and
what to follow up (findings due or overdue, planned inspections).

Each section shows its first rows and a "see all" link to the whole section, paginated. The cost is fixed
whatever the number of items: the counts in three queries (shared with the navigation badge), then one
query per non-empty section the user's role has.
"""

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from accounts.permissions import Capability, role_can
from inspections import selectors as inspection_selectors
from rectification.selectors import work_queue as rectification_work_queue

from .context_processors import queue_counts
from .views import paginate

#: Rows shown per section on the work queue page; "see all" lists the rest.
SECTION_ROWS = 10


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    help: str
    kind: str  # how a row is drawn: classification, task, finding, inspection
    capability: str
    #: Counted in the navigation badge (steps waiting for the user); the others are reminders to follow up.
    in_badge: bool = True


SECTIONS = [
    SectionSpec(
        "to_submit",
        _("Proposals to submit for pre-review"),
        _("Classifications proposed by the townships, waiting for the county to submit them."),
        "classification",
        Capability.SUBMIT_CLASSIFICATION,
    ),
    SectionSpec(
        "to_process",
        _("Classifications to adjust, resubmit or forward"),
        _("Pre-review complete, or returned by the city."),
        "classification",
        Capability.SUBMIT_CLASSIFICATION,
    ),
    SectionSpec(
        "opinions_to_give",
        _("Pre-review opinions to give"),
        _("Classifications in pre-review still lacking your department's opinion."),
        "classification",
        Capability.GIVE_OPINION,
    ),
    SectionSpec(
        "to_approve",
        _("Classifications to approve"),
        _("Forwarded by the counties, waiting for the city's decision."),
        "classification",
        Capability.APPROVE_CLASSIFICATION,
    ),
    SectionSpec(
        "to_accept",
        _("Acceptances to carry out"),
        _(
            "Every task reported done but not yet verified (销号): the acceptance check (验收) verifies them and "
            "decides whether the classification is closed."
        ),
        "classification",
        Capability.ACCEPT_CLASSIFICATION,
    ),
    SectionSpec(
        "tasks_due",
        _("Tasks due or overdue"),
        _("Open tasks past their deadline or due within a week."),
        "task",
        Capability.MANAGE_TASKS,
    ),
    SectionSpec(
        "tasks_to_verify",
        _("Tasks to verify"),
        _("Tasks marked done by someone else: verify them to close them (销号)."),
        "task",
        Capability.VERIFY_TASK,
    ),
    SectionSpec(
        "findings_to_verify",
        _("Findings to verify"),
        _("Fixes reported by someone else: verify them to close the findings (销号)."),
        "finding",
        Capability.VERIFY_FINDING,
    ),
    SectionSpec(
        "findings_due",
        _("Findings due or overdue"),
        _("Findings not yet fixed, past their deadline or due within a week."),
        "finding",
        Capability.MANAGE_FINDINGS,
        in_badge=False,
    ),
    SectionSpec(
        "planned_inspections",
        _("Planned inspections"),
        _("Inspections and 回头看 re-checks to carry out, soonest first."),
        "inspection",
        Capability.RECORD_INSPECTION,
        in_badge=False,
    ),
]
SECTIONS_BY_KEY = {spec.key: spec for spec in SECTIONS}


@dataclass
class Section:
    spec: SectionSpec
    count: int
    rows: list

    @property
    def more(self) -> bool:
        return self.count > len(self.rows)


def _querysets(user) -> dict:
    """Every section's rows as a lazy queryset (nothing is queried until a section is read)."""
    queue = rectification_work_queue(user)
    querysets = dict(vars(queue))
    querysets["findings_to_verify"] = inspection_selectors.findings_to_verify(user)
    querysets["findings_due"] = inspection_selectors.findings_due(user)
    querysets["planned_inspections"] = inspection_selectors.planned_inspections(user)
    return querysets


def _counts(request, querysets, specs) -> dict:
    counts = dict(queue_counts(request))
    for spec in specs:
        if spec.key not in counts:
            counts[spec.key] = querysets[spec.key].order_by().count()
    return counts


@login_required
def work_queue(request):
    user = request.user
    specs = [spec for spec in SECTIONS if role_can(user, spec.capability)]
    querysets = _querysets(user)
    shown = request.GET.get("show")
    if shown:
        spec = SECTIONS_BY_KEY.get(shown)
        if spec is None or spec not in specs:
            raise Http404
        page = paginate(request, querysets[spec.key])
        return render(request, "core/work_queue_section.html", {"spec": spec, "page_obj": page})
    counts = _counts(request, querysets, specs)
    sections = [
        Section(
            spec=spec,
            count=counts[spec.key],
            rows=list(querysets[spec.key][:SECTION_ROWS]) if counts[spec.key] else [],
        )
        for spec in specs
    ]
    return render(
        request,
        "core/work_queue.html",
        {
            "sections": [section for section in sections if section.spec.in_badge],
            "follow_up": [section for section in sections if not section.spec.in_badge],
            "total": sum(section.count for section in sections if section.spec.in_badge),
        },
    )
