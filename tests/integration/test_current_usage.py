"""`meterhouse usage` end to end (docs/current-usage.md): two refreshes of one workspace, at two
instants of March 2026, against numbers worked out by hand from docs/rules.md §20.

The workspace is the rating-rules catalog and landing (test_rating_rules.py), never closed, plus:
- `sub_usage_adv` on `p_adv_sum` (sum paid in advance, standard 1.00): +10 on Mar 6, -5 on
  Mar 8, +2 on Mar 9: units 10 -> 5 -> 7, amount stays at the high-water mark, 10.00 (§20.2);
- `sub_usage_two` on a plan of three charges for a customer taxed 10 %, started mid-day,
  Mar 5 14:30 UTC: two standard charges at 0.35 with 3 events each (1.05 each) and a graduated
  charge without events whose first tier has a 2.00 flat fee (§20.9.2).
"""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import alert_checks  # beside this module: the usage alerts of this workspace
import pytest
import test_rating_rules as rating  # beside this module: its catalog and landing
from conftest import query, write_catalog_csv, write_ndjson

from orchestration.assets.usage import USAGE_TABLES
from orchestration.cli import main

pytestmark = pytest.mark.integration

EXTRA_CHARGES = [
    rating._charge("c_usage_a", "p_usage_two", "api_hits", "standard", amount="0.35"),
    rating._charge("c_usage_b", "p_usage_two", "requests", "standard", amount="0.35"),
    rating._charge("c_usage_grad", "p_usage_two", "compute_units", "graduated"),
]
EXTRA_TIERS = [
    ("c_usage_grad", "", "0", "5", "1", "2", ""),
    ("c_usage_grad", "", "6", "", "0.5", "3", ""),
]
MID_DAY_START = "2026-03-05T14:30:00Z"


def _workspace(root: Path) -> list[str]:
    catalog, landing = root / "catalog", root / "landing"
    rating.write_catalog(catalog)
    charges = rating.CHARGES + EXTRA_CHARGES
    write_catalog_csv(catalog / "charges.csv", charges)
    tier_columns = "charge_code filter_code from_value to_value per_unit_amount flat_amount rate"
    write_catalog_csv(
        catalog / "charge_tiers.csv", rating._rows(tier_columns, rating.TIERS + EXTRA_TIERS)
    )
    write_catalog_csv(
        catalog / "plans.csv",
        [
            {
                "plan_code": plan,
                "name": plan,
                "interval": "monthly",
                "currency": "JPY" if plan in rating.JPY_PLANS else "USD",
                "amount": "0",
                "pay_in_advance": "false",
                "trial_days": "0",
                "bill_charges_monthly": "false",
            }
            for plan in sorted({c["plan_code"] for c in charges})
        ],
    )
    rating.write_landing(landing)
    write_ndjson(
        landing / "customers" / "usage_customers.ndjson",
        [
            {
                "external_customer_id": "cust_usage_tax",
                "name": "Taxed Co",
                "country": "US",
                "currency": "USD",
                "timezone": "",
                "tax_codes": "no_tax",
                "updated_at": "2026-01-03T00:00:00Z",
            }
        ],
    )
    write_ndjson(
        landing / "subscriptions" / "usage_subscriptions.ndjson",
        [
            {
                "external_subscription_id": "sub_usage_adv",
                "external_customer_id": "cust_usd",
                "plan_code": "p_adv_sum",
                "billing_time": "calendar",
                "started_at": rating.MARCH_1,
            },
            {
                "external_subscription_id": "sub_usage_two",
                "external_customer_id": "cust_usage_tax",
                "plan_code": "p_usage_two",
                "billing_time": "calendar",
                "started_at": MID_DAY_START,
            },
        ],
    )
    events = [
        ("sub_usage_adv", "storage_added", "2026-03-06T10:00:00Z", {"gb": 10}),
        ("sub_usage_adv", "storage_added", "2026-03-08T10:00:00Z", {"gb": -5}),
        ("sub_usage_adv", "storage_added", "2026-03-09T10:00:00Z", {"gb": 2}),
        *(
            ("sub_usage_two", "api_hits", f"2026-03-0{day}T{hour}:00:00Z", {})
            for day, hour in ((5, 15), (6, 10), (7, 10))
        ),
        *(
            ("sub_usage_two", "requests", f"2026-03-0{day}T10:00:00Z", {"region": "eu"})
            for day in (6, 7, 8)
        ),
    ]
    write_ndjson(
        landing / "events" / "usage_events.ndjson",
        [
            {
                "transaction_id": f"usage_{index}",
                "external_subscription_id": sub,
                "code": code,
                "timestamp": timestamp,
                "properties": properties,
            }
            for index, (sub, code, timestamp, properties) in enumerate(events)
        ],
    )
    alert_checks.write_alert_landing(landing)
    locations = {
        "catalog": catalog,
        "landing": landing,
        "warehouse": root / "warehouse.duckdb",
        "output": root / "output",
    }
    return [f"--{name}={path}" for name, path in locations.items()]


