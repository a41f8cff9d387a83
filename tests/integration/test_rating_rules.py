"""The rating rules of issue #3, one test per rule-book section, against numbers worked out by hand.

An independent oracle for the rating engine: a catalog and landing data of its own (no seeds),
closed once for March 2026 through the CLI; each test reads `billing.fct_invoice_lines` and
compares with the arithmetic written beside the assertion (docs/rules.md sections in the test
names).

Scenario
- Billing entity in UTC; customers `cust_usd` (USD, exponent 2) and `cust_jpy` (JPY, exponent 0),
  timezone empty (= the entity's UTC). One tax, not applied by default: no invoice carries tax.
- One plan per rule (monthly, calendar, in arrears, amount 0: invoices hold only charge lines),
  one subscription per case, so no rule sees another's events.
- Subscriptions start 2026-03-01T00:00:00Z (March has 31 days), the partial-period cases
  2026-03-17T00:00:00Z (Mar 17-31 = 15 days), the recurring-metric cases 2026-02-01T00:00:00Z
  (`close --month 2026-03` backfills February first, docs/conventions.md). Period-end invoices of
  March are issued 2026-04-01; invoices of February on 2026-03-01.
- Where docs/rules.md leaves a choice, the comment beside the assertion says which reading is
  taken and why.
"""

import json
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import (  # tests/ is on sys.path under both `pytest` and `python -m pytest`
    query,
    write_catalog_csv,
    write_ndjson,
)

from orchestration.cli import main
from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.integration

MARCH_INVOICE = date(2026, 4, 1)
FEBRUARY_INVOICE = date(2026, 3, 1)
SEED_CATALOG = REPO_ROOT / "seeds" / "catalog"

# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------

# Issue 13 item 6: every catalog identifier of one plan holds Jinja and SQL (filter keys and
# values cannot hold `;`, `=` or `|`, the separators of the conditions syntax; the catalog check
# refuses those). None of it may be rendered: the plan bills like any other.
H_METRIC = "m'; drop table raw.events; --{{ 7*7 }}"
H_FIELD = "f'\"; --{{ 7*7 }}$`x`.y/~0"
H_FILTER_KEY = "k'\" drop table raw.events --{{ 7*7 }}$.`x`"
H_FILTER_VALUE = "a{{ 7*7 }}'\""
H_GROUP_KEY = "g'; drop table raw.charges; --{{ 7*7 }}\""
H_CHARGE = "c'; drop table raw.charges; --{{ 7*7 }}"
H_FILTER = "fc'; drop table raw.charge_filters; --{{ 7*7 }}"
H_PLAN = "p'; drop table raw.plans; --{{ 7*7 }}"
H_SUBSCRIPTION = "sub'; drop table raw.subscriptions; --{{ 7*7 }}"

# (metric_code, aggregation, field_name, recurring, rounding_function, rounding_precision)
METRICS = [
    ("requests", "count", "", "false", "", ""),
    ("llm_tokens", "sum", "tokens", "false", "", ""),
    ("payment_amount", "sum", "amount", "false", "", ""),
    ("compute_units", "sum", "qty", "false", "", ""),
    ("gpu_level", "weighted_sum", "gpus", "false", "", ""),
    ("seats", "sum", "seats", "true", "", ""),
    ("bytes_ceil", "sum", "bytes", "false", "ceil", "-2"),
    ("cpu_round", "sum", "cpu", "false", "round", "1"),
    ("storage_latest", "latest", "gb", "false", "", ""),
    ("prompt_tokens", "sum", "tokens", "false", "", ""),
    ("api_hits", "count", "", "false", "", ""),
    ("storage_added", "sum", "gb", "false", "", ""),
    ("users", "unique_count", "user_id", "false", "", ""),
    ("users_recurring", "unique_count", "user_id", "true", "", ""),
    ("gpu_recurring", "weighted_sum", "gpus", "true", "", ""),
    ("seats_adv", "sum", "seats", "true", "", ""),
    (H_METRIC, "sum", H_FIELD, "false", "", ""),
    ("huge_sum", "sum", "v", "false", "", ""),
    ("huge_seats", "sum", "v", "true", "", ""),
    ("users_prorated_lago", "unique_count", "unique_id", "true", "", ""),
]

METRIC_FILTERS = [
    ("requests", "region", "us|eu|ap"),
    ("requests", "tier", "free|pro"),
    ("llm_tokens", "provider", "cloud|onprem"),
    (H_METRIC, H_FILTER_KEY, f"{H_FILTER_VALUE}|b"),
]


def _charge(code: str, plan: str, metric: str, model: str, **properties: str) -> dict:
    """A charges.csv row: in arrears, invoiceable, not prorated unless told otherwise."""
    return {
        "charge_code": code,
        "plan_code": plan,
        "metric_code": metric,
        "charge_model": model,
        "pay_in_advance": "false",
        "invoiceable": "true",
        "prorated": "false",
        **properties,
    }


PERCENT = {"rate": "2", "fixed_amount": "0.10"}
CHARGES = [
    _charge("c_requests", "p_filters", "requests", "standard", amount="1.00"),
    _charge("c_requests_all", "p_filters", "requests", "standard", amount="0.10"),
    _charge("c_llm", "p_groups", "llm_tokens", "graduated", pricing_group_keys="model"),
    _charge(
        "c_pct_events",
        "p_pct_events",
        "payment_amount",
        "percentage",
        **PERCENT,
        free_units_per_events="2",
    ),
    _charge(
        "c_pct_total",
        "p_pct_total",
        "payment_amount",
        "percentage",
        **PERCENT,
        free_units_per_total_aggregation="100",
    ),
    _charge(
        "c_pct_minmax",
        "p_pct_minmax",
        "payment_amount",
        "percentage",
        **PERCENT,
        free_units_per_total_aggregation="100",
        per_transaction_min_amount="0.50",
        per_transaction_max_amount="3.00",
    ),
    _charge("c_pct_jpy", "p_pct_jpy", "payment_amount", "percentage", rate="2.5"),
    _charge("c_grad_pct", "p_grad_pct", "payment_amount", "graduated_percentage"),
    _charge("c_dynamic", "p_dynamic", "compute_units", "dynamic"),
    _charge("c_weighted", "p_weighted", "gpu_level", "standard", amount="1.00"),
    _charge("c_seats", "p_seats", "seats", "standard", amount="10.00"),
    _charge(
        "c_seats_prorated", "p_seats_prorated", "seats", "standard", amount="10.00", prorated="true"
    ),
    _charge("c_bytes", "p_rounding", "bytes_ceil", "standard", amount="0.01"),
    _charge("c_cpu", "p_rounding", "cpu_round", "standard", amount="2.00"),
    _charge("c_storage_latest", "p_rounding", "storage_latest", "standard", amount="1.00"),
    _charge("c_prompt_tokens", "p_rounding", "prompt_tokens", "standard", amount="1.00"),
    _charge("c_prorated_grad", "p_prorated_grad", "seats", "graduated", prorated="true"),
    _charge("c_prorated_vol", "p_prorated_vol", "seats", "volume", prorated="true"),
    _charge("c_min", "p_min", "api_hits", "standard", amount="0.50", min_amount="10.00"),
    _charge(
        "c_min_filters", "p_min_filters", "requests", "standard", amount="1.00", min_amount="10.00"
    ),
    _charge(
        "c_adv_sum", "p_adv_sum", "storage_added", "standard", amount="1.00", pay_in_advance="true"
    ),
    _charge(
        "c_adv_count",
        "p_adv_count",
        "api_hits",
        "standard",
        amount="0.25",
        pay_in_advance="true",
        invoiceable="false",
    ),
    _charge("c_adv_grad", "p_adv_grad", "storage_added", "graduated", pay_in_advance="true"),
    _charge("c_users", "p_users", "users", "standard", amount="1.00"),
    _charge("c_users_rec", "p_users_rec", "users_recurring", "standard", amount="1.00"),
    _charge(
        "c_users_prorated",
        "p_users_prorated",
        "users_recurring",
        "standard",
        amount="31.00",
        prorated="true",
    ),
    _charge("c_gpu_rec", "p_gpu_rec", "gpu_recurring", "standard", amount="1.00"),
    _charge(
        "c_adv_users", "p_adv_users", "users", "standard", amount="2.00", pay_in_advance="true"
    ),
    _charge(
        "c_adv_pct",
        "p_adv_pct",
        "payment_amount",
        "percentage",
        rate="1",
        fixed_amount="0.10",
        free_units_per_events="1",
        pay_in_advance="true",
    ),
    _charge(
        "c_seats_adv", "p_seats_adv", "seats_adv", "standard", amount="30.00", pay_in_advance="true"
    ),
    _charge(
        "c_seats_adv_prorated",
        "p_seats_adv_prorated",
        "seats_adv",
        "standard",
        amount="31.00",
        pay_in_advance="true",
        prorated="true",
    ),
    _charge(H_CHARGE, H_PLAN, H_METRIC, "standard", amount="1.00", pricing_group_keys=H_GROUP_KEY),
    _charge("c_huge", "p_huge", "huge_sum", "standard", amount="0.01"),
    _charge(
        "c_huge_pkg",
        "p_huge",
        "huge_sum",
        "package",
        amount="2.50",
        package_size="7",
        free_units="3",
    ),
    # spec/scenarios/pay_in_advance_charges_spec.rb, "with unique_count_agg / standard"
    _charge(
        "c_adv_users_lago",
        "p_adv_users_lago",
        "users",
        "standard",
        amount="12",
        pay_in_advance="true",
        invoiceable="false",
    ),
    # docs/bad-input.md: proration of a 28-digit recurring value
    _charge("c_huge_prorated", "p_huge_rec", "huge_seats", "standard", amount="1", prorated="true"),
    _charge("c_huge_prorated_grad", "p_huge_rec", "huge_seats", "graduated", prorated="true"),
    # spec/services/charge_models/graduated_service_spec.rb, "when first tier flat amount is zero"
    _charge("c_grad_lago", "p_grad_lago", "compute_units", "graduated"),
    # spec/services/billable_metrics/prorated_aggregations/unique_count_service_spec.rb
    _charge(
        "c_users_prorated_lago",
        "p_users_prorated_lago",
        "users_prorated_lago",
        "standard",
        amount="31.00",
        prorated="true",
    ),
]

