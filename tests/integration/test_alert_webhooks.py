"""`alert.triggered` and `wallet.depleted_ongoing_balance` webhooks (docs/webhooks.md, docs/rules.md
§21.5, §21.7) without a pipeline run: a refresh's queue and a close's queue over the same rows
never send one twice, the bodies have Lago's serializer fields, and a receiver written from Lago's
documentation verifies them (the Receiver of test_webhooks.py)."""

import json
from datetime import datetime
from pathlib import Path

import duckdb
from test_webhooks import (  # beside this module: its receiver, marts and helpers
    CATALOG,
    SMALL_MARTS,
    Clock,
    Receiver,
    _endpoint,
    receiver,  # noqa: F401 - the fixture
    settings_for,
)

from orchestration.api import serializers
from orchestration.settings import Locations
from orchestration.webhooks import outbox
from orchestration.webhooks.alerts import enqueue_alerts
from orchestration.webhooks.delivery import deliver_due

TRIGGERED = """
create schema if not exists billing;
create table billing.fct_alerts_triggered as
select * from (values
    ('0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210', 'spend', 'Spend',
     'current_usage_amount', 'sub_a', null, 'cust_1', null, 3500::decimal(38, 9),
     0::decimal(38, 9), 3::bigint,
     '[{"code":"t1500","value":"1500","recurring":false},{"code":"t3000","value":"3000","recurring":false}]',
     timestamp '2026-10-08 12:00:00', timestamp '2026-10-08 12:00:05'),
    ('11111111111111111111111111111111', '22222222222222222222222222222222', 'units', null,
     'billable_metric_current_usage_units', 'sub_a', null, 'cust_1', 'api_calls',
     7.5::decimal(38, 9), 5::decimal(38, 9), 1::bigint,
     '[{"code":"every_3","value":"6","recurring":true}]',
     timestamp '2026-10-09 12:00:00', timestamp '2026-10-09 12:00:05')
) as t(triggered_alert_id, alert_id, alert_code, alert_name, alert_type, external_subscription_id,
       wallet_code, external_customer_id, metric_code, current_value, previous_value,
       crossed_count, crossed_thresholds, as_of_at, triggered_at);
"""


