"""GB 18218-2018 grading (issue 12): the shipped tables checked value by value, the worked examples computed by
hand, the thresholds exactly and just below, what cannot be computed, and `grade_hazard` as specified."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import translation

from enterprises.hazards import Line, Reference, band_for_people, build_line, grade, resolve
from enterprises.models import HazardCategory, HazardousChemical
from enterprises.standards import gb18218_2018 as standard

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English (the catalogue's Chinese is checked once below)."""
    with translation.override("en"):
        yield


@pytest.fixture
def reference():
    return Reference.load()


def unit(reference, *items, people=None):
    """Grade a unit of (substance, tonnes[, categories]) with `people` within 500 m (None: not known)."""
    lines = [build_line(reference, item[0], item[1], item[2] if len(item) > 2 else "") for item in items]
    return grade(lines, band_for_people(people) if people is not None else "", reference)


# --- The shipped data, against the values the issue lists -------------------------------------------------


def entry(name) -> HazardousChemical:
    return HazardousChemical.objects.get(entry_no=resolve(Reference.load(), name).entry_no)


def test_table_1_has_its_85_numbered_entries_each_with_its_clause():
    rows = HazardousChemical.objects.filter(entry_no__isnull=False).order_by("entry_no")
    assert [row.entry_no for row in rows] == list(range(1, 86))
    assert all(row.threshold_t is not None and row.clause.startswith("GB 18218-2018 4.1.2 a) 表1 序号") for row in rows)
    assert rows.get(entry_no=65).clause == "GB 18218-2018 4.1.2 a) 表1 序号65"


@pytest.mark.parametrize(
    ("name", "cas", "threshold"),
    [
        ("氯", "7782-50-5", "5"),
        ("氨", "7664-41-7", "10"),
        ("汽油", "86290-81-5", "200"),
        ("甲醇", "67-56-1", "500"),
        ("液化石油气", "68476-85-7", "50"),
        ("硫化氢", "7783-06-4", "5"),
        ("苯", "71-43-2", "50"),
        ("环氧乙烷", "75-21-8", "10"),
        ("氢", "1333-74-0", "5"),
        ("甲烷", "74-82-8", "50"),
        ("天然气", "8006-14-2", "50"),
        ("二氧化硫", "7446-09-5", "20"),
        ("氰化氢", "74-90-8", "1"),
        ("光气", "75-44-5", "0.3"),
        ("煤气", None, "20"),
    ],
)
def test_table_1_values_of_the_issue(name, cas, threshold):
    row = entry(name)
    assert row.threshold_t == D(threshold)
    if cas:
        assert cas in row.cas_numbers
        assert resolve(Reference.load(), cas).entry_no == row.entry_no  # found by CAS too


def test_names_aliases_and_cas_numbers_find_the_same_entry(reference):
    assert {resolve(reference, text).entry_no for text in ("天然气", "甲烷", "74-82-8", "8006-14-2", "表1-49")} == {49}
    assert {resolve(reference, text).entry_no for text in ("液化石油气", "74-98-6", "106-97-8", "68476-85-7")} == {52}
    assert {resolve(reference, text).entry_no for text in ("光气", "碳酰氯", "液氯", "氯气")} == {6, 12}
    assert resolve(reference, "ＴＤＩ").entry_no == 23  # full-width typed


def test_grades_the_standard_lists_separately_stay_separate_entries(reference):
    nitrate = HazardousChemical.objects.filter(name__startswith="硝酸铵").order_by("entry_no")
    assert [(row.entry_no, row.threshold_t) for row in nitrate] == [(43, D("5")), (44, D("50")), (45, D("200"))]
    cellulose = [row for row in HazardousChemical.objects.order_by("entry_no") if "9004-70-0" in row.cas_numbers]
    assert [(row.entry_no, row.threshold_t) for row in cellulose] == [
        (37, D("1")),
        (38, D("1")),
        (39, D("10")),
        (40, D("50")),
        (41, D("50")),
        (42, D("50")),
    ]
    with pytest.raises(ValueError, match=r"表1-43.*表1-44"):
        resolve(reference, "硝酸铵")
    with pytest.raises(ValueError, match="表1-37"):
        resolve(reference, "9004-70-0")
    assert resolve(reference, "表1-44").threshold_t == D("50")