# (charge_code, filter_code, conditions, pricing_group_keys, amount)
CHARGE_FILTERS = [
    ("c_requests", "f_region_us", "region=us", "", "2.00"),
    ("c_requests", "f_us_pro", "region=us;tier=pro", "", "5.00"),
    ("c_requests_all", "f_all_regions", "region=*", "", "3.00"),
    # Lago groups a filter's events by the filter's own keys (`(charge_filter.presence ||
    # charge).pricing_group_keys`): the filter repeats `model` so both readings agree.
    ("c_llm", "f_onprem", "provider=onprem", "model", ""),
    ("c_min_filters", "f_min_eu", "region=eu", "", "2.00"),
    (H_CHARGE, H_FILTER, f"{H_FILTER_KEY}={H_FILTER_VALUE}", "", "3.00"),
]

# (charge_code, filter_code, from_value, to_value, per_unit_amount, flat_amount, rate)
TIERS = [
    ("c_llm", "", "0", "10", "1.00", "3.00", ""),
    ("c_llm", "", "11", "", "0.50", "0", ""),
    ("c_llm", "f_onprem", "0", "5", "2.00", "1.00", ""),
    ("c_llm", "f_onprem", "6", "", "1.00", "0", ""),
    ("c_grad_pct", "", "0", "100", "", "0.50", "1"),
    ("c_grad_pct", "", "101", "", "", "1.00", "0.5"),
    ("c_prorated_grad", "", "0", "5", "10", "100", ""),
    ("c_prorated_grad", "", "6", "15", "5", "50", ""),
    ("c_prorated_grad", "", "16", "", "2", "0", ""),
    ("c_prorated_vol", "", "0", "100", "2", "0", ""),
    ("c_prorated_vol", "", "101", "200", "1", "10", ""),
    ("c_prorated_vol", "", "201", "", "0.5", "50", ""),
    ("c_huge_prorated_grad", "", "0", "5", "10", "100", ""),
    ("c_huge_prorated_grad", "", "6", "", "0.5", "0", ""),
    ("c_adv_grad", "", "0", "5", "1", "2", ""),
    ("c_adv_grad", "", "6", "", "0.5", "3", ""),
    # Lago's validator accepts this mix of the adjacent and the inclusive joins.
    ("c_grad_lago", "", "0", "0.01", "0", "0", ""),
    ("c_grad_lago", "", "0.01", "10", "10", "2", ""),
    ("c_grad_lago", "", "11", "", "5", "3", ""),
]

JPY_PLANS = {"p_pct_jpy"}


def _rows(columns: str, rows: list[tuple]) -> list[dict]:
    return [dict(zip(columns.split(), row, strict=True)) for row in rows]


def write_catalog(catalog: Path) -> None:
    catalog.mkdir(parents=True)
    write_catalog_csv(
        catalog / "billing_entity.csv",
        [
            {
                "name": "Rating Rules",
                "legal_name": "Rating Rules Ltd",
                "address_line1": "1 Oracle Way",
                "city": "London",
                "zipcode": "N1",
                "country": "GB",
                "email": "billing@rules.example",
                "timezone": "UTC",
                "invoice_prefix": "RUL",
                "document_numbering": "per_customer",
            }
        ],
    )
    metric_columns = "metric_code aggregation field_name recurring rounding_function"
    metrics = _rows(f"{metric_columns} rounding_precision", METRICS)
    write_catalog_csv(
        catalog / "billable_metrics.csv", [{**m, "name": m["metric_code"]} for m in metrics]
    )
    write_catalog_csv(
        catalog / "metric_filters.csv", _rows("metric_code key values", METRIC_FILTERS)
    )
    plans = sorted({c["plan_code"] for c in CHARGES})
    write_catalog_csv(
        catalog / "plans.csv",
        [
            {
                "plan_code": p,
                "name": p,
                "interval": "monthly",
                "currency": "JPY" if p in JPY_PLANS else "USD",
                "amount": "0",
                "pay_in_advance": "false",
                "trial_days": "0",
                "bill_charges_monthly": "false",
            }
            for p in plans
        ],
    )
    write_catalog_csv(catalog / "charges.csv", CHARGES)
    write_catalog_csv(
        catalog / "charge_filters.csv",
        _rows("charge_code filter_code conditions pricing_group_keys amount", CHARGE_FILTERS),
    )
    tier_columns = "charge_code filter_code from_value to_value per_unit_amount flat_amount"
    write_catalog_csv(catalog / "charge_tiers.csv", _rows(f"{tier_columns} rate", TIERS))
    write_catalog_csv(
        catalog / "taxes.csv",
        [
            {
                "tax_code": "no_tax",
                "name": "Not applied",
                "rate": "10",
                "applied_by_default": "false",
            }
        ],
    )


# --------------------------------------------------------------------------------------------
# Landing
# --------------------------------------------------------------------------------------------

MARCH_1 = "2026-03-01T00:00:00Z"
MARCH_17 = "2026-03-17T00:00:00Z"
FEBRUARY_1 = "2026-02-01T00:00:00Z"

# external_subscription_id: (customer, plan, started_at)
SUBSCRIPTIONS = {
    "sub_filters": ("cust_usd", "p_filters", MARCH_1),
    "sub_groups": ("cust_usd", "p_groups", MARCH_1),
    "sub_pct_events": ("cust_usd", "p_pct_events", MARCH_1),
    "sub_pct_total": ("cust_usd", "p_pct_total", MARCH_1),
    "sub_pct_total_exact": ("cust_usd", "p_pct_total", MARCH_1),
    "sub_pct_minmax": ("cust_usd", "p_pct_minmax", MARCH_1),
    "sub_pct_jpy": ("cust_jpy", "p_pct_jpy", MARCH_1),
    "sub_grad_pct": ("cust_usd", "p_grad_pct", MARCH_1),
    "sub_grad_pct_zero": ("cust_usd", "p_grad_pct", MARCH_1),
    "sub_dynamic": ("cust_usd", "p_dynamic", MARCH_1),
    "sub_weighted_full": ("cust_usd", "p_weighted", MARCH_1),
    "sub_weighted_mid": ("cust_usd", "p_weighted", MARCH_17),
    "sub_seats": ("cust_usd", "p_seats", FEBRUARY_1),
    "sub_seats_prorated": ("cust_usd", "p_seats_prorated", FEBRUARY_1),
    "sub_rounding": ("cust_usd", "p_rounding", MARCH_1),
    "sub_prorated_grad_full": ("cust_usd", "p_prorated_grad", MARCH_1),
    "sub_prorated_grad_mid": ("cust_usd", "p_prorated_grad", MARCH_17),
    "sub_prorated_vol": ("cust_usd", "p_prorated_vol", MARCH_1),
    "sub_min_full": ("cust_usd", "p_min", MARCH_1),
    "sub_min_mid": ("cust_usd", "p_min", MARCH_17),
    "sub_min_filters": ("cust_usd", "p_min_filters", MARCH_1),
    "sub_adv_sum": ("cust_usd", "p_adv_sum", MARCH_1),
    "sub_adv_count": ("cust_usd", "p_adv_count", MARCH_1),
    "sub_adv_grad": ("cust_usd", "p_adv_grad", MARCH_1),
    "sub_users": ("cust_usd", "p_users", MARCH_1),
    "sub_users_rec": ("cust_usd", "p_users_rec", FEBRUARY_1),
    "sub_users_prorated": ("cust_usd", "p_users_prorated", FEBRUARY_1),
    "sub_gpu_rec": ("cust_usd", "p_gpu_rec", FEBRUARY_1),
    "sub_adv_users": ("cust_usd", "p_adv_users", MARCH_1),
    "sub_adv_pct": ("cust_usd", "p_adv_pct", MARCH_1),
    "sub_seats_adv": ("cust_usd", "p_seats_adv", FEBRUARY_1),
    "sub_seats_adv_prorated": ("cust_usd", "p_seats_adv_prorated", MARCH_1),
    H_SUBSCRIPTION: ("cust_usd", H_PLAN, MARCH_1),
    "sub_huge": ("cust_usd", "p_huge", MARCH_1),
    "sub_adv_users_lago": ("cust_usd", "p_adv_users_lago", MARCH_1),
    "sub_grad_lago": ("cust_usd", "p_grad_lago", MARCH_1),
    "sub_grad_lago_one": ("cust_usd", "p_grad_lago", MARCH_1),
    "sub_users_same_day": ("cust_usd", "p_users_prorated_lago", MARCH_1),
    "sub_users_same_day_days": ("cust_usd", "p_users_prorated_lago", MARCH_1),
    "sub_huge_rec": ("cust_huge", "p_huge_rec", MARCH_1),
}


HUGE_SEATS = "9876543210987654321098765432"  # 28 digits; x 15 days passes 29


def at(day: int, hour: int = 10, month: int = 3) -> str:
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00Z"


ADD = {"operation_type": "add"}
REMOVE = {"operation_type": "remove"}


