"""The webhook outbox in the warehouse: which events a close or a finalization produced, one
delivery per event and subscribed endpoint (docs/webhooks.md).

Events are found set-based, by SQL over the billing marts: an event is new when its id (derived
from its type and its object's id) is not in `webhooks.events` yet. A re-run of a close finds the
same ids and queues nothing twice. Events are recorded even when no endpoint is configured, so an
endpoint added later receives what happens from then on, not the history (as in Lago, where an
organization without endpoints queues nothing).

Payloads are built when the event is queued, with the API's serializers (Lago's shapes), and
stored as the exact bytes that are sent and signed.
"""

import hashlib
import json
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.api import serializers
from orchestration.api.catalog import Catalog
from orchestration.files import replaced_atomically
from orchestration.sql_rows import one_row
from orchestration.webhooks.config import WebhookSettings

SCHEMA_SQL = """
create schema if not exists webhooks;
create schema if not exists billing;
create table if not exists webhooks.events (
    webhook_event_id varchar primary key,
    webhook_type varchar not null,
    object_type varchar not null,
    object_id varchar not null,
    body varchar not null,
    created_at timestamp not null
);
create table if not exists webhooks.deliveries (
    webhook_id varchar primary key,
    webhook_event_id varchar not null,
    endpoint_id varchar not null,
    endpoint_url varchar not null,
    signature_algo varchar not null,
    status varchar not null,
    attempts integer not null,
    http_status integer,
    last_error varchar,
    response_body varchar,
    created_at timestamp not null,
    last_attempt_at timestamp,
    next_attempt_at timestamp,
    delivered_at timestamp
);
create table if not exists webhooks.reported_event_errors (
    rejected_input_id varchar primary key,
    webhook_event_id varchar not null
);
create or replace view billing.fct_webhook_deliveries as
select
    deliveries.webhook_id,
    deliveries.webhook_event_id,
    events.webhook_type,
    events.object_type,
    events.object_id,
    deliveries.endpoint_id,
    deliveries.endpoint_url,
    deliveries.status,
    deliveries.http_status,
    deliveries.attempts,
    deliveries.last_error,
    deliveries.created_at,
    deliveries.last_attempt_at,
    deliveries.next_attempt_at,
    deliveries.delivered_at
from webhooks.deliveries as deliveries
inner join webhooks.events as events
    on deliveries.webhook_event_id = events.webhook_event_id;
"""

# Lago's events.errors keys, from the loader's and the close's rejection reasons; any other
# reason of a rejected event goes under its own name (a receiver for Lago ignores it).
EVENT_ERROR_KEYS = {
    "unknown_metric": "invalid_code",
    "bad_value": "missing_aggregation_property",
}
LAGO_EVENT_ERROR_KEYS = (
    "invalid_code",
    "missing_aggregation_property",
    "missing_group_key",
    "invalid_filter_values",
)

# One candidate row per event the marts show: (webhook_type, object_type, object_id). The `as of`
# of subscriptions is the end of the latest closed month: what a close has seen happen.
CANDIDATES_SQL = """
create or replace temp table webhook_candidates as
with

closed as (
    select max(billing_month) + interval 1 month as closed_until
    from raw.closed_months
),

candidates as (
    select 'invoice.drafted' as webhook_type, 'invoice' as object_type, invoice_id as object_id
    from billing.fct_invoices
    where status = 'draft'
    union all
    select 'invoice.created', 'invoice', invoice_id
    from billing.fct_invoices
    where status = 'finalized'
    union all
    select 'credit_note.created', 'credit_note', credit_note_id
    from billing.fct_credit_notes
    where status = 'finalized'
    union all
    select 'fee.created', 'fee', lines.invoice_line_id
    from billing.fct_invoice_lines as lines
    left join billing.fct_invoices as invoices
        on lines.invoice_id = invoices.invoice_id
    where lines.line_type = 'charge'
        and (lines.invoice_id is null or invoices.invoice_type = 'pay_in_advance')
    union all
    select 'wallet_transaction.created', 'wallet_transaction', transactions.wallet_transaction_id
    from billing.fct_wallet_transactions as transactions
    left join billing.fct_invoices as invoices
        on transactions.invoice_id = invoices.invoice_id
    where transactions.transaction_type <> 'consumed' or invoices.status = 'finalized'
    union all
    select distinct 'subscription.started', 'subscription', subscriptions.external_subscription_id
    from raw.subscriptions as subscriptions
    cross join closed
    where subscriptions.started_at < closed.closed_until
    union all
    select distinct
        'subscription.terminated', 'subscription', subscriptions.external_subscription_id
    from raw.subscriptions as subscriptions
    cross join closed
    where subscriptions.terminated_at < closed.closed_until
)

select
    {event_id} as webhook_event_id,
    candidates.webhook_type,
    candidates.object_type,
    candidates.object_id
from candidates
where candidates.object_id is not null
"""


