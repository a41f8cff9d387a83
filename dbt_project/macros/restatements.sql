{#- What finalized documents already settled of each restated line (docs/conventions.md): the adjustment
    lines of finalized invoices add, the items of finalized `restatement` credit notes take away.
    `lines` and `items` are the frozen line and credit-note-item relations; read through ref()
    by the mart and as earlier state (frozen_relation) by the close. -#}
{% macro restatement_settlements(lines, items) -%}
    select restated_invoice_line_id as invoice_line_id, amount as settled_amount
    from {{ lines }}
    where line_type = 'adjustment'
    union all
    select invoice_line_id, -item_amount as settled_amount
    from {{ items }}
    where reason = 'restatement'
{%- endmacro %}
