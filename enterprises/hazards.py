"""GB 18218-2018 in one place: which substance a line names, S, R, α, each βq/Q term, the level, and the duties.

Every figure is computed from the standard's tables as shipped (enterprises/standards/gb18218_2018.py, loaded
into HazardousChemical and HazardCategory; 表5 and 表6 read from the module) and from nothing else: no typed-in
Q or β, no default α. What cannot be computed says why. The hazard-source form (live, through its JSON
endpoint), the calculator page, `manage.py grade_hazard`, save_hazard_source and the daily recompute all call
`grade()`; the duty rule reads the figures it stored.

Thresholds are compared with the exact values (Decimal, no rounding): R = 99.9996 is level 2. Rounding is for
display only (`rounded`).
"""

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from .choices import EXPOSURE_BANDS, STORAGE_UNIT_KINDS, ExposedPopulation, HazardDuty, OperatingStatus, SubstanceForm
from .standards import gb18218_2018 as standard

ONE = Decimal(1)


def normalize(text) -> str:
    """Compare names, aliases and CAS numbers loosely: full-width → half-width, no spaces, case-folded."""
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split()).casefold()


# --- The reference tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Substance:
    pk: int | None
    entry_no: int | None
    name: str
    aliases: tuple[str, ...]
    cas_numbers: tuple[str, ...]
    threshold_t: Decimal | None
    table3_beta: Decimal | None
    form: str
    categories: tuple[str, ...]
    clause: str

    @property
    def label(self) -> str:
        """How a user picks this entry when a name or CAS number matches several (表1-43)."""
        return f"表1-{self.entry_no}" if self.entry_no else f"表3-{self.name}"

    @property
    def cas(self) -> str:
        return self.cas_numbers[0] if self.cas_numbers else ""

    def search_keys(self) -> set[str]:
        names = {self.name, *self.aliases, *self.cas_numbers, self.label}
        # The name without its qualifier finds every grade: 硝酸铵 → 表1-43 and 表1-44 (the user then picks one).
        names.add(re.split(r"[（(［\[]", self.name, maxsplit=1)[0])
        # "甲烷，天然气" is found as 甲烷 and as 天然气.
        for part in re.split(r"[，,]", self.name) if self.entry_no == 49 else ():
            names.add(part)
        if self.entry_no:
            names.add(f"表1{self.entry_no}")
            names.add(f"T1-{self.entry_no}")
        return {normalize(name) for name in names if name}


@dataclass(frozen=True)
class Category:
    code: str
    hazard_class: str
    description: str
    threshold_t: Decimal
    beta: Decimal


class Reference:
    """表1–表4 as stored (two queries), searchable by name, alias, CAS number or entry label."""

    def __init__(self, substances: list[Substance], categories: list[Category]):
        self.substances = substances
        self.categories = {category.code: category for category in categories}
        self._by_key: dict[str, list[Substance]] = {}
        for substance in substances:
            for key in substance.search_keys():
                self._by_key.setdefault(key, []).append(substance)
        self._by_pk = {substance.pk: substance for substance in substances}

    @classmethod
    def load(cls) -> "Reference":
        from .models import HazardCategory, HazardousChemical

        substances = [
            Substance(
                pk=row.pk,
                entry_no=row.entry_no,
                name=row.name,
                aliases=tuple(row.aliases),
                cas_numbers=tuple(row.cas_numbers),
                threshold_t=row.threshold_t,
                table3_beta=row.table3_beta,
                form=row.form,
                categories=tuple(row.categories),
                clause=row.clause,
            )
            for row in HazardousChemical.objects.all()
        ]
        categories = [
            Category(row.code, row.hazard_class, row.description, row.threshold_t, row.beta)
            for row in HazardCategory.objects.all()
        ]
        return cls(substances, categories)

    def by_pk(self, pk) -> Substance | None:
        return self._by_pk.get(pk)

    def find(self, text) -> list[Substance]:
        """Entries whose name, alias, CAS number or label (表1-43) is `text`; several for a shared CAS or name."""
        return list(self._by_key.get(normalize(text), []))

    def parse_categories(self, text) -> tuple[str, ...]:
        """ "W2, J3" → ("W2", "J3"); raises ValueError naming a code 表2 does not have."""
        codes = []
        for part in re.split(r"[,，;；+、\s]+", unicodedata.normalize("NFKC", str(text or "")).strip()):
            if not part:
                continue
            code = part.upper()
            if code not in self.categories:
                raise ValueError(
                    _("%(code)s is not a hazard category of GB 18218-2018 表2; use one of %(codes)s.")
                    % {"code": part, "codes": "、".join(self.categories)}
                )
            if code not in codes:
                codes.append(code)
        return tuple(codes)


