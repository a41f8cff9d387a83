"""What the API needs of the pricing catalog: names of charges and metrics, plan thresholds,
and the billing entity's document locale. Read from the catalog's CSV files (a repository input,
not the warehouse); of versioned rows, the latest `valid_from` counts."""

import csv
from dataclasses import dataclass
from pathlib import Path


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _latest(rows: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    latest: dict[str, dict[str, str]] = {}
    for row in sorted(rows, key=lambda r: r.get("valid_from") or ""):
        latest[row[key]] = row
    return latest


@dataclass(frozen=True, slots=True)
class Catalog:
    charges: dict[str, dict[str, str]]
    metrics: dict[str, dict[str, str]]
    plans: dict[str, dict[str, str]]
    thresholds: dict[str, list[dict[str, str]]]
    entity: dict[str, str]

    @classmethod
    def read(cls, folder: Path) -> "Catalog":
        thresholds: dict[str, list[dict[str, str]]] = {}
        for row in _rows(folder / "usage_thresholds.csv"):
            thresholds.setdefault(row["plan_code"], []).append(row)
        entity_rows = _rows(folder / "billing_entity.csv")
        return cls(
            charges=_latest(_rows(folder / "charges.csv"), "charge_code"),
            metrics=_latest(_rows(folder / "billable_metrics.csv"), "metric_code"),
            plans=_latest(_rows(folder / "plans.csv"), "plan_code"),
            thresholds=thresholds,
            entity=entity_rows[0] if entity_rows else {},
        )

    @property
    def document_locale(self) -> str:
        return self.entity.get("document_locale") or "en"