def test_carbon_monoxide_and_propylene_are_not_in_table_1(reference):
    assert resolve(reference, "丙烯") is None
    carbon_monoxide = resolve(reference, "一氧化碳")
    assert carbon_monoxide.entry_no is None and carbon_monoxide.threshold_t is None
    assert resolve(reference, "630-08-0") == carbon_monoxide


@pytest.mark.parametrize(
    ("name", "beta"),
    [
        ("一氧化碳", "2"),
        ("二氧化硫", "2"),
        ("氨", "2"),
        ("环氧乙烷", "2"),
        ("氯化氢", "3"),
        ("溴甲烷", "3"),
        ("氯", "4"),
        ("硫化氢", "5"),
        ("氟化氢", "5"),
        ("二氧化氮", "10"),
        ("氰化氢", "10"),
        ("碳酰氯", "20"),
        ("磷化氢", "20"),
        ("异氰酸甲酯", "20"),
    ],
)
def test_table_3_values_of_the_issue(reference, name, beta):
    assert resolve(reference, name).table3_beta == D(beta)


def test_table_3_lists_these_fourteen_gases_and_no_other():
    assert HazardousChemical.objects.filter(table3_beta__isnull=False).count() == 14


TABLE_4 = {
    "J1": "4",
    "J2": "1",
    "J3": "2",
    "J4": "2",
    "J5": "1",
    "W1.1": "2",
    "W1.2": "2",
    "W1.3": "2",
    "W2": "1.5",
    "W3": "1",
    "W4": "1",
    "W5.1": "1.5",
    "W5.2": "1",
    "W5.3": "1",
    "W5.4": "1",
    "W6.1": "1.5",
    "W7.1": "1.5",
    "W6.2": "1",
    "W7.2": "1",
    "W8": "1",
    "W9.1": "1",
    "W9.2": "1",
    "W10": "1",
    "W11": "1",
}


def test_table_4_values_of_the_issue():
    assert {row.code: row.beta for row in HazardCategory.objects.all()} == {k: D(v) for k, v in TABLE_4.items()}


def test_table_2_critical_quantities():
    expected = {
        "J1": "5",
        "J2": "50",
        "J3": "50",
        "J4": "50",
        "J5": "500",
        "W1.1": "1",
        "W1.2": "10",
        "W1.3": "50",
        "W2": "10",
        "W3": "150",
        "W4": "50",
        "W5.1": "10",
        "W5.2": "50",
        "W5.3": "1000",
        "W5.4": "5000",
        "W6.1": "10",
        "W6.2": "50",
        "W7.1": "10",
        "W7.2": "50",
        "W8": "50",
        "W9.1": "50",
        "W9.2": "200",
        "W10": "200",
        "W11": "200",
    }
    assert {row.code: row.threshold_t for row in HazardCategory.objects.all()} == {k: D(v) for k, v in expected.items()}


def test_tables_5_and_6():
    alphas = {people: standard.TABLE_5[i][2] for i, people in enumerate((100, 50, 30, 1, 0))}
    assert alphas == {100: D("2.0"), 50: D("1.5"), 30: D("1.2"), 1: D("1.0"), 0: D("0.5")}
    assert [band_for_people(n) for n in (0, 1, 29, 30, 49, 50, 99, 100, 5000)] == [
        "none",
        "1_29",
        "1_29",
        "30_49",
        "30_49",
        "50_99",
        "50_99",
        "over_100",
        "over_100",
    ]
    assert [(1, D("100")), (2, D("50")), (3, D("10")), (4, None)] == standard.TABLE_6


# --- Worked examples, computed by hand -----------------------------------------------------------------------