class SubstanceNotFound(ValueError):
    pass


def resolve(reference: Reference, text: str, cas: str = "") -> Substance | None:
    """The entry a line names (by name, alias, CAS or label), or None when neither 表1 nor 表3 names it.

    Raises SubstanceNotFound when several entries match (e.g. 硝酸铵, or CAS 9004-70-0): the user picks one by
    its label.
    """
    found = reference.find(text) if text else []
    if not found and cas:
        found = reference.find(cas)
    elif len(found) > 1 and cas:
        found = [substance for substance in found if normalize(cas) in {normalize(c) for c in substance.cas_numbers}]
    if len(found) > 1:
        raise SubstanceNotFound(
            _("“%(text)s” names several entries of GB 18218-2018: write one of %(choices)s.")
            % {"text": text or cas, "choices": "；".join(f"{s.label}（{s.name}）" for s in found)}
        )
    return found[0] if found else None


# --- Grading -----------------------------------------------------------------------------------------------


@dataclass
class Line:
    """One substance of a unit as the user gave it."""

    name: str
    quantity_t: Decimal
    substance: Substance | None = None
    cas: str = ""
    #: Categories given on the line (表2 codes); they replace the substance's own classification.
    categories: tuple[str, ...] = ()


@dataclass
class Term:
    line: Line
    threshold_t: Decimal | None
    beta: Decimal | None
    q_source: str
    beta_source: str
    categories: tuple[str, ...]
    missing: str = ""  # why Q or β cannot be had
    q_category: Category | None = None  # the 表2 row Q comes from (None: 表1)
    beta_category: Category | None = None  # the 表4 row β comes from (None: 表3, or no category applies)

    @property
    def ratio(self) -> Decimal | None:
        return self.line.quantity_t / self.threshold_t if self.threshold_t else None

    @property
    def weighted(self) -> Decimal | None:
        return self.beta * self.ratio if self.ratio is not None and self.beta is not None else None

    @property
    def source_table(self) -> str:
        return " · ".join(part for part in (self.q_source, self.beta_source) if part)


@dataclass
class Grading:
    s_value: Decimal | None  # Σ q/Q; None when a line's Q is unknown
    r_value: Decimal | None  # α Σ β q/Q; None when α or a line's Q or β is unknown
    alpha: Decimal | None
    level: int | None
    is_major: bool | None  # S ≥ 1; None when the inventory cannot tell
    terms: list[Term]
    why_not: str | None  # why there is no level (None when there is one)
    shutoff_reasons: list[str] = field(default_factory=list)  # substances needing emergency shut-off, and why

    @property
    def holds_shutoff_substances(self) -> bool:
        return bool(self.shutoff_reasons)


def alpha_for(exposed_population) -> Decimal | None:
    """α of 表5 for a band of ExposedPopulation; None when the band is not known."""
    if not exposed_population:
        return None
    band = EXPOSURE_BANDS[ExposedPopulation(exposed_population)]
    return next(alpha for low, high, alpha in standard.TABLE_5 if (low, high) == band)


