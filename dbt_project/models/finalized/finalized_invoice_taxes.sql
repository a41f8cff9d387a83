{#- Frozen per-invoice taxes of the invoices frozen in finalized_invoices (append-only). -#}
with

invoice_taxes as (
    select *
    from {{ ref('int_invoice_taxes_drafted') }}
    where billing_month = {{ finalize_month() }}
),

frozen_invoices as (
    select invoice_id from {{ ref('finalized_invoices') }}
)

select invoice_taxes.*
from invoice_taxes
where
    invoice_taxes.invoice_id in (select invoice_id from frozen_invoices)
{% if is_incremental() %}
    and invoice_taxes.invoice_tax_id not in (select invoice_tax_id from {{ this }})
{% endif %}
