{#- A wallet's balance after each event of its time-ordered stream (docs/rules.md §15). Top-ups add
    (B -> B + y); invoices, voids and the expiry take min(asked, balance) (B -> max(0, B - x)).
    Both are B -> max(a, B + b), closed under composition, so the balance after event k is
    S(k) - min(0, min over taking events j <= k of S(j)), S(k) being the running sum of the
    signed amounts up to k (`running`): a window, no loop. What an event moved is the change it
    caused, lag(balance) - balance. `ordered_window` is a named window (partition by wallet,
    ordered by time) framed from the first row to the current one. -#}
{% macro wallet_balance(running, takes, ordered_window) -%}
    {{ running }} - least(0, coalesce(
        min(case when {{ takes }} then {{ running }} end) over {{ ordered_window }}, 0
    ))
{%- endmacro %}
