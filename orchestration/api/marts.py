"""Read-only access to what the last close published: `<output>/marts/*.parquet`.

The API never opens the live warehouse (a close holds it, and a reader would block the close and
could see half of one). The marts are replaced whole by a rename at the end of each close, so a
table read here is one close's version. Tables are cached per file (path, size, mtime) and read
again once a close replaces them.
"""

import csv
import threading
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import pyarrow.parquet as pq

from orchestration.settings import REPO_ROOT


@cache
def currency_exponents() -> dict[str, int]:
    """ISO 4217 minor units shipped with the project (seeds/reference/currencies.csv)."""
    with (REPO_ROOT / "seeds" / "reference" / "currencies.csv").open(newline="") as handle:
        return {row["currency"]: int(row["exponent"]) for row in csv.DictReader(handle)}


def to_cents(amount: Decimal | None, currency: str) -> int:
    """An amount in currency units as Lago's integer `*_cents` (the currency's minor unit)."""
    if amount is None:
        return 0
    exponent = currency_exponents().get(currency, 2)
    return int((Decimal(amount) * (Decimal(10) ** exponent)).to_integral_value())


@dataclass(frozen=True, slots=True)
class _Cached:
    signature: tuple[int, int]
    rows: list[dict]


class Marts:
    """The published `billing` tables of one output folder."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.folder = output_dir / "marts"
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def has(self, table: str) -> bool:
        return (self.folder / f"{table}.parquet").is_file()

    def rows(self, table: str) -> list[dict] | None:
        """Every row of `billing.<table>` as published, or None when the table is not published."""
        path = self.folder / f"{table}.parquet"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        signature = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._cache.get(table)
            if cached is not None and cached.signature == signature:
                return cached.rows
        rows = pq.read_table(path).to_pylist()  # decimals stay decimal.Decimal
        with self._lock:
            self._cache[table] = _Cached(signature, rows)
        return rows

    def where(self, table: str, **equals: object) -> list[dict]:
        """Rows of `table` whose columns equal the given values ([] when not published)."""
        return [
            row
            for row in self.rows(table) or []
            if all(row.get(column) == value for column, value in equals.items())
        ]
