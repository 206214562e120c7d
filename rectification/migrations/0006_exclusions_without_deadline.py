"""An exclusion (剔除) has no deadline: clear the ones stored before the rule (issue 17).

The classification and its enterprise (which shows its classifications) get version + 1 and a new updated_at,
so the API's incremental sync picks the change up; the history tables keep the old value.
"""

from django.db import migrations
from django.db.models import F
from django.utils import timezone

BATCH = 1000


def clear_deadlines(apps, schema_editor):
    Classification = apps.get_model("rectification", "Classification")
    Enterprise = apps.get_model("enterprises", "Enterprise")
    rows = Classification.objects.filter(category="excluded", deadline__isnull=False)
    enterprise_ids = sorted(set(rows.values_list("enterprise_id", flat=True)))
    now = timezone.now()
    rows.update(deadline=None, version=F("version") + 1, updated_at=now)
    for start in range(0, len(enterprise_ids), BATCH):
        Enterprise.objects.filter(pk__in=enterprise_ids[start : start + BATCH]).update(
            version=F("version") + 1, updated_at=now
        )


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0006_load_gb18218_2018"),
        ("rectification", "0005_report_document"),
    ]

    operations = [migrations.RunPython(clear_deadlines, migrations.RunPython.noop)]
