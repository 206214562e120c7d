"""Load GB 18218-2018 表1–表4 (enterprises/standards/gb18218_2018.py) into the reference models.

Replaces the partial table of 0002 (33 substances keyed by CAS). Existing inventory lines are linked to the entry
their CAS number names when exactly one entry has it; their Q, β and the levels are regraded by the next
`recompute_hazard_levels` (daily, before the deadline checks) or save. Idempotent: rows are upserted.
"""

from django.db import migrations


def load(apps, schema_editor):
    from enterprises.standards import gb18218_2018 as standard

    Category = apps.get_model("enterprises", "HazardCategory")
    Chemical = apps.get_model("enterprises", "HazardousChemical")
    Line = apps.get_model("enterprises", "HazardInventoryLine")

    for order, (code, hazard_class, description, threshold, beta) in enumerate(standard.CATEGORIES, start=1):
        Category.objects.update_or_create(
            code=code,
            defaults={
                "hazard_class": hazard_class,
                "description": description,
                "threshold_t": threshold,
                "beta": beta,
                "sort_order": order,
            },
        )

    kept = []
    for row in standard.substances():
        values = {
            "name": row["name"],
            "aliases": row["aliases"],
            "cas": row["cas_numbers"][0] if row["cas_numbers"] else "",
            "cas_numbers": row["cas_numbers"],
            "threshold_t": row["threshold_t"],
            "table3_beta": row["table3_beta"],
            "form": row["form"],
            "categories": row["categories"],
            "clause": row["clause"],
        }
        if row["entry_no"] is not None:
            chemical, _created = Chemical.objects.update_or_create(entry_no=row["entry_no"], defaults=values)
        else:
            chemical = Chemical.objects.filter(entry_no__isnull=True, name=row["name"]).first()
            if chemical is None:
                chemical = Chemical.objects.create(entry_no=None, **values)
            else:
                for name, value in values.items():
                    setattr(chemical, name, value)
                chemical.save()
        kept.append(chemical.pk)
    # Rows of the old partial table (keyed by CAS, no entry number): nothing refers to them yet.
    Chemical.objects.exclude(pk__in=kept).delete()

    by_cas: dict[str, list[int]] = {}
    for chemical in Chemical.objects.all():
        for cas in chemical.cas_numbers:
            by_cas.setdefault(cas, []).append(chemical.pk)
    for line in Line.objects.filter(chemical__isnull=True).exclude(cas=""):
        found = by_cas.get(line.cas.strip(), [])
        if len(found) == 1:
            Line.objects.filter(pk=line.pk).update(chemical_id=found[0])


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0005_gb18218_tables")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