def event_id_sql(type_column: str, id_column: str) -> str:
    """A stable UUID-shaped id from the event's type and its object's id."""
    digest = f"md5({type_column} || '|' || {id_column})"
    return (
        f"substr({digest}, 1, 8) || '-' || substr({digest}, 9, 4) || '-' || "
        f"substr({digest}, 13, 4) || '-' || substr({digest}, 17, 4) || '-' || "
        f"substr({digest}, 21, 12)"
    )


def python_event_id(webhook_type: str, object_id: str) -> str:
    """The same id as `event_id_sql`, computed in Python."""
    digest = hashlib.md5(f"{webhook_type}|{object_id}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(SCHEMA_SQL)


def body_bytes(payload: dict) -> str:
    """The body as sent and signed: compact JSON, keys in the serializer's order (as Ruby's
    `to_json`); decimals the serializers left are written as strings."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        one_row(
            conn.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            )
        )[0]
    )


def enqueue(
    conn: duckdb.DuckDBPyConnection,
    settings: WebhookSettings,
    catalog_dir: Path,
    now: datetime,
) -> dict[str, int]:
    """Record the new events of the marts and queue one delivery per subscribed endpoint.

    Returns the number of new events by type (and `deliveries`).
    """
    ensure_tables(conn)
    needed = ("fct_invoices", "fct_invoice_lines", "fct_credit_notes", "fct_wallet_transactions")
    if not all(_table_exists(conn, "billing", t) for t in needed) or not _table_exists(
        conn, "raw", "closed_months"
    ):
        return {"deliveries": 0}
    # One transaction: a run killed half-way records no event without its deliveries.
    conn.execute("begin transaction")
    try:
        counts = _enqueue(conn, settings, catalog_dir, now)
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")
    return counts


def _enqueue(
    conn: duckdb.DuckDBPyConnection, settings: WebhookSettings, catalog_dir: Path, now: datetime
) -> dict[str, int]:
    conn.execute(
        CANDIDATES_SQL.format(
            event_id=event_id_sql("candidates.webhook_type", "candidates.object_id")
        )
    )
    conn.execute(
        """
        create or replace temp table webhook_new_events as
        select distinct webhook_event_id, webhook_type, object_type, object_id
        from webhook_candidates
        where webhook_event_id not in (select webhook_event_id from webhooks.events)
        """
    )
    bodies = _payloads(conn, settings, Catalog.read(catalog_dir))
    bodies += _event_errors(conn, settings)
    from orchestration.webhooks.alerts import alert_events  # they build on this module
    from orchestration.webhooks.wallets import depleted_events

    bodies += alert_events(conn, settings)
    bodies += depleted_events(conn, settings)
    _insert_events(conn, bodies, now)
    counts = dict(
        conn.execute(
            "select webhook_type, count(*) from webhook_new_events group by webhook_type"
        ).fetchall()
    )
    counts["deliveries"] = _queue_deliveries(conn, settings, now)
    return counts


def _insert_events(
    conn: duckdb.DuckDBPyConnection, bodies: list[tuple[str, str]], now: datetime
) -> None:
    """Store the bodies of the new events (webhook_new_events holds their ids)."""
    conn.execute(
        "create or replace temp table webhook_bodies (webhook_event_id varchar, body varchar)"
    )
    if bodies:
        conn.executemany("insert into webhook_bodies values (?, ?)", bodies)
    conn.execute(
        """
        insert into webhooks.events
        select new.webhook_event_id, new.webhook_type, new.object_type, new.object_id,
            coalesce(bodies.body, ''), cast(? as timestamp)
        from webhook_new_events as new
        left join webhook_bodies as bodies
            on new.webhook_event_id = bodies.webhook_event_id
        """,
        [now],
    )


def _queue_deliveries(
    conn: duckdb.DuckDBPyConnection, settings: WebhookSettings, now: datetime
) -> int:
    """One delivery per new event and subscribed endpoint, id derived from both (set-based)."""
    conn.execute(
        "create or replace temp table webhook_endpoints (endpoint_id varchar, url varchar, "
        "signature_algo varchar, all_types boolean, event_type varchar)"
    )
    rows = [
        (e.endpoint_id, e.url, e.signature_algo, e.event_types is None, event_type)
        for e in settings.endpoints
        for event_type in (e.event_types if e.event_types is not None else (None,))
    ]
    if rows:
        conn.executemany("insert into webhook_endpoints values (?, ?, ?, ?, ?)", rows)
    webhook_id = event_id_sql("new.webhook_event_id", "endpoints.endpoint_id")
    return one_row(
        conn.execute(
            f"""
        insert into webhooks.deliveries
        select distinct
            {webhook_id}, new.webhook_event_id, endpoints.endpoint_id, endpoints.url,
            endpoints.signature_algo, 'pending', 0, null, null, null, cast(? as timestamp), null,
            cast(? as timestamp), null
        from webhook_new_events as new
        inner join webhook_endpoints as endpoints
            on endpoints.all_types or endpoints.event_type = new.webhook_type
        where {webhook_id} not in (select webhook_id from webhooks.deliveries)
        """,
            [now, now],
        )
    )[0]


def _new_rows(conn: duckdb.DuckDBPyConnection, sql: str, object_type: str) -> list[dict]:
    """Rows of a mart for the new events of one object type (`{new}` names their ids)."""
    new = f"(select distinct object_id from webhook_wanted where object_type = '{object_type}')"
    return _dicts(conn.execute(sql.format(new=new)))


def _wanted(settings: WebhookSettings, webhook_type: str) -> bool:
    return any(endpoint.subscribed(webhook_type) for endpoint in settings.endpoints)


def _envelope(settings: WebhookSettings, webhook_type: str, object_type: str, body: dict) -> dict:
    """Lago's envelope (webhooks/base_service.rb): type, object type, organization, object."""
    return {
        "webhook_type": webhook_type,
        "object_type": object_type,
        "organization_id": settings.organization_id,
        object_type: body,
    }


def _payloads(
    conn: duckdb.DuckDBPyConnection, settings: WebhookSettings, catalog: Catalog
) -> list[tuple[str, str]]:
    """(event id, body) of the new events an endpoint subscribes to, but events.errors; one
    query per object type. The others are recorded without a body: no endpoint will get them."""
    entity_timezone = catalog.entity.get("timezone", "")
    events = [
        event
        for event in _dicts(
            conn.execute(
                "select webhook_event_id, webhook_type, object_type, object_id "
                "from webhook_new_events"
            )
        )
        if _wanted(settings, event["webhook_type"])
    ]
    if events:
        conn.execute(
            "create or replace temp table webhook_wanted as select * from webhook_new_events "
            "where webhook_event_id in (select unnest(?))",
            [[event["webhook_event_id"] for event in events]],
        )
    if not events:
        return []
    invoices = {
        r["invoice_id"]: r
        for r in _new_rows(
            conn, "select * from billing.fct_invoices where invoice_id in {new}", "invoice"
        )
    }
    lines_by_invoice: dict[str, list[dict]] = {}
    for line in _new_rows(
        conn,
        "select * from billing.fct_invoice_lines where invoice_id in {new} "
        "order by invoice_line_id",
        "invoice",
    ):
        lines_by_invoice.setdefault(line["invoice_id"], []).append(line)
    fees = {
        r["invoice_line_id"]: r
        for r in _new_rows(
            conn, "select * from billing.fct_invoice_lines where invoice_line_id in {new}", "fee"
        )
    }
    credit_notes = {
        r["credit_note_id"]: r
        for r in _new_rows(
            conn,
            "select notes.*, invoices.invoice_number as credited_invoice_number "
            "from billing.fct_credit_notes as notes left join billing.fct_invoices as invoices "
            "on notes.invoice_id = invoices.invoice_id where notes.credit_note_id in {new}",
            "credit_note",
        )
    }
    transactions = {
        r["wallet_transaction_id"]: r
        for r in _new_rows(
            conn,
            "select * from billing.fct_wallet_transactions where wallet_transaction_id in {new}",
            "wallet_transaction",
        )
    }
    phases: dict[str, list[dict]] = {}
    for row in _new_rows(
        conn,
        "select * from raw.subscriptions where external_subscription_id in {new} "
        "order by updated_at, started_at",
        "subscription",
    ):
        phases.setdefault(row["external_subscription_id"], []).append(row)
    customers = {
        r["external_customer_id"]: serializers.customer(r, entity_timezone=entity_timezone)
        for r in _dicts(conn.execute("select * from billing.dim_customers"))
    }

    bodies = []
    for event in events:
        kind, object_id = event["object_type"], event["object_id"]
        if kind == "invoice":
            row = invoices[object_id]
            lines = lines_by_invoice.get(object_id, [])
            body = serializers.invoice(
                row,
                file_url=None,
                customer=customers.get(row["external_customer_id"]),
                fees=[serializers.fee(line) for line in lines],
                lines=lines,
            )
        elif kind == "fee":
            body = serializers.fee(fees[object_id])
            body["pay_in_advance"] = True  # only pay-in-advance fees are sent (docs/webhooks.md)
        elif kind == "credit_note":
            row = credit_notes[object_id]
            body = serializers.credit_note(
                row, invoice_number=row.get("credited_invoice_number"), file_url=None
            )
            body["customer"] = customers.get(row["external_customer_id"])
        elif kind == "wallet_transaction":
            body = serializers.wallet_transaction(transactions[object_id])
        elif kind == "subscription":
            own = phases[object_id]
            last = own[-1]
            terminated = event["webhook_type"] == "subscription.terminated"
            body = serializers.subscription(
                _phase(last), first=_phase(own[0]), status="terminated" if terminated else "active"
            )
            body["customer"] = customers.get(last["external_customer_id"])
        else:  # pragma: no cover - every candidate type is handled above
            raise ValueError(f"no serializer for {kind}")
        envelope = _envelope(settings, event["webhook_type"], kind, body)
        bodies.append((event["webhook_event_id"], body_bytes(envelope)))
    return bodies


def _phase(row: dict) -> dict:
    """A raw.subscriptions row as the serializer reads it (timestamps in Lago's ISO form)."""
    return {
        **row,
        **{
            key: serializers.iso(row.get(key))
            for key in ("started_at", "terminated_at", "subscription_at", "updated_at")
            if key in row
        },
    }


def _event_errors(
    conn: duckdb.DuckDBPyConnection, settings: WebhookSettings
) -> list[tuple[str, str]]:
    """One events.errors event for the rejected events not reported yet (none when none)."""
    if not _table_exists(conn, "billing", "rejected_inputs"):
        return []
    conn.execute(
        """
        create or replace temp table webhook_event_errors as
        select
            rejected_input_id,
            reason,
            coalesce(
                try(json_extract_string(raw, '$.transaction_id')),
                source_file || ':' || cast(line_number as varchar)
            ) as transaction_id
        from billing.rejected_inputs
        where input_kind = 'events'
            and rejected_input_id not in (
                select rejected_input_id from webhooks.reported_event_errors
            )
        """
    )
    rows = conn.execute(
        "select rejected_input_id, reason, transaction_id from webhook_event_errors "
        "order by reason, transaction_id, rejected_input_id"
    ).fetchall()
    if not rows:
        return []
    object_id = one_row(
        conn.execute(
            "select md5(string_agg(rejected_input_id, ',' order by rejected_input_id)) "
            "from webhook_event_errors"
        )
    )[0]
    errors: dict[str, list[str]] = {key: [] for key in LAGO_EVENT_ERROR_KEYS}
    for _, reason, transaction_id in rows:
        errors.setdefault(EVENT_ERROR_KEYS.get(reason, reason), []).append(transaction_id)
    event_id = python_event_id("events.errors", object_id)
    conn.execute(
        "insert into webhook_new_events values (?, 'events.errors', 'events_errors', ?)",
        [event_id, object_id],
    )
    conn.execute(
        "insert into webhooks.reported_event_errors "
        "select rejected_input_id, ? from webhook_event_errors",
        [event_id],
    )
    if not _wanted(settings, "events.errors"):
        return []
    body = _envelope(settings, "events.errors", "events_errors", errors)
    return [(event_id, body_bytes(body))]


def publish_log(conn: duckdb.DuckDBPyConnection, output_dir: Path) -> Path:
    """`billing.fct_webhook_deliveries` as Parquet beside the other marts (docs/tables.md)."""
    target = output_dir / "marts" / "fct_webhook_deliveries.parquet"
    with replaced_atomically(target) as temporary:
        conn.execute(
            f"copy (select * from billing.fct_webhook_deliveries order by created_at, webhook_id) "
            f"to '{temporary}' (format parquet)"
        )
    return target


def status_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    counts = {status: 0 for status in ("pending", "retrying", "succeeded", "failed")}
    counts.update(
        conn.execute("select status, count(*) from webhooks.deliveries group by status").fetchall()
    )
    return counts
