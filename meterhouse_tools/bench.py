"""`meterhouse bench`: load, close and render throughput against a raw DuckDB floor (issue #6).

One run, on the demo catalog:

1. **Generate** (not timed as a figure) customers, one subscription each on the demo plans, and
   N usage events spread over the bench months, written set-based by DuckDB to Parquet and NDJSON
   files with identical content. A small share of the events are exact duplicates (in the same
   file, and re-sent in a later file), a smaller share are conflicting duplicates (same key,
   other properties, in the later file), and a few dozen rows are bad (missing field, bad or
   future timestamp, non-object properties, unknown metric, unknown subscription), so that
   validation and de-duplication do real work.
2. **Floor**: one hand-written DuckDB query over the same files computes what billing needs from
   the events (per subscription, metric and month: count, sum, max, count distinct, latest),
   after the same validity, de-duplication and window rules as the loader and the close.
3. **Load** the events through the real loader (`landing.loader.load_folder`) into a fresh
   warehouse, from Parquet and from NDJSON.
4. **Close** the months (`runs.close_month`) on the Parquet warehouse: the events are already
   loaded, so the close is the dbt build plus the small landing and Parquet-export steps.
5. **Finalize** (`runs.finalize_month`): numbers, PDFs, ledger; the PDF rate comes from the
   rendering asset's own timing metadata.
6. **Peak memory** of the process tree (dbt runs in the process), sampled from /proc, beside
   `getrusage` maxima.

The floor's aggregates are then compared with what the warehouse billed, so the floor provably
computes the same thing as the close.
"""

import json
import math
import os
import resource
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from meterhouse_tools.demo_data.clock import add_months, epoch_ms, iso_instant, local_midnight_ms
from meterhouse_tools.demo_data.customers import make_customers
from meterhouse_tools.demo_data.event_files import sql_list
from meterhouse_tools.demo_data.subscriptions import Subscription, primary_plans, subscription_rows
from meterhouse_tools.demo_data.vocabulary import (
    CUSTOMER_FIELDS,
    ENDPOINTS,
    GPUS,
    METRICS,
    MODELS,
    NUMERIC_STRING_SHARE,
    PLAN_MIX,
    PLANS_BY_CURRENCY,
    REGIONS,
    SUBSCRIPTION_FIELDS,
)
from meterhouse_tools.demo_data.writers import write_csv
from orchestration.settings import REPO_ROOT
from orchestration.sql_rows import one_row

DEFAULT_EVENTS = 10_000_000
DEFAULT_SUBSCRIPTIONS = 100_000
DEFAULT_LAST_MONTH = "2026-10"
ROWS_PER_FILE = 1_000_000

# Shares of the regular events that are written again (docs/bad-input.md duplicates).
DUPLICATE_SHARE = 0.002  # exact copy in the same file
CONFLICT_SHARE = 0.0005  # same key, other properties, in the month's later `resent` file
REPLAY_SHARE = 0.001  # exact copy in the `resent` file
# Events stay this far from every UTC month boundary, so that they fall in the same billing
# month in every customer timezone of the demo (UTC-8 .. UTC+9) and the floor can ignore zones.
BOUNDARY_MARGIN_MS = 14 * 3_600_000

# Targets of issue #6 on a 2-core machine.
TARGET_LOAD_EVENTS_PER_SECOND = 1_000_000
TARGET_CLOSE_OVER_FLOOR = 3.0
TARGET_PDFS_PER_SECOND = 200
TARGET_PEAK_MEMORY_BYTES = 4 * 1024**3

EVENT_COLUMNS = ("transaction_id", "external_subscription_id", "code", "timestamp", "properties")


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


# --------------------------------------------------------------------------------------------
# Peak memory of the process tree


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; fields resume after the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    page = os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * page
        except OSError:
            continue
        stack.extend(children.get(pid, ()))
    return total


class MemorySampler:
    """Samples the process tree's RSS in a thread and keeps the peak of each named phase."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._phase: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)
        self._available = Path("/proc/self/statm").exists()

    def __enter__(self) -> "MemorySampler":
        if self._available:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._available:
            self._thread.join()

    def _sample(self) -> None:
        phase = self._phase
        if phase is None:
            return
        rss = _tree_rss_bytes(os.getpid())
        self.peaks[phase] = max(self.peaks.get(phase, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Attribute the samples taken inside the block to `name`."""
        self._phase = name
        if self._available:
            self._sample()
        try:
            yield
        finally:
            if self._available:
                self._sample()
            self._phase = None


def _rusage_peaks() -> dict[str, int]:
    """Max RSS (bytes) of this process and of its largest finished child (dbt), per getrusage."""
    # Linux reports ru_maxrss in KiB.
    return {
        "self_max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "children_max_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }


# --------------------------------------------------------------------------------------------
# Generation