def test_chlorine_and_ammonia_with_120_people_is_level_2(reference):
    # S = 20/5 + 50/10 = 4 + 5 = 9; R = 2.0 × (4 × 4 + 2 × 5) = 2 × 26 = 52 → 50 ≤ R < 100: 二级.
    grading = unit(reference, ("氯", "20"), ("氨", "50"), people=120)
    assert (grading.s_value, grading.alpha, grading.r_value, grading.level) == (D(9), D("2.0"), D(52), 2)
    assert [(t.threshold_t, t.beta, t.weighted) for t in grading.terms] == [(5, 4, 16), (10, 2, 10)]
    assert grading.is_major is True and grading.why_not is None


def test_100_t_methanol_with_nobody_is_not_major(reference):
    grading = unit(reference, ("甲醇", "100"), people=0)
    assert grading.s_value == D("0.2") and grading.is_major is False and grading.level is None
    assert "Not a major hazard source by its inventory" in grading.why_not


def test_500_t_methanol_with_nobody_is_level_4(reference):
    # S = 500/500 = 1 ≥ 1; β = 1 (表4 W5.3, flammable liquid category 2); R = 0.5 × 1 × 1 = 0.5 → 四级.
    grading = unit(reference, ("67-56-1", "500"), people=0)
    assert (grading.s_value, grading.r_value, grading.level) == (D(1), D("0.5"), 4)


def test_a_substance_found_only_by_its_category(reference):
    # 丙烯 is in neither 表1 nor 表3: 表2 W2 (flammable gas) Q = 10 t, 表4 W2 β = 1.5. 25 t, 40 people (α 1.2):
    # S = 2.5; R = 1.2 × 1.5 × 2.5 = 4.5 → 四级.
    grading = unit(reference, ("丙烯", "25", "W2"), people=40)
    assert (grading.s_value, grading.r_value, grading.level) == (D("2.5"), D("4.5"), 4)
    assert grading.terms[0].q_source == "表2 W2" and grading.terms[0].beta_source == "表4 W2"
    with pytest.raises(ValueError, match="表2"):
        unit(reference, ("丙烯", "25"), people=40)


def test_several_categories_take_the_lowest_q_and_the_highest_beta(reference):
    # W5.4 (Q 5000, β 1) and J3 (Q 50, β 2): Q = 50, β = 2. 100 t, 1–29 people: S = 2, R = 1 × 2 × 2 = 4.
    grading = unit(reference, ("某溶剂", "100", "W5.4, J3"), people=5)
    assert (grading.terms[0].threshold_t, grading.terms[0].beta, grading.r_value) == (D(50), D(2), D(4))


def test_carbon_monoxide_takes_q_from_table_2_and_beta_from_table_3(reference):
    # Q: 表2, lowest of W2 (10) and J3 (50) = 10; β: 表3 = 2. 30 t, 1–29 people: S = 3, R = 6 → 四级.
    grading = unit(reference, ("一氧化碳", "30"), people=10)
    assert (grading.terms[0].threshold_t, grading.terms[0].beta, grading.r_value) == (D(10), D(2), D(6))


@pytest.mark.parametrize(
    ("tonnes", "r_value", "level"),
    [
        # Chlorine alone, 1–29 people: R = 1.0 × 4 × q / 5 = 0.8 q.
        ("12.5", "10", 3),
        ("12.4999", "9.99992", 4),
        ("62.5", "50", 2),
        ("62.4995", "49.9996", 3),
        ("125", "100", 1),
        ("124.9995", "99.9996", 2),
    ],
)
def test_level_thresholds_exactly_and_just_below(reference, tonnes, r_value, level):
    grading = unit(reference, ("氯", tonnes), people=5)
    assert grading.r_value == D(r_value)  # no rounding before comparing
    assert grading.level == level


def test_people_within_500_m_missing_leaves_the_level_uncomputed(reference):
    grading = unit(reference, ("氯", "20"), ("氨", "50"))
    assert grading.s_value == D(9) and grading.is_major is True
    assert grading.alpha is None and grading.r_value is None and grading.level is None
    assert "people within 500 m missing" in grading.why_not
    with translation.override("zh-hans"):
        assert "缺少厂区边界外500米范围内人数" in unit(reference, ("氯", "20")).why_not


