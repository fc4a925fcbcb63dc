"""Customer phone numbers: what a valid one looks like and its one stored spelling. No model
imports, so the rights module (masking) can use it too."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _


def area_code_length(digits: str) -> int:
    """Digits of a fixed line's area code, with its leading 0: 3 for 01x/02x (010, 021…),
    4 otherwise (0571…)."""
    return 3 if digits[1] in "12" else 4


phone_validator = RegexValidator(
    # Mainland mobile (1[3-9]x, 11 digits) or fixed line (0 + 2-3 digit area code + 7-8 digits,
    # with an optional hyphen).
    regex=r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$",
    message=_("请输入正确的手机号（11位，1开头）或固定电话（区号-号码，如 0571-87654321）。"),
    code="invalid_phone",
)


def normalize_phone(raw: str | None) -> str:
    """One spelling per number, so a repeat complaint is found however the number was typed:
    spaces and hyphens dropped, then a fixed line written as area code-number (3-digit area
    codes for 01x/02x, 4 digits otherwise: 010-…, 021-…, 0571-…). Anything that is not a
    valid number comes back without spaces, for the validator to refuse."""
    value = (raw or "").strip().replace(" ", "")
    digits = value.replace("-", "")
    if digits.startswith("0") and digits.isdigit() and 10 <= len(digits) <= 12:
        area = area_code_length(digits)
        candidate = f"{digits[:area]}-{digits[area:]}"
        if phone_validator.regex.match(candidate):
            return candidate
    if digits.startswith("1") and digits.isdigit() and len(digits) == 11:
        return digits
    return value


def mask_phone(phone: str) -> str:
    """138****5678 for mobiles; keep the area code and last 4 digits of a fixed line."""
    digits = phone.strip()
    if digits.startswith("0") and len(digits) > 8:
        # Fixed line: the area code (before the hyphen, else 3 digits for 01x/02x, 4 otherwise).
        area, sep, local = digits.partition("-")
        if not sep:
            n = area_code_length(digits)
            area, local = digits[:n], digits[n:]
        return f"{area}{sep}{'*' * (len(local) - 4)}{local[-4:]}"
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) > 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "****"