# external_subscription_id: [(metric code, timestamp, properties, extra top-level fields)]
EVENTS: dict[str, list[tuple[str, str, dict, dict]]] = {
    "sub_filters": [
        *[("requests", at(2), {"region": "us", "tier": "pro"}, {})] * 3,
        *[("requests", at(3), {"region": "us", "tier": "free"}, {})] * 2,
        ("requests", at(4), {"region": "us"}, {}),
        *[("requests", at(5), {"region": "eu", "tier": "pro"}, {})] * 2,
        ("requests", at(6), {"region": "ap", "tier": "free"}, {}),
        ("requests", at(7), {"region": "mars", "tier": "pro"}, {}),
        ("requests", at(8), {}, {}),
    ],
    "sub_groups": [
        ("llm_tokens", at(2), {"model": "gpt", "provider": "cloud", "tokens": 8}, {}),
        ("llm_tokens", at(3), {"model": "gpt", "provider": "cloud", "tokens": 7}, {}),
        ("llm_tokens", at(4), {"model": "claude", "provider": "cloud", "tokens": 4}, {}),
        ("llm_tokens", at(5), {"tokens": 12}, {}),
        ("llm_tokens", at(6), {"model": "gpt", "provider": "onprem", "tokens": 7}, {}),
        ("llm_tokens", at(7), {"model": "claude", "provider": "onprem", "tokens": 3}, {}),
    ],
    "sub_pct_events": [
        ("payment_amount", at(day), {"amount": value}, {})
        for day, value in ((2, 50), (3, 30), (4, 200), (5, 20))
    ],
    "sub_pct_total": [
        ("payment_amount", at(day), {"amount": value}, {})
        for day, value in ((2, 40), (3, 50), (4, 30), (5, 100))
    ],
    "sub_pct_total_exact": [
        ("payment_amount", at(day), {"amount": value}, {})
        for day, value in ((2, 40), (3, 60), (4, 30))
    ],
    "sub_pct_minmax": [
        ("payment_amount", at(day), {"amount": value}, {})
        for day, value in ((2, 60), (3, 70), (4, 10), (5, 500))
    ],
    "sub_pct_jpy": [
        ("payment_amount", at(2), {"amount": 1000}, {}),
        ("payment_amount", at(3), {"amount": "860"}, {}),
    ],
    "sub_grad_pct": [
        ("payment_amount", at(2), {"amount": 60}, {}),
        ("payment_amount", at(3), {"amount": 90}, {}),
    ],
    "sub_dynamic": [
        ("compute_units", at(2), {"qty": 3}, {"precise_total_amount": "1.234"}),
        ("compute_units", at(3), {"qty": 2}, {"precise_total_amount": 0.5}),
        ("compute_units", at(4), {"qty": 5}, {"precise_total_amount": "2.011"}),
    ],
    "sub_weighted_full": [
        ("gpu_level", MARCH_1, {"gpus": 2}, {}),
        ("gpu_level", at(11, 0), {"gpus": 3}, {}),
        ("gpu_level", at(21, 12), {"gpus": -4}, {}),
    ],
    "sub_weighted_mid": [
        ("gpu_level", at(10, 0), {"gpus": 100}, {}),  # before the subscription started
        ("gpu_level", MARCH_17, {"gpus": 4}, {}),
        ("gpu_level", at(25, 0), {"gpus": 6}, {}),
    ],
    "sub_seats": [
        ("seats", at(10, month=2), {"seats": 3}, {}),
        ("seats", at(20), {"seats": 2}, {}),
    ],
    "sub_seats_prorated": [
        ("seats", at(10, month=2), {"seats": 5}, {}),
        ("seats", at(26), {"seats": 12}, {}),
        ("seats", at(26, 11), {"seats": 12}, {}),
    ],
    "sub_rounding": [
        ("bytes_ceil", at(2), {"bytes": 120}, {}),
        ("bytes_ceil", at(3), {"bytes": "5.5"}, {}),
        ("cpu_round", at(2), {"cpu": 1.25}, {}),
        ("cpu_round", at(3), {"cpu": 1.2}, {}),
        ("storage_latest", at(5), {"gb": 10}, {}),
        ("storage_latest", at(20), {"gb": -3}, {}),
        ("prompt_tokens", at(2), {"tokens": 10}, {}),
        ("prompt_tokens", at(3), {"tokens": "abc"}, {}),
        ("prompt_tokens", at(4), {"tokens": "7"}, {}),
        ("prompt_tokens", at(5), {"tokens": 2.5}, {}),
    ],
    "sub_prorated_grad_full": [("seats", at(1, 8), {"seats": 75}, {})],
    "sub_prorated_grad_mid": [("seats", at(17), {"seats": 31}, {})],
    "sub_prorated_vol": [
        ("seats", at(1, 8), {"seats": 100}, {}),
        ("seats", at(22), {"seats": 186}, {}),
    ],
    "sub_min_full": [("api_hits", at(day), {}, {}) for day in range(2, 9)],
    "sub_min_mid": [("api_hits", at(day), {}, {}) for day in range(18, 25)],
    "sub_min_filters": [
        ("requests", at(2), {"region": "eu"}, {}),
        ("requests", at(3), {"region": "eu"}, {}),
        ("requests", at(4), {"region": "us"}, {}),
    ],
    "sub_adv_sum": [
        ("storage_added", at(5), {"gb": 10}, {}),
        ("storage_added", at(10), {"gb": -4}, {}),
        ("storage_added", at(15), {"gb": 8}, {}),
    ],
    "sub_adv_count": [("api_hits", at(day), {}, {}) for day in (3, 4, 5)],
    "sub_adv_grad": [
        ("storage_added", at(6), {"gb": 1}, {}),
        ("storage_added", at(7), {"gb": 4}, {}),
        ("storage_added", at(8), {"gb": 3}, {}),
    ],
    "sub_users": [
        ("users", at(2), {"user_id": "u1"}, ADD),
        ("users", at(3), {"user_id": "u2"}, {}),  # no operation_type: "add"
        ("users", at(4), {"user_id": "u1"}, ADD),
        ("users", at(5), {"user_id": "u2"}, REMOVE),
        ("users", at(6), {"user_id": "u3"}, REMOVE),
        ("users", at(7), {"user_id": "u1"}, ADD),
    ],
    "sub_users_rec": [
        ("users_recurring", at(5, month=2), {"user_id": "u1"}, {}),
        ("users_recurring", at(10, month=2), {"user_id": "u2"}, {}),
        ("users_recurring", at(8), {"user_id": "u2"}, REMOVE),
        ("users_recurring", at(12), {"user_id": "u3"}, {}),
        ("users_recurring", at(14), {"user_id": "u4"}, {}),
    ],
    "sub_users_prorated": [
        ("users_recurring", at(10, month=2), {"user_id": "a"}, {}),
        ("users_recurring", at(10), {"user_id": "b"}, {}),
        ("users_recurring", at(5), {"user_id": "c"}, {}),
        ("users_recurring", at(20), {"user_id": "c"}, REMOVE),
        ("users_recurring", at(25, 9), {"user_id": "d"}, {}),
        ("users_recurring", at(25, 17), {"user_id": "d"}, REMOVE),
    ],
    "sub_gpu_rec": [
        ("gpu_recurring", at(10, 0, month=2), {"gpus": 3}, {}),
        ("gpu_recurring", at(16, 0), {"gpus": 2}, {}),
    ],
    "sub_adv_users": [
        ("users", at(3), {"user_id": "u1"}, {}),
        ("users", at(4), {"user_id": "u1"}, REMOVE),
        ("users", at(5), {"user_id": "u1"}, ADD),
        ("users", at(6), {"user_id": "u2"}, {}),
    ],
    "sub_adv_pct": [
        ("payment_amount", at(day), {"amount": value}, {})
        for day, value in ((3, 100), (4, 200), (5, 300))
    ],
    "sub_seats_adv": [
        ("seats_adv", at(3, month=2), {"seats": 2}, {}),
        ("seats_adv", at(12), {"seats": 1}, {}),
    ],
    "sub_seats_adv_prorated": [("seats_adv", at(12), {"seats": 1}, {})],
    H_SUBSCRIPTION: [
        (H_METRIC, at(2), {H_FIELD: 2, H_FILTER_KEY: H_FILTER_VALUE, H_GROUP_KEY: "g1"}, {}),
        (H_METRIC, at(3), {H_FIELD: "5", H_GROUP_KEY: "g1"}, {}),
        (H_METRIC, at(4), {H_FIELD: 4}, {}),
    ],
    "sub_huge": [
        ("huge_sum", at(2), {"v": 1e30}, {}),  # written 1e+30
        ("huge_sum", at(3), {"v": 10**30}, {}),  # 31 digits
        ("huge_sum", at(4), {"v": "1234567890123456789012345678"}, {}),  # 28 digits
        ("huge_sum", at(5), {"v": 2}, {}),
    ],
    "sub_adv_users_lago": [
        ("users", at(15, 0), {"user_id": "id_1"}, {}),
        ("users", at(16, 0), {"user_id": "id_1"}, REMOVE),
        ("users", at(17, 0), {"user_id": "id_1"}, {}),
        ("users", at(18, 0), {"user_id": "id_2"}, {}),
        ("users", at(19, 0), {"user_id": "id_2"}, {}),
    ],
    "sub_grad_lago_one": [("compute_units", at(2), {"qty": 1}, {})],
    "sub_users_same_day": [
        ("users_prorated_lago", at(1, 1), {"unique_id": "u"}, ADD),
        ("users_prorated_lago", at(1, 2), {"unique_id": "u"}, REMOVE),
        ("users_prorated_lago", at(1, 3), {"unique_id": "u"}, ADD),
        ("users_prorated_lago", at(1, 4), {"unique_id": "u"}, REMOVE),
    ],
    "sub_users_same_day_days": [
        ("users_prorated_lago", at(day, hour), {"unique_id": "u"}, operation)
        for day in (1, 6, 11)
        for hour, operation in ((1, ADD), (2, REMOVE))
    ],
    "sub_huge_rec": [("huge_seats", at(17), {"v": HUGE_SEATS}, {})],
}


