{#- Frozen per-tax rows of the credit notes frozen in finalized_credit_notes (append-only). -#}
with

drafted as (
    select *
    from {{ ref('int_credit_note_taxes_drafted') }}
    where billing_month = {{ finalize_month() }}
)

select drafted.*
from drafted
where
    drafted.credit_note_id in (select credit_note_id from {{ ref('finalized_credit_notes') }})
{% if is_incremental() %}
    and drafted.credit_note_tax_id not in (select credit_note_tax_id from {{ this }})
{% endif %}
