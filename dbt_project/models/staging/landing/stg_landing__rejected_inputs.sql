with

source as (
    select * from {{ source('landing', 'rejected_inputs') }}
)

select
    rejected_input_id,
    input_kind,
    source_file,
    line_number,
    raw,
    reason,
    detail,
    loaded_at
from source
