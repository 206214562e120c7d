"""Factories for tests: build data the way the product would hold it."""

import itertools

import factory
from django.contrib.auth import get_user_model

from accounts.choices import Role
from enterprises.choices import EnterpriseKind, OperatingStatus
from enterprises.models import Enterprise, Permit, YearlyTier
from enterprises.validators import make_uscc
from parks.choices import ParkLevel, RecognitionStatus
from parks.models import ChemicalPark
from regions.choices import RegionLevel
from regions.models import Region

_uscc_serial = itertools.count(1)


def next_uscc() -> str:
    """A fresh valid unified social credit code (legal person, Jiangsu-like region digits)."""
    return make_uscc(f"91320500{next(_uscc_serial):09d}")


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"区域{n}")
    level = RegionLevel.CITY
    parent = None
    code = factory.Sequence(lambda n: f"{320500 + n * 100:06d}")
    path = factory.LazyAttribute(lambda o: f"{o.parent.path if o.parent else '/'}{o.code}/")


def make_city(code="320500", name="示范市"):
    return RegionFactory(code=code, name=name, level=RegionLevel.CITY, parent=None)


def make_county(city, suffix=1, name=None):
    code = f"{city.code[:4]}{suffix:02d}"
    return RegionFactory(code=code, name=name or f"县{suffix}", level=RegionLevel.COUNTY, parent=city)


def make_township(county, suffix=1, name=None):
    code = f"{county.code}{suffix:03d}"
    return RegionFactory(code=code, name=name or f"{county.name}镇{suffix}", level=RegionLevel.TOWNSHIP, parent=county)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.CITY
    region = None
    is_staff = factory.LazyAttribute(lambda o: o.role in (Role.CITY, Role.COUNTY))
    password = factory.PostGenerationMethodCall("set_password", "pass12345")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ChemicalParkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChemicalPark

    code = factory.Sequence(lambda n: f"P{n:04d}")
    name = factory.Sequence(lambda n: f"化工园区{n}")
    level = ParkLevel.MUNICIPAL
    recognition_status = RecognitionStatus.RECOGNISED


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    uscc = factory.LazyFunction(next_uscc)
    name = factory.Sequence(lambda n: f"示范化工有限公司{n}")
    kind = EnterpriseKind.PRODUCTION
    status = OperatingStatus.OPERATING
    park = None


class PermitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Permit

    kind = "work_safety"
    number = factory.Sequence(lambda n: f"(苏)WH安许证字[{n:05d}]")


class YearlyTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = YearlyTier

    year = 2021
    tier = 2


# --- Surveys, inspections and findings (inspections/) ---------------------------------------

import datetime as _datetime  # noqa: E402


def make_survey_campaign(name="四个一批专项整治行动", **fields):
    """A campaign to survey in (get or create by name)."""
    from rectification.models import Campaign

    fields.setdefault("kind", "four_batches")
    fields.setdefault("starts_on", _datetime.date(2021, 1, 1))
    fields.setdefault("ends_on", _datetime.date(2023, 12, 31))
    return Campaign.objects.get_or_create(name=name, defaults=fields)[0]


class InspectionFactory(factory.django.DjangoModelFactory):
    """A carried-out daily inspection of an enterprise (pass `park=` and `enterprise=None` for a park)."""

    class Meta:
        model = "inspections.Inspection"

    kind = "daily"
    status = "done"
    inspected_on = _datetime.date(2021, 5, 6)
    enterprise = factory.SubFactory(EnterpriseFactory)
    park = None
    result = "issues_found"
    inspectors = "王五、赵六"


class FindingFactory(factory.django.DjangoModelFactory):
    """An open general finding of an enterprise, recorded without an inspection."""

    class Meta:
        model = "inspections.Finding"

    enterprise = factory.SubFactory(EnterpriseFactory)
    park = None
    area = "work_safety"
    severity = "general"
    description = factory.Sequence(lambda n: f"安全隐患{n}")
    status = "open"


# --- Rectification (campaigns, classifications, plans, tasks) ----------------------------------


class CampaignFactory(factory.django.DjangoModelFactory):
    """An active 四个一批 campaign over 2021–2023."""

    class Meta:
        model = "rectification.Campaign"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"化工专项整治行动{n}")
    kind = "four_batches"
    starts_on = _datetime.date(2021, 1, 1)
    ends_on = _datetime.date(2023, 12, 31)
    status = "active"


class TargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "rectification.Target"

    campaign = factory.SubFactory(CampaignFactory)
    year = 2021


class ClassificationFactory(factory.django.DjangoModelFactory):
    """A township's proposal (state "proposed") to upgrade an enterprise; pass state/category to vary."""

    class Meta:
        model = "rectification.Classification"

    enterprise = factory.SubFactory(EnterpriseFactory)
    campaign = factory.SubFactory(CampaignFactory)
    category = "upgrade"
    state = "proposed"
    deadline = _datetime.date(2022, 12, 31)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "rectification.Plan"

    classification = factory.SubFactory(ClassificationFactory, state="in_progress")


class TaskFactory(factory.django.DjangoModelFactory):
    """A hand-added task led by the enterprise's township government."""

    class Meta:
        model = "rectification.Task"

    plan = factory.SubFactory(PlanFactory)
    order = factory.Sequence(lambda n: n + 1)
    description = factory.Sequence(lambda n: f"整改措施{n}")
    deadline = _datetime.date(2022, 6, 30)
    status = "not_started"
    lead_region = factory.LazyAttribute(lambda o: o.plan.classification.enterprise.township)
