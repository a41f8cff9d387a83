{#- Frozen invoice credits (coupons, credit notes, prepaid credits) of the invoices frozen in
    finalized_invoices (append-only). -#}
with

drafted as (
    select *
    from {{ ref('int_invoice_credits_drafted') }}
    where billing_month = {{ finalize_month() }}
)

select drafted.*
from drafted
where
    drafted.invoice_id in (select invoice_id from {{ ref('finalized_invoices') }})
{% if is_incremental() %}
    and drafted.invoice_credit_id not in (select invoice_credit_id from {{ this }})
{% endif %}