def write_landing(landing: Path) -> None:
    write_ndjson(
        landing / "customers" / "customers.ndjson",
        [
            {
                "external_customer_id": "cust_usd",
                "name": "Dollar Co",
                "country": "US",
                "currency": "USD",
                "timezone": "",
                "updated_at": "2026-01-01T00:00:00Z",
            },
            {
                "external_customer_id": "cust_huge",
                "name": "Huge Co",
                "country": "US",
                "currency": "USD",
                "timezone": "",
                "updated_at": "2026-01-01T00:00:00Z",
            },
            {
                "external_customer_id": "cust_jpy",
                "name": "Yen KK",
                "country": "JP",
                "currency": "JPY",
                "timezone": "",
                "updated_at": "2026-01-02T00:00:00Z",
            },
        ],
    )
    write_ndjson(
        landing / "subscriptions" / "subscriptions.ndjson",
        [
            {
                "external_subscription_id": sub,
                "external_customer_id": customer,
                "plan_code": plan,
                "billing_time": "calendar",
                "started_at": started,
            }
            for sub, (customer, plan, started) in SUBSCRIPTIONS.items()
        ],
    )
    write_ndjson(
        landing / "events" / "events.ndjson",
        [
            {
                "transaction_id": f"{sub}_{index}",
                "external_subscription_id": sub,
                "code": code,
                "timestamp": timestamp,
                "properties": properties,
                **extra,
            }
            for sub, events in EVENTS.items()
            for index, (code, timestamp, properties, extra) in enumerate(events)
        ],
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario, closed for March 2026 (February backfilled) through the CLI."""
    root = tmp_path_factory.mktemp("rating_rules")
    write_catalog(root / "catalog")
    write_landing(root / "landing")
    locations = {
        "catalog": root / "catalog",
        "landing": root / "landing",
        "warehouse": root / "warehouse.duckdb",
        "output": root / "output",
    }
    args = [f"--{name}={path}" for name, path in locations.items()]
    assert main(["close", "--month", "2026-03", *args]) == 0
    return locations["warehouse"]


# --------------------------------------------------------------------------------------------
# Reading the lines
# --------------------------------------------------------------------------------------------


def fee(units: str, events: int, precise: str, amount: str) -> tuple:
    """(units, events_count, precise_amount, amount) as the warehouse returns them."""
    return (Decimal(units), events, Decimal(precise), Decimal(amount))


def q9(value: Fraction | int) -> str:
    """An exact value as a decimal(38, 9) column holds it: half away from zero at the 9th digit."""
    value = Fraction(value)
    exact = Decimal(value.numerator) / Decimal(value.denominator)  # 28 significant digits
    return str(exact.quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP))


def buckets(
    warehouse: Path,
    subscription: str,
    charge: str,
    *,
    line_type: str = "charge",
    issuing_date: date = MARCH_INVOICE,
) -> dict[tuple[str | None, str | None], tuple]:
    """The lines of one charge on one invoice date, keyed by (filter_code, pricing_group)."""
    rows = query(
        warehouse,
        """
        select filter_code, pricing_group, units, events_count, precise_amount, amount
        from billing.fct_invoice_lines
        where external_subscription_id = ? and charge_code = ? and line_type = ?
          and issuing_date = ?
        """,
        [subscription, charge, line_type, issuing_date],
    )
    found = {(r[0], r[1]): r[2:] for r in rows}
    assert len(found) == len(rows), f"two lines share a bucket: {rows}"
    return found


def single(warehouse: Path, subscription: str, charge: str, **where) -> tuple:
    """The one unfiltered, ungrouped line of a charge."""
    lines = buckets(warehouse, subscription, charge, **where)
    assert list(lines) == [(None, None)], lines
    return lines[(None, None)]


def in_advance_lines(warehouse: Path, subscription: str, charge: str) -> list[tuple]:
    """Every line of a pay-in-advance charge, in event order, with its invoice (if any)."""
    return query(
        warehouse,
        """
        select lines.invoice_id, invoices.invoice_type, invoices.issuing_date,
               invoices.fees_amount, invoices.total_amount,
               lines.units, lines.events_count, lines.precise_amount, lines.amount
        from billing.fct_invoice_lines as lines
        left join billing.fct_invoices as invoices using (invoice_id)
        where lines.external_subscription_id = ? and lines.charge_code = ?
        order by lines.first_event_at, lines.invoice_line_id
        """,
        [subscription, charge],
    )


def charge_lines(warehouse: Path, subscription: str, charge: str) -> list[tuple]:
    """Every line of a charge, period-end and pay-in-advance alike, by issuing date:
    (invoice_type, issuing_date, units, events_count, precise_amount, amount)."""
    return query(
        warehouse,
        """
        select invoices.invoice_type, invoices.issuing_date,
               lines.units, lines.events_count, lines.precise_amount, lines.amount
        from billing.fct_invoice_lines as lines
        left join billing.fct_invoices as invoices using (invoice_id)
        where lines.external_subscription_id = ? and lines.charge_code = ?
        order by invoices.issuing_date, lines.first_event_at, lines.invoice_line_id
        """,
        [subscription, charge],
    )


def ceil5(value: Fraction) -> Decimal:
    """Lago's `BigDecimal#ceil(5)` of a positive exact value."""
    scaled = value * 100000
    return Decimal(-(-scaled.numerator // scaled.denominator)) / 100000


def line_events(warehouse: Path, subscription: str, charge: str, **where) -> dict:
    """{(filter_code, pricing_group): set of transaction_ids} from billing.invoice_line_events,
    one entry per line of the charge on one invoice date (docs/tables.md lineage)."""
    issuing_date = where.pop("issuing_date", MARCH_INVOICE)
    assert not where, where
    lines = query(
        warehouse,
        """
        select invoice_line_id, filter_code, pricing_group
        from billing.fct_invoice_lines
        where external_subscription_id = ? and charge_code = ? and line_type = 'charge'
          and issuing_date = ?
        """,
        [subscription, charge, issuing_date],
    )
    found = {}
    for line_id, filter_code, group in lines:
        events = query(
            warehouse,
            "select transaction_id from billing.invoice_line_events where invoice_line_id = ?",
            [line_id],
        )
        transaction_ids = [row[0] for row in events]
        assert len(transaction_ids) == len(set(transaction_ids)), transaction_ids
        found[(filter_code, group)] = set(transaction_ids)
    assert len(found) == len(lines), lines
    return found


def transactions(subscription: str, *indexes: int) -> set[str]:
    """The transaction ids write_landing gives to EVENTS[subscription][index]."""
    return {f"{subscription}_{index}" for index in indexes}


# --------------------------------------------------------------------------------------------
# §1.11 charge filters
# --------------------------------------------------------------------------------------------


def test_1_11_charge_filters_most_specific_filter_wins(warehouse):
    # Events: 3 us/pro, 2 us/free, 1 us (no tier), 2 eu/pro, 1 ap/free, 1 mars/pro, 1 {}.
    assert buckets(warehouse, "sub_filters", "c_requests") == {
        # us/pro matches f_region_us too, but the more specific f_us_pro takes it: 3 x 5.00.
        ("f_us_pro", None): fee("3", 3, "15", "15.00"),
        # us/free 2 + us without tier 1 = 3 events x 2.00.
        ("f_region_us", None): fee("3", 3, "6", "6.00"),
        # No filter matches eu/pro 2, ap/free 1, mars (undeclared) 1, {} 1: 5 x 1.00 (charge's).
        (None, None): fee("5", 5, "5", "5.00"),
    }


def test_1_11_all_filter_values_expand_to_declared_values_only(warehouse):
    assert buckets(warehouse, "sub_filters", "c_requests_all") == {
        # region=* is region ∈ {us, eu, ap}: us 3+2+1, eu 2, ap 1 = 9 events x 3.00.
        ("f_all_regions", None): fee("9", 9, "27", "27.00"),
        # "mars" is not a declared value, {} has no region: 2 x 0.10 (charge's own amount).
        (None, None): fee("2", 2, "0.2", "0.20"),
    }


# --------------------------------------------------------------------------------------------
# §1.10 pricing groups
# --------------------------------------------------------------------------------------------


def test_1_10_pricing_groups_price_each_group_with_its_own_tiers(warehouse):
    # Graduated, inclusive tiers 0-10 @1.00 flat 3.00, 11+ @0.50; each group runs the model alone
    # (ungrouped, the 31 cloud tokens would give 10 + 3 + 21 x 0.5 = 23.50).
    lines = buckets(warehouse, "sub_groups", "c_llm")
    default_bucket = {
        group: line for (filter_code, group), line in lines.items() if not filter_code
    }
    assert default_bucket == {
        # 8 + 7 = 15: 10 x 1.00 + 3.00 + (15 - 11 + 1) x 0.50 = 10 + 3 + 2.5 = 15.50.
        '{"model":"gpt"}': fee("15", 2, "15.5", "15.50"),
        # 4: 4 x 1.00 + 3.00 = 7.00.
        '{"model":"claude"}': fee("4", 1, "7", "7.00"),
        # The event without "model" (and without provider): 12 = 10 + 3 + 2 x 0.50 = 14.00.
        '{"model":null}': fee("12", 1, "14", "14.00"),
    }


def test_1_10_pricing_groups_cross_charge_filters(warehouse):
    # f_onprem has its own tiers 0-5 @2.00 flat 1.00, 6+ @1.00, and is grouped by model too.
    lines = buckets(warehouse, "sub_groups", "c_llm")
    onprem = {group: line for (filter_code, group), line in lines.items() if filter_code}
    assert onprem == {
        # 7: 5 x 2.00 + 1.00 + (7 - 6 + 1) x 1.00 = 10 + 1 + 2 = 13.00.
        '{"model":"gpt"}': fee("7", 1, "13", "13.00"),
        # 3: 3 x 2.00 + 1.00 = 7.00.
        '{"model":"claude"}': fee("3", 1, "7", "7.00"),
    }
    assert {filter_code for filter_code, _ in lines} == {None, "f_onprem"}


# --------------------------------------------------------------------------------------------
# §1.5 percentage
# --------------------------------------------------------------------------------------------


def test_1_5_percentage_first_events_are_free(warehouse):
    # Rate 2 %, fixed 0.10, N = 2 free events; events 50, 30, 200, 20 (units 300).
    # Running total of the first 2 events: [50, 80], free amount 80; free events N = 2.
    # (300 - 80) x 2 % = 4.40; (4 - 2) x 0.10 = 0.20; total 4.60.
    assert single(warehouse, "sub_pct_events", "c_pct_events") == fee("300", 4, "4.6", "4.60")


def test_1_5_percentage_crossing_event_pays_fixed_fee(warehouse):
    # Rate 2 %, fixed 0.10, X = 100 free; events 40, 50, 30, 100 (units 220).
    # Running totals to the first one past X: [40, 90, 120]; free amount min(120, 100) = 100;
    # free events = count(running total < 100) = 2, so the crossing event (30) pays the fee.
    # (220 - 100) x 2 % = 2.40; (4 - 2) x 0.10 = 0.20; total 2.60.
    assert single(warehouse, "sub_pct_total", "c_pct_total") == fee("220", 4, "2.6", "2.60")


def test_1_5_percentage_event_reaching_the_free_amount_exactly_pays_fixed_fee(warehouse):
    # Events 40, 60, 30 (units 130): running totals [40, 100, 130]; free amount 100; free events
    # = count(< 100) = 1 (strict <: the event landing exactly on X is not free).
    # (130 - 100) x 2 % = 0.60; (3 - 1) x 0.10 = 0.20; total 0.80.
    assert single(warehouse, "sub_pct_total_exact", "c_pct_total") == fee("130", 3, "0.8", "0.80")


def test_1_5_percentage_per_transaction_min_and_max(warehouse):
    # Rate 2 %, fixed 0.10, X = 100 free, min 0.50, max 3.00 (for everyone, docs/conventions.md).
    # Walk (free budget, then rate, then fixed, then clamp):
    #   60: fully free (budget 100 -> 40): 0, not raised to the minimum
    #   70: 40 free, 30 paid: 30 x 2 % + 0.10 = 0.70 (inside [0.50, 3.00])
    #   10: 0.20 + 0.10 = 0.30 -> raised to 0.50
    #  500: 10.00 + 0.10 = 10.10 -> capped at 3.00
    # Total 0 + 0.70 + 0.50 + 3.00 = 4.20. (The fully free event comes first on purpose: Lago's
    # walk does `next 0` inside a reduce, which would reset an earlier running total.)
    assert single(warehouse, "sub_pct_minmax", "c_pct_minmax") == fee("640", 4, "4.2", "4.20")


def test_1_5_percentage_rounds_jpy_to_whole_yen_half_away_from_zero(warehouse):
    # 1000 + "860" = 1860 x 2.5 % = 46.5 JPY -> 47 (half away from zero; half-even would be 46).
    assert single(warehouse, "sub_pct_jpy", "c_pct_jpy") == fee("1860", 2, "46.5", "47")


# --------------------------------------------------------------------------------------------
# §1.6 graduated_percentage
# --------------------------------------------------------------------------------------------


def test_1_6_graduated_percentage_inclusive_tiers_with_flat_fees(warehouse):
    # Tiers 0-100 rate 1 % flat 0.50, 101+ rate 0.5 % flat 1.00; units 60 + 90 = 150.
    # Tier 1 full: 100 - 1 + 1 = 100 units x 1 % = 1.00 + 0.50 = 1.50.
    # Tier 2: 150 - 101 + 1 = 50 units x 0.5 % = 0.25 + 1.00 = 1.25. Total 2.75.
    assert single(warehouse, "sub_grad_pct", "c_grad_pct") == fee("150", 2, "2.75", "2.75")


def test_1_6_graduated_percentage_bills_first_flat_fee_at_zero_usage(warehouse):
    # No events: the first tier is reached at 0 units, 0 x 1 % + 0.50 (§18.1); kept, amount > 0.
    assert single(warehouse, "sub_grad_pct_zero", "c_grad_pct") == fee("0", 0, "0.5", "0.50")


# --------------------------------------------------------------------------------------------
# §1.7 dynamic
# --------------------------------------------------------------------------------------------


def test_1_7_dynamic_sums_the_events_own_prices(warehouse):
    # Units 3 + 2 + 5 = 10; amount = Σ precise_total_amount = 1.234 + 0.5 + 2.011 = 3.745
    # -> 3.75 (half away from zero).
    assert single(warehouse, "sub_dynamic", "c_dynamic") == fee("10", 3, "3.745", "3.75")


# --------------------------------------------------------------------------------------------
# §2 weighted_sum (metered)
# --------------------------------------------------------------------------------------------

MARCH_SECONDS = 31 * 86400


def test_2_weighted_sum_over_a_full_month(warehouse):
    # Window [Mar 1 00:00, Apr 1 00:00) = 31 x 86400 s. Levels: 2 from Mar 1 00:00 to Mar 11
    # 00:00 (10 d), 5 to Mar 21 12:00 (10.5 d), 1 to Apr 1 00:00 (10.5 d).
    seconds = 2 * 10 * 86400 + 5 * 21 * 43200 + 1 * 21 * 43200  # 7,171,200
    units = Fraction(seconds, MARCH_SECONDS)  # = 83/31 = 2.677419354838...
    assert units == Fraction(83, 31)
    # x 1.00 -> 2.677419355 (9 decimals) -> 2.68.
    assert single(warehouse, "sub_weighted_full", "c_weighted") == fee(
        q9(units), 3, q9(units), "2.68"
    )


def test_2_weighted_sum_partial_first_period_divides_by_the_full_month(warehouse):
    # Started Mar 17 00:00 (the Mar 10 event of 100 precedes it: ignored, the metered level
    # starts at 0). Levels: 4 from Mar 17 to Mar 25 (8 d), 10 to Apr 1 (7 d).
    # (4 x 8 + 10 x 7) days / 31 days (§18.6, never 15) = 102/31 = 3.290322580645...
    units = Fraction((4 * 8 + 10 * 7) * 86400, MARCH_SECONDS)
    assert single(warehouse, "sub_weighted_mid", "c_weighted") == fee(
        q9(units), 2, q9(units), "3.29"
    )
    assert q9(units) == "3.290322581"


# --------------------------------------------------------------------------------------------
# §2 recurring sum
# --------------------------------------------------------------------------------------------


def test_2_recurring_sum_counts_events_from_before_the_period(warehouse):
    # No lower time bound: Feb 10 (+3) and Mar 20 (+2) = 5 seats x 10.00 = 50.00. The event
    # count comes from the same unbounded scope (Lago: `result.count = events.count` over
    # `recurring_events_scope`), so 2.
    assert single(warehouse, "sub_seats", "c_seats") == fee("5", 2, "50", "50.00")


def test_2_recurring_sum_february_was_backfilled(warehouse):
    # February (invoice of Mar 1, partition 2026-02): 3 seats x 10.00.
    assert single(warehouse, "sub_seats", "c_seats", issuing_date=FEBRUARY_INVOICE) == fee(
        "3", 1, "30", "30.00"
    )


# --------------------------------------------------------------------------------------------
# §2 unique_count (metered and recurring), §2 recurring weighted_sum
# --------------------------------------------------------------------------------------------


def test_2_unique_count_add_remove_keeps_relevant_operations_only(warehouse):
    # Per value, in time order, an operation counts only if it differs from the value's previous
    # one, and a leading remove is ignored (Lago's LAG(operation_type, 1, 'remove')):
    #   u1: add Mar 2 (+1), add Mar 4 (same as previous: 0), add Mar 7 (0)        -> +1
    #   u2: add Mar 3 (no operation_type = "add": +1), remove Mar 5 (-1)          ->  0
    #   u3: remove Mar 6, leading (0)                                              ->  0
    # Units 1 x 1.00 = 1.00. (Summing every operation would give 4 - 2 = 2; counting leading
    # removes but not repeated adds, 2 - 2 = 0.)
    # events_count: docs/rules.md is silent; docs/tables.md lists the events behind a line and
    # the engine's lineage test holds events_count to that list: all 6 events the aggregation
    # read, repeated adds and the leading remove included. (Lago itself reports
    # `result.count = result.aggregation` for unique_count, i.e. 1.)
    assert single(warehouse, "sub_users", "c_users") == fee("1", 6, "1", "1.00")
    assert line_events(warehouse, "sub_users", "c_users") == {
        (None, None): transactions("sub_users", *range(6))
    }


def test_2_recurring_unique_count_carries_values_across_periods(warehouse):
    # February (invoice of Mar 1): u1 (Feb 5) and u2 (Feb 10) -> 2 x 1.00; 2 events.
    assert single(warehouse, "sub_users_rec", "c_users_rec", issuing_date=FEBRUARY_INVOICE) == (
        fee("2", 2, "2", "2.00")
    )
    # March: no lower time bound. u1 still active (+1), u2 added Feb 10 and removed Mar 8 (0),
    # u3 Mar 12 (+1), u4 Mar 14 (+1) -> 3 x 1.00 = 3.00. (March's events alone would give 2:
    # the remove of u2 would be a leading remove.) Events: the unbounded scope, 2 + 3 = 5.
    assert single(warehouse, "sub_users_rec", "c_users_rec") == fee("3", 5, "3", "3.00")


def test_2_recurring_weighted_sum_starts_march_at_february_level(warehouse):
    # February (28 days): level 0 from Feb 1 to Feb 10 00:00, then 3 to Mar 1 00:00 (19 days):
    # 3 x 19 / 28 = 57/28 = 2.0357142857... -> 2.035714286 -> 2.04. One event.
    february = Fraction(3 * 19, 28)
    assert single(warehouse, "sub_gpu_rec", "c_gpu_rec", issuing_date=FEBRUARY_INVOICE) == fee(
        q9(february), 1, q9(february), "2.04"
    )
    assert q9(february) == "2.035714286"
    # March: the recurring level persisted from February (3) is the initial value. Level 3 from
    # Mar 1 00:00 to Mar 16 00:00 (15 days), 3 + 2 = 5 to Apr 1 00:00 (16 days):
    # (3 x 15 + 5 x 16) / 31 = 125/31 = 4.0322580645... -> 4.032258065 -> 4.03.
    # Events: weighted_sum keeps its lower time bound (only sum and unique_count drop it, §2;
    # Lago's `result.count = event_store.count` over the period): the Mar 16 event, 1.
    march = Fraction(3 * 15 + 5 * 16, 31)
    assert single(warehouse, "sub_gpu_rec", "c_gpu_rec") == fee(q9(march), 1, q9(march), "4.03")
    assert q9(march) == "4.032258065"


# --------------------------------------------------------------------------------------------
# §2.1 prorated recurring sum
# --------------------------------------------------------------------------------------------


def test_2_1_prorated_sum_weights_persisted_units_and_events(warehouse):
    # docs/rules.md's example moved to March: 5 seats from February, two events of 12 on Mar 26.
    # 5 x 31/31 + 2 x 12 x (31 - 26 + 1)/31 = 5 + 144/31 = 9.645161290... -> ceil(5) 9.64517.
    # x 10.00 = 96.4517 -> 96.45. Units: the full 5 + 12 + 12 = 29; events_count from the
    # unprorated (unbounded, recurring) aggregation: 3 (Lago: `result.count =
    # aggregation_without_proration.count`).
    assert single(warehouse, "sub_seats_prorated", "c_seats_prorated") == fee(
        "29", 3, "96.4517", "96.45"
    )


def test_2_1_prorated_sum_february(warehouse):
    # February (28 days): 5 seats added Feb 10 weigh (28 - 10 + 1)/28 = 19/28:
    # 95/28 = 3.392857142... -> ceil(5) 3.39286 x 10.00 = 33.9286 -> 33.93; units 5 (full).
    assert single(
        warehouse, "sub_seats_prorated", "c_seats_prorated", issuing_date=FEBRUARY_INVOICE
    ) == fee("5", 1, "33.9286", "33.93")


def test_2_1_prorated_unique_count_weighs_each_value_by_its_active_days(warehouse):
    # Each value counts (days from its add, or the period start, through its removal, or the
    # period end, both inclusive, in the customer's UTC) / 31:
    #   a: added Feb 10, active all March                    31/31
    #   b: added Mar 10, still active: Mar 10..31            22/31
    #   c: added Mar 5, removed Mar 20 (removal day counts)  16/31
    #   d: added and removed on Mar 25                        1/31
    # Sum 70/31 = 2.258064516129...
    # Rounding assumed: the day ratios are exact and their sum is ceiled at 5 decimals, the
    # ceil(…, 5) §2.1 states for the prorated sum, which Lago applies to the prorated unique
    # count as well (prorated_aggregations/unique_count_service.rb:
    # `prorated_unique_count.ceil(5)`): ceil(70/31, 5) = 2.25807 x 31.00 = 70.00017 -> 70.00.
    # Not a 9-decimal detail: summing 9-decimal day shares without that ceil gives
    # 2.258064516 x 31 = 69.999999996, and at a price of 1000.00 the February case below would
    # give 678.57 instead of 0.67858 x 1000 = 678.58.
    prorated = ceil5(Fraction(70, 31))
    assert prorated == Decimal("2.25807")
    # Units: the full, non-prorated count at period end, a and b: 2 (§2.1, §4). Events: the
    # unbounded recurring scope, 1 in February + 5 in March = 6.
    assert single(warehouse, "sub_users_prorated", "c_users_prorated") == fee(
        "2", 6, str(prorated * 31), "70.00"
    )


def test_2_1_prorated_unique_count_february(warehouse):
    # a added Feb 10 of a 28-day February: (28 - 10 + 1)/28 = 19/28 = 0.678571428... -> ceil(5)
    # 0.67858 x 31.00 = 21.03598 -> 21.04; units 1 (full), 1 event.
    assert ceil5(Fraction(19, 28)) * 31 == Decimal("21.03598")
    assert single(
        warehouse, "sub_users_prorated", "c_users_prorated", issuing_date=FEBRUARY_INVOICE
    ) == fee("1", 1, "21.03598", "21.04")


# --------------------------------------------------------------------------------------------
# §2 metric rounding and value rules
# --------------------------------------------------------------------------------------------


def test_2_metric_rounding_ceil_to_hundreds(warehouse):
    # 120 + "5.5" = 125.5, ceil at precision -2 -> 200 units x 0.01 = 2.00.
    assert single(warehouse, "sub_rounding", "c_bytes") == fee("200", 2, "2", "2.00")


def test_2_metric_rounding_round_half_away_from_zero_to_one_decimal(warehouse):
    # 1.25 + 1.2 = 2.45, round at precision 1 -> 2.5 (half away from zero) x 2.00 = 5.00.
    assert single(warehouse, "sub_rounding", "c_cpu") == fee("2.5", 2, "5", "5.00")


def test_18_14_latest_negative_value_gives_zero(warehouse):
    # Latest by timestamp is -3 (Mar 20, after 10 on Mar 5) -> 0 units, 0.00. The line is kept:
    # it has events (§4 drops only 0 units, 0 amount and 0 events).
    assert single(warehouse, "sub_rounding", "c_storage_latest") == fee("0", 2, "0", "0.00")


def test_2_sum_ignores_non_numeric_values(warehouse):
    # 10 + "7" + 2.5 = 19.5 x 1.00; "abc" is ignored and, like Lago's event store (numeric
    # properties only, ^-?\d+(\.\d+)?$), not counted: 3 events.
    assert single(warehouse, "sub_rounding", "c_prompt_tokens") == fee("19.5", 3, "19.5", "19.50")


# --------------------------------------------------------------------------------------------
# §1.9 prorated graduated, §1.4 / §18.3 prorated volume (recurring sum `seats`)
# --------------------------------------------------------------------------------------------


def test_1_9_prorated_graduated_spec_example(warehouse):
    # One event of 75 on Mar 1 of a subscription started Mar 1: weight 31/31, fully active.
    # Tiers 0-5 @10 flat 100, 6-15 @5 flat 50, 16+ @2:
    # 5 x 10 + 10 x 5 + 60 x 2 + 100 + 50 = 50 + 50 + 120 + 150 = 370.
    assert single(warehouse, "sub_prorated_grad_full", "c_prorated_grad") == fee(
        "75", 1, "370", "370.00"
    )


def test_1_9_prorated_graduated_partial_period(warehouse):
    # Started Mar 17; one event of 31 on Mar 17 weighs (31 - 17 + 1)/31 = 15/31: prorated 15.
    # Full units place the event in the tiers (5 | 10 | 16), each part prorated by 15/31:
    # (5 x 10 + 10 x 5 + 16 x 2) x 15/31 = 132 x 15/31 = 1980/31 = 63.870967741...
    # Flat fees in full for every tier the 31 full units reach: 100 + 50 + 0.
    precise = Fraction(1980, 31) + 150
    assert single(warehouse, "sub_prorated_grad_mid", "c_prorated_grad") == fee(
        "31", 1, q9(precise), "213.87"
    )
    assert q9(precise) == "213.870967742"


def test_prorations_of_a_28_digit_value_are_exact_to_the_29_digit_limit(warehouse):
    # docs/bad-input.md: one recurring event of V = 9,876,543,210,987,654,321,098,765,432 on
    # Mar 17 weighs 15/31. V x 15 passes 29 integer digits; the shares do not.
    # Prorated sum (§2.1), ceil at 5 decimals, at 1.00: V x 15/31.
    # Prorated graduated (§1.9), tiers 0-5 @10 flat 100, 6+ @0.5: each tier's units x price x
    # 15/31 (5 x 10 x 15/31 and (V - 5) x 0.5 x 15/31), rounded at the 9th decimal, plus the
    # first tier's flat fee.
    units = Fraction(HUGE_SEATS)
    with localcontext() as exact:
        exact.prec = 60
        prorated = Decimal(q9(units * 15 / 31)).quantize(Decimal("1e-5"), rounding=ROUND_CEILING)
        graduated = (
            Decimal(q9(Fraction(5 * 10 * 15, 31)))
            + Decimal(q9((units - 5) * Fraction(1, 2) * 15 / 31))
            + 100
        )
        assert prorated == Decimal("4778972521445639187628434886.45162")
        assert single(warehouse, "sub_huge_rec", "c_huge_prorated") == fee(
            HUGE_SEATS,
            1,
            str(prorated),
            str(prorated.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
        )
        assert graduated == Decimal("2389486260722819593814217566.209677419")
        assert single(warehouse, "sub_huge_rec", "c_huge_prorated_grad") == fee(
            HUGE_SEATS,
            1,
            str(graduated),
            str(graduated.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
        )


def test_1_4_prorated_volume_tier_from_full_units_price_on_prorated(warehouse):
    # +100 on Mar 1 (31/31 -> 100) and +186 on Mar 22 ((31 - 22 + 1)/31 = 10/31 -> 60).
    # Full 286 picks tier 201+ (@0.5 flat 50): 160 prorated x 0.5 + 50 = 130.00.
    # (Picking the tier from the prorated 160 would give 160 x 1 + 10 = 170.)
    assert single(warehouse, "sub_prorated_vol", "c_prorated_vol") == fee("286", 2, "130", "130.00")


# --------------------------------------------------------------------------------------------
# §5 spending minimum
# --------------------------------------------------------------------------------------------


def test_5_spending_minimum_true_up(warehouse):
    # 7 hits x 0.50 = 3.50 against a 10.00 minimum: true-up 10.00 - 3.50 = 6.50, units 1,
    # events 0 (Lago's true-up fee sets events_count = 0), no filter.
    assert single(warehouse, "sub_min_full", "c_min") == fee("7", 7, "3.5", "3.50")
    assert single(warehouse, "sub_min_full", "c_min", line_type="spending_minimum") == fee(
        "1", 0, "6.5", "6.50"
    )


def test_5_spending_minimum_prorated_for_a_partial_period(warehouse):
    # Started Mar 17: minimum 10.00 / 31 x 15 days (Mar 17-31) = 150/31 = 4.838709677...
    # 7 hits x 0.50 = 3.50; true-up 150/31 - 3.5 = 1.338709677... -> 1.34. The precise amount is
    # the exact difference rounded once at the 9th decimal (no 9-decimal day price first).
    precise = Fraction(150, 31) - Fraction(7, 2)
    assert single(warehouse, "sub_min_mid", "c_min") == fee("7", 7, "3.5", "3.50")
    assert single(warehouse, "sub_min_mid", "c_min", line_type="spending_minimum") == fee(
        "1", 0, q9(precise), "1.34"
    )
    assert q9(precise) == "1.338709677"


def test_5_spending_minimum_sums_every_filter_bucket(warehouse):
    # f_min_eu: 2 x 2.00 = 4.00; default (us): 1 x 1.00 = 1.00; used 5.00 < 10.00:
    # true-up 5.00 (per bucket it would have been 6.00 and 9.00).
    assert buckets(warehouse, "sub_min_filters", "c_min_filters") == {
        ("f_min_eu", None): fee("2", 2, "4", "4.00"),
        (None, None): fee("1", 1, "1", "1.00"),
    }
    assert single(
        warehouse, "sub_min_filters", "c_min_filters", line_type="spending_minimum"
    ) == fee("1", 0, "5", "5.00")


# --------------------------------------------------------------------------------------------
# §7 pay-in-advance charges
# --------------------------------------------------------------------------------------------


def test_7_pay_in_advance_sum_bills_the_high_water_mark(warehouse):
    # +10 (level 10, max 0 -> 10 units), -4 (level 6 < max 10 -> 0), +8 (level 14 vs max 10 -> 4):
    # one invoice per event, issued on the event's date, standard 1.00 (§18.9).
    def advance(day: int, units: str, amount: str) -> tuple:
        invoice = ("pay_in_advance", date(2026, 3, day), Decimal(amount), Decimal(amount))
        return invoice + fee(units, 1, amount, amount)

    lines = in_advance_lines(warehouse, "sub_adv_sum", "c_adv_sum")
    assert [line[1:] for line in lines] == [
        advance(5, "10", "10.00"),
        # 0 units, 0.00, but one event: §4 keeps the fee, §7 invoices every invoiceable fee.
        advance(10, "0", "0.00"),
        advance(15, "4", "4.00"),
    ]
    # Three distinct invoices; and no fourth line: the charge is not billed again on the
    # period-end invoice of Apr 1 (§7).
    assert len({line[0] for line in lines}) == 3


def test_7_pay_in_advance_not_invoiceable_lines_have_no_invoice(warehouse):
    # Count charge, 0.25 per hit, invoiceable false: one line per event, invoice_id empty
    # (docs/conventions.md), none at period end.
    lines = in_advance_lines(warehouse, "sub_adv_count", "c_adv_count")
    assert [line[0] for line in lines] == [None, None, None]
    assert [line[5:] for line in lines] == [fee("1", 1, "0.25", "0.25")] * 3


def test_7_pay_in_advance_graduated_flat_fees_come_with_the_event_reaching_the_tier(warehouse):
    # Tiers 0-5 @1 flat 2, 6+ @0.5 flat 3; model(u) = min(u, 5) + 2 (+ (u - 5) x 0.5 + 3 past 5).
    #  +1: model(1) - 0 (baseline forced to 0 at 0 prior units) = 1 + 2 = 3.00
    #  +4: model(5) - model(1) = 7 - 3 = 4.00
    #  +3: model(8) - model(5) = (5 + 2 + 3 x 0.5 + 3) - 7 = 11.5 - 7 = 4.50 (tier-2 flat fee)
    lines = in_advance_lines(warehouse, "sub_adv_grad", "c_adv_grad")
    assert [(line[1], line[2]) for line in lines] == [
        ("pay_in_advance", date(2026, 3, day)) for day in (6, 7, 8)
    ]
    assert [line[5:] for line in lines] == [
        fee("1", 1, "3", "3.00"),
        fee("4", 1, "4", "4.00"),
        fee("3", 1, "4.5", "4.50"),
    ]


def test_7_pay_in_advance_unique_count_bills_each_id_once_per_period(warehouse):
    # Standard 2.00, invoiceable. The in-advance unique count is the period's high-water mark
    # of active ids (§7, §18.9):
    #  Mar 3 add u1: active 1 > max 0 -> 1 unit, 2.00
    #  Mar 4 remove u1: active 0, max 1 -> 0 units, 0.00 (a fee with one event: kept, invoiced)
    #  Mar 5 add u1 again: active 1, max 1 -> 0.00 (already paid in the period), 1 unit: the
    #      unit the add applies, as Lago shows it on such a zero fee (issue 13 item 5;
    #      ApplyPayInAdvanceChargeModelService#display_applied_units_for_zero_invoice?)
    #  Mar 6 add u2: active 2 > max 1 -> 1 unit, 2.00
    def advance(day: int, units: str, amount: str) -> tuple:
        invoice = ("pay_in_advance", date(2026, 3, day), Decimal(amount), Decimal(amount))
        return invoice + fee(units, 1, amount, amount)

    lines = in_advance_lines(warehouse, "sub_adv_users", "c_adv_users")
    assert [line[1:] for line in lines] == [
        advance(3, "1", "2.00"),
        advance(4, "0", "0.00"),
        advance(5, "1", "0.00"),
        advance(6, "1", "2.00"),
    ]
    # One invoice per event; none of it again at period end (metered, §7).
    assert len({line[0] for line in lines}) == 4


def test_7_pay_in_advance_percentage_prices_each_event_as_a_difference(warehouse):
    # Rate 1 %, fixed 0.10, N = 1 free event. model(events 1..n):
    #  n = 1: units 100, free amount = first event = 100, free events 1: 0 + 0 = 0
    #  n = 2: units 300: (300 - 100) x 1 % = 2.00 + (2 - 1) x 0.10 = 2.10
    #  n = 3: units 600: (600 - 100) x 1 % = 5.00 + (3 - 1) x 0.10 = 5.20
    # Fees: 0 - 0 = 0.00, 2.10 - 0 = 2.10, 5.20 - 2.10 = 3.10; each line's units are the
    # event's value (the sum's rise of the high-water mark).
    def advance(day: int, units: str, precise: str, amount: str) -> tuple:
        invoice = ("pay_in_advance", date(2026, 3, day), Decimal(amount), Decimal(amount))
        return invoice + fee(units, 1, precise, amount)

    lines = in_advance_lines(warehouse, "sub_adv_pct", "c_adv_pct")
    assert [line[1:] for line in lines] == [
        advance(3, "100", "0", "0.00"),
        advance(4, "200", "2.1", "2.10"),
        advance(5, "300", "3.1", "3.10"),
    ]


def test_7_recurring_pay_in_advance_bills_full_units_at_each_period_end(warehouse):
    # Recurring sum, standard 30.00, in advance, not prorated; started Feb 1.
    assert charge_lines(warehouse, "sub_seats_adv", "c_seats_adv") == [
        # Feb 3, +2 seats: 2 units x 30.00 on an invoice of its own.
        ("pay_in_advance", date(2026, 2, 3), *fee("2", 1, "60", "60.00")),
        # End of February: the full recurring units (2), without proration, on the period-end
        # invoice of Mar 1 (§7 `bill_full_amount?`); events: the unbounded recurring scope, 1.
        ("subscription", FEBRUARY_INVOICE, *fee("2", 1, "60", "60.00")),
        # Mar 12, +1 seat: the level 3 rises above March's maximum by 1: 1 x 30.00.
        ("pay_in_advance", date(2026, 3, 12), *fee("1", 1, "30", "30.00")),
        # End of March: 2 + 1 = 3 seats x 30.00 = 90.00, 2 events.
        ("subscription", MARCH_INVOICE, *fee("3", 2, "90", "90.00")),
    ]


def test_7_prorated_pay_in_advance_standard_is_prorated_to_period_end(warehouse):
    # +1 seat on Mar 12 at 31.00: days Mar 12..31 = 20 of 31. docs/rules.md (§2.1, in advance
    # plus prorated): units x 20/31, ceil(…, 5): 0.645161290... -> 0.64517 (a ceiling, not
    # 0.64516); x 31.00 = 20.00027 -> 20.00. The line's units are the full 1 (§2.1, §4).
    prorated = ceil5(Fraction(20, 31))
    assert prorated == Decimal("0.64517")
    assert prorated * 31 == Decimal("20.00027")
    assert charge_lines(warehouse, "sub_seats_adv_prorated", "c_seats_adv_prorated") == [
        ("pay_in_advance", date(2026, 3, 12), *fee("1", 1, "20.00027", "20.00")),
        # Period end: recurring in advance bills the full units without proration (§7):
        # 1 x 31.00.
        ("subscription", MARCH_INVOICE, *fee("1", 1, "31", "31.00")),
    ]


def test_lago_pay_in_advance_charges_spec_unique_count_standard(warehouse):
    # spec/scenarios/pay_in_advance_charges_spec.rb, "with unique_count_agg / standard": 12.00 a
    # unique id, in advance, not invoiceable (fees without an invoice). Lago's fees:
    #  add id_1 -> 1 unit, 12.00; remove id_1 -> 0 units, 0.00; add id_1 again -> 1 unit, 0.00
    #  (already paid in the period); add id_2 -> 1 unit, 12.00; add id_2 again (still active)
    #  -> 0 units, 0.00. One event each.
    lines = in_advance_lines(warehouse, "sub_adv_users_lago", "c_adv_users_lago")
    assert [(line[0], *line[5:]) for line in lines] == [
        (None, *fee("1", 1, "12", "12.00")),
        (None, *fee("0", 1, "0", "0.00")),
        (None, *fee("1", 1, "0", "0.00")),
        (None, *fee("1", 1, "12", "12.00")),
        (None, *fee("0", 1, "0", "0.00")),
    ]


def test_lago_graduated_service_spec_first_tier_flat_amount_is_zero(warehouse):
    # spec/services/charge_models/graduated_service_spec.rb, "when first tier flat amount is
    # zero": tiers 0-0.01 (0, flat 0), 0.01-10 (10, flat 2), 11-inf (5, flat 3), which mix the
    # adjacent and the inclusive joins; Lago's validator accepts them and, with no usage, the
    # amount is 0 (the first tier's flat fee, 0): a fee of nothing, so no line (§4).
    assert buckets(warehouse, "sub_grad_lago", "c_grad_lago") == {}
    # With 1 unit the set is priced as Lago prices it (amount_details/
    # range_graduated_service.rb: not adjacent throughout, so each tier not starting at 0 counts
    # `units - from + 1`): tier 1, min(1, 0.01) x 0 = 0; tier 2, (1 - 0.01 + 1) x 10 + 2 =
    # 21.90; tier 3 not reached.
    assert single(warehouse, "sub_grad_lago_one", "c_grad_lago") == fee("1", 1, "21.9", "21.90")


def test_lago_prorated_unique_count_service_spec_added_and_removed_the_same_day_multiple_times(
    warehouse,
):
    # spec/services/billable_metrics/prorated_aggregations/unique_count_service_spec.rb, "when
    # added and removed the same day multiple times": add, remove, add, remove on Mar 1 count
    # that day once: ceil(1/31, 5) = 0.03226 units; x 31.00 = 1.00006 -> 1.00. Units (the full
    # count at period end): 0; 4 events.
    assert ceil5(Fraction(1, 31)) == Decimal("0.03226")
    assert single(warehouse, "sub_users_same_day", "c_users_prorated_lago") == fee(
        "0", 4, "1.00006", "1.00"
    )
    # "... multiple days": added and removed on Mar 1, 6 and 11: ceil(3/31, 5) = 0.09678;
    # x 31.00 = 3.00018 -> 3.00.
    assert ceil5(Fraction(3, 31)) == Decimal("0.09678")
    assert single(warehouse, "sub_users_same_day_days", "c_users_prorated_lago") == fee(
        "0", 6, "3.00018", "3.00"
    )


def test_any_property_key_and_catalog_identifier_bills_as_written(warehouse):
    # Issue 13 item 6. Field, filter key and group key hold quotes, `$`, backticks, dots,
    # slashes, `~` and braces; every code holds SQL and Jinja. The catalog check lets them
    # through, the close runs, and the lines are those of a plain catalog:
    #   filter bucket, group g1: 2 units x 3.00 = 6.00
    #   default bucket, group g1: 5 units x 1.00 = 5.00 (the field given as the text "5")
    #   default bucket, no group value: 4 units x 1.00 = 4.00
    rows = query(
        warehouse,
        """
        select filter_code, pricing_group, units, events_count, precise_amount, amount
        from billing.fct_invoice_lines
        where external_subscription_id = ? and charge_code = ? and line_type = 'charge'
          and plan_code = ? and metric_code = ?
        """,
        [H_SUBSCRIPTION, H_CHARGE, H_PLAN, H_METRIC],
    )
    found = {(r[0], json.dumps(json.loads(r[1]))): r[2:] for r in rows}
    group = {H_GROUP_KEY: "g1"}
    assert found == {
        (H_FILTER, json.dumps(group)): fee("2", 1, "6", "6.00"),
        (None, json.dumps(group)): fee("5", 1, "5", "5.00"),
        (None, json.dumps({H_GROUP_KEY: None})): fee("4", 1, "4", "4.00"),
    }
    # Nothing was executed: every raw table is still there.
    assert query(warehouse, "select count(*) from raw.events") != [(0,)]
    assert query(warehouse, "select count(*) from raw.subscriptions") != [(0,)]


def test_a_number_beyond_29_integer_digits_is_quarantined_not_lost(warehouse):
    # Issue 13 item 7. 1e30 (a JSON number with an exponent) and 10^30 (31 digits) exceed the
    # decimal(38, 9) Meterhouse bills exactly: each is listed in billing.rejected_inputs as a
    # bad_value and billed nowhere. The 28-digit value and 2 are billed exactly, as Python's
    # Decimal computes them (products and quotients beyond 20 integer digits included):
    # standard, 1,234,567,890,123,456,789,012,345,680 units x 0.01; package, the units beyond
    # 3 free ones in packages of 7 started, at 2.50 a package.
    with localcontext() as exact:
        exact.prec = 60  # the default 28 significant digits would round these
        units = Decimal("1234567890123456789012345678") + 2
        standard = units * Decimal("0.01")
        packages = ((units - 3) / 7).to_integral_value(rounding=ROUND_CEILING)
        package = packages * Decimal("2.50")
    assert standard == Decimal("12345678901234567890123456.80")
    assert package == Decimal("440917103615520281790123457.50")
    assert single(warehouse, "sub_huge", "c_huge") == fee(
        str(units), 2, str(standard), str(standard)
    )
    assert single(warehouse, "sub_huge", "c_huge_pkg") == fee(
        str(units), 2, str(package), str(package)
    )
    rejected = query(
        warehouse,
        "select source_file, line_number, reason, detail from billing.rejected_inputs "
        "where input_kind = 'events' order by line_number",
    )
    # The events file holds EVENTS in order, one line each: sub_huge's first two events.
    subscriptions = list(EVENTS)
    first = 1 + sum(len(EVENTS[sub]) for sub in subscriptions[: subscriptions.index("sub_huge")])
    detail = "exceeds the 29 integer digits Meterhouse can bill exactly"
    assert rejected == [
        ("events/events.ndjson", first, "bad_value", detail),
        ("events/events.ndjson", first + 1, "bad_value", detail),
    ]


# --------------------------------------------------------------------------------------------
# docs/tables.md lineage: billing.invoice_line_events
# --------------------------------------------------------------------------------------------


def test_lineage_filter_bucket_lines_list_their_events(warehouse):
    # sub_filters events 0-2 us/pro, 3-4 us/free, 5 us, 6-7 eu/pro, 8 ap/free, 9 mars, 10 {}.
    assert line_events(warehouse, "sub_filters", "c_requests") == {
        ("f_us_pro", None): transactions("sub_filters", 0, 1, 2),
        ("f_region_us", None): transactions("sub_filters", 3, 4, 5),
        (None, None): transactions("sub_filters", 6, 7, 8, 9, 10),
    }


def test_lineage_pricing_group_lines_list_their_events(warehouse):
    # sub_groups events: 0 gpt/cloud, 1 gpt/cloud, 2 claude/cloud, 3 {} (model null),
    # 4 gpt/onprem, 5 claude/onprem.
    assert line_events(warehouse, "sub_groups", "c_llm") == {
        (None, '{"model":"gpt"}'): transactions("sub_groups", 0, 1),
        (None, '{"model":"claude"}'): transactions("sub_groups", 2),
        (None, '{"model":null}'): transactions("sub_groups", 3),
        ("f_onprem", '{"model":"gpt"}'): transactions("sub_groups", 4),
        ("f_onprem", '{"model":"claude"}'): transactions("sub_groups", 5),
    }


def test_lineage_pay_in_advance_lines_list_their_one_event(warehouse):
    lines = query(
        warehouse,
        """
        select invoice_line_id from billing.fct_invoice_lines
        where external_subscription_id = 'sub_adv_sum' and charge_code = 'c_adv_sum'
        order by first_event_at
        """,
    )
    assert len(lines) == 3
    for index, (line_id,) in enumerate(lines):
        events = query(
            warehouse,
            "select transaction_id from billing.invoice_line_events where invoice_line_id = ?",
            [line_id],
        )
        assert events == [(f"sub_adv_sum_{index}",)]


def test_finalizing_freezes_pay_in_advance_invoices_and_lines_without_invoice(warehouse):
    # Runs last: finalization freezes February and March as they are; every line stays (the
    # not-invoiceable fees too, with no invoice), and each pay-in-advance invoice gets a PDF.
    root = warehouse.parent
    args = [
        f"--catalog={root / 'catalog'}",
        f"--landing={root / 'landing'}",
        f"--warehouse={warehouse}",
        f"--output={root / 'output'}",
    ]
    lines_before = query(warehouse, "select count(*) from billing.fct_invoice_lines")
    for month in ("2026-02", "2026-03"):
        assert main(["finalize", "--month", month, *args]) == 0
    assert query(warehouse, "select count(*) from billing.fct_invoice_lines") == lines_before
    statuses = query(
        warehouse,
        "select invoice_type, status, count(*) from billing.fct_invoices group by all order by all",
    )
    assert {(kind, status) for kind, status, _ in statuses} == {
        ("pay_in_advance", "finalized"),
        ("subscription", "finalized"),
    }
    # c_adv_count's 3 fees and c_adv_users_lago's 5 are not invoiceable.
    assert query(
        warehouse, "select count(*) from billing.fct_invoice_lines where invoice_id is null"
    ) == [(3 + 5,)]
    invoices = sum(count for _, _, count in statuses)
    assert len(list((root / "output" / "invoices").rglob("*.pdf"))) == invoices
