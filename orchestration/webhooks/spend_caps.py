"""`subscription.spend_cap_reached`, a Meterhouse extension event (docs/rules.md §12b,
docs/webhooks.md): queued by a usage refresh for each subscription whose current usage has
reached its spend cap, once per subscription and charges period.

The event id derives from the type and `<external_subscription_id>|<period start>`, so a second
refresh of the same period finds the event recorded and queues nothing; the next period, reached
again, is a new event. Events go through the close's outbox tables and delivery (outbox.py).
"""

from datetime import datetime

import duckdb

from orchestration.api.marts import to_cents
from orchestration.api.serializers import iso
from orchestration.webhooks import outbox
from orchestration.webhooks.config import WebhookSettings

WEBHOOK_TYPE = "subscription.spend_cap_reached"
OBJECT_TYPE = "spend_cap"

_REACHED_SQL = """
select
    external_subscription_id || '|' || strftime(from_datetime, '%Y-%m-%dT%H:%M:%SZ') as object_id,
    external_subscription_id, external_customer_id, plan_code, currency, spend_cap_amount,
    amount, capped_amount, from_datetime, to_datetime, as_of_at
from billing.fct_usage_current_subscriptions
where spend_cap_reached
order by external_subscription_id
"""


def enqueue_spend_caps_reached(
    conn: duckdb.DuckDBPyConnection, settings: WebhookSettings, now: datetime
) -> int:
    """Record the new spend-cap events of the current usage and queue their deliveries;
    return the number of new events."""
    outbox.ensure_tables(conn)
    recorded = _recorded(conn)
    reached = {
        event_id: row
        for row in outbox._dicts(conn.execute(_REACHED_SQL))
        if (event_id := outbox.python_event_id(WEBHOOK_TYPE, row["object_id"])) not in recorded
    }
    conn.execute("begin transaction")
    try:
        conn.execute(
            "create or replace temp table webhook_new_events (webhook_event_id varchar, "
            "webhook_type varchar, object_type varchar, object_id varchar)"
        )
        if reached:
            conn.executemany(
                "insert into webhook_new_events values (?, ?, ?, ?)",
                [[eid, WEBHOOK_TYPE, OBJECT_TYPE, r["object_id"]] for eid, r in reached.items()],
            )
        bodies = [
            (
                event_id,
                outbox.body_bytes(
                    outbox._envelope(settings, WEBHOOK_TYPE, OBJECT_TYPE, _body(row))
                ),
            )
            for event_id, row in reached.items()
        ]
        outbox._insert_events(conn, bodies, now)
        outbox._queue_deliveries(conn, settings, now)
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")
    return len(reached)


def _recorded(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        event_id
        for (event_id,) in conn.execute(
            "select webhook_event_id from webhooks.events where webhook_type = ?", [WEBHOOK_TYPE]
        ).fetchall()
    }


def _body(row: dict) -> dict:
    """The event's object: the subscription, its period, its cap and its usage to date, amounts
    in Lago's integer cents of the currency's minor unit."""
    currency = row["currency"]
    return {
        "external_subscription_id": row["external_subscription_id"],
        "external_customer_id": row["external_customer_id"],
        "plan_code": row["plan_code"],
        "currency": currency,
        "spend_cap_amount_cents": to_cents(row["spend_cap_amount"], currency),
        "current_usage_amount_cents": to_cents(row["amount"], currency),
        "capped_usage_amount_cents": to_cents(row["capped_amount"], currency),
        "from_datetime": iso(row["from_datetime"]),
        "to_datetime": iso(row["to_datetime"]),
        "reached_as_of": iso(row["as_of_at"]),
    }
