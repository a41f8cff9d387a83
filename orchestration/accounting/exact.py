"""Exact decimal arithmetic for the ledger: a context that traps Inexact, so nothing is rounded."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow

# Wide enough for any decimal(38, 9) sum; Inexact is trapped so nothing is ever rounded.
EXACT = Context(prec=200, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
ZERO = Decimal(0)


def exact_sum(amounts: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for amount in amounts:
        total = EXACT.add(total, amount)
    return total
