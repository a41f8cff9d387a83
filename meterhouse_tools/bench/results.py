"""The bench's options and what a run reports: the generated data set and its figures."""

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from meterhouse_tools.demo_data.clock import add_months

DEFAULT_EVENTS = 10_000_000
DEFAULT_SUBSCRIPTIONS = 100_000
DEFAULT_LAST_MONTH = "2026-10"


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """What to generate and how to run; defaults are the issue's 10M events / 100k subs."""

    events: int = DEFAULT_EVENTS
    subscriptions: int = DEFAULT_SUBSCRIPTIONS
    customers: int | None = None  # None: one customer per subscription
    months: int = 1
    last_month: str = DEFAULT_LAST_MONTH
    formats: tuple[str, ...] = ("parquet", "ndjson")
    workdir: Path | None = None  # None: a temporary directory
    keep: bool = False
    seed: int = 7
    threads: int = 2
    memory_limit: str = "3GB"
    render_pdfs: bool = True
    usage: bool = False  # current usage instead of the close (meterhouse_tools/bench_usage.py)

    @property
    def month_keys(self) -> list[str]:
        """The bench months, oldest first (YYYY-MM)."""
        last = date.fromisoformat(f"{self.last_month}-01")
        return [f"{m:%Y-%m}" for m in (add_months(last, -k) for k in range(self.months))][::-1]


@dataclass(slots=True)
class Generated:
    """What generation wrote: file lists per format and the injected anomalies."""

    root: Path
    landing: dict[str, Path]  # format -> landing directory
    event_files: dict[str, list[Path]]  # format -> event files in load order
    customers: int
    subscriptions: int
    events_written: int
    injected: dict[str, int]
    seconds: float


@dataclass(slots=True)
class Figure:
    """One line of the result table."""

    name: str
    value: float
    unit: str
    target: str = ""
    ratio_to_floor: float | None = None
    passed: bool | None = None


@dataclass(slots=True)
class BenchResult:
    """All measurements of one run (written as JSON with --json)."""

    options: dict
    machine: dict
    generated: dict
    figures: list[Figure] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def figure(self, name: str) -> Figure:
        """The figure called `name`."""
        return next(f for f in self.figures if f.name == name)

    def to_json(self) -> str:
        """Pretty JSON of the whole result."""
        body = {
            "options": self.options,
            "machine": self.machine,
            "generated": self.generated,
            "figures": [asdict(f) for f in self.figures],
            "details": self.details,
        }
        return json.dumps(body, indent=2, default=str) + "\n"
