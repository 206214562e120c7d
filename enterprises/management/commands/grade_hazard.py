"""`python manage.py grade_hazard --substance NAME_OR_CAS:TONNES [--substance …] [--category NAME_OR_CAS:CODE …]
[--people N] [--json]`: the calculator page on the command line (issue 12). Saves nothing.

Prints S, R, α, each βq/Q term with the table it comes from, and the level (GB 18218-2018), or why there is none.
Exit status 0, or 2 with a message for an unknown substance or a bad argument.
"""

import json
import sys
import unicodedata

from core.management.base import RegisterCommand
from enterprises.hazards import Reference, band_for_people, build_line, grade, normalize, rounded


def _split(value: str, what: str) -> tuple[str, str]:
    text = unicodedata.normalize("NFKC", value)
    name, sep, rest = text.rpartition(":")
    if not sep or not name.strip() or not rest.strip():
        raise ValueError(f"{value!r}: write {what}")
    return name.strip(), rest.strip()


class Command(RegisterCommand):
    help = "Grade one production or storage unit by GB 18218-2018 (S, R, α, level) without saving anything."

    def add_arguments(self, parser):
        parser.add_argument(
            "--substance",
            action="append",
            default=[],
            metavar="NAME_OR_CAS:TONNES",
            help="A substance of the unit by name, alias, CAS number or 表1-N, and its maximum quantity in t. Repeat.",
        )
        parser.add_argument(
            "--category",
            action="append",
            default=[],
            metavar="NAME_OR_CAS:CODE",
            help="Hazard category (表2 code, e.g. W2 or W5.3,J5) of a substance given with --substance. Repeat.",
        )
        parser.add_argument("--people", type=int, help="People within 500 m of the plant boundary (表5, α).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def _fail(self, message: str):
        self.stderr.write(message)
        sys.exit(2)

    def handle(self, *args, **options):
        if not options["substance"]:
            self._fail("Give at least one --substance NAME_OR_CAS:TONNES.")
        reference = Reference.load()
        categories: dict[str, list[str]] = {}
        try:
            for value in options["category"]:
                name, code = _split(value, "NAME_OR_CAS:CODE, e.g. 丙烯:W2")
                categories.setdefault(normalize(name), []).append(code)
            items = [_split(value, "NAME_OR_CAS:TONNES, e.g. 氯:20") for value in options["substance"]]
        except ValueError as error:
            self._fail(str(error))
        unused = set(categories) - {normalize(name) for name, _tonnes in items}
        if unused:
            self._fail(f"--category names a substance not given with --substance: {', '.join(sorted(unused))}")
        lines = []
        for name, tonnes in items:
            try:
                lines.append(build_line(reference, name, tonnes, ",".join(categories.get(normalize(name), []))))
            except ValueError as error:
                self._fail(str(error))
        band = ""
        if options["people"] is not None:
            try:
                band = band_for_people(options["people"])
            except ValueError as error:
                self._fail(str(error))
        grading = grade(lines, band, reference)
        if options["json"]:
            from enterprises.hazards import as_dict

            self.stdout.write(json.dumps(as_dict(grading), ensure_ascii=False))
            return
        for term in grading.terms:
            self.stdout.write(
                f"{term.line.name}  q={term.line.quantity_t} t  Q={term.threshold_t if term.threshold_t is not None else '—'} t"
                f"  β={term.beta if term.beta is not None else '—'}  βq/Q={rounded(term.weighted, 3) if term.weighted is not None else '—'}"
                f"  [{term.source_table or term.missing}]"
            )
        self.stdout.write(f"S = {rounded(grading.s_value, 3) if grading.s_value is not None else '—'}")
        self.stdout.write(f"α = {grading.alpha if grading.alpha is not None else '—'}")
        self.stdout.write(f"R = {rounded(grading.r_value, 3) if grading.r_value is not None else '—'}")
        self.stdout.write(f"level = {grading.level if grading.level else '—'}")
        if grading.why_not:
            self.stdout.write(grading.why_not)
