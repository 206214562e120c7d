"""GB 18218-2018 arithmetic: is a unit a major hazard source, and of which level."""

from dataclasses import dataclass
from decimal import Decimal

from .choices import EXPOSURE_ALPHA, HazardLevel

#: R thresholds of table 6: R ≥ 100 level 1, 50 ≤ R < 100 level 2, 10 ≤ R < 50 level 3, else level 4.
LEVEL_THRESHOLDS = [
    (Decimal(100), HazardLevel.LEVEL_1),
    (Decimal(50), HazardLevel.LEVEL_2),
    (Decimal(10), HazardLevel.LEVEL_3),
]


@dataclass(frozen=True)
class HazardAssessment:
    quantity_ratio: Decimal  # Σ q/Q: a major hazard source when ≥ 1
    r_value: Decimal  # R = α Σ β q/Q
    level: int | None  # None when the unit is below the thresholds


def assess(lines, exposed_population) -> HazardAssessment:
    """`lines` are (max_quantity_t, threshold_t, beta) triples."""
    ratio = Decimal(0)
    weighted = Decimal(0)
    for quantity, threshold, beta in lines:
        share = Decimal(quantity) / Decimal(threshold)
        ratio += share
        weighted += Decimal(beta) * share
    alpha = Decimal(str(EXPOSURE_ALPHA[exposed_population]))
    r_value = (alpha * weighted).quantize(Decimal("0.001"))
    if ratio < 1:
        return HazardAssessment(ratio, r_value, None)
    level = next((lvl for bound, lvl in LEVEL_THRESHOLDS if r_value >= bound), HazardLevel.LEVEL_4)
    return HazardAssessment(ratio, r_value, int(level))


def must_stop_operating(hazard_source) -> bool:
    """A level 1 or 2 tank farm without emergency shut-off must stop operating (DOMAIN: hazard sources)."""
    return (
        hazard_source.unit_kind == "tank_farm"
        and hazard_source.level in (HazardLevel.LEVEL_1, HazardLevel.LEVEL_2)
        and not hazard_source.emergency_shutoff
    )
