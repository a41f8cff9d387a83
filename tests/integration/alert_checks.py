"""Usage alerts in the current-usage workspace (docs/rules.md §21): the alerts/ file it lands,
and what two refreshes must have evaluated, triggered, rejected and queued.

Used by test_current_usage.py, whose two refreshes (Mar 8 and Mar 20) evaluate these alerts:
- sub_usage_two: 410 cents of charges both times; sub_usage_adv: 10.00 (1000 cents) of its one
  pay-in-advance charge on storage_added both times, with 5 then 7 units;
- wallet w_usage of cust_usage_tax (sub_usage_two's customer, taxed 10 %: current usage 4.51 with
  taxes both times), 0.50 a credit: 20 credits granted Mar 1 (10.00), 12 voided Mar 15 (6.00).
  Balance 1000 then 400 cents; ongoing balance 10.00 - 4.51 = 5.49 (10.98 credits), then
  4.00 - 4.51 = -0.51 (-1.02 credits): depleted at the second refresh.
- sub_usage_life (cust_usd, p_usage_two, started Feb 20): api_hits on Feb 21, Feb 25, Mar 6 and
  Mar 10, so 3 then 4 units since its start (1 then 2 in March alone).
"""

import json
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
from conftest import query, write_ndjson

ENDPOINT = {
    "url": "https://alerts.example.test/hook",
    "signature_algo": "hmac",
    "secret": "alerts-test-secret-0123",
}
WEBHOOKS_ENV = json.dumps({"endpoints": [ENDPOINT], "organization_id": "org-alerts"})
MARCH = "2026-03-01T00:00:00Z"


def _row(code, subscription, alert_type, value, *, metric=None, recurring=False, **extra):
    return {
        "alert_code": code,
        "external_subscription_id": subscription,
        "alert_type": alert_type,
        "metric_code": metric,
        "threshold_code": extra.pop("threshold_code", f"{code}_{value}"),
        "threshold_value": value,
        "recurring": recurring,
        "updated_at": extra.pop("updated_at", MARCH),
        **extra,
    }


