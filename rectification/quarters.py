"""Quarters (季度) as the reports use them: the code other systems send (2026Q3) and the words people read
(2026年第三季度), the quarters of a campaign that have started, and long dates (2026年9月30日)."""

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

#: 2026Q3, 2026-Q3, 2026 q3 (the API's and the command's form) and 2026年第三季度, 2026年三季度, 2026年第3季度.
QUARTER_PATTERN = re.compile(
    r"^(?:(\d{4})\s*-?\s*Q\s*([1-4])|(\d{4})\s*年\s*第?\s*([1-4一二三四])\s*季度)$", re.IGNORECASE
)
CHINESE_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4}
QUARTER_NAMES = [
    gettext_lazy("first quarter"),
    gettext_lazy("second quarter"),
    gettext_lazy("third quarter"),
    gettext_lazy("fourth quarter"),
]


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        match = QUARTER_PATTERN.match((text or "").strip())
        if not match:
            raise ValidationError(
                {
                    "quarter": _(
                        "%(value)s is not a quarter: write the year, Q and 1–4 (e.g. 2026Q3) or 2026年第三季度."
                    )
                    % {"value": text}
                }
            )
        year = match.group(1) or match.group(3)
        number = match.group(2) or match.group(4)
        return cls(int(year), CHINESE_NUMERALS.get(number) or int(number))

    @classmethod
    def of(cls, day: datetime.date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self):
        """The code stored and exchanged (2026Q3); people read `label()`."""
        return f"{self.year}Q{self.number}"

    def label(self) -> str:
        """The quarter as a person reads it: 2026年第三季度 (third quarter of 2026)."""
        return _("%(quarter)s of %(year)s") % {"quarter": QUARTER_NAMES[self.number - 1], "year": self.year}

    @property
    def first_day(self) -> datetime.date:
        return datetime.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> datetime.date:
        return self.next().first_day - datetime.timedelta(days=1)

    def next(self) -> "Quarter":
        return Quarter(self.year + (self.number == 4), self.number % 4 + 1)

    def previous(self) -> "Quarter":
        return Quarter(self.year - (self.number == 1), (self.number - 2) % 4 + 1)


def quarter_label(code: str) -> str:
    """The label of a stored quarter code; the code itself if it is not one (never fails on old data)."""
    try:
        return Quarter.parse(code).label()
    except ValidationError:
        return code


def campaign_quarters(campaign, today: datetime.date) -> list[Quarter]:
    """The quarters of the campaign's period that have started by `today`, newest first."""
    first = Quarter.of(campaign.starts_on)
    last = min(Quarter.of(campaign.ends_on), Quarter.of(today))
    quarters = []
    quarter = first
    while quarter <= last:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters[::-1]


def long_date(day: datetime.date) -> str:
    """A date as documents write it: 2026年9月30日 (the active language's DATE_FORMAT)."""
    return formats.date_format(day, "DATE_FORMAT")
