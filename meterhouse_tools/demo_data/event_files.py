"""Format one block of demo events (and its anomalies) in DuckDB and write its file."""

from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from meterhouse_tools.demo_data.anomalies import SpecialRow
from meterhouse_tools.demo_data.event_draws import BLOCK_KEYS, Block, EventContext
from meterhouse_tools.demo_data.vocabulary import (
    ENDPOINTS,
    EVENT_FIELDS,
    GPUS,
    METRICS,
    MODELS,
    REGIONS,
)
from meterhouse_tools.demo_data.writers import write_lines
from orchestration.sql_rows import one_row

EVENT_SQL = """
with base as (
    select
        *,
        {codes}[metric + 1] as code,
        strftime(epoch_ms(ts), '%Y-%m-%dT%H:%M:%S.%gZ') as iso,
        case when strnum then '"' else '' end as q
    from bulk
),

formatted as (
    select
        *,
        case metric
            when 0 then '{{"endpoint": "' || {endpoints}[cat1 + 1]
                || '", "region": "' || {regions}[cat2 + 1] || '"}}'
            when 1 then '{{"tokens": ' || q || val || q
                || ', "model": "' || {models}[cat1 + 1] || '"}}'
            when 2 then '{{"seconds": ' || q || (val // 1000) || '.'
                || lpad(cast(val % 1000 as varchar), 3, '0') || q
                || ', "gpu": "' || {gpus}[cat1 + 1] || '"}}'
            when 3 then '{{"streams": ' || q || val || q || '}}'
            when 4 then '{{"gb": ' || q || (val // 100) || '.'
                || lpad(cast(val % 100 as varchar), 2, '0') || q || '}}'
            else '{{"user_id": "usr_' || user_key || '_' || lpad(cast(val as varchar), 3, '0')
                || '"}}'
        end as props
    from base
)

select
    'tx_' || seq as transaction_id,
    sub_id as external_subscription_id,
    code,
    iso as "timestamp",
    props as properties,
    cast(null as varchar) as operation_type,
    cast(null as varchar) as precise_total_amount,
    case when {ndjson} then
        case when wrapped then '{{"event": ' else '' end
        || '{{"transaction_id": "tx_' || seq
        || '", "external_subscription_id": "' || sub_id
        || '", "code": "' || code
        || '", "timestamp": '
        || case when unix then cast(ts // 1000 as varchar) else '"' || iso || '"' end
        || ', "properties": ' || props || '}}'
        || case when wrapped then '}}' else '' end
    end as line,
    arrival,
    ord
from formatted
"""


def sql_list(values: Sequence[str]) -> str:
    """A DuckDB list literal of strings, quotes escaped."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def write_chunk(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    ctx: EventContext,
    block: Block,
    specials: Sequence[SpecialRow],
    replay: np.ndarray | None,
) -> tuple[int, pa.ChunkedArray | None]:
    """Format a block plus its anomalies in DuckDB, sorted by arrival; write one file."""
    n = len(block["sub"])
    sub_ids = pa.array(ctx.sub_ids, type=pa.string())
    user_keys = pa.array(ctx.user_keys, type=pa.string())
    indices = pa.array(block["sub"])
    bulk = pa.table(
        {
            "sub_id": sub_ids.take(indices),
            "user_key": user_keys.take(indices),
            # Every column of the block but `sub` (its id and user key above) and `kind`.
            **{key: block[key] for key in BLOCK_KEYS if key not in ("sub", "kind")},
            "ord": np.arange(n, dtype=np.int64),
        }
    )
    special = pa.table(
        {
            **{
                f: pa.array([s.fields[f] for s in specials], type=pa.string()) for f in EVENT_FIELDS
            },
            "line": pa.array([s.line for s in specials], type=pa.string()),
            "arrival": pa.array([s.arrival for s in specials], type=pa.int64()),
            "ord": pa.array(range(n, n + len(specials)), type=pa.int64()),
        }
    )
    con.register("bulk", bulk)
    con.register("special", special)
    sql = EVENT_SQL.format(
        codes=sql_list(METRICS),
        endpoints=sql_list(ENDPOINTS),
        regions=sql_list(REGIONS),
        models=sql_list(MODELS),
        gpus=sql_list(GPUS),
        ndjson="true" if fmt == "ndjson" else "false",
    )
    con.execute(
        f"create or replace temp table chunk_out as select * from ({sql}) "
        "union all select * from special"
    )
    con.unregister("bulk")
    con.unregister("special")
    columns = ", ".join(f'"{f}"' for f in EVENT_FIELDS)
    replayed = None
    if fmt == "ndjson":
        lines = con.sql(
            "select line || chr(10) as line from chunk_out order by arrival, ord"
        ).to_arrow_table()
        write_lines(path, lines.column("line"))
        if replay is not None:
            con.register("replay_ord", pa.table({"ord": replay}))
            replayed = (
                con.sql(
                    "select line || chr(10) as line from chunk_out "
                    "where ord in (select ord from replay_ord) order by arrival, ord"
                )
                .to_arrow_table()
                .column("line")
            )
            con.unregister("replay_ord")
    elif fmt == "csv":
        target = str(path).replace("'", "''")
        con.execute(
            f"copy (select {columns} from chunk_out order by arrival, ord) "
            f"to '{target}' (format csv, header true, delimiter ',')"
        )
    else:
        table = con.sql(f"select {columns} from chunk_out order by arrival, ord").to_arrow_table()
        pq.write_table(table, path, compression="zstd", row_group_size=250_000)
    count = int(one_row(con.execute("select count(*) from chunk_out"))[0])
    con.execute("drop table chunk_out")
    return count, replayed
