{#- Frozen invoices (docs/conventions.md): the drafts of the month being finalized, numbered (docs/rules.md
    §17) and appended once. Rows are never updated; a re-run appends only what is missing.
    payment_due_date came later: a ledger frozen before it gets the column (empty on the invoices
    it holds, which are never changed), so the append below still matches. -#}
{{ config(pre_hook=add_column_if_missing('payment_due_date', 'date')) }}
with

drafts as (
    select *
    from {{ ref('int_invoices_drafted') }}
    where billing_month = {{ finalize_month() }}
),

{% if is_incremental() %}
frozen as (
    select invoice_id, external_customer_id, customer_invoice_sequence, organization_invoice_sequence
    from {{ this }}
),
{% else %}
frozen as (
    select
        cast(null as varchar) as invoice_id,
        cast(null as varchar) as external_customer_id,
        cast(0 as integer) as customer_invoice_sequence,
        cast(0 as integer) as organization_invoice_sequence
    where false
),
{% endif %}

customer_numbers as (
    select external_customer_id, customer_sequential_id from {{ ref('finalized_customer_numbers') }}
),

billing_entities as (
    select invoice_prefix, document_numbering, timezone from {{ ref('stg_catalog__billing_entities') }}
),

payment_terms as (
    select external_customer_id, net_payment_term from {{ ref('int_customers_deduplicated') }}
),

customer_counters as (
    select external_customer_id, max(customer_invoice_sequence) as last_sequence
    from frozen
    group by external_customer_id
),

to_number as (
    select
        drafts.*,
        customer_numbers.customer_sequential_id,
        cast(
            coalesce(customer_counters.last_sequence, 0)
            + row_number() over (
                partition by drafts.external_customer_id order by drafts.issuing_date, drafts.invoice_id
            ) as integer
        ) as customer_invoice_sequence,
        cast(
            (select coalesce(max(organization_invoice_sequence), 0) from frozen)
            + row_number() over (
                order by drafts.issuing_date, customer_numbers.customer_sequential_id, drafts.invoice_id
            ) as integer
        ) as organization_invoice_sequence
    from drafts
    inner join customer_numbers on drafts.external_customer_id = customer_numbers.external_customer_id
    left join customer_counters on drafts.external_customer_id = customer_counters.external_customer_id
    where drafts.invoice_id not in (select invoice_id from frozen)
)

select
    to_number.invoice_id,
    case billing_entities.document_numbering
        when 'per_organization'
            then
                billing_entities.invoice_prefix || '-'
                || cast(year(to_number.issuing_date) * 100 + month(to_number.issuing_date) as varchar)
                || '-' || {{ zero_pad('to_number.organization_invoice_sequence', 3) }}
        else
            billing_entities.invoice_prefix || '-'
            || {{ zero_pad('to_number.customer_sequential_id', 3) }} || '-'
            || {{ zero_pad('to_number.customer_invoice_sequence', 3) }}
    end as invoice_number,
    'finalized' as status,
    to_number.invoice_type,
    to_number.external_customer_id,
    to_number.currency,
    to_number.customer_invoice_sequence,
    to_number.organization_invoice_sequence,
    to_number.fees_amount,
    to_number.progressive_billing_credit_amount,
    to_number.coupons_amount,
    to_number.sub_total_excluding_taxes_amount,
    to_number.taxes_amount,
    to_number.sub_total_including_taxes_amount,
    to_number.credit_notes_amount,
    to_number.prepaid_credit_amount,
    to_number.total_amount,
    to_number.billing_month,
    to_number.issuing_date,
    to_number.billing_period_start,
    to_number.billing_period_end,
    {{ utc_now() }} as finalized_at,
    -- The customer's net payment term, else the billing entity's, else 0 (docs/invoices.md).
    {{ add_days('to_number.issuing_date', 'payment_terms.net_payment_term') }} as payment_due_date
from to_number
cross join billing_entities
inner join payment_terms on to_number.external_customer_id = payment_terms.external_customer_id
