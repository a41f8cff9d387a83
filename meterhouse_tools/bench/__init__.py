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

One job a module: `run` drives the steps and prints the table; `generation` (with the SQL of
`part_sql`) writes the data set, `floor` measures and checks the floor, `product` loads and reads
dbt's timings, `memory` samples the peak; `results` and `shared` hold what they share.
"""

from meterhouse_tools.bench.floor import compare_floor_to_close, floor_sql, measure_floor
from meterhouse_tools.bench.generation import generate
from meterhouse_tools.bench.product import dbt_timings, measure_load, point_at
from meterhouse_tools.bench.results import BenchOptions, BenchResult, Figure, Generated
from meterhouse_tools.bench.run import format_table, new_result, run_bench

__all__ = [
    "BenchOptions",
    "BenchResult",
    "Figure",
    "Generated",
    "compare_floor_to_close",
    "dbt_timings",
    "floor_sql",
    "format_table",
    "generate",
    "measure_floor",
    "measure_load",
    "new_result",
    "point_at",
    "run_bench",
]
