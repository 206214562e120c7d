"""The default pre-review departments (configurable afterwards in the admin)."""

from django.db import migrations

DEFAULT_REVIEWERS = [
    ("经济和信息化局", "经信"),
    ("应急管理局", "应急管理"),
    ("生态环境局", "生态环境"),
    ("交通运输局", "交通运输"),
    ("港口管理局", "港口"),
]


def load(apps, schema_editor):
    Department = apps.get_model("accounts", "Department")
    for name, short in DEFAULT_REVIEWERS:
        Department.objects.get_or_create(name=name, defaults={"short_name": short, "reviews_classifications": True})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
