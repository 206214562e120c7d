"""Load GB 18218-2018 表1–表4 (enterprises/standards/gb18218_2018.py) into the reference models.

Replaces the partial table of 0002 (33 substances keyed by CAS). Existing inventory lines are linked to the entry
their CAS number names when exactly one entry has it; their Q, β and the levels are regraded by the next
`recompute_hazard_levels` (daily, before the deadline checks) or save. Idempotent: rows are upserted.
"""

from django.db import migrations


def load(apps, schema_editor):
    from enterprises.standards.loader import load_reference_tables

    load_reference_tables(apps)


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0005_gb18218_tables")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
