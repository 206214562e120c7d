"""Unified social credit code (统一社会信用代码), GB 32100-2015."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: The 31 characters allowed: digits and capital letters without I, O, S, V, Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_LENGTH = 18
#: Weight of position i (1-based) is 3^(i-1) mod 31.
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]


#: Unicode categories of characters nobody sees: format characters (zero-width space and joiners, the byte-order
#: mark, direction marks, soft hyphen) and control characters. Copied from web pages and chat messages into Excel,
#: they would make a correct code fail its check.
INVISIBLE_CATEGORIES = ("Cf", "Cc")


def normalize_uscc(value) -> str:
    """Full-width to half-width, every kind of space and invisible character removed, upper case."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return "".join(
        ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in INVISIBLE_CATEGORIES
    ).upper()


def uscc_check_character(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(ch) * weight for ch, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value) -> None:
    """Raise ValidationError naming the GB 32100-2015 rule the (normalised) code breaks."""
    code = normalize_uscc(value)
    if len(code) != USCC_LENGTH:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(count)d."),
            code="uscc_length",
            params={"count": len(code)},
        )
    bad = sorted({ch for ch in code if ch not in USCC_ALPHABET})
    if bad:
        raise ValidationError(
            _(
                "Character(s) %(chars)s are not allowed: only digits and capital letters "
                "other than I, O, S, V and Z may appear."
            ),
            code="uscc_charset",
            params={"chars": "、".join(bad)},
        )
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise ValidationError(
            _("The check character (18th) is %(actual)s but the first 17 characters require %(expected)s."),
            code="uscc_check",
            params={"actual": code[17], "expected": expected},
        )


def make_uscc(first17: str) -> str:
    """Complete 17 characters with their check character (demo data and tests)."""
    return first17 + uscc_check_character(first17)
