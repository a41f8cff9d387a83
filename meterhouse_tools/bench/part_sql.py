"""SQL that draws one bench event file set-based, from hashes of (subscription, sequence, seed)."""

from meterhouse_tools.demo_data.event_files import sql_list
from meterhouse_tools.demo_data.vocabulary import ENDPOINTS, GPUS, MODELS, REGIONS


def properties_sql(cat: str, val: str) -> str:
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
