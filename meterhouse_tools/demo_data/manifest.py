"""The demo manifest: what a run wrote and which anomalies it injected."""

import json
from dataclasses import dataclass
from datetime import date
from typing import Self

MANIFEST_NAME = "demo_manifest.json"

ANOMALY_KINDS = (
    "exact_duplicate",
    "conflicting_duplicate",
    "malformed",
    "missing_field",
    "bad_timestamp",
    "bad_value",
    "unknown_metric",
    "unknown_subscription",
    "before_start",
)


@dataclass(frozen=True, slots=True)
class DemoManifest:
    """What a demo run wrote: sizes, files (relative, in load order) and injected anomalies."""

    first_month: date
    months: int
    customers: int
    subscriptions: int
    events_written: int  # all rows written to event files, anomalies included
    files: tuple[str, ...]  # paths relative to landing_dir
    injected: dict[str, int]  # anomaly counts by kind (ANOMALY_KINDS)

    def to_json(self) -> str:
        """The manifest as pretty JSON text (stable key order)."""
        body = {
            "first_month": self.first_month.isoformat(),
            "months": self.months,
            "customers": self.customers,
            "subscriptions": self.subscriptions,
            "events_written": self.events_written,
            "files": list(self.files),
            "injected": {kind: self.injected.get(kind, 0) for kind in ANOMALY_KINDS},
        }
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Read a manifest written by `to_json`."""
        body = json.loads(text)
        return cls(
            first_month=date.fromisoformat(body["first_month"]),
            months=int(body["months"]),
            customers=int(body["customers"]),
            subscriptions=int(body["subscriptions"]),
            events_written=int(body["events_written"]),
            files=tuple(body["files"]),
            injected={str(k): int(v) for k, v in body["injected"].items()},
        )
