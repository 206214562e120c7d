"""Unified social credit code (GB 32100-2015): validation, normalisation and uniqueness."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from enterprises import services
from enterprises.forms import EnterpriseForm
from enterprises.models import Enterprise
from enterprises.validators import USCC_ALPHABET, make_uscc, normalize_uscc, uscc_check_character, validate_uscc

from .factories import EnterpriseFactory, next_uscc

# Published codes of real legal persons: their check characters are right.
PUBLISHED = ["91350100M000100Y43", "911101080828461726", "91110000600037341L", "914403001922038216"]


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def error_of(value) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        validate_uscc(value)
    return raised.value


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code):
    validate_uscc(code)


@pytest.mark.parametrize(
    "first17", ["91320500MA1X2Y3Q4", "12320500466012345", "93320500MA0000000", "Y1320500000000000"]
)
def test_generated_codes_are_valid(first17):
    code = make_uscc(first17)
    assert len(code) == 18
    validate_uscc(code)


def test_every_check_character_value_occurs():
    # make_uscc must produce each of the 31 possible check characters for some input, each one valid.
    seen = set()
    for serial in range(400):
        code = make_uscc(f"9132050000{serial:07d}")
        validate_uscc(code)
        seen.add(code[-1])
    assert seen == set(USCC_ALPHABET)


@pytest.mark.parametrize("code, count", [("91350100M000100Y4", 17), ("91350100M000100Y433", 19), ("", 0)])
def test_wrong_length(code, count):
    error = error_of(code)
    assert error.code == "uscc_length"
    assert f"this one has {count}" in error.messages[0]


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_letters_not_in_the_alphabet(letter):
    code = "91350100M000100Y43"
    error = error_of(code[:8] + letter + code[9:])
    assert error.code == "uscc_charset"
    assert letter in error.messages[0]


@pytest.mark.parametrize("character", ["-", "*", "中", "_"])
def test_other_characters(character):
    error = error_of("91350100M00010" + character + "Y43")
    assert error.code == "uscc_charset"


def test_wrong_check_character_names_the_expected_one():
    code = "91350100M000100Y43"
    wrong = code[:17] + ("4" if code[17] != "4" else "5")
    error = error_of(wrong)
    assert error.code == "uscc_check"
    assert f"but the first 17 characters require {uscc_check_character(code[:17])}" in error.messages[0]


def test_swapped_digits_are_caught():
    code = "911101080828461726"
    swapped = code[:3] + code[4] + code[3] + code[5:]
    assert swapped != code
    assert error_of(swapped).code == "uscc_check"


@pytest.mark.parametrize(
    "raw",
    [
        "91350100m000100y43",  # lower case
        " 91350100M000100Y43 ",  # surrounding spaces
        "9135 0100 M000 100Y 43",  # spaces inside
        "９１３５０１００Ｍ０００１００Ｙ４３",  # full-width
        "91350100M000100Y43\u3000",  # ideographic space
        "9135\t0100M000100Y43\n",
    ],
)
def test_normalisation(raw):
    assert normalize_uscc(raw) == "91350100M000100Y43"
    validate_uscc(raw)


def test_normalize_none():
    assert normalize_uscc(None) == ""


# --- Uniqueness through the service and the form --------------------------------------------------------


def test_service_stores_the_normalised_code(regions, users):
    enterprise = services.create_enterprise(
        actor=users["city"],
        data={"uscc": "９１３５０１００ｍ０００１００ｙ４３", "name": "全角化工", "township": regions["town_a1"]},
    )
    assert Enterprise.objects.get(pk=enterprise.pk).uscc == "91350100M000100Y43"


def test_service_refuses_a_duplicate_written_differently(regions, users):
    EnterpriseFactory(uscc="91350100M000100Y43", township=regions["town_a1"])
    with pytest.raises(ValidationError) as raised:
        services.create_enterprise(
            actor=users["city"],
            data={"uscc": " 91350100m000100y43", "name": "重复化工", "township": regions["town_a2"]},
        )
    assert "uscc" in raised.value.message_dict
    assert Enterprise.objects.count() == 1


def test_service_refuses_an_invalid_code(regions, users):
    with pytest.raises(ValidationError) as raised:
        services.create_enterprise(
            actor=users["city"], data={"uscc": "91350100M000100Y44", "name": "错码化工", "township": regions["town_a1"]}
        )
    assert "uscc" in raised.value.message_dict
    assert not Enterprise.objects.exists()


def form_data(regions, uscc):
    return {
        "uscc": uscc,
        "name": "表单化工",
        "township": regions["town_a1"].pk,
        "kind": "production",
        "automation_status": "not_required",
        "status": "operating",
    }


def test_form_refuses_a_duplicate_written_in_full_width(regions, users):
    existing = EnterpriseFactory(township=regions["town_a1"])
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in existing.uscc)
    form = EnterpriseForm(data=form_data(regions, full_width), user=users["city"])
    assert not form.is_valid()
    assert "uscc" in form.errors


def test_form_accepts_and_normalises_a_new_code(regions, users):
    code = next_uscc()
    form = EnterpriseForm(data=form_data(regions, code.lower()), user=users["city"])
    assert form.is_valid(), form.errors
    assert form.cleaned_data["uscc"] == code


def test_editing_keeps_its_own_code(regions, users):
    enterprise = EnterpriseFactory(township=regions["town_a1"])
    form = EnterpriseForm(data=form_data(regions, enterprise.uscc), instance=enterprise, user=users["city"])
    assert form.is_valid(), form.errors