def write_alert_landing(landing: Path) -> None:
    units = "billable_metric_current_usage_units"
    amount = "billable_metric_current_usage_amount"
    lifetime_units = "billable_metric_lifetime_usage_units"
    rows = [
        # An older version of `spend`, replaced whole by the next one.
        _row(
            "spend",
            "sub_usage_two",
            "current_usage_amount",
            "50",
            updated_at="2026-02-01T00:00:00Z",
        ),
        _row("spend", "sub_usage_two", "current_usage_amount", "100", name="Spend"),
        _row("spend", "sub_usage_two", "current_usage_amount", "400"),
        _row("spend", "sub_usage_two", "current_usage_amount", "1000", recurring="true"),
        _row("storage_units", "sub_usage_adv", units, "3", metric="storage_added", recurring="1"),
        _row("storage_amount", "sub_usage_adv", amount, "1000", metric="storage_added"),
        # storage_added is on no charge of sub_usage_two's plan: skipped, never evaluated.
        _row("not_on_plan", "sub_usage_two", units, "1", metric="storage_added"),
        # A code keeps the type of its first version that passed: the second one is rejected,
        # the first stays in force (it never fires).
        _row("retyped", "sub_usage_adv", "current_usage_amount", "999999", updated_at="2026-02-01"),
        _row("retyped", "sub_usage_adv", amount, "5", metric="api_hits"),
        # Rejected, whole alert each time:
        *(_row("too_many", "sub_usage_adv", "current_usage_amount", str(v)) for v in range(1, 22)),
        _row("two_recurring", "sub_usage_adv", amount, "5", metric="api_hits", recurring="true"),
        _row("two_recurring", "sub_usage_adv", amount, "7", metric="api_hits", recurring="true"),
        _row("zero_step", "sub_usage_two", units, "0", metric="api_hits", recurring="true"),
        _row("same_value", "sub_usage_two", amount, "9", metric="api_hits", threshold_code="a"),
        _row("same_value", "sub_usage_two", amount, "9", metric="api_hits", threshold_code="b"),
        _row("no_metric", "sub_usage_adv", units, "9"),
        _row(
            "spend_again",
            "sub_usage_two",
            "current_usage_amount",
            "1",
            updated_at="2026-03-02T00:00:00Z",
        ),
        _row("not_a_number", "sub_usage_two", amount, "500", metric="requests"),
        _row("not_a_number", "sub_usage_two", amount, "lots", metric="requests"),
        # Lifetime usage, never closed: the current usage alone (410 cents) crosses 400 once.
        _row("lifetime", "sub_usage_two", "lifetime_usage_amount", "400"),
        # Units since the start (§21.1): 3 then 4, where March alone has 1 then 2.
        *(
            _row("lifetime_units", "sub_usage_life", lifetime_units, v, metric="api_hits")
            for v in ("3", "4")
        ),
        # Refused: the metric's charge on the plan is prorated (as Lago refuses it).
        _row("lifetime_prorated", "sub_seats_prorated", lifetime_units, "1", metric="seats"),
        # Wallet alerts start at the wallet's value (nothing at Mar 8), then fire as it drops.
        {**_row("wallet_low", None, "wallet_balance_amount", "500"), "wallet_code": "w_usage"},
        *(
            {**_row("wallet_ongoing", None, ongoing, value, recurring=r), "wallet_code": "w_usage"}
            for ongoing in ["wallet_credits_ongoing_balance"]
            for value, r in (("0", False), ("5", True))
        ),
        {**_row("wallet_none", None, "wallet_balance_amount", "10"), "wallet_code": "w_none"},
        # Quarantined at load: no alert_code, so it belongs to no alert.
        {**_row("x", "sub_usage_two", "current_usage_amount", "1"), "alert_code": ""},
    ]
    write_ndjson(landing / "alerts" / "alerts.ndjson", rows)
    write_ndjson(
        landing / "subscriptions" / "alert_subscriptions.ndjson",
        [
            {
                "external_subscription_id": "sub_usage_life",
                "external_customer_id": "cust_usd",
                "plan_code": "p_usage_two",
                "billing_time": "calendar",
                "started_at": "2026-02-20T00:00:00Z",
            }
        ],
    )
    write_ndjson(
        landing / "events" / "alert_events.ndjson",
        [
            {
                "transaction_id": f"life_{day}",
                "external_subscription_id": "sub_usage_life",
                "code": "api_hits",
                "timestamp": day,
                "properties": {},
            }
            for day in (
                "2026-02-21T10:00:00Z",
                "2026-02-25T10:00:00Z",
                "2026-03-06T10:00:00Z",
                "2026-03-10T10:00:00Z",
            )
        ],
    )
    write_ndjson(
        landing / "wallets" / "usage_wallets.ndjson",
        [
            {
                "wallet_code": "w_usage",
                "external_customer_id": "cust_usage_tax",
                "currency": "USD",
                "rate_amount": "0.5",
                "created_at": MARCH,
            }
        ],
    )
    write_ndjson(
        landing / "wallet_transactions" / "usage_wallet_transactions.ndjson",
        [
            {
                "wallet_code": "w_usage",
                "transaction_type": kind,
                "credits": credits,
                "created_at": created_at,
            }
            for kind, credits, created_at in (
                ("granted", "20", MARCH),
                ("voided", "12", "2026-03-15T00:00:00Z"),
            )
        ],
    )


def triggered(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        "select alert_code, previous_value, current_value, crossed_thresholds "
        "from billing.fct_alerts_triggered order by triggered_at, alert_code",
    )


def refresh_figures(warehouse: Path) -> dict:
    """The alert figures of the latest refresh, as Dagster recorded them (in the instance the
    CLI keeps beside the warehouse)."""
    key = dg.AssetKey(["billing", "fct_usage_current_subscriptions"])
    with dg.DagsterInstance.from_config(str(warehouse.parent / "dagster_home")) as instance:
        (record,) = instance.fetch_materializations(key, limit=1).records
    metadata = record.asset_materialization.metadata
    return {
        name: metadata[name].value
        for name in ("alerts_evaluated", "alerts_fired", "alert_webhooks_queued")
    }


