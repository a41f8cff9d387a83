{#- Late data after finalization (docs/conventions.md), one row per line of a finalized invoice that a
    later close computes differently: what was finalized, what it would be now, what later
    documents settled (adjustment lines, `restatement` credit notes) and what is left. The
    finalized invoice itself never changes. -#}
with

restatements as (
    select * from {{ ref('int_invoice_restatements') }}
),

finalized_months as (
    select distinct billing_month from {{ ref('finalized_invoices') }}
),

settled as (
    select invoice_line_id, sum(settled_amount) as settled_amount
    from ({{ restatement_settlements(ref('finalized_invoice_lines'), ref('finalized_credit_note_items')) }}) as settled
    group by invoice_line_id
),

{# The latest document that settles each line: finalized, or drafted by a month not finalized. -#}
documents as (
    select
        restated_invoice_line_id as invoice_line_id, invoice_id, cast(null as varchar) as credit_note_id,
        billing_month, 'finalized' as document_status
    from {{ ref('finalized_invoice_lines') }}
    where line_type = 'adjustment'
    union all
    select
        invoice_line_id, cast(null as varchar) as invoice_id, credit_note_id, billing_month,
        'finalized' as document_status
    from {{ ref('finalized_credit_note_items') }}
    where reason = 'restatement'
    union all
    select
        restated_invoice_line_id as invoice_line_id, invoice_id, cast(null as varchar) as credit_note_id,
        billing_month, 'draft' as document_status
    from {{ ref('int_invoice_lines_adjusted') }}
    where line_type = 'adjustment' and {{ is_unfinalized_month('finalized_months') }}
    union all
    select
        invoice_line_id, cast(null as varchar) as invoice_id, credit_note_id, billing_month,
        'draft' as document_status
    from {{ ref('int_credit_note_items_drafted') }}
    where reason = 'restatement' and {{ is_unfinalized_month('finalized_months') }}
),

latest_documents as (
    select *
    from (
        select
            documents.*,
            row_number() over (
                partition by documents.invoice_line_id
                order by documents.billing_month desc, documents.document_status asc
            ) as recency_rank
        from documents
    ) as ranked
    where recency_rank = 1
),

measured as (
    select
        restatements.*,
        {{ as_money('coalesce(settled.settled_amount, 0)') }} as settled_amount_now,
        {{ as_money('restatements.difference_amount - coalesce(settled.settled_amount, 0)') }}
            as outstanding_amount_now
    from restatements
    left join settled on restatements.invoice_line_id = settled.invoice_line_id
)

select
    {{ hash_key(['measured.invoice_line_id']) }} as restatement_id,
    measured.invoice_id,
    measured.invoice_number,
    measured.invoice_line_id,
    measured.billing_month,
    measured.external_customer_id,
    measured.external_subscription_id,
    measured.plan_code,
    measured.line_type,
    measured.charge_code,
    measured.metric_code,
    measured.filter_code,
    measured.pricing_group,
    measured.description,
    measured.currency,
    measured.finalized_units,
    measured.restated_units,
    measured.finalized_events_count,
    measured.restated_events_count,
    measured.finalized_amount,
    measured.restated_amount,
    measured.difference_amount,
    measured.settled_amount_now as settled_amount,
    measured.outstanding_amount_now as outstanding_amount,
    case
        when measured.difference_amount = 0 and measured.settled_amount_now = 0 then 'nothing_to_bill'
        when measured.outstanding_amount_now = 0 then 'settled'
        when latest_documents.document_status = 'draft' then 'drafted'
        else 'pending'
    end as settlement_status,
    latest_documents.invoice_id as settlement_invoice_id,
    latest_documents.credit_note_id as settlement_credit_note_id
from measured
left join latest_documents on measured.invoice_line_id = latest_documents.invoice_line_id
