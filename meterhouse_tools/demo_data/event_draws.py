"""Draw the demo's regular events as numpy blocks, one block per event file.

A block holds one array per column (`BLOCK_KEYS`), one row per event; `event_files` formats it.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from meterhouse_tools.demo_data.clock import add_months, epoch_ms, local_midnight_ms
from meterhouse_tools.demo_data.customers import Customer
from meterhouse_tools.demo_data.subscriptions import Subscription
from meterhouse_tools.demo_data.vocabulary import (
    API,
    ENDPOINT_WEIGHTS,
    ENDPOINTS,
    GPU,
    NUMERIC_STRING_SHARE,
    PLAN_MIX,
    STORAGE,
    STREAMS,
    TOKENS,
    UNIX_TIMESTAMP_SHARE,
    USERS,
    WRAPPED_SHARE,
)

MAX_ROWS_PER_FILE = 1_000_000


@dataclass(frozen=True, slots=True)
class Chunk:
    month: int  # 0-based demo month: 0 -> NDJSON, 1 -> CSV, later -> Parquet
    start: int  # UTC ms, inclusive
    end: int  # UTC ms, exclusive
    path: str  # relative to landing_dir

    @property
    def fmt(self) -> str:
        return ("ndjson", "csv")[self.month] if self.month < 2 else "parquet"


@dataclass(frozen=True, slots=True)
class EventContext:
    """Per-subscription arrays (index = subscription) used to draw events."""

    sub_ids: list[str]
    user_keys: list[str]
    window_start: np.ndarray
    window_end: np.ndarray
    mix_cum: np.ndarray  # (S, 6) cumulative metric shares; 2.0 past the last metric
    region_cum: np.ndarray  # (S, 3)
    user_pool: np.ndarray
    stream_level: np.ndarray
    storage_base: np.ndarray  # centi-GB at the start of the demo
    storage_growth: np.ndarray  # relative growth over the demo months
    total_start: int
    total_end: int


Block = dict[str, np.ndarray]
BLOCK_KEYS = (
    "sub",
    "metric",
    "ts",
    "arrival",
    "seq",
    "cat1",
    "cat2",
    "val",
    "strnum",
    "wrapped",
    "unix",
    "kind",
)
KIND_REGULAR, KIND_BEFORE, KIND_DUPLICATE, KIND_CONFLICT = range(4)


def take_rows(block: Block, index: np.ndarray) -> Block:
    return {key: values[index] for key, values in block.items()}


def concat_blocks(blocks: Iterable[Block]) -> Block:
    blocks = list(blocks)
    return {key: np.concatenate([b[key] for b in blocks]) for key in BLOCK_KEYS}


def build_context(
    rng: np.random.Generator,
    subs: Sequence[Subscription],
    customers: Sequence[Customer],
    first_month: date,
    months: int,
) -> EventContext:
    last = add_months(first_month, months)
    total_start = epoch_ms(datetime(first_month.year, first_month.month, 1, tzinfo=UTC))
    total_end = epoch_ms(datetime(last.year, last.month, 1, tzinfo=UTC))
    starts, ends, mixes, regions = [], [], [], []
    for sub in subs:
        customer = customers[sub.customer]
        local_end = local_midnight_ms(last, customer.row["timezone"])
        end = min(total_end, local_end, sub.terminated_ms or total_end)
        starts.append(max(sub.started_ms, total_start))
        ends.append(end)
        mix = np.array(PLAN_MIX[sub.plan], dtype=np.float64)
        if sub.api_share:
            rest = mix.sum() - mix[API]
            mix = mix * ((1 - sub.api_share) / rest)
            mix[API] = sub.api_share
        cum = np.cumsum(mix / mix.sum())
        cum[np.flatnonzero(mix)[-1] :] = 2.0
        mixes.append(cum)
        weights = np.array(customer.country.region_weights)
        region = np.cumsum(weights / weights.sum())
        region[-1] = 2.0
        regions.append(region)
    count = len(subs)
    return EventContext(
        sub_ids=[s.sub_id for s in subs],
        user_keys=[customers[s.customer].key for s in subs],
        window_start=np.array(starts, dtype=np.int64),
        window_end=np.array(ends, dtype=np.int64),
        mix_cum=np.array(mixes),
        region_cum=np.array(regions),
        user_pool=np.array([customers[s.customer].user_pool for s in subs], dtype=np.int64),
        stream_level=rng.integers(2, 17, size=count),
        storage_base=np.rint(rng.lognormal(np.log(8_000), 1.2, size=count)).astype(np.int64),
        storage_growth=rng.uniform(0.05, 0.6, size=count),
        total_start=total_start,
        total_end=total_end,
    )


def _properties(rng: np.random.Generator, ctx: EventContext, block: Block) -> None:
    """Fill cat1/cat2/val/strnum for every row from its metric (in place)."""
    sub, metric, ts = block["sub"], block["metric"], block["ts"]
    n = len(sub)
    cat1 = np.zeros(n, dtype=np.int8)
    cat2 = np.zeros(n, dtype=np.int8)
    val = np.zeros(n, dtype=np.int64)
    rows = np.flatnonzero(metric == API)
    cat1[rows] = rng.choice(len(ENDPOINTS), size=len(rows), p=np.array(ENDPOINT_WEIGHTS))
    u = rng.random(len(rows))
    cat2[rows] = (u[:, None] >= ctx.region_cum[sub[rows]]).sum(axis=1)
    rows = np.flatnonzero(metric == TOKENS)
    cat1[rows] = rng.random(len(rows)) < 0.3
    val[rows] = np.clip(np.rint(rng.lognormal(np.log(700), 0.8, len(rows))), 10, 5000)
    rows = np.flatnonzero(metric == GPU)
    cat1[rows] = rng.random(len(rows)) < 0.4
    val[rows] = np.clip(np.rint(rng.lognormal(np.log(25_000), 0.9, len(rows))), 100, 600_000)
    rows = np.flatnonzero(metric == STREAMS)
    level = ctx.stream_level[sub[rows]] * (0.4 + 0.8 * rng.random(len(rows)))
    val[rows] = np.clip(np.rint(level), 1, 20)
    rows = np.flatnonzero(metric == STORAGE)
    progress = (ts[rows] - ctx.total_start) / (ctx.total_end - ctx.total_start)
    val[rows] = np.rint(
        ctx.storage_base[sub[rows]] * (1 + ctx.storage_growth[sub[rows]] * progress)
    )
    rows = np.flatnonzero(metric == USERS)
    val[rows] = np.floor(ctx.user_pool[sub[rows]] * rng.random(len(rows)) ** 2).astype(np.int64) + 1
    numeric = np.isin(metric, (TOKENS, GPU, STREAMS, STORAGE))
    block["cat1"], block["cat2"], block["val"] = cat1, cat2, val
    block["strnum"] = numeric & (rng.random(n) < NUMERIC_STRING_SHARE)


def conflicting_copies(rng: np.random.Generator, ctx: EventContext, block: Block) -> Block:
    """Copies of rows with different properties (same key, code and timestamp)."""
    out = {key: values.copy() for key, values in block.items()}
    metric, val = out["metric"], out["val"]
    delta = rng.integers(1, 500, size=len(val))
    out["cat1"] = np.where(
        metric == API, (out["cat1"] + 1 + rng.integers(0, 4, size=len(val))) % 5, out["cat1"]
    ).astype(np.int8)
    bumped = np.where(val + delta <= 5000, val + delta, val - delta)
    val = np.where(metric == TOKENS, bumped, val)
    val = np.where((metric == GPU) | (metric == STORAGE), val + delta, val)
    val = np.where(metric == STREAMS, np.where(val < 20, val + 1, val - 1), val)
    pool = ctx.user_pool[out["sub"]]
    out["val"] = np.where(metric == USERS, val % pool + 1, val)
    out["kind"] = np.full(len(val), KIND_CONFLICT, dtype=np.int8)
    return out


def draw_block(
    rng: np.random.Generator,
    ctx: EventContext,
    chunk: Chunk,
    counts: np.ndarray,
    before_sub: np.ndarray,
    before_ts: np.ndarray,
    offsets: np.ndarray,
) -> Block:
    """The regular (and before-start) events of one file, numbered per subscription by time."""
    n_subs = len(counts)
    sub = np.repeat(np.arange(n_subs, dtype=np.int32), counts)
    lo = np.maximum(ctx.window_start, chunk.start)[sub]
    hi = np.minimum(ctx.window_end, chunk.end)[sub]
    ts = lo + (rng.random(len(sub)) * (hi - lo)).astype(np.int64)
    metric = (rng.random(len(sub))[:, None] >= ctx.mix_cum[sub][:, :-1]).sum(axis=1)
    n = len(sub) + len(before_sub)
    kind = np.full(n, KIND_REGULAR, dtype=np.int8)
    kind[len(sub) :] = KIND_BEFORE
    block: Block = {
        "sub": np.concatenate([sub, before_sub]).astype(np.int32),
        "metric": np.concatenate([metric, np.full(len(before_sub), API)]).astype(np.int8),
        "ts": np.concatenate([ts, before_ts]),
        "kind": kind,
        "wrapped": np.zeros(n, dtype=bool),
        "unix": np.zeros(n, dtype=bool),
    }
    if chunk.fmt == "ndjson":
        block["wrapped"] = rng.random(n) < WRAPPED_SHARE
        block["unix"] = rng.random(n) < UNIX_TIMESTAMP_SHARE
        # Unix seconds carry no milliseconds: the event's instant is the whole second.
        block["ts"] = np.where(block["unix"], block["ts"] // 1000 * 1000, block["ts"])
    block = take_rows(block, np.lexsort((block["ts"], block["sub"])))
    first_row = np.searchsorted(block["sub"], np.arange(n_subs))
    block["seq"] = offsets[block["sub"]] + np.arange(n) - first_row[block["sub"]] + 1
    block["arrival"] = block["ts"].copy()
    _properties(rng, ctx, block)
    return block


def plan_chunks(first_month: date, months: int, expected: np.ndarray) -> list[Chunk]:
    chunks = []
    for month in range(months):
        begin, end = add_months(first_month, month), add_months(first_month, month + 1)
        start_ms = epoch_ms(datetime(begin.year, begin.month, 1, tzinfo=UTC))
        end_ms = epoch_ms(datetime(end.year, end.month, 1, tzinfo=UTC))
        parts = max(1, math.ceil(expected[month] / MAX_ROWS_PER_FILE))
        edges = np.linspace(start_ms, end_ms, parts + 1).astype(np.int64)
        ext = ("ndjson", "csv")[month] if month < 2 else "parquet"
        for part in range(parts):
            suffix = f"_part{part + 1:02d}" if parts > 1 else ""
            path = f"events/events_{begin:%Y-%m}{suffix}.{ext}"
            chunks.append(Chunk(month, int(edges[part]), int(edges[part + 1]), path))
    return chunks


def overlap_ms(ctx: EventContext, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(S, C) ms of each subscription's event window inside each [start, end)."""
    lo = np.maximum(ctx.window_start[:, None], start[None, :])
    hi = np.minimum(ctx.window_end[:, None], end[None, :])
    return np.maximum(hi - lo, 0).astype(np.float64)
