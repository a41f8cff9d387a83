"""Write the demo event files: share the events out, place duplicates and anomalies.

Every duplicate appears after its original in load order (docs/inputs.md): later in the same file,
in the next file, or in `events/replay_YYYY-MM.ndjson`.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from meterhouse_tools.demo_data.anomalies import (
    BEFORE_START_COUNT,
    SPECIAL_COUNTS,
    scaled_count,
    special_rows,
)
from meterhouse_tools.demo_data.clock import DAY_MS, add_months, epoch_ms
from meterhouse_tools.demo_data.customers import Customer
from meterhouse_tools.demo_data.event_draws import (
    KIND_DUPLICATE,
    KIND_REGULAR,
    Block,
    build_context,
    concat_blocks,
    conflicting_copies,
    draw_block,
    overlap_ms,
    plan_chunks,
    take_rows,
)
from meterhouse_tools.demo_data.event_files import write_chunk
from meterhouse_tools.demo_data.subscriptions import Subscription
from meterhouse_tools.demo_data.writers import write_lines

# Share of event rows: exact duplicates inside the files, replayed rows, conflicting duplicates.
DUPLICATE_SHARE = 0.002
REPLAY_SHARE = 0.001
CONFLICT_SHARE = 0.0005


def write_events(
    rng: np.random.Generator,
    landing_dir: Path,
    subs: Sequence[Subscription],
    customers: Sequence[Customer],
    first_month: date,
    months: int,
    events: int,
) -> tuple[list[str], dict[str, int], int]:
    ctx = build_context(rng, subs, customers, first_month, months)
    plans = [s.plan for s in subs]
    n_subs = len(subs)

    special_counts = {kind: scaled_count(base, events) for kind, base in SPECIAL_COUNTS.items()}
    n_dup = max(1, round(DUPLICATE_SHARE * events))
    n_replay = max(1, round(REPLAY_SHARE * events))
    n_conflict = max(2, round(CONFLICT_SHARE * events))
    mid = [i for i, s in enumerate(subs) if s.mid_month]
    n_before = scaled_count(BEFORE_START_COUNT, events) if mid else 0
    n_regular = events - sum(special_counts.values()) - n_dup - n_replay - n_conflict - n_before
    if n_regular < max(500, 5 * n_subs):
        raise ValueError(f"events={events} is too small for {n_subs} subscriptions")

    # Each subscription's share of the events: whales fixed, the rest lognormal x active time.
    duration = (ctx.window_end - ctx.window_start).clip(min=0).astype(np.float64)
    fixed = np.array([s.share for s in subs])
    drawn = rng.lognormal(0.0, 1.3, size=n_subs) * duration / duration.max()
    drawn[fixed > 0] = 0
    rest = 1.0 - fixed.sum()
    share = fixed + (rest * drawn / drawn.sum() if drawn.sum() > 0 else 0)
    rate = np.divide(share, duration, out=np.zeros(n_subs), where=duration > 0)

    month_edges = np.array(
        [
            epoch_ms(datetime.combine(add_months(first_month, m), datetime.min.time(), UTC))
            for m in range(months + 1)
        ],
        dtype=np.int64,
    )
    month_p = overlap_ms(ctx, month_edges[:-1], month_edges[1:]) * rate[:, None]
    chunks = plan_chunks(first_month, months, n_regular * month_p.sum(axis=0) / month_p.sum())
    starts = np.array([c.start for c in chunks], dtype=np.int64)
    ends = np.array([c.end for c in chunks], dtype=np.int64)
    p = overlap_ms(ctx, starts, ends) * rate[:, None]
    counts = rng.multinomial(n_regular, (p / p.sum()).ravel()).reshape(n_subs, len(chunks))

    # A handful of valid events shortly before a mid-month start: loaded, never billed.
    candidates = np.array(mid, dtype=np.int64)[rng.permutation(len(mid))] if mid else np.zeros(0)
    before_sub = np.resize(candidates, n_before).astype(np.int32)
    started = np.array([s.started_ms for s in subs], dtype=np.int64)
    gap = np.minimum(2 * DAY_MS, started[before_sub] - ctx.total_start)
    before_ts = started[before_sub] - 1 - (rng.random(n_before) * (gap - 1)).astype(np.int64)
    before_chunk = np.searchsorted(starts, before_ts, side="right") - 1
    before_counts = np.zeros_like(counts)
    np.add.at(before_counts, (before_sub, before_chunk), 1)
    totals = (counts + before_counts).sum(axis=1)
    offsets = np.cumsum(counts + before_counts, axis=1) - (counts + before_counts)

    # Where duplicates and anomalies go, in proportion to each file's size.
    size = counts.sum(axis=0).astype(np.float64)
    n_chunks = len(chunks)
    dup_per_chunk = rng.multinomial(n_dup, size / size.sum())
    n_cross = n_conflict // 2 if n_chunks > 1 else 0
    same_per_chunk = rng.multinomial(n_conflict - n_cross, size / size.sum())
    cross_size = size.copy()
    cross_size[-1] = 0
    cross_per_chunk = (
        rng.multinomial(n_cross, cross_size / cross_size.sum())
        if n_cross
        else np.zeros(n_chunks, dtype=np.int64)
    )
    ndjson_size = np.where([c.month == 0 for c in chunks], size, 0)
    special_chunk: list[list[str]] = [[] for _ in chunks]
    for kind, count in special_counts.items():
        weights = ndjson_size if kind == "malformed" else size
        for c in rng.choice(n_chunks, size=count, p=weights / weights.sum()):
            special_chunk[int(c)].append(kind)

    con = duckdb.connect()
    files: list[str] = []
    written = 0
    counter = [0]
    placed = {"exact_duplicate": 0, "conflicting_duplicate": 0}
    pending: Block | None = None
    replay_lines: pa.ChunkedArray | None = None
    for c, chunk in enumerate(chunks):
        in_chunk = before_chunk == c
        block = draw_block(
            rng, ctx, chunk, counts[:, c], before_sub[in_chunk], before_ts[in_chunk], offsets[:, c]
        )

        # Originals for duplicates, disjoint: in-file exact, same-file conflict, next-file
        # conflict, and (first file only) the replayed rows.
        regular = np.flatnonzero(block["kind"] == KIND_REGULAR)
        sizes = [
            int(dup_per_chunk[c]),
            int(same_per_chunk[c]),
            int(cross_per_chunk[c]),
            n_replay if c == 0 else 0,
        ]
        picked = rng.choice(regular, size=min(sum(sizes), len(regular)), replace=False)
        bounds = np.cumsum([0, *sizes])
        dup_idx, same_idx, cross_idx, replay_idx = (
            picked[bounds[i] : bounds[i + 1]] for i in range(4)
        )
        placed["exact_duplicate"] += len(dup_idx)
        placed["conflicting_duplicate"] += len(same_idx) + len(cross_idx)
        dups = take_rows(block, dup_idx)
        dups["arrival"] = dups["ts"] + rng.integers(1_000, 600_000, size=len(dup_idx))
        dups["kind"] = np.full(len(dup_idx), KIND_DUPLICATE, dtype=np.int8)
        same = conflicting_copies(rng, ctx, take_rows(block, same_idx))
        same["arrival"] = same["ts"] + rng.integers(60_000, 6 * 3_600_000, size=len(same_idx))
        parts = [block, dups, same]
        if pending is not None:
            span = min(3 * DAY_MS, chunk.end - chunk.start)
            pending["arrival"] = chunk.start + rng.integers(0, span, size=len(pending["ts"]))
            parts.append(pending)
        pending = (
            conflicting_copies(rng, ctx, take_rows(block, cross_idx)) if len(cross_idx) else None
        )
        full = concat_blocks(parts)
        specials = special_rows(
            rng, special_chunk[c], ctx, block, totals, counter, plans, chunk.fmt == "ndjson"
        )
        count, replayed = write_chunk(
            con,
            landing_dir / chunk.path,
            chunk.fmt,
            ctx,
            full,
            specials,
            np.sort(replay_idx) if c == 0 else None,
        )
        if replayed is not None:
            replay_lines = replayed
        files.append(chunk.path)
        written += count
    con.close()

    replay_path = f"events/replay_{first_month:%Y-%m}.ndjson"
    if replay_lines is not None:
        write_lines(landing_dir / replay_path, replay_lines)
        files.append(replay_path)
        written += len(replay_lines)
    injected = {
        "exact_duplicate": placed["exact_duplicate"]
        + (0 if replay_lines is None else len(replay_lines)),
        "conflicting_duplicate": placed["conflicting_duplicate"],
        **special_counts,
        "before_start": n_before,
    }
    return files, injected, written