def _connect(options: BenchOptions, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the bench's thread count and memory limit."""
    conn = duckdb.connect(
        database, config={"threads": options.threads, "memory_limit": options.memory_limit}
    )
    conn.execute("set TimeZone = 'UTC'")
    return conn


def _properties_sql(cat: str, val: str) -> str:
    """A metric's properties as JSON text, from a category and a value column (demo shapes)."""
    return f"""
        case metric
            when 0 then '{{"endpoint": "' || {sql_list(ENDPOINTS)}[{cat} % 5 + 1]
                || '", "region": "' || {sql_list(REGIONS)}[region + 1] || '"}}'
            when 1 then '{{"tokens": ' || q || {val} || q
                || ', "model": "' || {sql_list(MODELS)}[{cat} % 2 + 1] || '"}}'
            when 2 then '{{"seconds": ' || q || ({val} // 1000) || '.'
                || lpad(cast({val} % 1000 as varchar), 3, '0') || q
                || ', "gpu": "' || {sql_list(GPUS)}[{cat} % 2 + 1] || '"}}'
            when 3 then '{{"streams": ' || q || {val} || q || '}}'
            when 4 then '{{"gb": ' || q || ({val} // 100) || '.'
                || lpad(cast({val} % 100 as varchar), 2, '0') || q || '}}'
            else '{{"user_id": "usr_' || user_key || '_' || lpad(cast({val} as varchar), 3, '0')
                || '"}}'
        end
    """


# One file's regular events, drawn from hashes of (subscription, sequence, seed): deterministic
# and set-based. `part_counts` holds (sub, cnt, base): the file's number of events per
# subscription and the subscription's sequence number before them (transaction ids are unique
# per subscription across all files).
PART_SQL = """
create or replace temp table part_events as
with numbered as (
    select sub, base + unnest(range(cnt)) + 1 as seq from part_counts
),

hashed as (
    select
        numbered.sub,
        numbered.seq,
        subs.sub_id,
        subs.user_key,
        subs.user_pool,
        subs.t1, subs.t2, subs.t3, subs.t4, subs.t5,
        subs.r1, subs.r2,
        hash(numbered.sub, numbered.seq, {seed}) as h1,
        hash(numbered.seq, numbered.sub, {seed} + 1) as h2,
        hash(numbered.sub, {seed} + 2, numbered.seq) as h3
    from numbered
    inner join subs on numbered.sub = subs.sub
),

uniform as (
    select
        *,
        (h1 & 4294967295) / 4294967296.0 as u_metric,
        (h1 >> 32) / 4294967296.0 as u_time,
        (h2 & 4294967295) / 4294967296.0 as u_value,
        (h2 >> 32) / 4294967296.0 as u_cat,
        (h3 & 4294967295) / 4294967296.0 as u_copy,
        (h3 >> 32) / 4294967296.0 as u_misc
    from hashed
),

drawn as (
    select
        *,
        cast(u_metric >= t1 as int) + cast(u_metric >= t2 as int) + cast(u_metric >= t3 as int)
            + cast(u_metric >= t4 as int) + cast(u_metric >= t5 as int) as metric,
        {lo} + cast(floor(u_time * {span}) as bigint) as ts,
        cast(u_misc < {numeric_string_share} as int) as numeric_string
    from uniform
),

valued as (
    select
        *,
        case when u_cat < 0.5 then 0 when u_cat < 0.75 then 1 when u_cat < 0.87 then 2
            when u_cat < 0.93 then 3 else 4 end as cat,
        case when u_misc < r1 then 0 when u_misc < r2 then 1 else 2 end as region,
        case metric
            when 1 then 10 + cast(floor(u_value * u_value * u_value * 4990) as bigint)
            when 2 then 100 + cast(floor(u_value * u_value * 599900) as bigint)
            when 3 then 1 + cast(floor(u_value * 20) as bigint)
            when 4 then 100 + cast(floor(u_value * 50000) as bigint)
            when 5 then 1 + cast(floor(u_value * u_value * user_pool) as bigint)
            else 0
        end as val,
        case when numeric_string = 1 and metric between 1 and 4 then '"' else '' end as q
    from drawn
),

conflicting as (
    select
        *,
        case metric
            when 3 then case when val < 20 then val + 1 else val - 1 end
            when 5 then val % user_pool + 1
            else val + 1
        end as other_val
    from valued
)

select
    sub,
    seq,
    'tx_' || seq as transaction_id,
    sub_id as external_subscription_id,
    {metrics}[metric + 1] as code,
    strftime(epoch_ms(ts), '%Y-%m-%dT%H:%M:%S.%gZ') as "timestamp",
    {properties} as properties,
    {other_properties} as other_properties,
    ts,
    -- exact copy in the same file / conflicting copy or exact replay in the resent file
    case
        when u_copy < {dup} then 'duplicate'
        when u_copy < {dup} + {conflict} then 'conflict'
        when u_copy < {dup} + {conflict} + {replay} then 'replay'
    end as copy_kind,
    ts + 1000 + cast(floor(u_misc * 600000) as bigint) as copy_arrival
from conflicting
"""


def _bad_rows(count: int, month_start_ms: int, sub_ids: Sequence[str]) -> list[dict]:
    """`count` rows of each rejection kind the loader or the close must catch."""
    ts = iso_instant(month_start_ms + 2 * 86_400_000, millis=True)
    ok = '{"endpoint": "/v1/chat", "region": "us"}'
    kinds: list[tuple[str, dict[str, str | None]]] = [
        ("missing_field", {"code": None}),
        ("missing_field", {"transaction_id": None}),
        ("bad_timestamp", {"timestamp": "not-a-date"}),
        ("bad_timestamp", {"timestamp": "2026-13-45T00:00:00Z"}),
        ("future_timestamp", {"timestamp": "2099-01-01T00:00:00Z"}),
        ("bad_value", {"code": "tokens", "properties": "[120, 80]"}),
        ("bad_value", {"code": "tokens", "properties": '"tokens=120"'}),
        ("unknown_metric", {"code": "nonexistent_metric", "properties": '{"value": 3}'}),
        ("unknown_subscription", {"external_subscription_id": "sub_ghost"}),
    ]
    rows = []
    for k in range(count):
        for n, (kind, change) in enumerate(kinds):
            row = {
                "transaction_id": f"bad_{k}_{n}",
                "external_subscription_id": sub_ids[(k * len(kinds) + n) % len(sub_ids)],
                "code": "api_calls",
                "timestamp": ts,
                "properties": ok,
                "kind": kind,
                "arrival": month_start_ms + 2 * 86_400_000 + k * 1000 + n,
            }
            row.update(change)
            if kind == "unknown_subscription":
                row["external_subscription_id"] = f"sub_ghost_{k}"
            rows.append(row)
    return rows


def _write_event_file(
    conn: duckdb.DuckDBPyConnection, relation: str, paths: dict[str, Path]
) -> None:
    """Write `relation` (EVENT_COLUMNS + arrival, ord) to one file per format, in arrival order."""
    columns = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    for fmt, path in paths.items():
        target = str(path).replace("'", "''")
        if fmt == "parquet":
            # properties stay JSON text, as in the demo's Parquet files.
            conn.execute(
                f"copy (select {columns} from {relation} order by arrival, ord) to '{target}' "
                "(format parquet, compression zstd, row_group_size 250000)"
            )
        else:
            conn.execute(
                f'copy (select transaction_id, external_subscription_id, code, "timestamp", '
                f"cast(properties as json) as properties from {relation} "
                f"order by arrival, ord) to '{target}' (format json)"
            )


def generate(options: BenchOptions, root: Path) -> Generated:
    """Write the bench's landing directories (one per format); deterministic for the options."""
    started = time.perf_counter()
    months = [date.fromisoformat(f"{key}-01") for key in options.month_keys]
    first_month = months[0]
    n_customers = options.customers or options.subscriptions
    rng_customers, rng_subs, rng_events = np.random.default_rng(options.seed).spawn(3)

    # Customers and subscriptions: the demo's own helpers (names, addresses, timezones, taxes).
    people = make_customers(rng_customers, n_customers, first_month)
    primary = primary_plans(rng_subs, people)
    width = max(6, len(str(options.subscriptions)))
    subs = []
    for n in range(options.subscriptions):
        customer = n % n_customers
        plan = primary[customer]
        if n >= n_customers:  # a further subscription: another plan of the customer's currency
            options_ = PLANS_BY_CURRENCY[people[customer].country.currency]
            plan = options_[int(rng_subs.integers(len(options_)))][0]
        # The first local day of the month, but not before the month starts in UTC: a start on
        # the UTC eve (east of UTC) would make the close backfill an empty previous month.
        started_ms = max(
            local_midnight_ms(first_month, people[customer].row["timezone"]),
            epoch_ms(datetime(first_month.year, first_month.month, 1, tzinfo=UTC)),
        )
        subs.append(Subscription(f"sub_{n + 1:0{width}d}", customer, plan, started_ms, None))

    landing = {fmt: root / f"landing_{fmt}" for fmt in options.formats}
    for folder in landing.values():
        for name in ("customers", "subscriptions", "events"):
            (folder / name).mkdir(parents=True, exist_ok=True)
    first = landing[options.formats[0]]
    write_csv(first / "customers" / "customers.csv", CUSTOMER_FIELDS, (c.row for c in people))
    write_csv(
        first / "subscriptions" / "subscriptions.csv",
        SUBSCRIPTION_FIELDS,
        subscription_rows(subs, people),
    )
    for folder in list(landing.values())[1:]:
        for name in ("customers/customers.csv", "subscriptions/subscriptions.csv"):
            shutil.copyfile(first / name, folder / name)

    # Per-subscription drawing parameters: the plan's metric mix, the country's regions.
    n_subs = len(subs)
    mix = np.array([np.cumsum(PLAN_MIX[s.plan]) for s in subs])
    mix = mix / mix[:, -1:]
    present = np.array([np.array(PLAN_MIX[s.plan]) > 0 for s in subs])
    # Metric k is drawn when t_k <= u < t_(k+1): t_k is the share of the metrics before k (a
    # metric the plan lacks has an empty interval). Past the plan's last metric the thresholds
    # are out of reach, so rounding cannot draw a metric the plan does not charge.
    thresholds = mix[:, :5].copy()
    last_metric = present.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    for i in range(n_subs):
        thresholds[i, last_metric[i] :] = 2.0
    regions = np.array(
        [np.cumsum(people[s.customer].country.region_weights)[:2] for s in subs]
    ) / np.array([[sum(people[s.customer].country.region_weights)] * 2 for s in subs])
    subs_table = pa.table(
        {
            "sub": np.arange(n_subs, dtype=np.int32),
            "sub_id": [s.sub_id for s in subs],
            "user_key": [people[s.customer].key for s in subs],
            "user_pool": np.array([people[s.customer].user_pool for s in subs], dtype=np.int64),
            **{f"t{k + 1}": thresholds[:, k] for k in range(5)},
            "r1": regions[:, 0],
            "r2": regions[:, 1],
        }
    )

    # How many regular events each subscription sends in each file (lognormal activity).
    copies = 1 + DUPLICATE_SHARE + CONFLICT_SHARE + REPLAY_SHARE
    bad_per_kind = max(1, min(10, options.events // 100_000))
    n_bad = 9 * bad_per_kind
    n_regular = max(0, round((options.events - n_bad) / copies))
    if n_regular < 2 * n_subs:
        raise ValueError(f"{options.events} events are too few for {n_subs} subscriptions")
    per_month = math.ceil(n_regular / len(months))
    parts = max(1, math.ceil(per_month / ROWS_PER_FILE))
    weights = rng_events.lognormal(0.0, 1.3, size=n_subs)
    per_sub = rng_events.multinomial(n_regular, weights / weights.sum())
    cells = len(months) * parts
    counts = rng_events.multinomial(per_sub, np.full(cells, 1.0 / cells))  # (subs, cells)
    bases = np.cumsum(counts, axis=1) - counts

    conn = _connect(options)
    conn.register("subs_arrow", subs_table)
    conn.execute("create temp table subs as select * from subs_arrow")
    conn.unregister("subs_arrow")
    conn.execute(
        "create temp table resent (transaction_id varchar, external_subscription_id varchar, "
        'code varchar, "timestamp" varchar, properties varchar, arrival bigint, ord bigint)'
    )
    files: dict[str, list[Path]] = {fmt: [] for fmt in options.formats}
    written = 0
    injected = dict.fromkeys(("exact_duplicate", "conflicting_duplicate"), 0)
    metrics = sql_list(METRICS)
    for m, month in enumerate(months):
        next_month = add_months(month, 1)
        month_start = epoch_ms(datetime(month.year, month.month, 1, tzinfo=UTC))
        month_end = epoch_ms(datetime(next_month.year, next_month.month, 1, tzinfo=UTC))
        edges = np.linspace(
            month_start + BOUNDARY_MARGIN_MS, month_end - BOUNDARY_MARGIN_MS, parts + 1
        ).astype(np.int64)
        conn.execute("delete from resent")
        for p in range(parts):
            cell = m * parts + p
            conn.register(
                "part_counts",
                pa.table(
                    {
                        "sub": np.arange(n_subs, dtype=np.int32),
                        "cnt": counts[:, cell].astype(np.int64),
                        "base": bases[:, cell].astype(np.int64),
                    }
                ),
            )
            conn.execute(
                PART_SQL.format(
                    seed=int(options.seed),
                    lo=int(edges[p]),
                    span=int(edges[p + 1] - edges[p]),
                    numeric_string_share=NUMERIC_STRING_SHARE,
                    metrics=metrics,
                    properties=_properties_sql("cat", "val"),
                    other_properties=_properties_sql("cat + 1", "other_val"),
                    dup=DUPLICATE_SHARE,
                    conflict=CONFLICT_SHARE,
                    replay=REPLAY_SHARE,
                )
            )
            conn.unregister("part_counts")
            select = (
                'select transaction_id, external_subscription_id, code, "timestamp", {props} '
                "as properties, {arrival} as arrival, sub * 4294967296 + seq as ord"
            )
            relations = [
                select.format(props="properties", arrival="ts") + " from part_events",
                select.format(props="properties", arrival="copy_arrival")
                + " from part_events where copy_kind = 'duplicate'",
            ]
            if m == 0 and p == 0:
                bad = _bad_rows(bad_per_kind, month_start, [s.sub_id for s in subs])
                conn.register(
                    "bad_rows",
                    pa.Table.from_pylist(
                        bad,
                        schema=pa.schema(
                            [(c, pa.string()) for c in EVENT_COLUMNS]
                            + [("kind", pa.string()), ("arrival", pa.int64())]
                        ),
                    ),
                )
                relations.append(
                    'select transaction_id, external_subscription_id, code, "timestamp", '
                    "properties, arrival, -row_number() over () as ord from bad_rows"
                )
                for row in bad:
                    injected[row["kind"]] = injected.get(row["kind"], 0) + 1
            conn.execute(
                "create or replace temp table part_out as " + " union all ".join(relations)
            )
            conn.execute(
                "insert into resent "
                + select.format(
                    props="case copy_kind when 'conflict' then other_properties "
                    "else properties end",
                    arrival="copy_arrival",
                )
                + " from part_events where copy_kind in ('conflict', 'replay')"
            )
            stem = f"events_{month:%Y-%m}_part{p + 1:02d}"
            paths = {fmt: landing[fmt] / "events" / f"{stem}.{fmt}" for fmt in options.formats}
            _write_event_file(conn, "part_out", paths)
            for fmt, path in paths.items():
                files[fmt].append(path)
            kinds = dict(
                conn.execute(
                    "select copy_kind, count(*) from part_events group by copy_kind"
                ).fetchall()
            )
            written += conn.execute("select count(*) from part_out").fetchall()[0][0]
            injected["exact_duplicate"] += kinds.get("duplicate", 0) + kinds.get("replay", 0)
            injected["conflicting_duplicate"] += kinds.get("conflict", 0)
            if m == 0 and p == 0:
                conn.unregister("bad_rows")
        # Re-sent rows come last in load order ("resent" sorts after "part").
        stem = f"events_{month:%Y-%m}_resent"
        paths = {fmt: landing[fmt] / "events" / f"{stem}.{fmt}" for fmt in options.formats}
        _write_event_file(conn, "resent", paths)
        for fmt, path in paths.items():
            files[fmt].append(path)
        written += conn.execute("select count(*) from resent").fetchall()[0][0]
    conn.close()
    return Generated(
        root=root,
        landing=landing,
        event_files=files,
        customers=n_customers,
        subscriptions=n_subs,
        events_written=int(written),
        injected=injected,
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------
# The floor: one hand-written query over the same files


def _catalog_metrics(catalog_dir: Path) -> list[tuple[str, str, str]]:
    """(metric_code, aggregation, field_name) of the catalog's billable metrics."""
    import csv

    with (catalog_dir / "billable_metrics.csv").open(newline="") as handle:
        return [
            (row["metric_code"], row["aggregation"], row["field_name"])
            for row in csv.DictReader(handle)
        ]


def floor_sql(
    fmt: str, files: Sequence[Path], subscriptions_csv: Path, catalog_dir: Path, months: list[str]
) -> str:
    """The floor: what billing needs from the events, in one query.

    Same rules as the loader and the close: a row needs its key, code, a parseable timestamp not
    in the future and an object as properties; the first valid row of a (subscription,
    transaction) key in load order wins (exact and conflicting duplicates drop); only known
    subscriptions and metrics count; an event counts in the month that holds it.

    Written for speed, as one would by hand: rows are narrowed to the metric's value before
    de-duplication, and duplicates are found with one aggregate per key (only repeated keys are
    then resolved), not with a window over every row.
    """
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    file_order = ", ".join(
        "('" + str(f).replace("'", "''") + f"', {n})" for n, f in enumerate(files)
    )
    if fmt == "parquet":
        source = f"""
            select filename, file_row_number as row_in_file, {", ".join(EVENT_COLUMNS)}
            from read_parquet([{listed}], filename = true, file_row_number = true)
        """
    else:
        # Read order numbers the rows; inside a file a key only repeats as an exact copy, so
        # which copy counts as first there does not matter.
        source = f"""
            select filename, row_number() over () as row_in_file, {", ".join(EVENT_COLUMNS)}
            from read_ndjson([{listed}], filename = true, columns = {{
                transaction_id: 'VARCHAR', external_subscription_id: 'VARCHAR',
                code: 'VARCHAR', "timestamp": 'VARCHAR', properties: 'JSON'
            }})
        """
    metrics = ", ".join(
        f"('{code}', '{aggregation}', {repr(field) if field else 'null'})"
        for code, aggregation, field in _catalog_metrics(catalog_dir)
    )
    start = f"{months[0]}-01"
    end = add_months(date.fromisoformat(f"{months[-1]}-01"), 1).isoformat()
    subs = str(subscriptions_csv).replace("'", "''")
    event_at = 'cast(try_cast(events."timestamp" as timestamptz) as timestamp)'
    return f"""
    with
    metrics (metric_code, aggregation, field_name) as (values {metrics}),
    file_order (filename, file_index) as (values {file_order}),
    subscriptions as (
        select distinct external_subscription_id
        from read_csv('{subs}', header = true, all_varchar = true)
    ),
    events as ({source}),
    valid as (
        select
            events.external_subscription_id,
            events.transaction_id,
            events.code,
            {event_at} as event_at,
            json_extract_string(events.properties, '$."' || metrics.field_name || '"')
                as value_text,
            file_order.file_index * 4294967296 + events.row_in_file as arrival
        from events
        inner join file_order on events.filename = file_order.filename
        left join metrics on events.code = metrics.metric_code
        where events.transaction_id is not null and events.external_subscription_id is not null
            and events.code is not null
            and json_valid(events.properties) and json_type(events.properties) = 'OBJECT'
            and {event_at} < now()::timestamp + interval 1 day
    ),
    repeated as (
        select external_subscription_id, transaction_id, min(arrival) as first_arrival
        from valid
        group by external_subscription_id, transaction_id
        having count(*) > 1
    ),
    kept as (
        select valid.*
        from valid
        left join repeated
            on valid.external_subscription_id = repeated.external_subscription_id
            and valid.transaction_id = repeated.transaction_id
        where repeated.first_arrival is null or valid.arrival = repeated.first_arrival
    )
    select
        kept.external_subscription_id,
        kept.code as metric_code,
        cast(date_trunc('month', kept.event_at) as date) as billing_month,
        count(*) as events_count,
        sum(try_cast(kept.value_text as decimal(38, 9))) as sum_value,
        max(try_cast(kept.value_text as decimal(38, 9))) as max_value,
        -- distinct values only where a metric counts them (a distinct aggregate is costly)
        count(distinct case when metrics.aggregation = 'unique_count' then kept.value_text end)
            as distinct_values,
        arg_max(try_cast(kept.value_text as decimal(38, 9)), kept.event_at) as latest_value
    from kept
    inner join metrics on kept.code = metrics.metric_code
    inner join subscriptions
        on kept.external_subscription_id = subscriptions.external_subscription_id
    where kept.event_at >= date '{start}' and kept.event_at < date '{end}'
    group by kept.external_subscription_id, kept.code, billing_month
    """


def measure_floor(
    options: BenchOptions, fmt: str, generated: Generated, catalog_dir: Path, output: Path
) -> tuple[float, int]:
    """Run the floor query (timed, materialized in memory); save its result to `output`."""
    conn = _connect(options)
    sql = floor_sql(
        fmt,
        generated.event_files[fmt],
        generated.landing[fmt] / "subscriptions" / "subscriptions.csv",
        catalog_dir,
        options.month_keys,
    )
    started = time.perf_counter()
    conn.execute(f"create table floor_aggregates as {sql}")
    seconds = time.perf_counter() - started
    rows = conn.execute("select count(*) from floor_aggregates").fetchall()[0][0]
    target = str(output).replace("'", "''")
    conn.execute(f"copy floor_aggregates to '{target}' (format parquet)")
    conn.close()
    return seconds, int(rows)


# --------------------------------------------------------------------------------------------
# Load, close, finalize through the product


def point_at(landing: Path, warehouse: Path, output: Path) -> None:
    """Export the MH_* locations for a warehouse (the product reads them at run time)."""
    from orchestration.settings import export_locations

    export_locations(
        {
            "MH_CATALOG_DIR": str(REPO_ROOT / "seeds" / "catalog"),
            "MH_LANDING_DIR": str(landing),
            "MH_WAREHOUSE": str(warehouse),
            "MH_OUTPUT_DIR": str(output),
        }
    )


def measure_load(options: BenchOptions, landing: Path, warehouse: Path) -> dict:
    """Load customers, subscriptions, then (timed) the events through the real loader."""
    from orchestration.landing.loader import load_folder

    conn = duckdb.connect(str(warehouse))
    try:
        load_folder(conn, "customers", landing / "customers")
        load_folder(conn, "subscriptions", landing / "subscriptions")
        started = time.perf_counter()
        stats = load_folder(conn, "events", landing / "events")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {"seconds": seconds, **stats.as_metadata()}


def _latest_metadata(asset_key: list[str]) -> dict:
    """The metadata of an asset's latest materialization in the current Dagster instance."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset_key))
    if event is None or event.asset_materialization is None:
        return {}
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def dbt_timings(limit: int = 8) -> dict:
    """The latest dbt invocation (dagster-dbt's run_results.json): its wall time, the sum of its
    nodes' times and its slowest nodes, to split a close into dbt SQL and everything else."""
    candidates = sorted(
        (REPO_ROOT / "target").rglob("run_results.json"), key=lambda p: p.stat().st_mtime
    )
    if not candidates:
        return {}
    body = json.loads(candidates[-1].read_text())
    timed = sorted(
        ((r["unique_id"], float(r.get("execution_time") or 0.0)) for r in body["results"]),
        key=lambda item: -item[1],
    )
    return {
        "dbt_elapsed_seconds": round(float(body.get("elapsed_time") or 0.0), 2),
        "nodes": len(timed),
        "node_seconds_total": round(sum(seconds for _, seconds in timed), 2),
        "slowest": [(name, round(seconds, 2)) for name, seconds in timed[:limit]],
    }


def compare_floor_to_close(warehouse: Path, floor_parquet: Path) -> dict[str, int]:
    """Rows where the floor's aggregates differ from what the warehouse billed.

    Billed = the charge lines of fct_invoice_lines summed over filters and pricing groups, per
    subscription, metric and close month. Compared: the event count of every metric, and the
    units of every metric without rounding (count, sum, max, latest, unique_count).
    """
    floor = str(floor_parquet).replace("'", "''")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        row = one_row(
            conn.execute(
                f"""
            with
            metrics as (
                select metric_code, aggregation, rounding_function
                from staging.stg_catalog__billable_metrics
            ),
            billed as (
                select
                    lines.external_subscription_id,
                    lines.metric_code,
                    lines.billing_month,
                    sum(lines.events_count) as events_count,
                    sum(lines.units) as units
                from billing.fct_invoice_lines as lines
                where lines.line_type = 'charge'
                group by all
                -- a tier's flat fee is billed without events; the floor has nothing to match
                having sum(lines.events_count) > 0
            ),
            expected as (
                select
                    floor.*,
                    metrics.aggregation,
                    metrics.rounding_function,
                    case metrics.aggregation
                        when 'count' then floor.events_count
                        when 'sum' then floor.sum_value
                        when 'max' then floor.max_value
                        when 'latest' then greatest(floor.latest_value, 0)
                        when 'unique_count' then floor.distinct_values
                    end as units
                from read_parquet('{floor}') as floor
                inner join metrics using (metric_code)
            ),
            compared as (
                select
                    expected.events_count is distinct from billed.events_count as count_differs,
                    expected.rounding_function is null
                        and expected.units is distinct from billed.units as units_differ,
                    expected.external_subscription_id is null as only_billed,
                    billed.external_subscription_id is null as only_floor
                from expected
                full outer join billed
                    on expected.external_subscription_id = billed.external_subscription_id
                    and expected.metric_code = billed.metric_code
                    and expected.billing_month = billed.billing_month
            )
            select
                count(*),
                count(*) filter (where count_differs),
                count(*) filter (where units_differ),
                count(*) filter (where only_billed),
                count(*) filter (where only_floor)
            from compared
            """
            )
        )
    names = ("rows", "event_counts_differ", "units_differ", "only_billed", "only_floor")
    return dict(zip(names, (int(v) for v in row), strict=True))


# --------------------------------------------------------------------------------------------
# The run


def _gib(value: float) -> float:
    return value / 1024**3


def run_bench(options: BenchOptions) -> BenchResult:
    """Generate, measure and compare; return every figure (see the module docstring)."""
    from orchestration.settings import command_environment

    # The bench points the product at its own files through the environment, then puts it back.
    with command_environment():
        return _run_in_workdir(options)


def _run_in_workdir(options: BenchOptions) -> BenchResult:
    root = Path(options.workdir or tempfile.mkdtemp(prefix="meterhouse-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    catalog_dir = REPO_ROOT / "seeds" / "catalog"
    # A Dagster instance of the bench's own, so bench runs never mix with real ones.
    dagster_home = root / "dagster_home"
    from orchestration.dagster_instance import write_instance_config

    write_instance_config(dagster_home)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ["MH_DUCKDB_MEMORY_LIMIT"] = options.memory_limit  # dbt's DuckDB (profiles.yml)
    try:
        if options.usage:
            from meterhouse_tools.bench_usage import run_usage_bench

            return run_usage_bench(options, root)
        with MemorySampler() as memory:
            return _run(options, root, catalog_dir, memory)
    finally:
        if not options.keep and options.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


def new_result(options: BenchOptions, root: Path, generated: Generated) -> BenchResult:
    """A result with the run's options, machine and generated data set, and no figure yet."""
    return BenchResult(
        options={**asdict(options), "workdir": str(root), "month_keys": options.month_keys},
        machine={"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        generated={
            "customers": generated.customers,
            "subscriptions": generated.subscriptions,
            "events_written": generated.events_written,
            "injected": generated.injected,
            "files": {fmt: len(paths) for fmt, paths in generated.event_files.items()},
            "bytes": {
                fmt: sum(p.stat().st_size for p in paths)
                for fmt, paths in generated.event_files.items()
            },
            "seconds": round(generated.seconds, 2),
        },
    )


def _run(
    options: BenchOptions, root: Path, catalog_dir: Path, memory: MemorySampler
) -> BenchResult:
    from orchestration.project import ensure_manifest

    ensure_manifest()
    with memory.phase("generate"):
        generated = generate(options, root)
    result = new_result(options, root, generated)
    events = generated.events_written
    floors: dict[str, float] = {}
    for fmt in options.formats:
        with memory.phase(f"floor_{fmt}"):
            seconds, rows = measure_floor(
                options, fmt, generated, catalog_dir, root / f"floor_{fmt}.parquet"
            )
        floors[fmt] = seconds
        result.details[f"floor_{fmt}_rows"] = rows
        result.figures.append(
            Figure(f"floor {fmt} (DuckDB, one query)", seconds, "s", ratio_to_floor=1.0)
        )

    warehouses = {fmt: root / f"warehouse_{fmt}.duckdb" for fmt in options.formats}
    # NDJSON first, so the Parquet warehouse is the last one loaded and the one closed.
    for fmt in sorted(options.formats, key=lambda f: f == "parquet"):
        point_at(generated.landing[fmt], warehouses[fmt], root / f"output_{fmt}")
        with memory.phase(f"load_{fmt}"):
            load = measure_load(options, generated.landing[fmt], warehouses[fmt])
        result.details[f"load_{fmt}"] = load
        rate = events / load["seconds"]
        is_parquet = fmt == "parquet"
        result.figures.append(
            Figure(
                f"load {fmt} (validate + dedup)",
                rate,
                "events/s",
                target=f">= {TARGET_LOAD_EVENTS_PER_SECOND:,}" if is_parquet else "",
                ratio_to_floor=load["seconds"] / floors[fmt],
                passed=rate >= TARGET_LOAD_EVENTS_PER_SECOND if is_parquet else None,
            )
        )

    from orchestration import runs

    closed_fmt = "parquet" if "parquet" in options.formats else options.formats[0]
    for fmt, path in warehouses.items():  # only the closed warehouse is needed from here on
        if fmt != closed_fmt:
            path.unlink(missing_ok=True)
    floor_seconds = floors[closed_fmt]
    output = root / f"output_{closed_fmt}"
    point_at(generated.landing[closed_fmt], warehouses[closed_fmt], output)
    # dagster-dbt echoes dbt's log to stdout; keep it in the work directory, not in the table.
    log = (root / "product.log").open("a", encoding="utf-8")
    with memory.phase("close"), redirect_stdout(log), redirect_stderr(log):
        started = time.perf_counter()
        closed = runs.close_month(options.month_keys[-1])
        close_seconds = time.perf_counter() - started
    result.details["closed_months"] = closed
    result.details["close_dbt"] = dbt_timings()
    result.figures.append(
        Figure(
            "close (runs.close_month, load excluded)",
            close_seconds,
            "s",
            target=f"<= {TARGET_CLOSE_OVER_FLOOR:g}x floor",
            ratio_to_floor=close_seconds / floor_seconds,
            passed=close_seconds <= TARGET_CLOSE_OVER_FLOOR * floor_seconds,
        )
    )
    comparison = compare_floor_to_close(
        warehouses[closed_fmt], root / f"floor_{closed_fmt}.parquet"
    )
    result.details["floor_vs_close"] = comparison
    mismatches = sum(v for k, v in comparison.items() if k != "rows")
    result.figures.append(
        Figure(
            "floor aggregates == billed (mismatched rows)",
            mismatches,
            "rows",
            target="0",
            passed=mismatches == 0,
        )
    )

    if options.render_pdfs:
        rendered = render_seconds = 0.0
        with memory.phase("finalize"), redirect_stdout(log), redirect_stderr(log):
            started = time.perf_counter()
            for month in options.month_keys:
                runs.finalize_month(month)
                metadata = _latest_metadata(["files", "invoice_pdfs"])
                rendered += metadata.get("rendered", 0)
                render_seconds += metadata.get("seconds", 0.0)
            finalize_seconds = time.perf_counter() - started
        result.details["finalize_seconds"] = finalize_seconds
        result.details["finalize_dbt"] = dbt_timings()
        result.details["pdfs_rendered"] = int(rendered)
        result.details["pdf_render_seconds"] = render_seconds
        pdf_rate = rendered / render_seconds if render_seconds else 0.0
        result.figures.append(
            Figure(
                "invoice PDFs rendered",
                pdf_rate,
                "PDFs/s",
                target=f">= {TARGET_PDFS_PER_SECOND}",
                passed=pdf_rate >= TARGET_PDFS_PER_SECOND,
            )
        )
        result.figures.append(Figure("finalize (numbers, PDFs, ledger)", finalize_seconds, "s"))

    log.close()
    product_phases = [p for p in memory.peaks if p.startswith(("load", "close", "finalize"))]
    peak = max((memory.peaks[p] for p in product_phases), default=0)
    result.details["memory_peaks_by_phase_gib"] = {
        p: round(_gib(v), 3) for p, v in memory.peaks.items()
    }
    result.details["rusage_gib"] = {k: round(_gib(v), 3) for k, v in _rusage_peaks().items()}
    result.figures.append(
        Figure(
            "peak memory (process tree: load, close, finalize)",
            _gib(peak),
            "GiB",
            target="< 4 GiB (at 50M)",
            passed=peak < TARGET_PEAK_MEMORY_BYTES,
        )
    )
    result.machine["load_average_after"] = os.getloadavg()
    return result


def format_table(result: BenchResult) -> str:
    """The figures as a fixed-width table: figure, value, target, ratio to the floor, pass/miss."""
    header = ("figure", "value", "target", "x floor", "")
    rows = [header]
    for f in result.figures:
        if f.unit == "events/s":
            value = f"{f.value:,.0f} {f.unit}"
        elif f.unit in ("rows", "buckets"):
            value = f"{f.value:,.0f}"
        else:
            value = f"{f.value:,.2f} {f.unit}"
        ratio = "" if f.ratio_to_floor is None else f"{f.ratio_to_floor:.2f}"
        verdict = "" if f.passed is None else ("pass" if f.passed else "MISS")
        rows.append((f.name, value, f.target, ratio, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in (1, 3) else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    generated = result.generated
    lines.append(
        f"\n{generated['events_written']:,} events ({generated['injected']}) for "
        f"{generated['subscriptions']:,} subscriptions / {generated['customers']:,} customers; "
        f"months {', '.join(result.options['month_keys'])}; "
        f"{result.machine['cpus']} CPUs, load average before "
        f"{', '.join(f'{x:.2f}' for x in result.machine['load_average'])}."
    )
    return "\n".join(lines)