def band_for_people(people: int) -> str:
    """The 表5 band of a number of people within 500 m."""
    if people < 0:
        raise ValueError(_("The number of people cannot be negative."))
    for band, (low, high) in EXPOSURE_BANDS.items():
        if people >= low and (high is None or people <= high):
            return band
    raise AssertionError(people)  # pragma: no cover - the bands cover every count


def level_for(r_value: Decimal) -> int:
    """表6: the first level whose lowest R the exact R reaches."""
    for level, lowest in standard.TABLE_6:
        if lowest is None or r_value >= lowest:
            return level
    raise AssertionError(r_value)  # pragma: no cover


def _term(line: Line, reference: Reference) -> Term:
    substance = line.substance
    categories = line.categories or (substance.categories if substance else ())
    cats = [reference.categories[code] for code in categories if code in reference.categories]
    threshold = beta = q_category = beta_category = None
    q_source = beta_source = missing = ""
    if substance is not None and substance.threshold_t is not None:
        threshold, q_source = substance.threshold_t, _("表1 entry %(n)d") % {"n": substance.entry_no}
    elif cats:
        q_category = min(cats, key=lambda c: c.threshold_t)
        threshold, q_source = q_category.threshold_t, _("表2 %(code)s") % {"code": q_category.code}
    if substance is not None and substance.table3_beta is not None:
        beta, beta_source = substance.table3_beta, _("表3")
    elif cats:
        beta_category = max(cats, key=lambda c: c.beta)
        beta, beta_source = beta_category.beta, _("表4 %(code)s") % {"code": beta_category.code}
    elif substance is not None:
        # A 表1 substance none of 表4's categories fits (e.g. 三氧化硫, corrosive only): the unweighted ratio.
        beta, beta_source = ONE, _("表4: no category applies, β = 1")
    if threshold is None or beta is None:
        missing = (
            _("%(name)s is in neither 表1 nor 表3: give its hazard category (表2).") % {"name": line.name}
            if substance is None
            else _("%(name)s: give its hazard category (表2) for Q.") % {"name": line.name}
        )
    return Term(line, threshold, beta, q_source, beta_source, tuple(categories), missing, q_category, beta_category)


def _shutoff_reason(term: Term) -> str | None:
    substance, codes = term.line.substance, set(term.categories)
    if (substance is not None and substance.table3_beta is not None) or codes & {"J1", "J3"}:
        return _("%(name)s: toxic gas") % {"name": term.line.name}
    if "W2" in codes:
        return _("%(name)s: flammable gas") % {"name": term.line.name}
    if "J2" in codes and substance is not None and substance.form == SubstanceForm.LIQUID:
        return _("%(name)s: highly toxic liquid") % {"name": term.line.name}
    return None


def grade(lines: list[Line], exposed_population, reference: Reference) -> Grading:
    """S, R, α and the level of one production or storage unit (GB 18218-2018 4.2.1, 4.3)."""
    terms = [_term(line, reference) for line in lines]
    reasons = [reason for reason in map(_shutoff_reason, terms) if reason]
    alpha = alpha_for(exposed_population)
    if not terms:
        return Grading(None, None, alpha, None, None, [], _("No inventory: enter what the unit holds."), reasons)
    known = [term for term in terms if not term.missing]
    partial_s = sum((term.ratio for term in known), Decimal(0))
    complete = len(known) == len(terms)
    s_value = partial_s if complete else None
    is_major = partial_s >= 1 if complete else (True if partial_s >= 1 else None)
    weighted = sum((term.weighted for term in known), Decimal(0))
    r_value = alpha * weighted if complete and alpha is not None else None
    problems = [term.missing for term in terms if term.missing]
    if is_major is False:
        why_not = _("Not a major hazard source by its inventory (S = %(s)s < 1).") % {"s": rounded(s_value)}
        return Grading(s_value, r_value, alpha, None, False, terms, why_not, reasons)
    if alpha is None:
        problems.append(_("Cannot be computed: people within 500 m missing (表5)."))
    if problems:
        return Grading(s_value, r_value, alpha, None, is_major, terms, " ".join(problems), reasons)
    return Grading(s_value, r_value, alpha, level_for(r_value), True, terms, None, reasons)


