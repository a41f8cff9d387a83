"""`alert.triggered` webhooks (docs/webhooks.md, docs/rules.md §21.5): one event per row of
`billing.fct_alerts_triggered`, queued by every usage refresh and every close.

The event id derives from the triggered row's id, which derives from the alert and the instant of
its evaluation: a re-run finds the same ids and queues nothing twice.
"""

import json
from datetime import datetime
from decimal import Decimal

import duckdb

from orchestration.api import serializers
from orchestration.webhooks import outbox
from orchestration.webhooks.config import WebhookSettings
from orchestration.webhooks.wallets import WEBHOOK_TYPE as DEPLETED_TYPE
from orchestration.webhooks.wallets import depleted_events

WEBHOOK_TYPE = "alert.triggered"
OBJECT_TYPE = "triggered_alert"


def _uuid(hex_digest: str) -> str:
    return "-".join(
        (hex_digest[:8], hex_digest[8:12], hex_digest[12:16], hex_digest[16:20], hex_digest[20:32])
    )


def triggered_alert(row: dict, settings: WebhookSettings) -> dict:
    """A triggered alert in the shape of Lago's TriggeredAlertSerializer: decimal values as
    strings ("3000.0"), crossed thresholds with string values."""
    subscription = row["external_subscription_id"]
    customer = row["external_customer_id"]
    crossed = [
        {
            "code": threshold["code"],
            "value": serializers.decimal_text(Decimal(threshold["value"])),
            "recurring": threshold["recurring"],
        }
        for threshold in json.loads(row["crossed_thresholds"])
    ]
    return {
        "lago_id": _uuid(row["triggered_alert_id"]),
        "lago_organization_id": settings.organization_id,
        "lago_alert_id": _uuid(row["alert_id"]),
        "lago_subscription_id": serializers.lago_id("subscription", subscription)
        if subscription
        else None,
        "external_subscription_id": subscription,
        "lago_wallet_id": row["wallet_code"],  # a wallet's lago_id is its code (serializers.wallet)
        "external_customer_id": customer,
        "billable_metric_code": row["metric_code"],
        "alert_name": row["alert_name"],
        "alert_code": row["alert_code"],
        "alert_type": row["alert_type"],
        "current_value": serializers.decimal_text(row["current_value"]),
        "previous_value": serializers.decimal_text(row["previous_value"]),
        "crossed_thresholds": crossed,
        "triggered_at": serializers.iso(row["triggered_at"]),
        # Deprecated duplicates Lago still sends.
        "subscription_external_id": subscription,
        "customer_external_id": customer,
    }


def alert_events(conn: duckdb.DuckDBPyConnection, settings: WebhookSettings) -> list[tuple]:
    """Add the triggered alerts not recorded yet to `webhook_new_events`; return (event id, body)
    of those an endpoint subscribes to (the others are recorded without a body)."""
    if not outbox._table_exists(conn, "billing", "fct_alerts_triggered"):
        return []
    event_id = outbox.event_id_sql(f"'{WEBHOOK_TYPE}'", "triggered_alert_id")
    rows = outbox._dicts(
        conn.execute(
            f"""
            select {event_id} as webhook_event_id, *
            from billing.fct_alerts_triggered
            where {event_id} not in (select webhook_event_id from webhooks.events)
                and {event_id} not in (select webhook_event_id from webhook_new_events)
            order by triggered_at, triggered_alert_id
            """
        )
    )
    if not rows:
        return []
    conn.executemany(
        f"insert into webhook_new_events values (?, '{WEBHOOK_TYPE}', '{OBJECT_TYPE}', ?)",
        [(row["webhook_event_id"], row["triggered_alert_id"]) for row in rows],
    )
    if not outbox._wanted(settings, WEBHOOK_TYPE):
        return []
    return [
        (
            row["webhook_event_id"],
            outbox.body_bytes(
                outbox._envelope(
                    settings, WEBHOOK_TYPE, OBJECT_TYPE, triggered_alert(row, settings)
                )
            ),
        )
        for row in rows
    ]


def enqueue_alerts(
    conn: duckdb.DuckDBPyConnection, settings: WebhookSettings, now: datetime
) -> dict[str, int]:
    """Queue the alert.triggered and wallet.depleted_ongoing_balance webhooks of a usage refresh
    (a close queues them with the rest of its events, outbox.enqueue). One transaction, like the
    close's."""

    outbox.ensure_tables(conn)
    conn.execute("begin transaction")
    try:
        conn.execute(
            "create or replace temp table webhook_new_events (webhook_event_id varchar, "
            "webhook_type varchar, object_type varchar, object_id varchar)"
        )
        bodies = alert_events(conn, settings) + depleted_events(conn, settings)
        outbox._insert_events(conn, bodies, now)
        new_events = dict(
            conn.execute(
                "select webhook_type, count(*) from webhook_new_events group by webhook_type"
            ).fetchall()
        )
        deliveries = outbox._queue_deliveries(conn, settings, now)
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")
    return {
        WEBHOOK_TYPE: new_events.get(WEBHOOK_TYPE, 0),
        DEPLETED_TYPE: new_events.get(DEPLETED_TYPE, 0),
        "deliveries": deliveries,
    }