def check_first_refresh(warehouse: Path) -> None:
    """Mar 8: every subscription alert starts at 0; spend crosses 100 and 400 (its recurring 1000
    only fires above 400 + 1000), storage_units its recurring 3, storage_amount its 1000,
    lifetime_units its 3 (units since Feb 20; March alone has 1). The
    wallet alerts start at the wallet's values (below 500 cents nothing fires, §21.8.7)."""
    assert triggered(warehouse) == [
        ("lifetime", Decimal(0), Decimal(410), _crossed(("lifetime_400", "400", False))),
        (
            "lifetime_units",
            Decimal(0),
            Decimal(3),
            _crossed(("lifetime_units_3", "3", False)),
        ),
        (
            "spend",
            Decimal(0),
            Decimal(410),
            _crossed(("spend_100", "100", False), ("spend_400", "400", False)),
        ),
        (
            "storage_amount",
            Decimal(0),
            Decimal(1000),
            _crossed(("storage_amount_1000", "1000", False)),
        ),
        ("storage_units", Decimal(0), Decimal(5), _crossed(("storage_units_3", "3", True))),
    ]
    # The metric that is on no charge of the plan gives no evaluation at all.
    evaluated = query(
        warehouse, "select distinct alert_code from intermediate.int_alert_evaluations order by 1"
    )
    assert evaluated == [
        ("lifetime",),
        ("lifetime_units",),
        ("retyped",),
        ("spend",),
        ("storage_amount",),
        ("storage_units",),
        ("wallet_low",),
        ("wallet_ongoing",),
    ]
    assert query(
        warehouse,
        "select balance_cents, ongoing_balance_cents, credits_balance, credits_ongoing_balance "
        "from intermediate.int_wallet_balances_now",
    ) == [(Decimal(1000), Decimal(549), Decimal(20), Decimal("10.98"))]
    assert refresh_figures(warehouse) == {
        "alerts_evaluated": 8,
        "alerts_fired": 5,
        "alert_webhooks_queued": 5,
    }


def check_second_refresh(warehouse: Path) -> None:
    """Mar 20: units 5 -> 7 cross the step at 6 (k = ceil(5/3) = 2); lifetime units 3 -> 4
    cross 4; unchanged amounts fire nothing; the void takes the wallet's balance 1000 -> 400
    cents (crosses 500) and its ongoing
    balance 10.98 -> -1.02 credits (crosses 0; the recurring 5 counts down from 0, not reached);
    each alert was evaluated twice, the second time from the first's value."""
    rows = triggered(warehouse)
    assert len(rows) == 9
    assert (
        "lifetime_units",
        Decimal(3),
        Decimal(4),
        _crossed(("lifetime_units_4", "4", False)),
    ) in rows[-4:]
    assert rows[-3:] == [
        (
            "storage_units",
            Decimal(5),
            Decimal(7),
            _crossed(("storage_units_3", "6", True)),
        ),
        ("wallet_low", Decimal(1000), Decimal(400), _crossed(("wallet_low_500", "500", False))),
        (
            "wallet_ongoing",
            Decimal("10.98"),
            Decimal("-1.02"),
            _crossed(("wallet_ongoing_0", "0", False)),
        ),
    ]
    previous = query(
        warehouse,
        "select alert_code, list(previous_value order by evaluated_at) "
        "from intermediate.int_alert_evaluations group by alert_code order by alert_code",
    )
    assert previous == [
        ("lifetime", [Decimal(0), Decimal(410)]),
        ("lifetime_units", [Decimal(0), Decimal(3)]),
        ("retyped", [Decimal(0), Decimal(1000)]),
        ("spend", [Decimal(0), Decimal(410)]),
        ("storage_amount", [Decimal(0), Decimal(1000)]),
        ("storage_units", [Decimal(0), Decimal(5)]),
        ("wallet_low", [Decimal(1000), Decimal(1000)]),
        ("wallet_ongoing", [Decimal("10.98"), Decimal("10.98")]),
    ]
    # Four alerts fired; the wallet's depletion is one more webhook.
    assert refresh_figures(warehouse) == {
        "alerts_evaluated": 8,
        "alerts_fired": 4,
        "alert_webhooks_queued": 5,
    }
    _check_rejections(warehouse)
    _check_outbox(warehouse, rows)
    # Published with the other marts, as Parquet and in the snapshot.
    marts = warehouse.parent / "output" / "marts"
    assert query(
        warehouse, f"select count(*) from read_parquet('{marts / 'fct_alerts_triggered.parquet'}')"
    ) == [(9,)]
    snapshot = duckdb.connect(str(marts / "billing_snapshot.duckdb"), read_only=True)
    with snapshot:
        assert snapshot.execute("select count(*) from billing.fct_alerts_triggered").fetchone() == (
            9,
        )