def test_a_missing_category_leaves_s_unknown_but_major_when_the_known_part_reaches_1(reference):
    unknown = Line("某中间体", D(3))
    below = grade([Line("甲醇", D(100), resolve(reference, "甲醇")), unknown], "none", reference)
    assert (below.s_value, below.is_major, below.level) == (None, None, None)
    assert "某中间体" in below.why_not
    above = grade([Line("氯", D(10), resolve(reference, "氯")), unknown], "none", reference)
    assert (above.s_value, above.is_major, above.level) == (None, True, None)


def test_shutoff_is_needed_for_toxic_gases_highly_toxic_liquids_and_flammable_gases(reference):
    assert unit(reference, ("氯", "1")).shutoff_reasons == ["氯: toxic gas"]
    assert unit(reference, ("氢", "1")).shutoff_reasons == ["氢: flammable gas"]
    assert unit(reference, ("丙酮氰醇", "1")).shutoff_reasons == ["丙酮氰醇: highly toxic liquid"]
    assert unit(reference, ("甲醇", "1"), ("白磷", "1")).shutoff_reasons == []  # white phosphorus is a solid


# --- grade_hazard ------------------------------------------------------------------------------------------


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("grade_hazard", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_grade_hazard_json_contract():
    code, out, _err = run("--substance", "氯:20", "--substance", "氨:50", "--people", "120", "--json")
    assert code == 0
    body = json.loads(out)
    assert (body["S"], body["R"], body["alpha"], body["level"], body["major"], body["why_not"]) == (
        9,
        52,
        2,
        2,
        True,
        None,
    )
    first = body["terms"][0]
    assert {key: first[key] for key in ("substance", "cas", "q", "Q", "beta")} == {
        "substance": "氯",
        "cas": "7782-50-5",
        "q": 20,
        "Q": 5,
        "beta": 4,
    }
    assert "表1" in first["source_table"] and "表3" in first["source_table"]


def test_grade_hazard_not_major_and_by_category():
    code, out, _err = run("--substance", "甲醇:100", "--people", "0", "--json")
    body = json.loads(out)
    assert (code, body["S"], body["level"], body["major"]) == (0, 0.2, None, False)
    assert body["why_not"].startswith("Not a major hazard source by its inventory")
    code, out, _err = run("--substance", "丙烯:25", "--category", "丙烯:W2", "--people", "40", "--json")
    body = json.loads(out)
    assert (code, body["S"], body["R"], body["level"]) == (0, 2.5, 4.5, 4)
    assert body["terms"][0]["source_table"] == "表2 W2 · 表4 W2"
    code, out, _err = run("--substance", "氯:20")
    assert code == 0 and "people within 500 m missing" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--substance", "丙烯:20"], "表2"),
        (["--substance", "硝酸铵:20"], "表1-43"),
        (["--substance", "氯"], "NAME_OR_CAS:TONNES"),
        (["--substance", "氯:abc"], "not a quantity"),
        (["--substance", "氯:-1"], "not a quantity"),
        (["--substance", "丙烯:20", "--category", "丙烯:W99"], "W99"),
        (["--substance", "氯:20", "--category", "氨:J1"], "--category"),
        (["--substance", "氯:20", "--people", "-3"], "negative"),
        ([], "--substance"),
    ],
)
def test_grade_hazard_exits_2_with_a_message(args, message):
    code, _out, err = run(*args)
    assert code == 2
    assert message in err


def test_loading_the_tables_again_changes_nothing():
    from django.apps import apps

    from enterprises.standards.loader import load_reference_tables

    before = list(HazardousChemical.objects.order_by("pk").values())
    load_reference_tables(apps)
    assert list(HazardousChemical.objects.order_by("pk").values()) == before
    assert (HazardousChemical.objects.count(), HazardCategory.objects.count()) == (86, 24)


def test_every_shipped_cas_number_has_a_valid_check_digit():
    """CAS numbers end with a check digit (Σ position × digit mod 10, counted from the right): a typo shows."""
    for row in HazardousChemical.objects.all():
        for cas in row.cas_numbers:
            digits = cas.replace("-", "")
            body, check = digits[:-1], int(digits[-1])
            assert sum(i * int(d) for i, d in enumerate(reversed(body), start=1)) % 10 == check, (row.name, cas)
