"""`wallet.depleted_ongoing_balance` webhooks (docs/webhooks.md, docs/rules.md §21.7): one event per
evaluation of `intermediate.int_wallet_balance_evaluations` marked `is_depleted` (the first to find
the wallet's ongoing balance at or below 0 since it was positive), queued by every usage refresh
and every close.

The event id derives from the evaluation's id (wallet and instant, stored in the append-only log):
a re-run finds the same ids and queues nothing twice.
"""

from decimal import Decimal

import duckdb

from orchestration.api import serializers
from orchestration.api.marts import to_cents
from orchestration.webhooks import outbox
from orchestration.webhooks.config import WebhookSettings

WEBHOOK_TYPE = "wallet.depleted_ongoing_balance"
OBJECT_TYPE = "wallet"


def _consumed_sql(conn: duckdb.DuckDBPyConnection) -> str:
    """Credits consumed by finalized invoices per wallet (none before the first close)."""
    if not outbox._table_exists(conn, "billing", "fct_wallet_transactions"):
        return "select cast(null as varchar) as wallet_code, 0 as consumed_credits where 1 = 0"
    return (
        "select wallet_code, sum(credits) as consumed_credits from billing.fct_wallet_transactions "
        "where transaction_type = 'consumed' and status = 'settled' group by wallet_code"
    )


def depleted_wallet(row: dict) -> dict:
    """The wallet in the shape of Lago's WalletSerializer (as serializers.wallet), with the
    balance and ongoing balance of the evaluation that found it depleted."""
    currency = row["currency"]
    rate = Decimal(row["rate_amount"])
    return {
        "lago_id": row["wallet_code"],
        "code": row["wallet_code"],
        "name": row["wallet_code"],
        "lago_customer_id": serializers.lago_id("customer", row["external_customer_id"]),
        "external_customer_id": row["external_customer_id"],
        "status": "active",
        "currency": currency,
        "priority": row["priority"],
        "rate_amount": serializers.decimal_text(rate),
        "credits_balance": serializers.decimal_text(row["credits_balance"]),
        "balance_cents": to_cents(row["balance_amount"], currency),
        "consumed_credits": serializers.decimal_text(abs(Decimal(row["consumed_credits"] or 0))),
        "created_at": serializers.iso(row["created_at"]),
        "expiration_at": serializers.iso(row["expires_at"]),
        "last_balance_sync_at": serializers.iso(row["evaluated_at"]),
        "last_consumed_credit_at": None,
        "terminated_at": None,
        "ongoing_balance_cents": to_cents(row["ongoing_balance_amount"], currency),
        "ongoing_usage_balance_cents": to_cents(row["ongoing_usage_amount"], currency),
        "credits_ongoing_balance": serializers.decimal_text(row["credits_ongoing_balance"]),
        "credits_ongoing_usage_balance": serializers.decimal_text(
            Decimal(row["ongoing_usage_amount"]) / rate
        ),
    }


def depleted_events(conn: duckdb.DuckDBPyConnection, settings: WebhookSettings) -> list[tuple]:
    """Add the depletions not recorded yet to `webhook_new_events`; return (event id, body) of
    those an endpoint subscribes to (the others are recorded without a body)."""
    if not outbox._table_exists(conn, "intermediate", "int_wallet_balance_evaluations"):
        return []
    event_id = outbox.event_id_sql(f"'{WEBHOOK_TYPE}'", "evaluations.evaluation_id")
    rows = outbox._dicts(
        conn.execute(
            f"""
            select {event_id} as webhook_event_id, evaluations.*, wallets.priority,
                wallets.created_at, wallets.expires_at, consumed.consumed_credits
            from intermediate.int_wallet_balance_evaluations as evaluations
            left join (
                select distinct wallet_code, priority, created_at, expires_at
                from intermediate.int_wallets_validated where rejection_reason is null
            ) as wallets on evaluations.wallet_code = wallets.wallet_code
            left join ({_consumed_sql(conn)}) as consumed
                on evaluations.wallet_code = consumed.wallet_code
            where evaluations.is_depleted
                and {event_id} not in (select webhook_event_id from webhooks.events)
                and {event_id} not in (select webhook_event_id from webhook_new_events)
            order by evaluations.evaluated_at, evaluations.wallet_code
            """
        )
    )
    if not rows:
        return []
    conn.executemany(
        f"insert into webhook_new_events values (?, '{WEBHOOK_TYPE}', '{OBJECT_TYPE}', ?)",
        [(row["webhook_event_id"], row["evaluation_id"]) for row in rows],
    )
    if not outbox._wanted(settings, WEBHOOK_TYPE):
        return []
    return [
        (
            row["webhook_event_id"],
            outbox.body_bytes(
                outbox._envelope(settings, WEBHOOK_TYPE, OBJECT_TYPE, depleted_wallet(row))
            ),
        )
        for row in rows
    ]