def _crossed(*thresholds: tuple[str, str, bool]) -> str:
    return json.dumps(
        [{"code": c, "value": v, "recurring": r} for c, v, r in thresholds], separators=(",", ":")
    )


def _check_rejections(warehouse: Path) -> None:
    reasons = dict(
        query(
            warehouse,
            "select alert_code, string_agg(distinct rejection_reason || ': ' || rejection_detail) "
            "from intermediate.int_alerts_validated where rejection_reason is not null "
            "group by alert_code",
        )
    )
    assert reasons == {
        "too_many": "too_many_thresholds: an alert has 1 to 20 thresholds; this one has 21",
        "two_recurring": "bad_value: an alert has at most one recurring threshold; this one has 2",
        "zero_step": "bad_value: the recurring threshold must be greater than 0",
        "same_value": "value_already_exist: two thresholds of the alert have the same value and "
        "recurring flag",
        "no_metric": "missing_field: billable_metric_current_usage_units needs a metric_code",
        "retyped": "value_already_exist: alert_code retyped is already used on this "
        "subscription by an alert of type current_usage_amount",
        "spend_again": "alert_already_exists: alert spend already watches current_usage_amount "
        "on this subscription",
        "not_a_number": "bad_value: a threshold_value is missing or not a number",
        "lifetime_prorated": "full_usage_not_allowed: billable_metric_lifetime_usage_units cannot "
        "watch a prorated charge: charge c_seats_prorated of plan p_seats_prorated is prorated",
        "wallet_none": "unknown_wallet: no usable wallet has this wallet_code",
    }
    # One bad threshold rejects its whole alert: both rows of not_a_number are rejected.
    assert query(
        warehouse,
        "select count(*) from intermediate.int_alerts_validated "
        "where alert_code = 'not_a_number' and rejection_reason is not null",
    ) == [(2,)]
    assert query(
        warehouse,
        "select reason from raw.rejected_inputs where input_kind = 'alerts'",
    ) == [("missing_field",)]


def _check_outbox(warehouse: Path, rows: list[tuple]) -> None:
    """One alert.triggered event per triggered row, ids stable: the second refresh queued only
    its own row, and one delivery each to the endpoint."""
    events = query(
        warehouse,
        "select object_id, body from webhooks.events where webhook_type = 'alert.triggered'",
    )
    ids = {
        r[0]
        for r in query(warehouse, "select triggered_alert_id from billing.fct_alerts_triggered")
    }
    assert len(events) == len(rows) == 9 and {e[0] for e in events} == ids
    assert query(
        warehouse,
        "select count(*) from webhooks.deliveries where webhook_event_id in "
        "(select webhook_event_id from webhooks.events where webhook_type = 'alert.triggered')",
    ) == [(9,)]
    # The wallet's depletion (§21.7): one event, at the second refresh, the wallet in Lago's shape.
    ((depleted,),) = query(
        warehouse,
        "select body from webhooks.events where webhook_type = 'wallet.depleted_ongoing_balance'",
    )
    wallet = json.loads(depleted)["wallet"]
    assert (wallet["code"], wallet["external_customer_id"], wallet["rate_amount"]) == (
        "w_usage",
        "cust_usage_tax",
        "0.5",
    )
    assert (wallet["balance_cents"], wallet["credits_balance"]) == (400, "8.0")
    assert (wallet["ongoing_balance_cents"], wallet["credits_ongoing_balance"]) == (-51, "-1.02")
    assert wallet["ongoing_usage_balance_cents"] == 451
    bodies = [json.loads(body) for _, body in events]
    units = next(
        b["triggered_alert"]
        for b in bodies
        if b["triggered_alert"]["alert_code"] == "storage_units"
        and b["triggered_alert"]["current_value"] == "7.0"
    )
    assert bodies[0]["webhook_type"] == "alert.triggered"
    assert bodies[0]["object_type"] == "triggered_alert"
    assert (units["previous_value"], units["billable_metric_code"]) == ("5.0", "storage_added")
    assert units["crossed_thresholds"] == [
        {"code": "storage_units_3", "value": "6.0", "recurring": True}
    ]
    assert units["external_subscription_id"] == units["subscription_external_id"] == "sub_usage_adv"
    assert units["alert_type"] == "billable_metric_current_usage_units"
