"""Issue 12: the quarterly report gains the shares of major hazard sources with automated monitoring, video to
the park's platform and emergency shut-off (of those that need it), counted by hand below."""

from decimal import Decimal

import pytest
from django.utils import timezone

from enterprises import services
from enterprises.choices import OperatingStatus
from rectification.quarters import Quarter
from rectification.reports import compute_figures

from .factories import CampaignFactory, EnterpriseFactory


def source(actor, enterprise, name, substance, tonnes, **duties):
    data = {"name": name, "unit_kind": "tank_farm", "exposed_population": "1_29", **duties}
    inventory = [{"substance": substance, "max_quantity_t": Decimal(tonnes)}]
    return services.save_hazard_source(actor=actor, enterprise=enterprise, data=data, inventory=inventory)


@pytest.mark.django_db
def test_report_counts_the_duties_of_major_hazard_sources(regions, users):
    actor = users["city"]
    operating = EnterpriseFactory(township=regions["town_a1"])
    closed = EnterpriseFactory(township=regions["town_a1"], status=OperatingStatus.CLOSED)
    elsewhere = EnterpriseFactory(township=regions["town_b1"])
    # Chlorine 20 t (Q 5, S 4): major, a toxic gas, so it needs emergency shut-off; monitored, video, no shut-off.
    source(actor, operating, "液氯罐区", "氯", "20", automated_monitoring=True, video_to_park=True)
    # Gasoline 400 t (Q 200, S 2): major, a flammable liquid (no shut-off duty); monitored, no video.
    source(actor, operating, "汽油罐区", "汽油", "400", automated_monitoring=True)
    # Methanol 100 t (Q 500, S 0.2): not a major hazard source by its inventory: not counted.
    source(actor, operating, "甲醇罐", "甲醇", "100")
    # A closed enterprise's source is held to no duty any more.
    source(actor, closed, "旧罐区", "氯", "20")
    # Another county's source: counted for 乙县 and the city, not for 甲县.
    source(actor, elsewhere, "氨罐区", "氨", "50", emergency_shutoff=True, video_to_park=True)

    today = timezone.localdate()
    figures = compute_figures(CampaignFactory(), regions["city"], Quarter.of(today), as_of_day=today)
    rows = {row["name"]: row for row in figures["rows"]}
    a1, b1, city = rows["甲一镇"], rows["乙一镇"], rows["示范市"]
    counts = ("duty_sources", "duty_monitoring", "duty_video", "duty_shutoff_needed", "duty_shutoff")
    assert tuple(a1[key] for key in counts) == (2, 2, 1, 1, 0)
    assert (a1["duty_monitoring_rate"], a1["duty_video_rate"], a1["duty_shutoff_rate"]) == (1.0, 0.5, 0.0)
    assert tuple(b1[key] for key in counts) == (1, 0, 1, 1, 1)
    assert tuple(city[key] for key in counts) == (3, 2, 2, 2, 1)
    assert (city["duty_monitoring_rate"], city["duty_video_rate"], city["duty_shutoff_rate"]) == (
        pytest.approx(2 / 3, abs=1e-4),
        pytest.approx(2 / 3, abs=1e-4),
        0.5,
    )
