{#- Frozen lines of the invoices frozen in finalized_invoices (append-only). -#}
with

lines as (
    select *
    from {{ ref('int_invoice_lines_taxed') }}
    where billing_month = {{ finalize_month() }}
),

frozen_invoices as (
    select invoice_id from {{ ref('finalized_invoices') }}
)

select
    lines.{{ frozen_invoice_line_columns() | join(',\n    lines.') }}
from lines
where
    (lines.invoice_id in (select invoice_id from frozen_invoices) or lines.invoice_id is null)
{% if is_incremental() %}
    and lines.invoice_line_id not in (select invoice_line_id from {{ this }})
{% endif %}