def _alert_events(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(
        "select object_id, body from webhooks.events where webhook_type = 'alert.triggered' "
        "order by object_id"
    ).fetchall()


def test_a_refresh_then_a_close_queue_each_triggered_alert_once(tmp_path: Path) -> None:
    settings = settings_for(
        [
            _endpoint(url="https://all.example/hook"),
            _endpoint(url="https://alerts.example/hook", event_types=["alert.triggered"]),
            _endpoint(url="https://fin.example/hook", event_types=["invoice.created"]),
        ]
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute(SMALL_MARTS)
        conn.execute(TRIGGERED)
        # A usage refresh queues the alerts: two events, each to the two subscribed endpoints.
        assert enqueue_alerts(conn, settings, datetime(2026, 10, 9, 13)) == {
            "alert.triggered": 2,
            "wallet.depleted_ongoing_balance": 0,
            "deliveries": 4,
        }
        assert enqueue_alerts(conn, settings, datetime(2026, 10, 9, 14))["deliveries"] == 0
        # The close queues its own events, and not the alerts again.
        queued = outbox.enqueue(conn, settings, CATALOG, datetime(2026, 11, 1))
        assert "alert.triggered" not in queued
        events = _alert_events(conn)
    assert [object_id for object_id, _ in events] == [
        "0123456789abcdef0123456789abcdef",
        "11111111111111111111111111111111",
    ]
    body = json.loads(events[1][1])
    assert (body["webhook_type"], body["object_type"]) == ("alert.triggered", "triggered_alert")
    assert body["triggered_alert"] == {
        "lago_id": "11111111-1111-1111-1111-111111111111",
        "lago_organization_id": settings.organization_id,
        "lago_alert_id": "22222222-2222-2222-2222-222222222222",
        "lago_subscription_id": body["triggered_alert"]["lago_subscription_id"],
        "external_subscription_id": "sub_a",
        "lago_wallet_id": None,
        "external_customer_id": "cust_1",
        "billable_metric_code": "api_calls",
        "alert_name": None,
        "alert_code": "units",
        "alert_type": "billable_metric_current_usage_units",
        "current_value": "7.5",
        "previous_value": "5.0",
        "crossed_thresholds": [{"code": "every_3", "value": "6.0", "recurring": True}],
        "triggered_at": "2026-10-09T12:00:05Z",
        "subscription_external_id": "sub_a",
        "customer_external_id": "cust_1",
    }
    # The subscription's id is the one every other webhook gives it.
    started = json.loads(
        duckdb.connect(str(tmp_path / "w.duckdb"))
        .execute(
            "select body from webhooks.events where webhook_type = 'subscription.started' "
            "and object_id = 'sub_a'"
        )
        .fetchone()[0]
    )
    assert body["triggered_alert"]["lago_subscription_id"] == started["subscription"]["lago_id"]


def test_a_close_alone_queues_the_alerts_and_a_receiver_verifies_them(
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811 - the fixture
) -> None:
    settings = settings_for([_endpoint(url=f"{receiver.url}/ok", event_types=["alert.triggered"])])
    locations = Locations(CATALOG, tmp_path / "landing", tmp_path / "w.duckdb", tmp_path / "out")
    with duckdb.connect(str(locations.warehouse)) as conn:
        conn.execute(SMALL_MARTS)
        conn.execute(TRIGGERED)
        queued = outbox.enqueue(conn, settings, CATALOG, datetime(2026, 11, 1))
    assert (queued["alert.triggered"], queued["deliveries"]) == (2, 2)
    report = deliver_due(locations, settings, now=Clock())
    assert (report.attempted, report.succeeded) == (2, 2)
    assert all(r["verified"] and r["algorithm"] == "hmac" for r in receiver.requests)
    crossed = sorted(
        json.loads(r["body"])["triggered_alert"]["alert_code"] for r in receiver.requests
    )
    assert crossed == ["spend", "units"]


DEPLETIONS = """
create schema if not exists intermediate;
create table intermediate.int_wallets_validated as
select * from (values
    ('w1', 'cust_1', 2, timestamp '2026-10-01 00:00:00', null::timestamp, null::varchar),
    ('w2', 'cust_1', 50, timestamp '2026-10-02 00:00:00', null::timestamp, null::varchar)
) as t(wallet_code, external_customer_id, priority, created_at, expires_at, rejection_reason);
create table intermediate.int_wallet_balance_evaluations as
select * from (values
    ('ev_w1_a', 'w1', 'cust_1', 'USD', 2.5::decimal(38, 9), 10.0::decimal(38, 4),
     12.5::decimal(38, 4), -2.5::decimal(38, 4), 4::decimal(38, 9), -1::decimal(38, 9),
     1.0::decimal(38, 4), true,
     timestamp '2026-10-09 12:00:00', timestamp '2026-10-09 12:00:05'),
    ('ev_w1_b', 'w1', 'cust_1', 'USD', 2.5::decimal(38, 9), 10.0::decimal(38, 4),
     13.0::decimal(38, 4), -3.0::decimal(38, 4), 4::decimal(38, 9), -1.2::decimal(38, 9),
     -2.5::decimal(38, 4), false,
     timestamp '2026-10-09 13:00:00', timestamp '2026-10-09 13:00:05'),
    ('ev_w2_a', 'w2', 'cust_1', 'USD', 1::decimal(38, 9), 5.0::decimal(38, 4), 0.0::decimal(38, 4),
     5.0::decimal(38, 4), 5::decimal(38, 9), 5::decimal(38, 9), null, false,
     timestamp '2026-10-09 12:00:00', timestamp '2026-10-09 12:00:05')
) as t(evaluation_id, wallet_code, external_customer_id, currency, rate_amount, balance_amount,
       ongoing_usage_amount, ongoing_balance_amount, credits_balance, credits_ongoing_balance,
       previous_ongoing_balance_amount, is_depleted, as_of_at, evaluated_at);
"""


def test_a_depleted_ongoing_balance_is_queued_once_with_the_wallet(tmp_path: Path) -> None:
    settings = settings_for(
        [
            _endpoint(
                url="https://wallets.example/hook", event_types=["wallet.depleted_ongoing_balance"]
            )
        ]
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute(SMALL_MARTS)
        conn.execute(DEPLETIONS)
        # Only the evaluation marked as the depletion is an event: not the next one (still
        # depleted), not the positive wallet.
        assert enqueue_alerts(conn, settings, datetime(2026, 10, 9, 14)) == {
            "alert.triggered": 0,
            "wallet.depleted_ongoing_balance": 1,
            "deliveries": 1,
        }
        assert enqueue_alerts(conn, settings, datetime(2026, 10, 9, 15))["deliveries"] == 0
        queued = outbox.enqueue(conn, settings, CATALOG, datetime(2026, 11, 1))
        assert "wallet.depleted_ongoing_balance" not in queued
        events = conn.execute(
            "select webhook_event_id, object_type, object_id, body from webhooks.events "
            "where webhook_type = 'wallet.depleted_ongoing_balance'"
        ).fetchall()
    assert [(object_type, object_id) for _, object_type, object_id, _ in events] == [
        ("wallet", "ev_w1_a")
    ]
    assert events[0][0] == outbox.python_event_id("wallet.depleted_ongoing_balance", "ev_w1_a")
    body = json.loads(events[0][3])
    assert (body["webhook_type"], body["object_type"]) == (
        "wallet.depleted_ongoing_balance",
        "wallet",
    )
    wallet = body["wallet"]
    assert wallet == {
        **wallet,
        "lago_id": "w1",
        "code": "w1",
        "external_customer_id": "cust_1",
        "currency": "USD",
        "priority": 2,
        "rate_amount": "2.5",
        "credits_balance": "4.0",
        "balance_cents": 1000,
        "consumed_credits": "10.0",  # SMALL_MARTS: 4 + 6 consumed by invoices
        "created_at": "2026-10-01T00:00:00Z",
        "ongoing_balance_cents": -250,
        "ongoing_usage_balance_cents": 1250,
        "credits_ongoing_balance": "-1.0",
        "credits_ongoing_usage_balance": "5.0",
    }
    # The same keys as the wallet of every other wallet webhook (serializers.wallet).
    assert set(wallet) == set(
        serializers.wallet(
            "w1",
            [{"external_customer_id": "cust_1", "credits": 1, "transaction_type": "granted"}],
            "USD",
        )
    )
