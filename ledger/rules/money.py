"""R1 Money (Art.4.2): CNY, exact decimals, rounded half-up to the fen once per item."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
#: Explicit limit (TigerBeetle style): no single amount in a command may exceed this.
MAX_AMOUNT = Decimal("1000000000.00")


def round_fen(value: Decimal) -> Decimal:
    """R1: round half-up to 0.01 (the fen). Called once per charge item."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def prorate(fee: Decimal, days: int, days_in_month: int) -> Decimal:
    """R1/R3: `fee x days / days_in_month`, rounded half-up to the fen once."""
    assert 0 <= days <= days_in_month, (days, days_in_month)
    return round_fen(fee * days / days_in_month)


def fmt(amount: Decimal) -> str:
    """Money as a string with two decimals (the CLI and JSON format)."""
    return str(amount.quantize(FEN))


_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,12})?")
_NON_FINITE = {"NaN", "nan", "-NaN", "Infinity", "-Infinity", "inf", "-inf", "Inf", "-Inf",
               "sNaN"}


class MoneyError(ValueError):
    pass


def parse_money(raw: object, *, allow_zero: bool = False, allow_negative: bool = False,
                places: int = 2) -> Decimal:
    """Parse a decimal string into an exact amount with at most `places` decimals
    (2 for amounts and monthly fees; a per-message rate may have up to 4).

    Floats are refused: money must arrive as text so that no binary rounding
    has already happened before the ledger sees it.
    """
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        raise MoneyError("must be a decimal string such as \"1266.67\"")
    text = str(raw)
    if text in _NON_FINITE:
        raise MoneyError(f"{raw!r} is not a finite amount")
    # Plain decimal notation only: Python's Decimal would also take "1_000", "1e3", " 5".
    if not _DECIMAL.fullmatch(text):
        raise MoneyError(f"{raw!r} is not a decimal number (digits, optional - and .)")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise MoneyError(f"{raw!r} is not a decimal number") from None
    if value.as_tuple().exponent < -places:  # type: ignore[operator]
        raise MoneyError(f"{raw!r} has more than {places} decimal places"
                         + (" (R1: amounts are in fen)" if places == 2 else ""))
    if abs(value) > MAX_AMOUNT:
        raise MoneyError(f"{raw!r} exceeds the limit of {MAX_AMOUNT}")
    if value < 0 and not allow_negative:
        raise MoneyError(f"{raw!r} must not be negative")
    if value == 0 and not allow_zero:
        raise MoneyError(f"{raw!r} must be greater than zero")
    return value.quantize(Decimal(1).scaleb(-places))
