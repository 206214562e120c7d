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
