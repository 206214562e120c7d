"""Load GB 18218-2018 表1–表4 (gb18218_2018.py) into the reference models; used by the data migrations.

Upserts by 表1 entry number (a 表3-only gas by name) and category code, so loading twice changes nothing; rows of
an older partial table are removed; inventory lines without their substance are linked by CAS number when
exactly one entry has it. `apps` is a migration's app registry (or django.apps.apps).
"""


def load_reference_tables(apps) -> None:
    from . import gb18218_2018 as standard

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