def _lines(warehouse: Path, subscription: str) -> dict:
    return {
        (charge, filter_code): (units, events, amount)
        for charge, filter_code, units, events, amount in query(
            warehouse,
            "select charge_code, filter_code, units, events_count, amount "
            "from billing.fct_usage_current where external_subscription_id = ?",
            [subscription],
        )
    }


def _summary(warehouse: Path, subscription: str) -> tuple:
    return query(
        warehouse,
        "select from_datetime, to_datetime, amount, taxes_amount, total_amount, projected_amount, "
        "spend_cap_reached from billing.fct_usage_current_subscriptions "
        "where external_subscription_id = ?",
        [subscription],
    )[0]


def test_usage_refreshes_follow_the_period_to_date(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MH_WEBHOOKS", alert_checks.WEBHOOKS_ENV)
    args = _workspace(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"

    # Refresh 1, as of Mar 8 12:00 UTC (a zone offset is converted to UTC).
    assert (
        main(
            ["usage", "--as-of", "2026-03-08T13:00:00+01:00", "--customer", "cust_usage_tax", *args]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "sub_usage_two" in printed and "c_usage_grad" in printed

    # Pay in advance: 10 then -5: units follow (5), the amount stays at the high-water mark.
    assert _lines(warehouse, "sub_usage_adv")[("c_adv_sum", "")] == (Decimal(5), 2, Decimal("10"))

    two = _lines(warehouse, "sub_usage_two")
    # Mid-day start: the window opens at 14:30; 3 hits at 0.35 and 3 requests at 0.35 = 1.05
    # each; the graduated charge with no event is listed at its first tier's flat fee (2.00).
    assert two == {
        ("c_usage_a", ""): (Decimal(3), 3, Decimal("1.05")),
        ("c_usage_b", ""): (Decimal(3), 3, Decimal("1.05")),
        ("c_usage_grad", ""): (Decimal(0), 0, Decimal("2")),
    }
    start, end, amount, taxes, total, projected, capped = _summary(warehouse, "sub_usage_two")
    assert (start, end) == (datetime(2026, 3, 5, 14, 30), datetime(2026, 3, 31, 23, 59, 59))
    # Taxes at 10 % on 1.05 + 1.05 + 2.00, rounded once: 0.105 + 0.105 + 0.2 = 0.41 (fee by fee,
    # 0.11 + 0.11 + 0.20 would give 0.42).
    assert (amount, taxes, total) == (Decimal("4.10"), Decimal("0.41"), Decimal("4.51"))
    # Projection (§20.5) over Mar 5 14:30 -> Mar 31 23:59:59: 26.4 days -> 27; passed: 2.9 -> 3.
    # Units 3 -> round(3 / (3/27), 2) = 27 at 0.35 = 9.45 for each standard charge; the
    # graduated charge has 0 projected units, so 0.
    assert projected == Decimal("18.90") and capped is False
    alert_checks.check_first_refresh(warehouse)

    # Refresh 2, as of Mar 20: +2 brings the units to 7, the amount stays 10.00.
    assert main(["usage", "--as-of", "2026-03-20T12:00:00Z", *args]) == 0
    assert _lines(warehouse, "sub_usage_adv")[("c_adv_sum", "")] == (Decimal(7), 3, Decimal("10"))
    # The daily series keeps both days; the second one's difference is against the first.
    daily = query(
        warehouse,
        "select usage_date, units, amount, units_diff, amount_diff from billing.fct_usage_daily "
        "where external_subscription_id = 'sub_usage_adv' order by usage_date",
    )
    assert daily == [
        (date(2026, 3, 8), Decimal(5), Decimal(10), Decimal(5), Decimal(10)),
        (date(2026, 3, 20), Decimal(7), Decimal(10), Decimal(2), Decimal(0)),
    ]
    # A refresh never records a month as closed; the marts are published for readers.
    assert query(
        warehouse,
        "select count(*) from information_schema.tables where table_name = 'closed_months'",
    ) == [(0,)]
    alert_checks.check_second_refresh(warehouse)

    # Refresh 3, nothing new: no dbt run; the tables and the last refresh's record unchanged.
    before = {t: query(warehouse, f"select * from billing.{t} order by all") for t in USAGE_TABLES}
    recorded = query(warehouse, "select * from raw.usage_refresh_inputs")
    capsys.readouterr()
    assert main(["usage", "--as-of", "2026-03-20T12:00:00Z", *args]) == 0
    assert "Nothing new since the last refresh" in capsys.readouterr().out
    assert query(warehouse, "select * from raw.usage_refresh_inputs") == recorded
    assert {
        t: query(warehouse, f"select * from billing.{t} order by all") for t in USAGE_TABLES
    } == before
    # Nothing evaluated either: the values, so the alerts' crossings, would be the same.
    assert alert_checks.refresh_figures(warehouse) == dict.fromkeys(
        ("alerts_evaluated", "alerts_fired", "alert_webhooks_queued"), 0
    )
    _check_api_and_portal(tmp_path)


def _check_api_and_portal(root: Path) -> None:
    """The API and the portal read the tables this refresh published (docs/api.md)."""
    from starlette.testclient import TestClient

    from orchestration.api.app import create_app
    from orchestration.api.context import ApiSettings
    from orchestration.api.security import ApiKeys, PortalSigner

    settings = ApiSettings(
        landing_dir=root / "landing",
        output_dir=root / "output",
        catalog_dir=root / "catalog",
        api_keys=ApiKeys.from_keys(["usage-test-key"]),
        portal=PortalSigner(b"usage-test-secret"),
    )
    app = create_app(settings)
    with TestClient(app) as client:
        usage = client.get(
            "/api/v1/customers/cust_usage_tax/current_usage",
            headers={"Authorization": "Bearer usage-test-key"},
            params={"external_subscription_id": "sub_usage_two"},
        ).json()["customer_usage"]
        page = client.get(f"/portal/{settings.portal.sign('cust_usage_tax')}").text
    assert (usage["amount_cents"], usage["taxes_amount_cents"], usage["total_amount_cents"]) == (
        410,
        41,
        451,
    )
    assert (usage["from_datetime"], usage["to_datetime"]) == (
        "2026-03-05T14:30:00Z",
        "2026-03-31T23:59:59Z",
    )
    charges = {c["charge"]["code"]: c for c in usage["charges_usage"]}
    assert (
        charges["c_usage_grad"]["amount_cents"] == 200 and charges["c_usage_grad"]["units"] == "0.0"
    )
    assert charges["c_usage_a"]["events_count"] == 3
    # The portal's usage section: the amount to date, every charge, the daily chart.
    assert "sub_usage_two" in page and "c_usage_grad" in page and "daily-usage" in page
