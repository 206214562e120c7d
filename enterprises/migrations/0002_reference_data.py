"""Reference data: the 18 key supervised hazardous processes and GB 18218-2018 named chemicals."""

from decimal import Decimal

from django.db import migrations

KEY_PROCESSES = [
    ("phosgenation", "光气及光气化工艺", "Phosgene and phosgenation"),
    ("electrolysis", "电解工艺（氯碱）", "Electrolysis (chlor-alkali)"),
    ("chlorination", "氯化工艺", "Chlorination"),
    ("nitration", "硝化工艺", "Nitration"),
    ("ammonia_synthesis", "合成氨工艺", "Ammonia synthesis"),
    ("cracking", "裂解（裂化）工艺", "Cracking"),
    ("fluorination", "氟化工艺", "Fluorination"),
    ("hydrogenation", "加氢工艺", "Hydrogenation"),
    ("diazotization", "重氮化工艺", "Diazotization"),
    ("oxidation", "氧化工艺", "Oxidation"),
    ("peroxidation", "过氧化工艺", "Peroxidation"),
    ("amination", "胺基化工艺", "Amination"),
    ("sulfonation", "磺化工艺", "Sulfonation"),
    ("polymerization", "聚合工艺", "Polymerization"),
    ("alkylation", "烷基化工艺", "Alkylation"),
    ("coal_chemical", "新型煤化工工艺", "New coal-chemical processes"),
    ("calcium_carbide", "电石生产工艺", "Calcium carbide production"),
    ("azo", "偶氮化工艺", "Azo processes"),
]

# (name, CAS, threshold t, β). β as GB 18218-2018 tables 3/4 give it for the substance or its class.
CHEMICALS = [
    ("氨", "7664-41-7", "10", "2"),
    ("氯", "7782-50-5", "5", "4"),
    ("硫化氢", "7783-06-4", "5", "5"),
    ("氟化氢", "7664-39-3", "1", "5"),
    ("氰化氢", "74-90-8", "1", "10"),
    ("碳酰氯（光气）", "75-44-5", "0.3", "20"),
    ("一氧化碳", "630-08-0", "10", "2"),
    ("二氧化硫", "7446-09-5", "20", "2"),
    ("氯化氢", "7647-01-0", "20", "3"),
    ("环氧乙烷", "75-21-8", "10", "2"),
    ("溴甲烷", "74-83-9", "10", "3"),
    ("磷化氢", "7803-51-2", "1", "20"),
    ("异氰酸甲酯", "624-83-9", "0.75", "20"),
    ("二氧化氮", "10102-44-0", "1", "10"),
    ("甲醇", "67-56-1", "500", "1"),
    ("乙醇", "64-17-5", "500", "1"),
    ("苯", "71-43-2", "50", "1"),
    ("甲苯", "108-88-3", "500", "1"),
    ("丙酮", "67-64-1", "500", "1"),
    ("苯乙烯", "100-42-5", "500", "1"),
    ("二硫化碳", "75-15-0", "50", "1"),
    ("环氧丙烷", "75-56-9", "10", "1"),
    ("丙烯腈", "107-13-1", "50", "1"),
    ("氯乙烯", "75-01-4", "50", "1.5"),
    ("氢", "1333-74-0", "5", "1.5"),
    ("乙炔", "74-86-2", "1", "1.5"),
    ("乙烯", "74-85-1", "50", "1.5"),
    ("丙烯", "115-07-1", "10", "1.5"),
    ("1,3-丁二烯", "106-99-0", "5", "1.5"),
    ("液化石油气", "68476-85-7", "50", "1.5"),
    ("天然气（甲烷）", "74-82-8", "50", "1.5"),
    ("汽油", "86290-81-5", "200", "1"),
    ("硝酸铵", "6484-52-2", "50", "1"),
]


def load(apps, schema_editor):
    Process = apps.get_model("enterprises", "KeyHazardousProcess")
    Chemical = apps.get_model("enterprises", "HazardousChemical")
    for order, (code, name, name_en) in enumerate(KEY_PROCESSES, start=1):
        Process.objects.update_or_create(code=code, defaults={"name": name, "name_en": name_en, "sort_order": order})
    for name, cas, threshold, beta in CHEMICALS:
        Chemical.objects.update_or_create(
            cas=cas, defaults={"name": name, "threshold_t": Decimal(threshold), "beta": Decimal(beta)}
        )


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