def alpha_row(exposed_population) -> str:
    """The 表5 row of a band, as the standard words it."""
    if not exposed_population:
        return ""
    low, high = EXPOSURE_BANDS[ExposedPopulation(exposed_population)]
    if high is None:
        return _("%(n)d people or more") % {"n": low}
    if low == high:
        return _("%(n)d people") % {"n": low}
    return _("%(low)d–%(high)d people") % {"low": low, "high": high}


def level_row(level: int | None) -> str:
    """The 表6 row of a level."""
    bounds = {1: "R ≥ 100", 2: "100 > R ≥ 50", 3: "50 > R ≥ 10", 4: "R < 10"}
    return bounds.get(level, "")


def stored_why_not(source, lines) -> str | None:
    """Why a saved source has no level, from the figures the grading stored (no reference lookups)."""
    if not lines:
        return _("No inventory: enter what the unit holds.")
    if source.is_major is False:
        return _("Not a major hazard source by its inventory (S = %(s)s < 1).") % {"s": rounded(source.s_value)}
    problems = [
        _("%(name)s is in neither 表1 nor 表3: give its hazard category (表2).") % {"name": line.chemical_name}
        if line.chemical_id is None
        else _("%(name)s: give its hazard category (表2) for Q.") % {"name": line.chemical_name}
        for line in lines
        if line.threshold_t is None or line.beta is None
    ]
    if not source.exposed_population:
        problems.append(_("Cannot be computed: people within 500 m missing (表5)."))
    if problems:
        return " ".join(problems)
    return None if source.computed_level else _("Not graded yet: the daily recompute grades it.")


def rounded(value: Decimal | None, places: int = 2) -> Decimal | None:
    """For display only: never compare a rounded value with a threshold."""
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


# --- Duties (seed 000 (六); DOMAIN.md "Major hazard source") ------------------------------------------------

#: Enterprises whose major hazard sources are held to the duties (a closed site holds nothing).
ACTIVE_STATUSES = (OperatingStatus.OPERATING, OperatingStatus.SUSPENDED)


def subject_to_duties_q(prefix: str = "") -> Q:
    """Major by its inventory, or filed as major while its inventory cannot tell; of an active enterprise."""
    return Q(**{f"{prefix}enterprise__status__in": ACTIVE_STATUSES}) & (
        Q(**{f"{prefix}is_major": True})
        | Q(**{f"{prefix}is_major__isnull": True, f"{prefix}declared_level__isnull": False})
    )


def breach_q(duty: str, prefix: str = "") -> Q:
    """The sources in breach of `duty`, as a query (the same rule as `breaches()`)."""
    p = prefix
    if duty == HazardDuty.MONITORING:
        return subject_to_duties_q(p) & Q(**{f"{p}automated_monitoring": False})
    if duty == HazardDuty.VIDEO:
        return subject_to_duties_q(p) & Q(**{f"{p}video_to_park": False})
    if duty == HazardDuty.SHUTOFF:
        return (
            subject_to_duties_q(p)
            & (Q(**{f"{p}holds_shutoff_substances": True}) | Q(**{f"{p}has_toxic_or_flammable_gas": True}))
            & Q(**{f"{p}emergency_shutoff": False})
        )
    if duty == HazardDuty.MUST_STOP:
        return (
            subject_to_duties_q(p)
            & Q(**{f"{p}computed_level__in": (1, 2), f"{p}unit_kind__in": STORAGE_UNIT_KINDS})
            & Q(**{f"{p}emergency_shutoff": False})
        )
    raise ValueError(duty)


