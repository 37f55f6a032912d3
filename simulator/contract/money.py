"""Money as both sides of racelab reckon it: `Decimal` currency units, rounded to cents half away from zero.

Owns `CENT`, `round2()` (ROUND_HALF_UP, as the Accounting reference's examples round), `vat_per_unit()` (the VAT
inside one unit's gross price, the formula the simulator's Accounting rules judge `vatAmount` by and the harness
builds its bodies with), `from_cents()` (Orders' integer cents as currency units, exactly) and `money_json()` (an
amount for a JSON document; only at the edge, arithmetic stays in `Decimal`).

    vat_per_unit(from_cents(1190), Decimal(19)) == Decimal("1.90")

Imports: stdlib only (part of the contract both the simulator and the harness import).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["CENT", "from_cents", "money_json", "round2", "vat_per_unit"]

CENT = Decimal("0.01")


def round2(x: Decimal) -> Decimal:
    """Round to cents, halves away from zero (ROUND_HALF_UP), as the reference's examples do.

    Args:
        x: An amount in currency units.

    Returns:
        `x` quantized to `CENT`: `round2(Decimal("2.675")) == Decimal("2.68")`.
    """
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def vat_per_unit(gross: Decimal, vat_percent: Decimal) -> Decimal:
    """The VAT inside one unit's gross price: `round2(gross - gross / (1 + vatPercent / 100))`.

    Args:
        gross: The gross unit price (VAT included), in currency units.
        vat_percent: The VAT rate in percent (`19`, not `0.19`).

    Returns:
        The VAT of one unit, in cents: `vat_per_unit(Decimal("11.9"), Decimal(19)) == Decimal("1.90")`.
    """
    return round2(gross - gross / (1 + vat_percent / 100))


def from_cents(cents: int) -> Decimal:
    """Orders' integer cents as currency units, exactly.

    Args:
        cents: An amount in integer cents, as the Orders API spells money.

    Returns:
        The same amount in currency units: `from_cents(4990) == Decimal("49.90")`.
    """
    return (Decimal(cents) / 100).quantize(CENT)


def money_json(x: Decimal) -> float:
    """A money amount for a JSON document. Only at the edge: arithmetic stays in Decimal.

    Args:
        x: An amount in currency units.

    Returns:
        `x` rounded to cents, as the float a JSON number is written from.
    """
    return float(round2(x))