def subject_to_duties(source) -> bool:
    """Python twin of subject_to_duties_q (the source's enterprise must be loaded)."""
    return source.enterprise.status in ACTIVE_STATUSES and (
        source.is_major is True or (source.is_major is None and source.declared_level is not None)
    )


def breaches(source) -> list[str]:
    """The duties the source breaches (HazardDuty values), as breach_q selects them."""
    if not subject_to_duties(source):
        return []
    found = []
    if not source.automated_monitoring:
        found.append(HazardDuty.MONITORING)
    if not source.video_to_park:
        found.append(HazardDuty.VIDEO)
    if source.needs_emergency_shutoff and not source.emergency_shutoff:
        found.append(HazardDuty.SHUTOFF)
    if must_stop_operating(source):
        found.append(HazardDuty.MUST_STOP)
    return [str(duty) for duty in found]


def must_stop_operating(source) -> bool:
    """A level 1 or 2 storage unit (tank farm, warehouse) without emergency shut-off must stop operating."""
    return (
        source.computed_level in (1, 2)
        and source.unit_kind in STORAGE_UNIT_KINDS
        and not source.emergency_shutoff
        and source.enterprise.status in ACTIVE_STATUSES
    )


# --- Input and output shared by the form's endpoint, the calculator and `grade_hazard` ---------------------


def build_line(reference: Reference, text: str, quantity, categories="") -> Line:
    """A line from what a user typed: substance by name, alias, CAS or 表1-N; quantity in t; 表2 codes.

    Raises ValueError with a message for the user: several entries match, a bad quantity or category, or a
    substance neither 表1 nor 表3 names given without its category.
    """
    text = unicodedata.normalize("NFKC", str(text or "")).strip()
    if not text:
        raise ValueError(_("Name the substance (name, alias or CAS number)."))
    try:
        quantity = Decimal(unicodedata.normalize("NFKC", str(quantity)).strip().replace(",", ""))
    except ArithmeticError:
        raise ValueError(_("%(value)s is not a quantity in tonnes.") % {"value": quantity}) from None
    if not quantity.is_finite() or quantity < 0:
        raise ValueError(_("%(value)s is not a quantity in tonnes.") % {"value": quantity})
    substance = resolve(reference, text)
    codes = reference.parse_categories(categories)
    if substance is None and not codes:
        raise SubstanceNotFound(
            _("%(name)s is in neither 表1 nor 表3 of GB 18218-2018: give its hazard category (表2), e.g. W2.")
            % {"name": text}
        )
    cas = substance.cas if substance else (text if re.match(r"^\d{2,7}-\d{2}-\d$", text) else "")
    return Line(substance.name if substance else text, quantity, substance, cas, codes)


def display_number(value: Decimal | None, places: int = 4):
    """A figure for JSON: rounded for display, an int when whole."""
    if value is None:
        return None
    value = rounded(value, places).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def as_dict(grading: Grading) -> dict:
    """The contract of `grade_hazard --json` (issue 12), with the explanations the pages show added."""
    return {
        "S": display_number(grading.s_value),
        "R": display_number(grading.r_value),
        "alpha": display_number(grading.alpha),
        "level": grading.level,
        "major": bool(grading.is_major),
        "terms": [
            {
                "substance": term.line.name,
                "cas": term.line.cas or (term.line.substance.cas if term.line.substance else ""),
                "entry": term.line.substance.label if term.line.substance else None,
                "q": display_number(term.line.quantity_t),
                "Q": display_number(term.threshold_t),
                "beta": display_number(term.beta),
                "categories": list(term.categories),
                "q_over_Q": display_number(term.ratio),
                "beta_q_over_Q": display_number(term.weighted),
                "source_table": term.source_table,
                "missing": term.missing or None,
            }
            for term in grading.terms
        ],
        "why_not": grading.why_not,
        "emergency_shutoff_needed_for": grading.shutoff_reasons,
    }
