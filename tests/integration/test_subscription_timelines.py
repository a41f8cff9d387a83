"""Subscription timelines of issue #4, one test per rule-book section, against numbers by hand.

An independent oracle for billing periods, proration, trials, plan changes, commitments and
progressive billing: a catalog and landing data of its own (no seeds), closed once through the
CLI; each test reads `billing.fct_invoice_lines`, `billing.fct_invoices` or
`billing.fct_credit_notes` and compares with the arithmetic written beside the assertion.

Scenario
- The year is 2025 (not a leap year; Jan 1 2025 is a Wednesday), closed with
  `close --month 2025-12`, which backfills every month from 2025-01, the month of the first
  `started_at` (docs/conventions.md). 2026 cannot be used: a month is a partition only once it has
  ended (orchestration/partitions.py), and events more than a day in the future are rejected.
  The invoices issued on 2026-01-01 close December 2025 and belong to partition 2025-12.
- Two small warehouses beside it: progressive billing (§14), whose catalog carries usage
  thresholds, closed for December 2025 from September; and February 2024 (January backfilled)
  for the leap day.
- Billing entity in UTC, every customer in USD, one customer per subscription (so each
  customer's invoices are one subscription's timeline), timezone empty (= UTC) except
  Tokyo, Los Angeles and Berlin. DST: Los Angeles 2025-03-09, Berlin 2025-03-30.
- One metered count metric `calls`; every plan has one standard in-arrears charge on it,
  `<plan>_calls`, at 1.00 a call (2.00 on the 62.00 plans and yl_pro, 0.50 on yl_lite).
- `to_datetime` of a line is exclusive (docs/deviations.md: half-open windows): a period that
  ends at 23:59:59 local shows the next local midnight, as a UTC instant; a terminated line ends
  at `terminated_at`.
- Where docs/rules.md leaves a choice, the comment beside the assertion says which reading is
  taken.
"""

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction as F
from itertools import pairwise
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

SEED_CATALOG = REPO_ROOT / "seeds" / "catalog"
CLOSE_MONTH = "2025-12"
LEAP_CLOSE_MONTH = "2024-02"

# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------

# plan_code: (interval, amount, pay_in_advance, trial_days, bill_charges_monthly,
#             minimum_commitment, tax_codes)
PLANS = {
    "wk_arrears": ("weekly", "7.00", False, 0, False, "", ""),
    "wk_advance": ("weekly", "14.00", True, 0, False, "", ""),
    "mo_29": ("monthly", "29.00", False, 0, False, "", ""),
    "mo_30": ("monthly", "30.00", False, 0, False, "", ""),
    "mo_31": ("monthly", "31.00", False, 0, False, "", ""),
    "mo_62": ("monthly", "62.00", False, 0, False, "", ""),
    "mo_adv_30": ("monthly", "30.00", True, 0, False, "", ""),
    "mo_adv_31": ("monthly", "31.00", True, 0, False, "", ""),
    "mo_adv_62": ("monthly", "62.00", True, 0, False, "", ""),
    "mo_adv_tax": ("monthly", "30.00", True, 0, False, "", "vat20"),
    "qt_arrears": ("quarterly", "90.00", False, 0, False, "", ""),
    "qt_advance": ("quarterly", "91.00", True, 0, False, "", ""),
    "sa_arrears": ("semiannual", "181.00", False, 0, False, "", ""),
    "sa_advance": ("semiannual", "184.00", True, 0, False, "", ""),
    "yr_arrears": ("yearly", "365.00", False, 0, False, "", ""),
    "yr_advance": ("yearly", "730.00", True, 0, False, "", ""),
    "yr_arrears_monthly": ("yearly", "365.00", False, 0, True, "", ""),
    "yr_advance_monthly": ("yearly", "365.00", True, 0, True, "", ""),
    "trial_arrears": ("monthly", "31.00", False, 10, False, "", ""),
    "trial_long_arrears": ("monthly", "30.00", False, 45, False, "", ""),
    "trial_adv": ("monthly", "31.00", True, 14, False, "", ""),
    "trial_adv_long": ("monthly", "30.00", True, 40, False, "", ""),
    "commit_arrears": ("monthly", "10.00", False, 0, False, "50.00", ""),
    "commit_adv": ("monthly", "20.00", True, 0, False, "60.00", ""),
    "prog_fixed": ("monthly", "10.00", False, 0, False, "", ""),
    "prog_rec": ("monthly", "5.00", False, 0, False, "", ""),
    "yl_basic": ("monthly", "31.00", False, 30, False, "", ""),
    "yl_pro": ("monthly", "60.00", True, 0, False, "", ""),
    "yl_lite": ("monthly", "31.00", False, 0, False, "", ""),
    # Lago's spec/scenarios/terminate_pay_in_advance_spec.rb and spending_minimum_spec.rb
    "adv_50_tax": ("monthly", "50.00", True, 0, False, "", "vat20"),
    "min_term": ("monthly", "50.00", True, 0, False, "", "vat20"),
    # spec/scenarios/fees/recurring_fees_spec.rb and commitments/minimum/in_arrears/calendar/
    # monthly_spec.rb
    "lago_seats": ("monthly", "0.50", True, 0, False, "", ""),
    "lago_commit": ("monthly", "100.00", False, 0, False, "10000.00", ""),
    # The other variants of spec/scenarios/commitments/minimum/ (calendar and anniversary)
    "lago_commit_qt": ("quarterly", "100.00", False, 0, False, "10000.00", ""),
    "lago_commit_wk": ("weekly", "100.00", False, 0, False, "10000.00", ""),
    "lago_commit_adv": ("monthly", "100.00", True, 0, False, "10000.00", ""),
    "lago_commit_adv_qt": ("quarterly", "100.00", True, 0, False, "10000.00", ""),
    "lago_commit_adv_wk": ("weekly", "100.00", True, 0, False, "10000.00", ""),
    # §7 a recurring pay-in-advance price change at a period boundary; §9 a downgrade there
    "price_step": ("monthly", "10.00", False, 0, False, "", ""),
    "dg_big": ("monthly", "100.00", False, 0, False, "", ""),
    "dg_small": ("monthly", "50.00", False, 0, False, "", ""),
    # docs/bad-input.md: a credit note's tax on 22-digit amounts
    "adv_huge_tax": ("monthly", "1000000000000000000000.00", True, 0, False, "", "vat20"),
}
COMMIT_PLANS = ["lago_commit_qt", "lago_commit_wk", "lago_commit_adv", "lago_commit_adv_qt"]
COMMIT_PLANS += ["lago_commit_adv_wk"]

# Metrics and charges beside `calls` (metric_code, aggregation, field_name, recurring).
EXTRA_METRICS = [
    ("seats_items", "unique_count", "item_id", "true"),
    ("metered", "sum", "total", "false"),
    ("metered_advance", "sum", "total", "false"),
    ("advance_recurring", "sum", "total", "true"),
]
# (charge_code, plan_code, metric_code, amount, pay_in_advance, invoiceable, prorated)
EXTRA_CHARGES = [
    ("lago_seats_items", "lago_seats", "seats_items", "30", "true", "false", "true"),
    ("lago_commit_metered", "lago_commit", "metered", "1", "false", "true", "false"),
    ("lago_commit_advance", "lago_commit", "metered_advance", "1", "true", "true", "false"),
    ("lago_commit_recurring", "lago_commit", "advance_recurring", "1", "true", "true", "false"),
    *(
        (f"{plan}_{suffix}", plan, metric, "1", advance, "true", "false")
        for plan in COMMIT_PLANS
        for suffix, metric, advance in (
            ("metered", "metered", "false"),
            ("advance", "metered_advance", "true"),
            ("recurring", "advance_recurring", "true"),
        )
    ),
    ("price_step_recurring", "price_step", "advance_recurring", "1", "true", "true", "false"),
    ("dg_big_seats", "dg_big", "advance_recurring", "5", "true", "true", "false"),
    ("dg_small_seats", "dg_small", "advance_recurring", "3", "true", "true", "false"),
]
# Later versions of a charge: (charge_code, valid_from, amount); the rest as its first version.
CHARGE_VERSIONS = [("price_step_recurring", "2024-04-01", "2")]

CALL_PRICE = {
    "mo_62": "2.00",
    "mo_adv_62": "2.00",
    "yl_pro": "2.00",
    "yl_lite": "0.50",
    "min_term": "8.00",
}
MIN_AMOUNT = {"min_term": "10.00"}

# (plan_code, amount, recurring)
THRESHOLDS = [
    ("prog_fixed", "20.00", "false"),
    ("prog_rec", "10.00", "false"),
    ("prog_rec", "15.00", "true"),
]


def write_catalog(catalog: Path, thresholds: list[tuple[str, str, str]]) -> None:
    catalog.mkdir(parents=True)
    write_catalog_csv(
        catalog / "billing_entity.csv",
        [
            {
                "name": "Timelines",
                "legal_name": "Timelines Ltd",
                "address_line1": "1 Calendar Row",
                "city": "London",
                "zipcode": "N1",
                "country": "GB",
                "email": "billing@timelines.example",
                "timezone": "UTC",
                "invoice_prefix": "TML",
                "document_numbering": "per_customer",
            }
        ],
    )
    write_catalog_csv(
        catalog / "billable_metrics.csv",
        [
            {"metric_code": "calls", "name": "Calls", "aggregation": "count", "recurring": "false"},
            *(
                {
                    "metric_code": code,
                    "name": code,
                    "aggregation": aggregation,
                    "field_name": field,
                    "recurring": recurring,
                }
                for code, aggregation, field, recurring in EXTRA_METRICS
            ),
        ],
    )
    write_catalog_csv(catalog / "metric_filters.csv", [])
    write_catalog_csv(
        catalog / "plans.csv",
        [
            {
                "plan_code": plan,
                "name": plan,
                "interval": interval,
                "currency": "USD",
                "amount": amount,
                "pay_in_advance": str(advance).lower(),
                "trial_days": str(trial),
                "bill_charges_monthly": str(monthly).lower(),
                "minimum_commitment": commitment,
                "tax_codes": taxes,
            }
            for plan, (interval, amount, advance, trial, monthly, commitment, taxes) in sorted(
                PLANS.items()
            )
        ],
    )
    write_catalog_csv(
        catalog / "charges.csv",
        [
            {
                "charge_code": f"{plan}_calls",
                "plan_code": plan,
                "metric_code": "calls",
                "charge_model": "standard",
                "pay_in_advance": "false",
                "invoiceable": "true",
                "prorated": "false",
                "amount": CALL_PRICE.get(plan, "1.00"),
                "min_amount": MIN_AMOUNT.get(plan, ""),
            }
            for plan in PLANS
        ]
        + [
            {
                "charge_code": code,
                "plan_code": plan,
                "metric_code": metric,
                "charge_model": "standard",
                "pay_in_advance": advance,
                "invoiceable": invoiceable,
                "prorated": prorated,
                "amount": amount,
            }
            for code, plan, metric, amount, advance, invoiceable, prorated in EXTRA_CHARGES
        ]
        + [
            {
                "charge_code": code,
                "plan_code": plan,
                "metric_code": metric,
                "charge_model": "standard",
                "pay_in_advance": advance,
                "invoiceable": invoiceable,
                "prorated": prorated,
                "amount": version_amount,
                "valid_from": valid_from,
            }
            for code, plan, metric, _, advance, invoiceable, prorated in EXTRA_CHARGES
            for version_code, valid_from, version_amount in CHARGE_VERSIONS
            if code == version_code
        ],
    )
    write_catalog_csv(catalog / "charge_filters.csv", [])
    write_catalog_csv(catalog / "charge_tiers.csv", [])
    write_catalog_csv(
        catalog / "usage_thresholds.csv",
        [dict(zip(("plan_code", "amount", "recurring"), row, strict=True)) for row in thresholds],
    )
    write_catalog_csv(
        catalog / "taxes.csv",
        [{"tax_code": "vat20", "name": "VAT", "rate": "20", "applied_by_default": "false"}],
    )
    write_catalog_csv(catalog / "coupons.csv", [])


# --------------------------------------------------------------------------------------------
# Landing
# --------------------------------------------------------------------------------------------

TIMEZONES = {
    "cust_tokyo": "Asia/Tokyo",
    "cust_la": "America/Los_Angeles",
    "cust_berlin": "Europe/Berlin",
    "cust_same_instant_la": "America/Los_Angeles",
    "cust_same_instant_tokyo": "Asia/Tokyo",
}


def phase(
    sub: str,
    plan: str,
    started_at: str,
    terminated_at: str = "",
    *,
    anniversary: str = "",
    customer: str = "",
) -> dict:
    """A subscriptions/ row; the customer is `cust_` + the subscription's name unless told."""
    return {
        "external_subscription_id": sub,
        "external_customer_id": customer or "cust_" + sub.removeprefix("sub_"),
        "plan_code": plan,
        "billing_time": "anniversary" if anniversary else "calendar",
        "subscription_at": anniversary or started_at,
        "started_at": started_at,
        "terminated_at": terminated_at or None,
        "updated_at": started_at,
    }


JAN_1 = "2025-01-01T00:00:00Z"
JAN_20 = "2025-01-20T00:00:00Z"
FEB_8 = "2025-02-08T00:00:00Z"

PHASES = [
    # §8 calendar intervals
    phase("sub_wk_arrears", "wk_arrears", "2025-01-08T00:00:00Z", "2025-02-05T12:00:00Z"),
    phase("sub_wk_advance", "wk_advance", "2025-01-08T00:00:00Z", "2025-02-05T12:00:00Z"),
    phase("sub_mo_arrears", "mo_31", JAN_1),
    phase("sub_mo_advance", "mo_adv_30", "2025-01-20T00:00:00Z"),
    phase("sub_qt_arrears", "qt_arrears", "2025-02-10T00:00:00Z"),
    phase("sub_qt_advance", "qt_advance", "2025-05-01T00:00:00Z"),
    phase("sub_sa_arrears", "sa_arrears", "2025-03-01T00:00:00Z"),
    phase("sub_sa_advance", "sa_advance", JAN_1),
    phase("sub_yr_arrears", "yr_arrears", "2025-04-01T00:00:00Z"),
    phase("sub_yr_advance", "yr_advance", "2025-07-01T00:00:00Z"),
    phase("sub_yr_arrears_monthly", "yr_arrears_monthly", JAN_1),
    phase("sub_yr_advance_monthly", "yr_advance_monthly", JAN_1),
    # §8 anniversary
    phase("sub_anniv_31", "mo_30", "2025-01-31T00:00:00Z", anniversary="2025-01-31T00:00:00Z"),
    phase(
        "sub_anniv_15",
        "mo_31",
        "2025-08-15T00:00:00Z",
        "2025-12-01T12:00:00Z",
        anniversary="2025-08-15T00:00:00Z",
    ),
    phase(
        "sub_anniv_weekly",
        "wk_arrears",
        "2025-01-09T00:00:00Z",
        "2025-02-02T12:00:00Z",
        anniversary="2025-01-09T00:00:00Z",
    ),
    phase(
        "sub_anniv_advance",
        "mo_adv_30",
        "2025-03-10T15:00:00Z",
        anniversary="2025-03-10T15:00:00Z",
    ),
    # §8 day counting
    phase("sub_day_midnight", "mo_31", "2025-03-15T00:00:00Z"),
    phase("sub_day_ten", "mo_31", "2025-03-15T10:00:00Z"),
    # Timezones (local midnight of Mar 1 in Tokyo, of Mar 5 in LA (PST), of Mar 10 in Berlin (CET))
    phase("sub_tokyo", "mo_30", "2025-02-28T15:00:00Z"),
    phase("sub_la", "mo_31", "2025-03-05T08:00:00Z"),
    phase("sub_berlin", "mo_31", "2025-03-09T23:00:00Z"),
    # §9 trials
    phase("sub_trial_arrears", "trial_arrears", "2025-05-01T00:00:00Z"),
    phase("sub_trial_long_arrears", "trial_long_arrears", "2025-06-01T00:00:00Z"),
    phase("sub_trial_adv", "trial_adv", "2025-03-10T00:00:00Z"),
    phase("sub_trial_adv_long", "trial_adv_long", "2025-04-10T00:00:00Z"),
    # §9 plan changes: a later phase of the same external id; the earlier one is left open
    phase("sub_upgrade", "mo_31", JAN_1),
    phase("sub_upgrade", "mo_62", "2025-03-11T12:00:00Z"),
    phase("sub_upgrade_adv", "mo_31", JAN_1),
    phase("sub_upgrade_adv", "mo_adv_62", "2025-04-16T09:00:00Z"),
    phase("sub_upgrade_cn", "mo_adv_31", JAN_1),
    phase("sub_upgrade_cn", "mo_adv_62", "2025-05-21T00:00:00Z"),
    phase("sub_downgrade", "mo_62", JAN_1),
    phase("sub_downgrade", "mo_31", "2025-06-10T00:00:00Z"),
    phase("sub_yearly_is_lower", "mo_31", JAN_1),
    phase("sub_yearly_is_lower", "yr_arrears", "2025-02-10T00:00:00Z"),
    phase("sub_monthly_is_higher", "yr_arrears", JAN_1),
    phase("sub_monthly_is_higher", "mo_31", "2025-03-11T00:00:00Z"),
    phase("sub_weekly_is_higher", "wk_arrears", "2025-01-06T00:00:00Z"),
    phase("sub_weekly_is_higher", "mo_30", "2025-01-22T00:00:00Z"),
    phase("sub_anniv_upgrade", "mo_31", "2025-01-20T00:00:00Z", anniversary=JAN_20),
    phase("sub_anniv_upgrade", "mo_62", "2025-03-05T00:00:00Z", anniversary=JAN_20),
    phase("sub_term_arrears", "mo_31", JAN_1, "2025-04-10T08:00:00Z"),
    phase("sub_term_adv", "mo_adv_tax", JAN_1, "2025-06-12T15:00:00Z"),
    # docs/conventions.md invoice grouping: two subscriptions of one customer
    phase("sub_grouped_arrears", "mo_31", JAN_1, customer="cust_grouped"),
    phase("sub_grouped_advance", "mo_adv_30", JAN_1, customer="cust_grouped"),
    # §6 minimum commitments
    phase("sub_commit_arrears", "commit_arrears", "2025-04-16T00:00:00Z", "2025-07-10T12:00:00Z"),
    phase("sub_commit_adv", "commit_adv", "2025-08-11T00:00:00Z"),
    # The year: trial, upgrade, downgrade, termination
    phase("sub_year", "yl_basic", "2025-01-12T09:00:00Z"),
    phase("sub_year", "yl_pro", "2025-04-16T12:00:00Z"),
    phase("sub_year", "yl_lite", "2025-06-18T00:00:00Z", "2025-09-20T18:00:00Z"),
    # §8 the termination instant is served: created and terminated at the same instant
    phase("sub_same_instant", "adv_50_tax", FEB_8, FEB_8),
    phase("sub_same_instant_la", "adv_50_tax", FEB_8, FEB_8),
    phase("sub_same_instant_tokyo", "adv_50_tax", FEB_8, FEB_8),
    phase("sub_same_instant_anniv", "adv_50_tax", FEB_8, FEB_8, anniversary=FEB_8),
    # §5 an event at the termination instant, under a spending minimum
    phase("sub_min_term", "min_term", "2025-01-08T08:00:00Z", "2025-02-25T06:00:00Z"),
    # §7 recurring pay-in-advance seats, prorated, not invoiceable
    phase("sub_lago_seats", "lago_seats", "2025-06-05T12:12:00Z"),
]

# external_subscription_id: [(metric code, timestamp, properties)] of the other metrics
EXTRA_EVENTS: dict[str, list[tuple[str, str, dict]]] = {
    "sub_lago_seats": [
        *(
            ("seats_items", f"2025-06-{10 + i}T10:00:00Z", {"item_id": f"user_{i}"})
            for i in range(1, 6)
        ),
        ("seats_items", "2025-07-12T01:10:00Z", {"item_id": "user_july_1"}),
        ("seats_items", "2025-07-12T01:10:01Z", {"item_id": "user_july_2"}),
    ],
}


def days(month: int, first: int, last: int, hours: tuple[int, ...] = (10,)) -> list[str]:
    """One call at each hour of each day first..last of a 2025 month."""
    return [
        f"2025-{month:02d}-{d:02d}T{h:02d}:00:00Z" for d in range(first, last + 1) for h in hours
    ]


# external_subscription_id: timestamps of its `calls` events
EVENTS: dict[str, list[str]] = {
    "sub_wk_arrears": [
        "2025-02-02T23:30:00Z",  # Sunday night: the week ending Feb 2
        "2025-02-05T11:00:00Z",  # before the termination instant (12:00)
        "2025-02-05T13:00:00Z",  # after it: never billed
    ],
    "sub_wk_advance": ["2025-01-10T10:00:00Z"],
    "sub_mo_arrears": ["2025-02-14T10:00:00Z"],
    "sub_mo_advance": ["2025-01-25T10:00:00Z"],
    "sub_qt_arrears": ["2025-03-20T10:00:00Z", "2025-05-15T10:00:00Z"],
    "sub_qt_advance": ["2025-06-10T10:00:00Z"],
    "sub_yr_arrears": ["2025-04-10T10:00:00Z", "2025-11-05T10:00:00Z"],
    "sub_yr_advance": ["2025-08-01T10:00:00Z"],
    "sub_yr_arrears_monthly": [
        "2025-01-15T10:00:00Z",
        "2025-02-15T10:00:00Z",
        "2025-02-15T11:00:00Z",
        "2025-06-15T10:00:00Z",
    ],
    "sub_yr_advance_monthly": ["2025-03-10T10:00:00Z", "2025-12-05T10:00:00Z"],
    "sub_anniv_31": ["2025-02-27T23:00:00Z", "2025-02-28T01:00:00Z"],
    "sub_anniv_advance": [
        "2025-03-10T14:00:00Z",  # before started_at (15:00) the same day: not billed
        "2025-03-10T16:00:00Z",
        "2025-04-09T23:00:00Z",
    ],
    "sub_day_ten": [
        "2025-03-15T09:59:59Z",  # before started_at: not billed
        "2025-03-15T10:00:00Z",  # at started_at: billed
        "2025-03-31T23:59:59Z",  # March
        "2025-04-01T00:00:00Z",  # April
    ],
    "sub_tokyo": [
        "2025-02-28T14:00:00Z",  # Feb 28 23:00 JST: before the start
        "2025-03-31T14:59:59Z",  # Mar 31 23:59:59 JST: March
        "2025-03-31T15:00:00Z",  # Apr 1 00:00 JST: April
        "2025-03-31T16:00:00Z",  # Apr 1 01:00 JST: April
    ],
    "sub_la": [
        "2025-03-09T10:30:00Z",  # Mar 9 03:30 PDT, just after the DST change
        "2025-04-01T05:00:00Z",  # Mar 31 22:00 PDT: March
        "2025-04-01T07:00:00Z",  # Apr 1 00:00 PDT: April
    ],
    "sub_berlin": [
        "2025-03-31T21:30:00Z",  # Mar 31 23:30 CEST: March
        "2025-03-31T22:30:00Z",  # Apr 1 00:30 CEST: April
    ],
    "sub_trial_arrears": ["2025-05-05T10:00:00Z"],
    "sub_trial_adv": ["2025-03-12T10:00:00Z"],
    "sub_trial_adv_long": [
        "2025-04-15T10:00:00Z",
        "2025-05-05T10:00:00Z",
        "2025-05-25T10:00:00Z",
    ],
    "sub_upgrade": [
        "2025-03-05T10:00:00Z",  # old plan
        "2025-03-11T11:00:00Z",  # old plan (before the upgrade instant, 12:00)
        "2025-03-11T13:00:00Z",  # new plan
        "2025-03-20T10:00:00Z",  # new plan
    ],
    "sub_upgrade_adv": ["2025-04-02T10:00:00Z", "2025-04-20T10:00:00Z"],
    "sub_downgrade": [
        "2025-06-05T10:00:00Z",  # old plan
        "2025-06-20T10:00:00Z",  # after the request, still the old plan until Jun 30
        "2025-07-05T10:00:00Z",  # new plan
    ],
    "sub_term_arrears": [
        "2025-04-02T10:00:00Z",
        "2025-04-10T07:00:00Z",  # before the termination instant (08:00)
        "2025-04-10T09:00:00Z",  # after it: never billed
    ],
    "sub_term_adv": ["2025-06-03T10:00:00Z"],
    "sub_commit_arrears": [
        *days(4, 20, 22),
        *days(5, 5, 9),
        *days(6, 1, 15, (10, 11, 12)),
    ],
    "sub_commit_adv": [*days(8, 12, 21), *days(9, 1, 25, (10, 11))],
    "sub_year": [
        "2025-01-15T10:00:00Z",
        "2025-01-20T10:00:00Z",
        "2025-02-05T10:00:00Z",
        "2025-02-20T10:00:00Z",
        "2025-03-03T10:00:00Z",
        "2025-04-10T10:00:00Z",
        "2025-04-16T11:00:00Z",  # basic, before the upgrade instant (12:00)
        "2025-04-16T13:00:00Z",  # pro
        "2025-04-25T10:00:00Z",
        "2025-05-10T10:00:00Z",
        "2025-06-05T10:00:00Z",
        "2025-06-20T10:00:00Z",  # pro: the downgrade waits for the end of June
        "2025-07-08T10:00:00Z",  # lite
        "2025-07-09T10:00:00Z",
        "2025-08-04T10:00:00Z",
        "2025-08-11T10:00:00Z",
        "2025-08-18T10:00:00Z",
        "2025-08-25T10:00:00Z",
        "2025-09-05T10:00:00Z",
        "2025-09-20T17:00:00Z",  # before the termination instant (18:00)
        "2025-09-20T19:00:00Z",  # after it: never billed
    ],
    "sub_min_term": ["2025-02-25T06:00:00Z"],  # at the termination instant
}

# §6 Lago's minimum commitment case: a warehouse of its own, closed for April 2024 (February and
# March backfilled): a leap February, as in the spec.
# The variants: (subscription, plan, start, anniversary); in arrears one event of 10 on each
# metric at the start, in advance 15 (recurring), 25 (metered) and 30 (metered in advance).
COMMIT_VARIANTS = [
    ("sub_lago_commit", "lago_commit", "2024-02-28T10:00:00Z", False),
    ("sub_commit_cal_qt", "lago_commit_qt", "2024-03-12T10:00:00Z", False),
    ("sub_commit_cal_wk", "lago_commit_wk", "2024-03-12T10:00:00Z", False),
    ("sub_commit_ann_mo", "lago_commit", "2024-02-28T10:00:00Z", True),
    ("sub_commit_ann_qt", "lago_commit_qt", "2024-03-12T10:00:00Z", True),
    ("sub_commit_ann_wk", "lago_commit_wk", "2024-03-12T10:00:00Z", True),
    ("sub_commit_adv_cal_mo", "lago_commit_adv", "2024-02-28T10:00:00Z", False),
    ("sub_commit_adv_cal_qt", "lago_commit_adv_qt", "2024-03-12T10:00:00Z", False),
    ("sub_commit_adv_cal_wk", "lago_commit_adv_wk", "2024-03-12T10:00:00Z", False),
    ("sub_commit_adv_ann_mo", "lago_commit_adv", "2024-02-28T10:00:00Z", True),
    ("sub_commit_adv_ann_qt", "lago_commit_adv_qt", "2024-03-12T10:00:00Z", True),
    ("sub_commit_adv_ann_wk", "lago_commit_adv_wk", "2024-03-12T10:00:00Z", True),
]
COMMIT_PHASES = [
    phase(sub, plan, start, anniversary=start if anniversary else "")
    for sub, plan, start, anniversary in COMMIT_VARIANTS
] + [
    phase("sub_price_step", "price_step", "2024-03-01T00:00:00Z"),
    # dg_small is a downgrade (600 < 1,200 a year): it waits for the end of March.
    phase("sub_dg_boundary", "dg_big", "2024-03-01T00:00:00Z"),
    phase("sub_dg_boundary", "dg_small", "2024-03-15T00:00:00Z"),
    phase("sub_adv_huge_tax", "adv_huge_tax", "2024-03-01T00:00:00Z", "2024-03-11T12:00:00Z"),
]
COMMIT_EVENTS = {
    sub: [
        (metric, start, {"total": total})
        for metric, total in zip(
            ("advance_recurring", "metered", "metered_advance"),
            ("15", "25", "30") if "_adv" in plan else ("10", "10", "10"),
            strict=True,
        )
    ]
    for sub, plan, start, _ in COMMIT_VARIANTS
} | {
    "sub_price_step": [("advance_recurring", "2024-03-05T10:00:00Z", {"total": "10"})],
    "sub_dg_boundary": [("advance_recurring", "2024-03-05T10:00:00Z", {"total": "10"})],
}

# §14 progressive billing: a warehouse of its own, whose catalog has usage thresholds.
PROGRESSIVE_PHASES = [
    phase("sub_prog", "prog_fixed", "2025-09-01T00:00:00Z"),
    phase("sub_prog_rec", "prog_rec", "2025-11-01T00:00:00Z"),
]
PROGRESSIVE_EVENTS = {
    "sub_prog": [*days(9, 1, 25), *days(10, 1, 25)],
    "sub_prog_rec": days(11, 1, 18),
}

LEAP_PHASES = [
    phase("sub_leap_calendar", "mo_29", "2024-02-10T00:00:00Z"),
    phase("sub_leap_anniv", "mo_30", "2024-01-31T00:00:00Z", anniversary="2024-01-31T00:00:00Z"),
]
LEAP_EVENTS = {"sub_leap_calendar": ["2024-02-29T10:00:00Z"]}


def write_landing(
    landing: Path,
    phases: list[dict],
    events: dict[str, list[str]],
    extra_events: dict[str, list[tuple[str, str, dict]]],
) -> None:
    customers = sorted({row["external_customer_id"] for row in phases})
    write_ndjson(
        landing / "customers" / "customers.ndjson",
        [
            {
                "external_customer_id": customer,
                "name": customer,
                "country": "US",
                "currency": "USD",
                "timezone": TIMEZONES.get(customer, ""),
                "updated_at": "2023-12-01T00:00:00Z",
            }
            for customer in customers
        ],
    )
    write_ndjson(landing / "subscriptions" / "subscriptions.ndjson", phases)
    write_ndjson(
        landing / "events" / "events.ndjson",
        [
            {
                "transaction_id": f"{sub}_{index}",
                "external_subscription_id": sub,
                "code": "calls",
                "timestamp": timestamp,
                "properties": {},
            }
            for sub, timestamps in events.items()
            for index, timestamp in enumerate(timestamps)
        ]
        + [
            {
                "transaction_id": f"{sub}_{code}_{index}",
                "external_subscription_id": sub,
                "code": code,
                "timestamp": timestamp,
                "properties": properties,
            }
            for sub, rows in extra_events.items()
            for index, (code, timestamp, properties) in enumerate(rows)
        ],
    )


def _close(
    root: Path,
    month: str,
    phases: list[dict],
    events: dict,
    thresholds: list | None = None,
    extra_events: dict | None = None,
) -> Path:
    write_catalog(root / "catalog", thresholds or [])
    write_landing(root / "landing", phases, events, extra_events or {})
    locations = {
        "catalog": root / "catalog",
        "landing": root / "landing",
        "warehouse": root / "warehouse.duckdb",
        "output": root / "output",
    }
    args = [f"--{name}={path}" for name, path in locations.items()]
    assert main(["close", "--month", month, *args]) == 0
    return locations["warehouse"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2025 scenario, closed for December 2025 (January to November backfilled)."""
    return _close(
        tmp_path_factory.mktemp("timelines"), CLOSE_MONTH, PHASES, EVENTS, extra_events=EXTRA_EVENTS
    )


@pytest.fixture(scope="module")
def commitment_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lago's minimum commitment cases, closed for September 2024 (February to August
    backfilled), with the §7 boundary cases of recurring pay-in-advance charges."""
    return _close(
        tmp_path_factory.mktemp("commitment"),
        "2024-09",
        COMMIT_PHASES,
        {},
        extra_events=COMMIT_EVENTS,
    )


@pytest.fixture(scope="module")
def progressive_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Progressive billing, closed for December 2025 (September to November backfilled); apart
    from `warehouse` so that the other timelines do not depend on usage thresholds."""
    root = tmp_path_factory.mktemp("progressive")
    return _close(root, CLOSE_MONTH, PROGRESSIVE_PHASES, PROGRESSIVE_EVENTS, THRESHOLDS)


@pytest.fixture(scope="module")
def leap_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The leap-year scenario, closed for February 2024 (January backfilled)."""
    return _close(tmp_path_factory.mktemp("leap"), LEAP_CLOSE_MONTH, LEAP_PHASES, LEAP_EVENTS)


# --------------------------------------------------------------------------------------------
# Expected values and reading the warehouse
# --------------------------------------------------------------------------------------------


def q9(value: F | int) -> Decimal:
    """An exact value as a decimal(38, 9) column holds it: half away from zero at the 9th digit."""
    value = F(value)
    exact = Decimal(value.numerator) / Decimal(value.denominator)  # 28 significant digits
    return exact.quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)


def cents(value: F | int) -> Decimal:
    """The USD amount: half away from zero at the cent (docs/rules.md §4, §10)."""
    value = F(value)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def d(text: str) -> date:
    return date.fromisoformat(text)


def t(text: str) -> datetime:
    """A naive UTC instant: "2025-01-08" is midnight UTC, "2025-02-05T12:00" 12:00 UTC."""
    return datetime.fromisoformat(text)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def fee(issued: str, plan: str, start: str, end: str, precise: F | int) -> tuple:
    """A subscription line: (issuing date, plan, from, to, precise_amount, amount)."""
    return (d(issued), plan, t(start), t(end), q9(precise), cents(precise))


def usage(issued: str, plan: str, start: str, end: str, units: int) -> tuple:
    """A charge line of `<plan>_calls`: (issuing date, charge, from, to, units, amount)."""
    price = Decimal(CALL_PRICE.get(plan, "1.00"))
    return (d(issued), f"{plan}_calls", t(start), t(end), Decimal(units), units * price)


def month(year: int, number: int) -> str:
    """The first day of a month, numbers past 12 rolling into the next year."""
    year, number = year + (number - 1) // 12, (number - 1) % 12 + 1
    return f"{year}-{number:02d}-01"


def subscription_lines(warehouse: Path, sub: str, *, nonzero: bool = False) -> list[tuple]:
    rows = query(
        warehouse,
        """
        select invoices.issuing_date, lines.plan_code, lines.from_datetime, lines.to_datetime,
               lines.precise_amount, lines.amount
        from billing.fct_invoice_lines as lines
        inner join billing.fct_invoices as invoices using (invoice_id)
        where lines.external_subscription_id = ? and lines.line_type = 'subscription'
        order by invoices.issuing_date, lines.from_datetime, lines.plan_code
        """,
        [sub],
    )
    rows = [(r[0], r[1], _utc(r[2]), _utc(r[3]), r[4], r[5]) for r in rows]
    return [r for r in rows if r[5] != 0] if nonzero else rows


def fee_amounts(warehouse: Path, sub: str) -> list[tuple]:
    """(issuing date, plan, precise_amount, amount) of the non-zero subscription lines."""
    return [(r[0], r[1], r[4], r[5]) for r in subscription_lines(warehouse, sub, nonzero=True)]


def charge_lines(warehouse: Path, sub: str) -> list[tuple]:
    rows = query(
        warehouse,
        """
        select invoices.issuing_date, lines.charge_code, lines.from_datetime, lines.to_datetime,
               lines.units, lines.amount
        from billing.fct_invoice_lines as lines
        inner join billing.fct_invoices as invoices using (invoice_id)
        where lines.external_subscription_id = ? and lines.line_type = 'charge'
        order by invoices.issuing_date, lines.from_datetime, lines.charge_code
        """,
        [sub],
    )
    return [(r[0], r[1], _utc(r[2]), _utc(r[3]), r[4], r[5]) for r in rows]


def commitment_lines(warehouse: Path, sub: str) -> list[tuple]:
    """(issuing date, plan, amount) of the minimum-commitment true-ups."""
    return query(
        warehouse,
        """
        select invoices.issuing_date, lines.plan_code, lines.amount
        from billing.fct_invoice_lines as lines
        inner join billing.fct_invoices as invoices using (invoice_id)
        where lines.external_subscription_id = ? and lines.line_type = 'commitment'
        order by invoices.issuing_date
        """,
        [sub],
    )


INVOICE_COLUMNS = {
    "type": "invoice_type",
    "start": "billing_period_start",
    "end": "billing_period_end",
    "fees": "fees_amount",
    "progressive": "progressive_billing_credit_amount",
    "sub_total": "sub_total_excluding_taxes_amount",
    "taxes": "taxes_amount",
    "credit_notes": "credit_notes_amount",
    "total": "total_amount",
    "month": "billing_month",
}


def invoices(warehouse: Path, customer: str, *columns: str) -> list[tuple]:
    """(issuing_date, *columns) of a customer's invoices, by issuing date."""
    selected = ", ".join(["issuing_date", *(INVOICE_COLUMNS[c] for c in columns)])
    return query(
        warehouse,
        f"select {selected} from billing.fct_invoices where external_customer_id = ? "
        "order by issuing_date, invoice_type",
        [customer],
    )


def credit_notes(warehouse: Path, customer: str) -> list[tuple]:
    """(reason, issuing date, issuing date of the credited invoice, currency, sub_total, coupons
    adjustment, taxes, total, credit, refund, balance) of a customer's credit notes."""
    return query(
        warehouse,
        """
        select notes.reason, notes.issuing_date, invoices.issuing_date, notes.currency,
               notes.sub_total_excluding_taxes_amount, notes.coupons_adjustment_amount,
               notes.taxes_amount, notes.total_amount, notes.credit_amount, notes.refund_amount,
               notes.balance_amount
        from billing.fct_credit_notes as notes
        left join billing.fct_invoices as invoices using (invoice_id)
        where notes.external_customer_id = ?
        order by notes.issuing_date
        """,
        [customer],
    )


def money(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


# --------------------------------------------------------------------------------------------
# §8 calendar intervals, in arrears and in advance
# --------------------------------------------------------------------------------------------


def test_8_weekly_calendar_in_arrears(warehouse):
    # 7.00 a week: day price 7.00 / 7 = 1.00. Weeks run Monday-Sunday. Started Wed Jan 8:
    # the first week (Mon Jan 6 - Sun Jan 12) bills Jan 8..12 = 5 days (§9 case 4).
    assert subscription_lines(warehouse, "sub_wk_arrears") == [
        fee("2025-01-13", "wk_arrears", "2025-01-08", "2025-01-13", 5),  # 5 x 1.00
        fee("2025-01-20", "wk_arrears", "2025-01-13", "2025-01-20", 7),
        fee("2025-01-27", "wk_arrears", "2025-01-20", "2025-01-27", 7),
        # Mon Jan 27 - Sun Feb 2, issued Mon Feb 3.
        fee("2025-02-03", "wk_arrears", "2025-01-27", "2025-02-03", 7),
        # Terminated Wed Feb 5 12:00: Feb 3..5 = 3 days x 1.00, termination day included.
        fee("2025-02-05", "wk_arrears", "2025-02-03", "2025-02-05T12:00", 3),
    ]
    # Sunday Feb 2 23:30 is the week ending Feb 2; Feb 5 11:00 is before the termination
    # instant; Feb 5 13:00 is after it and never billed.
    assert charge_lines(warehouse, "sub_wk_arrears") == [
        usage("2025-02-03", "wk_arrears", "2025-01-27", "2025-02-03", 1),
        usage("2025-02-05", "wk_arrears", "2025-02-03", "2025-02-05T12:00", 1),
    ]


def test_8_weekly_calendar_in_advance(warehouse):
    # 14.00 a week in advance: day price 2.00. Started Wed Jan 8: at once Jan 8..12 = 5 days
    # x 2.00 = 10.00; then every Monday the new week's 14.00 with the previous week's charges.
    assert subscription_lines(warehouse, "sub_wk_advance") == [
        fee("2025-01-08", "wk_advance", "2025-01-08", "2025-01-13", 10),
        fee("2025-01-13", "wk_advance", "2025-01-13", "2025-01-20", 14),
        fee("2025-01-20", "wk_advance", "2025-01-20", "2025-01-27", 14),
        fee("2025-01-27", "wk_advance", "2025-01-27", "2025-02-03", 14),
        fee("2025-02-03", "wk_advance", "2025-02-03", "2025-02-10", 14),
        # Terminated Wed Feb 5: no fee (the credit note is test_9_termination_in_advance_*).
    ]
    # The Jan 10 call: first week's charges window from started_at, on the Jan 13 invoice.
    assert charge_lines(warehouse, "sub_wk_advance") == [
        usage("2025-01-13", "wk_advance", "2025-01-08", "2025-01-13", 1),
    ]


def test_8_monthly_calendar_in_arrears(warehouse):
    # 31.00 a month from Jan 1: every period is full, so the plan amount (§9 case 3), whatever
    # the month's length (28 in February); issued the 1st of the next month, Jan 1 2026 last.
    assert subscription_lines(warehouse, "sub_mo_arrears") == [
        fee(month(2025, m + 1), "mo_31", month(2025, m), month(2025, m + 1), 31)
        for m in range(1, 13)
    ]
    assert charge_lines(warehouse, "sub_mo_arrears") == [
        usage("2025-03-01", "mo_31", "2025-02-01", "2025-03-01", 1),  # Feb 14
    ]


def test_8_monthly_calendar_in_advance(warehouse):
    # 30.00 a month in advance from Jan 20: at once Jan 20..31 = 12 days x 30/31
    # = 360/31 = 11.612903225... -> 11.61; then each month's 30.00 on its 1st, up to the
    # January 2026 fee issued on Jan 1 2026 (partition 2025-12, docs/conventions.md).
    assert q9(F(360, 31)) == Decimal("11.612903226")
    assert subscription_lines(warehouse, "sub_mo_advance") == [
        fee("2025-01-20", "mo_adv_30", "2025-01-20", "2025-02-01", F(12 * 30, 31)),
        *[
            fee(month(2025, m), "mo_adv_30", month(2025, m), month(2025, m + 1), 30)
            for m in range(2, 14)
        ],
    ]
    assert charge_lines(warehouse, "sub_mo_advance") == [
        usage("2025-02-01", "mo_adv_30", "2025-01-20", "2025-02-01", 1),  # Jan 25
    ]


def test_8_quarterly_calendar_in_arrears(warehouse):
    # 90.00 a quarter; Q1 2025 has 31 + 28 + 31 = 90 days. Started Feb 10: Feb 10..Mar 31
    # = 19 + 31 = 50 days x 90/90 = 50.00. Then full quarters (Q2 91, Q3 92, Q4 92 days).
    assert subscription_lines(warehouse, "sub_qt_arrears") == [
        fee("2025-04-01", "qt_arrears", "2025-02-10", "2025-04-01", 50),
        fee("2025-07-01", "qt_arrears", "2025-04-01", "2025-07-01", 90),
        fee("2025-10-01", "qt_arrears", "2025-07-01", "2025-10-01", 90),
        fee("2026-01-01", "qt_arrears", "2025-10-01", "2026-01-01", 90),
    ]
    # Charges follow the quarter too: Mar 20 on the Q1 invoice, May 15 on Q2's.
    assert charge_lines(warehouse, "sub_qt_arrears") == [
        usage("2025-04-01", "qt_arrears", "2025-02-10", "2025-04-01", 1),
        usage("2025-07-01", "qt_arrears", "2025-04-01", "2025-07-01", 1),
    ]


def test_8_quarterly_calendar_in_advance(warehouse):
    # 91.00 a quarter in advance; Q2 has 30 + 31 + 30 = 91 days. Started May 1: May 1..Jun 30
    # = 61 days x 91/91 = 61.00 at once; then 91.00 on Jul 1, Oct 1 and Jan 1 2026 (Q1 2026).
    assert subscription_lines(warehouse, "sub_qt_advance") == [
        fee("2025-05-01", "qt_advance", "2025-05-01", "2025-07-01", 61),
        fee("2025-07-01", "qt_advance", "2025-07-01", "2025-10-01", 91),
        fee("2025-10-01", "qt_advance", "2025-10-01", "2026-01-01", 91),
        fee("2026-01-01", "qt_advance", "2026-01-01", "2026-04-01", 91),
    ]
    assert charge_lines(warehouse, "sub_qt_advance") == [
        usage("2025-07-01", "qt_advance", "2025-05-01", "2025-07-01", 1),  # Jun 10
    ]


def test_8_semiannual_calendar_in_arrears(warehouse):
    # 181.00 a half-year; H1 2025 has 181 days. Started Mar 1: Mar 1..Jun 30 = 31 + 30 + 31
    # + 30 = 122 days x 181/181 = 122.00; H2 (184 days) in full.
    assert subscription_lines(warehouse, "sub_sa_arrears") == [
        fee("2025-07-01", "sa_arrears", "2025-03-01", "2025-07-01", 122),
        fee("2026-01-01", "sa_arrears", "2025-07-01", "2026-01-01", 181),
    ]


def test_8_semiannual_calendar_in_advance(warehouse):
    # 184.00 a half-year in advance from Jan 1: H1 181/181 days -> the plan amount at once,
    # H2 on Jul 1, H1 2026 on Jan 1 2026.
    assert subscription_lines(warehouse, "sub_sa_advance") == [
        fee("2025-01-01", "sa_advance", "2025-01-01", "2025-07-01", 184),
        fee("2025-07-01", "sa_advance", "2025-07-01", "2026-01-01", 184),
        fee("2026-01-01", "sa_advance", "2026-01-01", "2026-07-01", 184),
    ]


def test_8_yearly_calendar_in_arrears(warehouse):
    # 365.00 a year: day price 1.00. Started Apr 1: Apr 1..Dec 31 = 275 days -> 275.00 on
    # Jan 1 2026, with the whole year's charges (Apr 10 and Nov 5).
    assert subscription_lines(warehouse, "sub_yr_arrears") == [
        fee("2026-01-01", "yr_arrears", "2025-04-01", "2026-01-01", 275),
    ]
    assert charge_lines(warehouse, "sub_yr_arrears") == [
        usage("2026-01-01", "yr_arrears", "2025-04-01", "2026-01-01", 2),
    ]


def test_8_yearly_calendar_in_advance(warehouse):
    # 730.00 a year in advance, started Jul 1: Jul 1..Dec 31 = 184 days x 730/365 = 368.00;
    # Jan 1 2026: the 2026 fee (365 days) in full, with 2025's charges (Aug 1).
    assert subscription_lines(warehouse, "sub_yr_advance") == [
        fee("2025-07-01", "yr_advance", "2025-07-01", "2026-01-01", F(184 * 730, 365)),
        fee("2026-01-01", "yr_advance", "2026-01-01", "2027-01-01", 730),
    ]
    assert charge_lines(warehouse, "sub_yr_advance") == [
        usage("2026-01-01", "yr_advance", "2025-07-01", "2026-01-01", 1),
    ]


def test_8_yearly_in_arrears_bills_charges_monthly_and_the_fee_once(warehouse):
    # bill_charges_monthly: charges every month (Jan 1 call, Feb 2 calls, Jun 1 call; empty
    # months have no line, §4), the year's fee once, at year end.
    assert subscription_lines(warehouse, "sub_yr_arrears_monthly") == [
        fee("2026-01-01", "yr_arrears_monthly", "2025-01-01", "2026-01-01", 365),
    ]
    assert charge_lines(warehouse, "sub_yr_arrears_monthly") == [
        usage("2025-02-01", "yr_arrears_monthly", "2025-01-01", "2025-02-01", 1),
        usage("2025-03-01", "yr_arrears_monthly", "2025-02-01", "2025-03-01", 2),
        usage("2025-07-01", "yr_arrears_monthly", "2025-06-01", "2025-07-01", 1),
    ]


def test_8_yearly_in_advance_bills_charges_monthly_and_the_fee_at_the_start(warehouse):
    # The fee for 2025 at the start (Jan 1), for 2026 on Jan 1 2026; the charges monthly
    # (Mar 10 on Apr 1, Dec 5 on Jan 1 2026 beside the 2026 fee).
    assert subscription_lines(warehouse, "sub_yr_advance_monthly") == [
        fee("2025-01-01", "yr_advance_monthly", "2025-01-01", "2026-01-01", 365),
        fee("2026-01-01", "yr_advance_monthly", "2026-01-01", "2027-01-01", 365),
    ]
    assert charge_lines(warehouse, "sub_yr_advance_monthly") == [
        usage("2025-04-01", "yr_advance_monthly", "2025-03-01", "2025-04-01", 1),
        usage("2026-01-01", "yr_advance_monthly", "2025-12-01", "2026-01-01", 1),
    ]


# --------------------------------------------------------------------------------------------
# §8 anniversary billing
# --------------------------------------------------------------------------------------------


def test_8_anniversary_on_the_31st_clamps_to_the_months_last_day(warehouse):
    # Anchored on Jan 31: periods start on Jan 31, Feb 28, Mar 31, Apr 30, ... (the 31st,
    # clamped to the month's last day); each ends the day before the next one starts and is
    # billed the next day: Jan 31-Feb 27 (28 days) on Feb 28, Feb 28-Mar 30 (31) on Mar 31,
    # Mar 31-Apr 29 (30) on Apr 30, ... Nov 30-Dec 30 on Dec 31. Dec 31-Jan 30 2026 ends in
    # 2026: not closed yet. Every period is full: the plan amount 30.00.
    starts = [
        "2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30",
        "2025-07-31", "2025-08-31", "2025-09-30", "2025-10-31", "2025-11-30", "2025-12-31",
    ]  # fmt: skip
    assert subscription_lines(warehouse, "sub_anniv_31") == [
        fee(end, "mo_30", start, end, 30) for start, end in pairwise(starts)
    ]
    # Feb 27 23:00 is in Jan 31-Feb 27; Feb 28 01:00 in Feb 28-Mar 30.
    assert charge_lines(warehouse, "sub_anniv_31") == [
        usage("2025-02-28", "mo_30", "2025-01-31", "2025-02-28", 1),
        usage("2025-03-31", "mo_30", "2025-02-28", "2025-03-31", 1),
    ]


def test_8_anniversary_period_closes_in_the_month_of_its_end(warehouse):
    # Anchored on Aug 15: Aug 15-Sep 14 issued Sep 15, Sep 15-Oct 14 issued Oct 15 in partition
    # 2025-10 (docs/conventions.md), Oct 15-Nov 14 issued Nov 15. Terminated Dec 1 12:00 in Nov
    # 15-Dec 14 (30 days): Nov 15..Dec 1 = 16 + 1 = 17 days x 31/30 = 527/30 = 17.5666... -> 17.57.
    assert subscription_lines(warehouse, "sub_anniv_15") == [
        fee("2025-09-15", "mo_31", "2025-08-15", "2025-09-15", 31),
        fee("2025-10-15", "mo_31", "2025-09-15", "2025-10-15", 31),
        fee("2025-11-15", "mo_31", "2025-10-15", "2025-11-15", 31),
        fee("2025-12-01", "mo_31", "2025-11-15", "2025-12-01T12:00", F(17 * 31, 30)),
    ]
    # The partition is the engine's `billing_month` (first day of the close month).
    assert invoices(warehouse, "cust_anniv_15", "start", "end", "month") == [
        (d("2025-09-15"), d("2025-08-15"), d("2025-09-14"), d("2025-09-01")),
        (d("2025-10-15"), d("2025-09-15"), d("2025-10-14"), d("2025-10-01")),
        (d("2025-11-15"), d("2025-10-15"), d("2025-11-14"), d("2025-11-01")),
        # The termination invoice closes the period cut short at the termination (reading
        # docs/conventions.md's "the subscription period it closes" as Lago's invoice subscription,
        # whose to_datetime is terminated_at): Nov 15 - Dec 1.
        (d("2025-12-01"), d("2025-11-15"), d("2025-12-01"), d("2025-12-01")),
    ]


def test_8_weekly_anniversary_runs_from_the_subscription_weekday(warehouse):
    # Anchored on Thursday Jan 9: weeks Thu-Wed. Terminated Sun Feb 2 12:00 in Jan 30-Feb 5:
    # Jan 30..Feb 2 = 4 days x 7/7 = 4.00.
    assert subscription_lines(warehouse, "sub_anniv_weekly") == [
        fee("2025-01-16", "wk_arrears", "2025-01-09", "2025-01-16", 7),
        fee("2025-01-23", "wk_arrears", "2025-01-16", "2025-01-23", 7),
        fee("2025-01-30", "wk_arrears", "2025-01-23", "2025-01-30", 7),
        fee("2025-02-02", "wk_arrears", "2025-01-30", "2025-02-02T12:00", 4),
    ]


def test_9_anniversary_in_advance_first_fee_is_not_prorated(warehouse):
    # In advance, anchored on Mar 10 (started 15:00): §9 case 3, a pay-in-advance anniversary
    # subscription's first invoice bills the full 30.00 for Mar 10-Apr 9; then 30.00 on each
    # 10th up to Dec 10 (Dec 10-Jan 9 2026, beside Nov 10-Dec 9's charges).
    assert subscription_lines(warehouse, "sub_anniv_advance") == [
        fee(month(2025, m)[:8] + "10", "mo_adv_30", month(2025, m)[:8] + "10",
            month(2025, m + 1)[:8] + "10", 30)
        for m in range(3, 13)
    ]  # fmt: skip
    # Charges from the exact started_at (15:00): the 14:00 call is out, 16:00 and Apr 9 23:00
    # are in the first period.
    assert charge_lines(warehouse, "sub_anniv_advance") == [
        usage("2025-04-10", "mo_adv_30", "2025-03-10T15:00", "2025-04-10", 2),
    ]


# --------------------------------------------------------------------------------------------
# §8 day counting (§18.12)
# --------------------------------------------------------------------------------------------


def test_8_day_count_mar_15_to_mar_31_is_17_days(warehouse):
    # Mar 15 00:00 -> Mar 31 23:59:59: ceil(16.99999 days) = 17 days x 31/31 = 17.00.
    assert subscription_lines(warehouse, "sub_day_midnight")[0] == fee(
        "2025-04-01", "mo_31", "2025-03-15", "2025-04-01", 17
    )


def test_18_12_start_at_ten_counts_the_first_day_in_full(warehouse):
    # Started Mar 15 10:00: still 17 days (ceil), 17.00; the fee window starts at local
    # midnight of the start day.
    assert subscription_lines(warehouse, "sub_day_ten")[0] == fee(
        "2025-04-01", "mo_31", "2025-03-15", "2025-04-01", 17
    )


def test_8_charges_window_starts_at_the_started_at_instant(warehouse):
    # 09:59:59 the same day is before started_at: not billed; 10:00:00 (inclusive) and
    # Mar 31 23:59:59 are March's: 2 calls; Apr 1 00:00:00 is April's.
    assert charge_lines(warehouse, "sub_day_ten")[:2] == [
        usage("2025-04-01", "mo_31", "2025-03-15T10:00", "2025-04-01", 2),
        usage("2025-05-01", "mo_31", "2025-04-01", "2025-05-01", 1),
    ]


# --------------------------------------------------------------------------------------------
# Timezones and DST (§8: boundaries in the customer's timezone, stored in UTC)
# --------------------------------------------------------------------------------------------


def test_8_tokyo_months_run_from_local_midnight(warehouse):
    # Tokyo is UTC+9: March is 2025-02-28T15:00Z .. 2025-03-31T15:00Z (exclusive).
    assert subscription_lines(warehouse, "sub_tokyo")[:2] == [
        fee("2025-04-01", "mo_30", "2025-02-28T15:00", "2025-03-31T15:00", 30),
        fee("2025-05-01", "mo_30", "2025-03-31T15:00", "2025-04-30T15:00", 30),
    ]
    # 2025-03-31T14:59:59Z is Mar 31 in Tokyo (March); 15:00Z and 16:00Z are Apr 1 (April);
    # 2025-02-28T14:00Z is before the start.
    assert charge_lines(warehouse, "sub_tokyo")[:2] == [
        usage("2025-04-01", "mo_30", "2025-02-28T15:00", "2025-03-31T15:00", 1),
        usage("2025-05-01", "mo_30", "2025-03-31T15:00", "2025-04-30T15:00", 2),
    ]
    # Issued on the local day after the period (Apr 1 in Tokyo, although the period ended at
    # 2025-03-31T14:59:59Z), in partition 2025-03.
    assert invoices(warehouse, "cust_tokyo", "start", "end", "month")[:2] == [
        (d("2025-04-01"), d("2025-03-01"), d("2025-03-31"), d("2025-03-01")),
        (d("2025-05-01"), d("2025-04-01"), d("2025-04-30"), d("2025-04-01")),
    ]


def test_8_los_angeles_across_dst_counts_calendar_days(warehouse):
    # LA: PST (UTC-8) until Mar 9 2025, then PDT (UTC-7). Started Mar 5 00:00 PST
    # (08:00Z); March ends Apr 1 00:00 PDT (07:00Z): 26 days 23 hours of UTC time, but
    # Mar 5..31 = 27 calendar days (Lago subtracts the offset change), and March is 31 days:
    # 27 x 31/31 = 27.00 (a 30-day March would give 27.90, a 26-day count 26.00).
    assert subscription_lines(warehouse, "sub_la")[:2] == [
        fee("2025-04-01", "mo_31", "2025-03-05T08:00", "2025-04-01T07:00", 27),
        fee("2025-05-01", "mo_31", "2025-04-01T07:00", "2025-05-01T07:00", 31),
    ]
    # Mar 9 10:30Z (03:30 PDT) and Apr 1 05:00Z (Mar 31 22:00 PDT) are March's; Apr 1 07:00Z
    # (00:00 PDT) is April's.
    assert charge_lines(warehouse, "sub_la")[:2] == [
        usage("2025-04-01", "mo_31", "2025-03-05T08:00", "2025-04-01T07:00", 2),
        usage("2025-05-01", "mo_31", "2025-04-01T07:00", "2025-05-01T07:00", 1),
    ]
    assert invoices(warehouse, "cust_la", "start", "end")[:2] == [
        (d("2025-04-01"), d("2025-03-01"), d("2025-03-31")),
        (d("2025-05-01"), d("2025-04-01"), d("2025-04-30")),
    ]


def test_8_berlin_across_dst_counts_calendar_days(warehouse):
    # Berlin: CET (UTC+1) until Mar 30 2025, then CEST (UTC+2). Started Mar 10 00:00 CET
    # (Mar 9 23:00Z); March ends Apr 1 00:00 CEST (Mar 31 22:00Z): 21 days 23 hours of UTC
    # time, Mar 10..31 = 22 days x 31/31 = 22.00.
    assert subscription_lines(warehouse, "sub_berlin")[:2] == [
        fee("2025-04-01", "mo_31", "2025-03-09T23:00", "2025-03-31T22:00", 22),
        fee("2025-05-01", "mo_31", "2025-03-31T22:00", "2025-04-30T22:00", 31),
    ]
    # Mar 31 21:30Z = 23:30 CEST (March); 22:30Z = Apr 1 00:30 CEST (April).
    assert charge_lines(warehouse, "sub_berlin")[:2] == [
        usage("2025-04-01", "mo_31", "2025-03-09T23:00", "2025-03-31T22:00", 1),
        usage("2025-05-01", "mo_31", "2025-03-31T22:00", "2025-04-30T22:00", 1),
    ]


# --------------------------------------------------------------------------------------------
# §9 free trials
# --------------------------------------------------------------------------------------------


def test_9_trial_ending_inside_an_in_arrears_period(warehouse):
    # 10 trial days from May 1 00:00: trial_end May 11 00:00. May: days(May 11 -> May 31)
    # = 21 x 31/31 = 21.00; June in full. A 0.00 line for a trial period, if any, is ignored.
    assert fee_amounts(warehouse, "sub_trial_arrears")[:2] == [
        (d("2025-06-01"), "trial_arrears", q9(21), cents(21)),
        (d("2025-07-01"), "trial_arrears", q9(31), cents(31)),
    ]
    # The trial frees the fee only: the May 5 call is billed (§9 trial rules touch the fee).
    assert [row[:2] + row[4:] for row in charge_lines(warehouse, "sub_trial_arrears")] == [
        (d("2025-06-01"), "trial_arrears_calls", Decimal(1), Decimal("1.00")),
    ]


def test_9_trial_covering_a_whole_in_arrears_period_bills_no_fee(warehouse):
    # 45 trial days from Jun 1: trial_end Jul 16 00:00. June is all trial: fee 0 (no line, or
    # a 0.00 one). July: Jul 16..31 = 16 days x 30/31 = 480/31 = 15.483870967... -> 15.48.
    assert q9(F(480, 31)) == Decimal("15.483870968")
    assert fee_amounts(warehouse, "sub_trial_long_arrears")[:2] == [
        (d("2025-08-01"), "trial_long_arrears", q9(F(480, 31)), Decimal("15.48")),
        (d("2025-09-01"), "trial_long_arrears", q9(30), cents(30)),
    ]


def test_18_13_in_advance_trial_first_invoice_at_trial_end(warehouse):
    # In advance, 14 trial days from Mar 10: trial_end Mar 24 00:00. No invoice at creation;
    # the first one is issued on Mar 24 with the rest of March: Mar 24..31 = 8 x 31/31 = 8.00.
    # Apr 1: April's 31.00 and March's charges (Mar 12, during the trial: billed).
    assert invoices(warehouse, "cust_trial_adv", "type", "start", "end", "fees")[:3] == [
        (d("2025-03-24"), "subscription", d("2025-03-01"), d("2025-03-31"), Decimal("8.00")),
        (d("2025-04-01"), "subscription", d("2025-03-01"), d("2025-03-31"), Decimal("32.00")),
        (d("2025-05-01"), "subscription", d("2025-04-01"), d("2025-04-30"), Decimal("31.00")),
    ]
    assert fee_amounts(warehouse, "sub_trial_adv")[:3] == [
        (d("2025-03-24"), "trial_adv", q9(8), cents(8)),
        (d("2025-04-01"), "trial_adv", q9(31), cents(31)),
        (d("2025-05-01"), "trial_adv", q9(31), cents(31)),
    ]


def test_9_in_advance_trial_longer_than_a_period(warehouse):
    # In advance, 40 trial days from Apr 10: trial_end May 20 00:00.
    # - Apr 10: nothing (trial);
    # - May 1: April's usage only (Apr 15: 1.00), no fee: May is still in trial;
    # - May 20: the fee for the rest of May: May 20..31 = 12 x 30/31 = 360/31 -> 11.61;
    # - Jun 1: June's 30.00 and May's usage (May 5 and May 25: 2.00) = 32.00.
    assert invoices(warehouse, "cust_trial_adv_long", "fees")[:4] == [
        (d("2025-05-01"), Decimal("1.00")),
        (d("2025-05-20"), Decimal("11.61")),
        (d("2025-06-01"), Decimal("32.00")),
        (d("2025-07-01"), Decimal("30.00")),
    ]
    assert fee_amounts(warehouse, "sub_trial_adv_long")[:3] == [
        (d("2025-05-20"), "trial_adv_long", q9(F(360, 31)), Decimal("11.61")),
        (d("2025-06-01"), "trial_adv_long", q9(30), cents(30)),
        (d("2025-07-01"), "trial_adv_long", q9(30), cents(30)),
    ]


# --------------------------------------------------------------------------------------------
# §9 plan changes: upgrades, downgrades, terminations (§18.5)
# --------------------------------------------------------------------------------------------


def test_9_upgrade_in_arrears_to_in_arrears(warehouse):
    # mo_31 -> mo_62 on Mar 11 12:00 (744 >= 372 a year: upgrade, at once).
    # Old side, on the upgrade invoice (Mar 11): days(Mar 1 -> Mar 11) - 1 = 10 x 31/31
    # = 10.00 (§18.5: the upgrade day goes to the new plan).
    # New side in arrears, at period end (Apr 1): days(Mar 11 -> Mar 31) = 21 x 62/31 = 42.00
    # (§9 case 2); then 62.00 a month. (Reading: an in-arrears new plan's first fee comes at
    # its period end; only an in-advance new plan's first fee shares the upgrade invoice.)
    assert subscription_lines(warehouse, "sub_upgrade") == [
        fee("2025-02-01", "mo_31", "2025-01-01", "2025-02-01", 31),
        fee("2025-03-01", "mo_31", "2025-02-01", "2025-03-01", 31),
        fee("2025-03-11", "mo_31", "2025-03-01", "2025-03-11T12:00", 10),
        fee("2025-04-01", "mo_62", "2025-03-11", "2025-04-01", 42),
        *[fee(month(2025, m + 1), "mo_62", month(2025, m), month(2025, m + 1), 62)
          for m in range(4, 13)],
    ]  # fmt: skip
    # Usage before the upgrade instant on the old plan (Mar 5, Mar 11 11:00: 2 x 1.00), after
    # it on the new one (Mar 11 13:00, Mar 20: 2 x 2.00), windows split at 12:00.
    assert charge_lines(warehouse, "sub_upgrade") == [
        usage("2025-03-11", "mo_31", "2025-03-01", "2025-03-11T12:00", 2),
        usage("2025-04-01", "mo_62", "2025-03-11T12:00", "2025-04-01", 2),
    ]
    assert invoices(warehouse, "cust_upgrade", "type", "start", "end", "fees")[2:4] == [
        # The old side's period, cut short at the upgrade (as for a termination).
        (d("2025-03-11"), "subscription", d("2025-03-01"), d("2025-03-11"), Decimal("12.00")),
        (d("2025-04-01"), "subscription", d("2025-03-01"), d("2025-03-31"), Decimal("46.00")),
    ]


def test_18_5_upgrade_day_is_billed_once_to_the_new_plan(warehouse):
    # In days: the old plan bills Mar 1..10 (10), the new plan Mar 11..31 (21): 10 + 21 = 31,
    # every March day once. Fees: 10 x 31/31 + 21 x 62/31 = 10.00 + 42.00.
    march = [
        (row[1], row[5])
        for row in subscription_lines(warehouse, "sub_upgrade")
        if d("2025-03-11") <= row[0] <= d("2025-04-01")
    ]
    assert march == [("mo_31", Decimal("10.00")), ("mo_62", Decimal("42.00"))]


def test_9_upgrade_to_in_advance_shares_one_invoice(warehouse):
    # mo_31 (arrears) -> mo_adv_62 (in advance) on Apr 16 09:00; April has 30 days.
    # Old side: days(Apr 1 -> Apr 16) - 1 = 15 x 31/30 = 15.50; its charges Apr 1..16 09:00
    # (Apr 2: 1.00). New side in advance, at once: Apr 16..30 = 15 x 62/30 = 31.00.
    # One invoice on Apr 16: 15.50 + 1.00 + 31.00 = 47.50.
    assert subscription_lines(warehouse, "sub_upgrade_adv")[3:6] == [
        fee("2025-04-16", "mo_31", "2025-04-01", "2025-04-16T09:00", F(15 * 31, 30)),
        fee("2025-04-16", "mo_adv_62", "2025-04-16", "2025-05-01", 31),
        fee("2025-05-01", "mo_adv_62", "2025-05-01", "2025-06-01", 62),
    ]
    assert charge_lines(warehouse, "sub_upgrade_adv") == [
        usage("2025-04-16", "mo_31", "2025-04-01", "2025-04-16T09:00", 1),
        usage("2025-05-01", "mo_adv_62", "2025-04-16T09:00", "2025-05-01", 1),  # Apr 20
    ]
    assert invoices(warehouse, "cust_upgrade_adv", "fees")[2:5] == [
        (d("2025-04-01"), Decimal("31.00")),
        (d("2025-04-16"), Decimal("47.50")),
        (d("2025-05-01"), Decimal("64.00")),  # May 62.00 + April's 2.00
    ]


def test_9_upgrade_from_in_advance_credits_the_unused_days(warehouse):
    # mo_adv_31 -> mo_adv_62 on May 21 00:00. The old plan has no fee at the upgrade; the
    # May fee (31.00, paid May 1) gets a credit note: 1.00 x (31 - 21 + 1) = 11 days = 11.00
    # (+1 day for an upgrade). New side: May 21..31 = 11 x 62/31 = 22.00 at once.
    assert subscription_lines(warehouse, "sub_upgrade_cn")[4:7] == [
        fee("2025-05-01", "mo_adv_31", "2025-05-01", "2025-06-01", 31),
        fee("2025-05-21", "mo_adv_62", "2025-05-21", "2025-06-01", 22),
        fee("2025-06-01", "mo_adv_62", "2025-06-01", "2025-07-01", 62),
    ]
    notes = credit_notes(warehouse, "cust_upgrade_cn")
    assert [note[:10] for note in notes] == [
        ("upgrade", d("2025-05-21"), d("2025-05-01"), "USD",
         *money("11.00", "0.00", "0.00", "11.00", "11.00", "0.00")),
    ]  # fmt: skip


def test_9_upgrade_credit_note_applies_to_the_upgrade_invoice(warehouse):
    # §9: the credit note applies to the next invoices, the upgrade invoice itself included;
    # drafts carry credit notes (docs/conventions.md): 22.00 - 11.00 = 11.00, balance left 0.00.
    assert invoices(warehouse, "cust_upgrade_cn", "fees", "credit_notes", "total")[5] == (
        d("2025-05-21"),
        *money("22.00", "11.00", "11.00"),
    )
    assert [note[10] for note in credit_notes(warehouse, "cust_upgrade_cn")] == [Decimal("0.00")]


def test_9_downgrade_waits_for_the_end_of_the_period(warehouse):
    # mo_62 -> mo_31 requested Jun 10 (372 < 744: downgrade). June stays on mo_62 in full
    # (62.00 on Jul 1, with June's calls, the Jun 20 one included: 2 x 2.00); mo_31 from
    # Jul 1 (31.00 a month, Jul 5 call 1.00). No invoice on Jun 10.
    assert subscription_lines(warehouse, "sub_downgrade") == [
        *[fee(month(2025, m + 1), "mo_62", month(2025, m), month(2025, m + 1), 62)
          for m in range(1, 7)],
        *[fee(month(2025, m + 1), "mo_31", month(2025, m), month(2025, m + 1), 31)
          for m in range(7, 13)],
    ]  # fmt: skip
    assert charge_lines(warehouse, "sub_downgrade") == [
        usage("2025-07-01", "mo_62", "2025-06-01", "2025-07-01", 2),
        usage("2025-08-01", "mo_31", "2025-07-01", "2025-08-01", 1),
    ]
    assert d("2025-06-10") not in [row[0] for row in invoices(warehouse, "cust_downgrade")]


def test_9_yearly_plan_with_a_lower_annual_amount_is_a_downgrade(warehouse):
    # mo_31 (31 x 12 = 372 a year) -> yr_arrears (365) on Feb 10: 365 < 372, a downgrade
    # although 365 > 31. February in full on mo_31; the yearly plan from Mar 1 (calendar year):
    # Mar 1..Dec 31 = 306 days x 365/365 = 306.00 on Jan 1 2026.
    assert subscription_lines(warehouse, "sub_yearly_is_lower") == [
        fee("2025-02-01", "mo_31", "2025-01-01", "2025-02-01", 31),
        fee("2025-03-01", "mo_31", "2025-02-01", "2025-03-01", 31),
        fee("2026-01-01", "yr_arrears", "2025-03-01", "2026-01-01", 306),
    ]


def test_9_monthly_plan_with_a_higher_annual_amount_is_an_upgrade(warehouse):
    # yr_arrears (365 a year) -> mo_31 (372) on Mar 11 00:00: an upgrade although 31 < 365.
    # Old: days(Jan 1 -> Mar 11) - 1 = (31 + 28 + 11) - 1 = 69 x 365/365 = 69.00 on Mar 11.
    # New: Mar 11..31 = 21 x 31/31 = 21.00 on Apr 1, then 31.00 a month.
    assert subscription_lines(warehouse, "sub_monthly_is_higher")[:3] == [
        fee("2025-03-11", "yr_arrears", "2025-01-01", "2025-03-11", 69),
        fee("2025-04-01", "mo_31", "2025-03-11", "2025-04-01", 21),
        fee("2025-05-01", "mo_31", "2025-04-01", "2025-05-01", 31),
    ]


def test_9_weekly_plan_annualised_by_52(warehouse):
    # wk_arrears (7 x 52 = 364 a year) -> mo_30 (30 x 12 = 360) on Wed Jan 22: a downgrade
    # (though 30 > 7), at the end of the week Jan 20-26. mo_30 from Mon Jan 27 (calendar
    # month, §9 case 4 after a downgrade): Jan 27..31 = 5 x 30/31 = 150/31 = 4.838... -> 4.84.
    assert subscription_lines(warehouse, "sub_weekly_is_higher")[:5] == [
        fee("2025-01-13", "wk_arrears", "2025-01-06", "2025-01-13", 7),
        fee("2025-01-20", "wk_arrears", "2025-01-13", "2025-01-20", 7),
        fee("2025-01-27", "wk_arrears", "2025-01-20", "2025-01-27", 7),
        fee("2025-02-01", "mo_30", "2025-01-27", "2025-02-01", F(150, 31)),
        fee("2025-03-01", "mo_30", "2025-02-01", "2025-03-01", 30),
    ]


def test_8_upgrade_keeps_the_original_anniversary(warehouse):
    # Anchored on Jan 20 (periods 20th-19th). mo_31 -> mo_62 on Mar 5 in Feb 20-Mar 19
    # (9 + 19 = 28 days). Old: days(Feb 20 -> Mar 5) - 1 = 14 - 1 = 13 x 31/28 = 403/28
    # = 14.392857... -> 14.39 on Mar 5. New: Mar 5..19 = 15 x 62/28 = 930/28 = 33.214285...
    # -> 33.21 on Mar 20 (the period still ends on the 19th), then 62.00 on each 20th.
    assert subscription_lines(warehouse, "sub_anniv_upgrade") == [
        fee("2025-02-20", "mo_31", "2025-01-20", "2025-02-20", 31),
        fee("2025-03-05", "mo_31", "2025-02-20", "2025-03-05", F(13 * 31, 28)),
        fee("2025-03-20", "mo_62", "2025-03-05", "2025-03-20", F(15 * 62, 28)),
        *[fee(month(2025, m)[:8] + "20", "mo_62", month(2025, m - 1)[:8] + "20",
              month(2025, m)[:8] + "20", 62)
          for m in range(4, 13)],
    ]  # fmt: skip
    assert (cents(F(403, 28)), cents(F(930, 28))) == money("14.39", "33.21")


def test_9_termination_in_arrears_bills_to_the_termination_day(warehouse):
    # Terminated Apr 10 08:00: Apr 1..10 = 10 days (termination day included) x 31/30
    # = 31/3 = 10.333... -> 10.33; charges up to 08:00 (Apr 2, Apr 10 07:00: 2.00; 09:00 is
    # out). Invoice on Apr 10: 12.33; nothing after.
    assert subscription_lines(warehouse, "sub_term_arrears")[3:] == [
        fee("2025-04-10", "mo_31", "2025-04-01", "2025-04-10T08:00", F(31, 3)),
    ]
    assert charge_lines(warehouse, "sub_term_arrears") == [
        usage("2025-04-10", "mo_31", "2025-04-01", "2025-04-10T08:00", 2),
    ]
    assert invoices(warehouse, "cust_term_arrears", "start", "end", "fees")[3:] == [
        # Bounds: April cut short at the termination day (see test_8_anniversary_period_*).
        (d("2025-04-10"), d("2025-04-01"), d("2025-04-10"), Decimal("12.33")),
    ]


def test_9_termination_in_advance_credit_note_with_tax(warehouse):
    # mo_adv_tax: 30.00 in advance, VAT 20 % on the plan. June's fee (Jun 1): 30.00 + 6.00.
    # Terminated Jun 12 15:00: no fee; credit note on the Jun 1 invoice: 30/30 x (30 - 12)
    # = 18.00, tax in proportion 18.00 x 20 % = 3.60, total 21.60 (credited, not refunded).
    assert invoices(warehouse, "cust_term_adv", "fees", "taxes")[5] == (
        d("2025-06-01"),
        *money("30.00", "6.00"),
    )
    assert [note[:10] for note in credit_notes(warehouse, "cust_term_adv")] == [
        ("termination", d("2025-06-12"), d("2025-06-01"), "USD",
         *money("18.00", "0.00", "3.60", "21.60", "21.60", "0.00")),
    ]  # fmt: skip
    assert [row[0] for row in subscription_lines(warehouse, "sub_term_adv")][-1] == d("2025-06-01")


def test_9_termination_invoice_consumes_the_termination_credit_note(warehouse):
    # The termination invoice (Jun 12) carries charges only: the Jun 3 call 1.00 + 20 % tax
    # = 1.20; the credit note pays it (docs/conventions.md: drafts carry credit notes): total 0.00,
    # balance 21.60 - 1.20 = 20.40 left.
    assert invoices(warehouse, "cust_term_adv", "fees", "taxes", "credit_notes", "total")[6:] == [
        (d("2025-06-12"), *money("1.00", "0.20", "1.20", "0.00")),
    ]
    assert [note[10] for note in credit_notes(warehouse, "cust_term_adv")] == [Decimal("20.40")]


def test_9_termination_in_advance_credit_note_weekly(warehouse):
    # wk_advance terminated Wed Feb 5 12:00: last fee 14.00 for Feb 3-9 (Feb 3); unused 2.00
    # x (Feb 9 - Feb 5) = 4 days = 8.00. No charges after Feb 3, so no termination invoice to
    # consume it: balance 8.00.
    assert credit_notes(warehouse, "cust_wk_advance") == [
        ("termination", d("2025-02-05"), d("2025-02-03"), "USD",
         *money("8.00", "0.00", "0.00", "8.00", "8.00", "0.00", "8.00")),
    ]  # fmt: skip


def test_lago_terminate_pay_in_advance_spec_same_instant(warehouse):
    # spec/scenarios/terminate_pay_in_advance_spec.rb: 50.00 in advance, tax 20 %, created and
    # terminated at Feb 8 00:00 UTC (February 2025: 28 days, as February 2023). The instant is
    # served, so Feb 8 is: Feb 8..28 = 21 days billed, 50 x 21/28 = 37.50 + 7.50 = 45.00; the
    # credit note gives back Feb 9..28 = 20 days, 50 x 20/28 = 35.71 + 7.14 = 42.85.
    assert invoices(warehouse, "cust_same_instant", "fees", "taxes", "total")[0] == (
        d("2025-02-08"),
        *money("37.50", "7.50", "45.00"),
    )
    assert [note[:8] for note in credit_notes(warehouse, "cust_same_instant")] == [
        ("termination", d("2025-02-08"), d("2025-02-08"), "USD",
         *money("35.71", "0.00", "7.14", "42.85")),
    ]  # fmt: skip


def test_lago_terminate_pay_in_advance_spec_same_instant_utc_plus(warehouse):
    # "when customer is in UTC+ timezone": Feb 8 09:00 in Tokyo, the same days: 45.00, 42.85.
    assert invoices(warehouse, "cust_same_instant_tokyo", "total")[0] == (
        d("2025-02-08"),
        Decimal("45.00"),
    )
    assert [note[7] for note in credit_notes(warehouse, "cust_same_instant_tokyo")] == [
        Decimal("42.85")
    ]


def test_lago_terminate_pay_in_advance_spec_same_instant_utc_minus(warehouse):
    # "when customer is in UTC- timezone": Feb 8 00:00 UTC is Feb 7 16:00 in Los Angeles, so
    # Feb 7..28 = 22 days are billed: 50 x 22/28 = 39.29 + 7.86 = 47.15; the credit note gives
    # back Feb 8..28 = 21 days: 37.50 + 7.50 = 45.00. Both are issued on the local Feb 7.
    assert invoices(warehouse, "cust_same_instant_la", "total")[0] == (
        d("2025-02-07"),
        Decimal("47.15"),
    )
    assert [note[:8] for note in credit_notes(warehouse, "cust_same_instant_la")] == [
        ("termination", d("2025-02-07"), d("2025-02-07"), "USD",
         *money("37.50", "0.00", "7.50", "45.00")),
    ]  # fmt: skip


def test_lago_terminate_pay_in_advance_spec_same_instant_anniversary(warehouse):
    # "when subscription billing is anniversary": the first fee is whole, 50.00 + 10.00 =
    # 60.00; the credit note gives back 27 of 28 days: 50 x 27/28 = 48.21 + 9.64 = 57.85.
    assert invoices(warehouse, "cust_same_instant_anniv", "total")[0] == (
        d("2025-02-08"),
        Decimal("60.00"),
    )
    assert [note[:8] for note in credit_notes(warehouse, "cust_same_instant_anniv")] == [
        ("termination", d("2025-02-08"), d("2025-02-08"), "USD",
         *money("48.21", "0.00", "9.64", "57.85")),
    ]  # fmt: skip


def test_lago_spending_minimum_spec_true_up_at_termination(warehouse):
    # spec/scenarios/spending_minimum_spec.rb: 50.00 in advance, tax 20 %, a call at 8.00 with
    # a 10.00 spending minimum; the call comes at the termination instant (Feb 25 06:00), which
    # is served. Termination invoice: the call 8.00 (+1.60) and the true-up prorated to 25 of
    # 28 days, 10 x 25/28 - 8 = 0.93 (+0.19): fees 8.93, taxes 1.79; the credit note for the
    # fee's 3 unused days (50 x 3/28 = 5.36 + 1.07 = 6.43) pays 6.43 of it: total 4.29.
    assert invoices(warehouse, "cust_min_term", "fees", "taxes", "credit_notes", "total")[-1] == (
        d("2025-02-25"),
        *money("8.93", "1.79", "6.43", "4.29"),
    )
    assert [note[7] for note in credit_notes(warehouse, "cust_min_term")] == [Decimal("6.43")]


def test_lago_recurring_fees_spec_pay_in_advance_prorated_seats(warehouse):
    # spec/scenarios/fees/recurring_fees_spec.rb, "when charge is pay in advance", not
    # invoiceable (fees without an invoice): a recurring unique count of seats at 30.00,
    # prorated. A seat added on Jun 10 + i bills 30 x (21 - i)/30: 20.00 .. 16.00. On the July 1
    # billing day, a fee for July (its window is July) of the 5 seats carried in, in full: 150.00.
    # Two seats added Jul 12 (30 x ceil(20/31, 5) = 19.36 each); on Aug 1 a fee for August: 7 x
    # 30.00 = 210.00.
    rows = query(
        warehouse,
        """
        select issuing_date, invoice_id is null, units, amount, from_datetime, to_datetime
        from billing.fct_invoice_lines
        where external_subscription_id = 'sub_lago_seats' and charge_code = 'lago_seats_items'
        order by issuing_date, first_event_at
        """,
    )
    rows = [(r[0], r[1], r[2], r[3], _utc(r[4]), _utc(r[5])) for r in rows]
    june = (t("2025-06-05T12:12"), t("2025-07-01"))
    assert rows[:9] == [
        *((d(f"2025-06-{10 + i}"), True, Decimal(1), Decimal(21 - i), *june) for i in range(1, 6)),
        (d("2025-07-01"), True, Decimal(5), Decimal("150.00"), t("2025-07-01"), t("2025-08-01")),
        (d("2025-07-12"), True, Decimal(1), Decimal("19.36"), t("2025-07-01"), t("2025-08-01")),
        (d("2025-07-12"), True, Decimal(1), Decimal("19.36"), t("2025-07-01"), t("2025-08-01")),
        (d("2025-08-01"), True, Decimal(7), Decimal("210.00"), t("2025-08-01"), t("2025-09-01")),
    ]


def test_lago_commitments_minimum_in_arrears_calendar_monthly_spec(commitment_warehouse):
    # spec/scenarios/commitments/minimum/in_arrears/calendar/monthly_spec.rb: 100.00 a month in
    # arrears, a 10,000.00 minimum commitment, from Feb 28 2024 10:00; three sum charges at 1.00
    # (in arrears; in advance; in advance and recurring), one event of 10 each at the start.
    # Mar 1: February's commitment, 10,000 x 2/29 = 689.66, less February's fees: the fee
    # 100 x 2/29 = 6.90, 10.00 in arrears, the two in-advance fees of Feb 28 (10.00 each) =
    # 36.90: 652.76. The recurring charge's billing-day fee of Mar 1 (10.00) covers March.
    # Apr 1: March's commitment, 10,000 less the fee 100.00 and that Mar 1 fee: 9,890.00.
    assert commitment_lines(commitment_warehouse, "sub_lago_commit")[:2] == [
        (d("2024-03-01"), "lago_commit", Decimal("652.76")),
        (d("2024-04-01"), "lago_commit", Decimal("9890.00")),
    ]


# The other variants of the folder spec/scenarios/commitments/minimum/ (10,000.00 a period, plan
# 100.00, the three charges at 1.00; each line: the subscription, Lago's amount_cents of the
# true-ups it expects on its first two billings). In arrears (events of 10): the first period
# prorated as in the monthly case, the second 10,000 - 100 - the recurring charge's billing-day
# fee of 10.00 = 9,890.00. In advance (events of 15, 25 and 30): no true-up on the start invoice;
# the first period less the in-advance fee and the 70.00 of fees, the second 10,000 - 100 - 15 =
# 9,885.00. Calendar quarterly from Mar 12 (Q1: 91 days, 20 served): 10,000 x 20/91 = 2,197.80 -
# 21.98 - 30.00 = 2,145.82; weekly from Tuesday Mar 12 (6 of 7 days): 8,571.43 - 85.71 - 30.00 =
# 8,455.72. Anniversary periods are whole: 10,000 - 100 - 30 = 9,870.00.
@pytest.mark.parametrize(
    ("sub", "cents_first", "cents_second"),
    [
        ("sub_commit_cal_qt", 214_582, 989_000),  # in_arrears/calendar/quarterly_spec.rb
        ("sub_commit_cal_wk", 845_572, 989_000),  # in_arrears/calendar/weekly_spec.rb
        ("sub_commit_ann_mo", 987_000, 989_000),  # in_arrears/anniversary/monthly_spec.rb
        ("sub_commit_ann_qt", 987_000, 989_000),  # in_arrears/anniversary/quarterly_spec.rb
        ("sub_commit_ann_wk", 987_000, 989_000),  # in_arrears/anniversary/weekly_spec.rb
        ("sub_commit_adv_cal_mo", 61_276, 988_500),  # in_advance/calendar/monthly_spec.rb
        ("sub_commit_adv_cal_qt", 210_582, 988_500),  # in_advance/calendar/quarterly_spec.rb
        ("sub_commit_adv_cal_wk", 841_572, 988_500),  # in_advance/calendar/weekly_spec.rb
        ("sub_commit_adv_ann_mo", 983_000, 988_500),  # in_advance/anniversary/monthly_spec.rb
        ("sub_commit_adv_ann_qt", 983_000, 988_500),  # in_advance/anniversary/quarterly_spec.rb
        ("sub_commit_adv_ann_wk", 983_000, 988_500),  # in_advance/anniversary/weekly_spec.rb
    ],
)
def test_lago_commitments_minimum_variants_spec(
    commitment_warehouse, sub, cents_first, cents_second
):
    plan = next(plan for name, plan, _, _ in COMMIT_VARIANTS if name == sub)
    start = next(d(start[:10]) for name, _, start, _ in COMMIT_VARIANTS if name == sub)
    lines = commitment_lines(commitment_warehouse, sub)
    # The in-advance start invoice (Lago: `fees.commitment.count` is 0 there) has no true-up.
    assert all(issued > start for issued, _, _ in lines)
    assert [(line[1], line[2]) for line in lines[:2]] == [
        (plan, Decimal(cents_first) / 100),
        (plan, Decimal(cents_second) / 100),
    ]


def recurring_fee_lines(warehouse: Path, sub: str) -> list[tuple]:
    """(issuing date, charge, units, amount, from, to) of a subscription's charge lines."""
    rows = query(
        warehouse,
        """
        select invoices.issuing_date, lines.charge_code, lines.units, lines.amount,
            lines.from_datetime, lines.to_datetime
        from billing.fct_invoice_lines as lines
        inner join billing.fct_invoices as invoices using (invoice_id)
        where lines.external_subscription_id = ? and lines.line_type = 'charge'
            and lines.charge_code not like '%_calls'
        order by invoices.issuing_date, lines.from_datetime
        """,
        [sub],
    )
    return [(r[0], r[1], r[2], r[3], _utc(r[4]), _utc(r[5])) for r in rows]


def test_7_billing_day_fee_is_priced_by_the_new_periods_charge_version(commitment_warehouse):
    # A recurring pay-in-advance charge at 1.00 until March, 2.00 from April 1. 10 units on Mar 5
    # bill 10.00 at once; the Apr 1 billing-day fee covers April, so April's price prices it:
    # 20.00 (the ending period's version would give 10.00); May 1 likewise.
    assert recurring_fee_lines(commitment_warehouse, "sub_price_step")[:3] == [
        (d("2024-03-05"), "price_step_recurring", Decimal(10), Decimal("10.00"),
         t("2024-03-01"), t("2024-04-01")),
        (d("2024-04-01"), "price_step_recurring", Decimal(10), Decimal("20.00"),
         t("2024-04-01"), t("2024-05-01")),
        (d("2024-05-01"), "price_step_recurring", Decimal(10), Decimal("20.00"),
         t("2024-05-01"), t("2024-06-01")),
    ]  # fmt: skip


def test_lago_recurring_fee_downgrade_spec_old_plan_bills_the_boundary_fee(commitment_warehouse):
    # spec/scenarios/fees/recurring_fee_downgrade_spec.rb: at a downgrade, the old subscription's
    # termination at the period boundary bills its recurring pay-in-advance charges once more
    # (Invoices::CalculateFeesService#should_not_create_charge_fee? skips them only on an upgrade
    # or a plain termination), and the new subscription's first invoice skips them
    # (#should_create_recurring_non_invoiceable_fees?): the spec counts one fee per seat on the
    # boundary day. Here: 10 units at 5.00 on the old plan from Mar 5 (50.00 at once), the
    # downgrade at Apr 1 bills 10 x 5.00 = 50.00 for April on the old plan's charge; the new
    # plan's first billing-day fee (3.00) comes on May 1.
    assert recurring_fee_lines(commitment_warehouse, "sub_dg_boundary")[:3] == [
        (d("2024-03-05"), "dg_big_seats", Decimal(10), Decimal("50.00"),
         t("2024-03-01"), t("2024-04-01")),
        (d("2024-04-01"), "dg_big_seats", Decimal(10), Decimal("50.00"),
         t("2024-04-01"), t("2024-05-01")),
        (d("2024-05-01"), "dg_small_seats", Decimal(10), Decimal("30.00"),
         t("2024-05-01"), t("2024-06-01")),
    ]  # fmt: skip


def test_credit_note_taxes_are_exact_beyond_18_integer_digits(commitment_warehouse):
    # docs/bad-input.md: 10^21 a month in advance with 20 % tax from Mar 1 2024, terminated Mar 11
    # 12:00; the termination credit note gives back Mar 12..31, 20 of 31 days: 10^21 x 20/31 =
    # 645,161,290,322,580,645,161.29, its tax 20 % of the precise amount, 129,032,258,064,516,129,
    # 032.26: total 774,193,548,387,096,774,193.55. A tax on a credited amount past 18 integer
    # digits used to stop the close with DuckDB's bare "Out of Range".
    assert (cents(F(10**21 * 20, 31)), cents(F(10**21 * 4, 31))) == (
        Decimal("645161290322580645161.29"),
        Decimal("129032258064516129032.26"),
    )
    assert [note[:8] for note in credit_notes(commitment_warehouse, "cust_adv_huge_tax")] == [
        ("termination", d("2024-03-11"), d("2024-03-01"), "USD",
         *money("645161290322580645161.29", "0.00", "129032258064516129032.26",
                "774193548387096774193.55")),
    ]  # fmt: skip


def test_contract_7_one_period_end_invoice_per_customer_and_date(warehouse):
    # cust_grouped: mo_31 in arrears and mo_adv_30 in advance, both from Jan 1. Jan 1: the
    # in-advance start (30.00). Feb 1: one invoice with January's 31.00 (arrears) and
    # February's 30.00 (advance) = 61.00; Mar 1 likewise.
    assert invoices(warehouse, "cust_grouped", "fees")[:3] == [
        (d("2025-01-01"), Decimal("30.00")),
        (d("2025-02-01"), Decimal("61.00")),
        (d("2025-03-01"), Decimal("61.00")),
    ]
    feb_1 = query(
        warehouse,
        """
        select count(distinct invoice_id), count(distinct external_subscription_id)
        from billing.fct_invoice_lines
        where external_customer_id = 'cust_grouped'
          and invoice_id in (select invoice_id from billing.fct_invoices
                             where issuing_date = date '2025-02-01')
        """,
    )
    assert feb_1 == [(1, 2)]


# --------------------------------------------------------------------------------------------
# §6 minimum commitments
# --------------------------------------------------------------------------------------------


def test_6_minimum_commitment_in_arrears(warehouse):
    # commit_arrears: 10.00 a month, commitment 50.00; started Apr 16, terminated Jul 10 12:00.
    # April (coefficient 15/30): commitment round(50 x 15/30) = 25.00; fees 10 x 15/30 = 5.00
    #   + 3 calls 3.00 = 8.00 -> true-up 17.00 on May 1.
    # May: 50.00 - (10.00 + 5 calls 5.00) = 35.00 on Jun 1.
    # June: 10.00 + 45 calls 45.00 = 55.00 >= 50.00 -> none.
    # July, terminated on day 10 (coefficient 10/31): round(50 x 10/31 = 16.129...) = 16.13;
    #   fee 10 x 10/31 = 3.2258... -> 3.23 -> true-up 16.13 - 3.23 = 12.90 on Jul 10.
    # (Amounts of the true-ups only: docs/rules.md §6 rounds the commitment before subtracting.)
    assert fee_amounts(warehouse, "sub_commit_arrears") == [
        (d("2025-05-01"), "commit_arrears", q9(5), cents(5)),
        (d("2025-06-01"), "commit_arrears", q9(10), cents(10)),
        (d("2025-07-01"), "commit_arrears", q9(10), cents(10)),
        (d("2025-07-10"), "commit_arrears", q9(F(100, 31)), Decimal("3.23")),
    ]
    assert commitment_lines(warehouse, "sub_commit_arrears") == [
        (d("2025-05-01"), "commit_arrears", Decimal("17.00")),
        (d("2025-06-01"), "commit_arrears", Decimal("35.00")),
        (d("2025-07-10"), "commit_arrears", Decimal("12.90")),
    ]


def test_6_minimum_commitment_in_advance_comes_with_the_next_period(warehouse):
    # commit_adv: 20.00 in advance, commitment 60.00; started Aug 11.
    # Aug 11: fee Aug 11..31 = 21 x 20/31 = 420/31 = 13.548... -> 13.55, no true-up (first
    #   in-advance invoice).
    # Sep 1 (true-up for August): round(60 x 21/31 = 40.645...) = 40.65 - (13.55 + 10 calls
    #   10.00) = 17.10.
    # Oct 1 (September): 20.00 + 50 calls = 70.00 >= 60.00 -> none.
    # Nov 1, Dec 1, Jan 1 2026 (October, November, December without calls): 60 - 20 = 40.00.
    assert fee_amounts(warehouse, "sub_commit_adv")[0] == (
        d("2025-08-11"),
        "commit_adv",
        q9(F(420, 31)),
        Decimal("13.55"),
    )
    assert commitment_lines(warehouse, "sub_commit_adv") == [
        (d("2025-09-01"), "commit_adv", Decimal("17.10")),
        (d("2025-11-01"), "commit_adv", Decimal("40.00")),
        (d("2025-12-01"), "commit_adv", Decimal("40.00")),
        (d("2026-01-01"), "commit_adv", Decimal("40.00")),
    ]


# --------------------------------------------------------------------------------------------
# §14 progressive billing (§18.10)
# --------------------------------------------------------------------------------------------


def test_14_fixed_threshold_issues_an_interim_invoice_and_is_credited(progressive_warehouse):
    # prog_fixed: 10.00 a month, calls at 1.00, fixed threshold 20.00. One call a day at
    # 10:00 on Sep 1..25: the 20th call (Sep 20 10:00) brings the usage to 20.00 >= 20.00:
    # a progressive invoice at once with the period's charges to date, 20 x 1.00 = 20.00.
    # Oct 1: fee 10.00 + 25 calls 25.00 = 35.00, less the 20.00 already billed = 15.00.
    columns = ("type", "start", "end", "fees", "progressive", "sub_total", "total")
    assert invoices(progressive_warehouse, "cust_prog", *columns)[:2] == [
        (d("2025-09-20"), "progressive_billing", d("2025-09-01"), d("2025-09-30"),
         *money("20.00", "0.00", "20.00", "20.00")),
        (d("2025-10-01"), "subscription", d("2025-09-01"), d("2025-09-30"),
         *money("35.00", "20.00", "15.00", "15.00")),
    ]  # fmt: skip


def test_18_10_fixed_threshold_fires_once_in_a_lifetime(progressive_warehouse):
    # October: 25 calls again, but the lifetime usage is past the 20.00 fixed threshold
    # already: no progressive invoice; Nov 1: 10.00 + 25.00 = 35.00, no credit.
    columns = ("type", "fees", "progressive", "total")
    assert invoices(progressive_warehouse, "cust_prog", *columns)[2:] == [
        (d("2025-11-01"), "subscription", *money("35.00", "0.00", "35.00")),
        (d("2025-12-01"), "subscription", *money("10.00", "0.00", "10.00")),
        (d("2026-01-01"), "subscription", *money("10.00", "0.00", "10.00")),
    ]


def test_14_recurring_threshold_repeats(progressive_warehouse):
    # prog_rec: 5.00 a month, fixed threshold 10.00, recurring 15.00; one call a day Nov 1..18.
    # - Nov 10 (usage 10): invoiced 0 < 10 <= 10: the fixed one passes: interim 10.00.
    # - then invoiced = 10 (billed in the period); the recurring one passes when
    #   actual + (invoiced mod 15) >= 15, i.e. (usage - 10) + 10 >= 15: usage 15 on Nov 15:
    #   interim with the 15.00 to date less 10.00 already billed = 5.00.
    # - next when (usage - 15) + 0 >= 15, usage 30: not reached (18).
    # Dec 1: fee 5.00 + 18 calls 18.00 = 23.00, less 15.00 = 8.00.
    columns = ("type", "fees", "progressive", "sub_total", "total")
    assert invoices(progressive_warehouse, "cust_prog_rec", *columns)[:3] == [
        (d("2025-11-10"), "progressive_billing", *money("10.00", "0.00", "10.00", "10.00")),
        (d("2025-11-15"), "progressive_billing", *money("15.00", "10.00", "5.00", "5.00")),
        (d("2025-12-01"), "subscription", *money("23.00", "15.00", "8.00", "8.00")),
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# §18 edges: leap year, first and last partitions of a backfill
# --------------------------------------------------------------------------------------------


def test_18_leap_february_has_29_days(leap_warehouse):
    # Calendar monthly 29.00 from Feb 10 2024: Feb 10..29 = 20 days x 29/29 = 20.00 on Mar 1
    # (a 28-day February would give 19 x 29/28 = 19.68); the Feb 29 call is February's.
    assert subscription_lines(leap_warehouse, "sub_leap_calendar") == [
        fee("2024-03-01", "mo_29", "2024-02-10", "2024-03-01", 20),
    ]
    assert charge_lines(leap_warehouse, "sub_leap_calendar") == [
        usage("2024-03-01", "mo_29", "2024-02-10", "2024-03-01", 1),
    ]


def test_18_leap_anniversary_on_the_31st_bills_on_feb_29(leap_warehouse):
    # Anchored on Jan 31 2024: the next period starts on Feb 29 (the 31st clamped to a leap
    # February's last day), so Jan 31-Feb 28 (29 days) is billed on Feb 29, partition 2024-02.
    assert subscription_lines(leap_warehouse, "sub_leap_anniv") == [
        fee("2024-02-29", "mo_30", "2024-01-31", "2024-02-29", 30),
    ]


def test_18_backfill_closes_from_the_first_month_with_activity(warehouse):
    # `close --month 2025-12` closed 2025-01 .. 2025-12, each once; the first partition holds
    # the Jan 1 in-advance starts and the first weekly invoices, the last one the invoices
    # issued on Jan 1 2026 (December's period ends).
    months = query(warehouse, "select distinct billing_month from billing.fct_invoices order by 1")
    assert [row[0] for row in months] == [d(month(2025, m)) for m in range(1, 13)]
    first = query(
        warehouse,
        "select external_customer_id, issuing_date from billing.fct_invoices "
        "where billing_month = date '2025-01-01' and issuing_date = date '2025-01-01' order by 1",
    )
    assert [row[0] for row in first] == [
        "cust_grouped",
        "cust_sa_advance",
        "cust_term_adv",
        "cust_upgrade_cn",
        "cust_yr_advance_monthly",
    ]
    last = query(
        warehouse,
        "select distinct billing_month from billing.fct_invoices "
        "where issuing_date >= date '2025-12-31'",
    )
    assert last == [(d("2025-12-01"),)]
    assert query(warehouse, "select max(issuing_date) from billing.fct_invoices") == [
        (d("2026-01-01"),)
    ]


# --------------------------------------------------------------------------------------------
# One customer through 2025: trial, upgrade, downgrade, termination
# --------------------------------------------------------------------------------------------


def test_year_long_timeline(warehouse):
    # yl_basic (31.00/month in arrears, 30 trial days, calls 1.00) from Jan 12 09:00;
    # upgrade to yl_pro (60.00/month in advance, calls 2.00) on Apr 16 12:00 (720 >= 372);
    # downgrade to yl_lite (31.00/month in arrears, calls 0.50) requested Jun 18 (372 < 720),
    # effective Jul 1; terminated Sep 20 18:00.
    #
    # Feb 1  January: the trial (to Feb 11 09:00) covers Jan 12..31: fee 0; calls Jan 15, 20:
    #        2.00.
    # Mar 1  February: days(Feb 11 09:00 -> Feb 28 23:59:59) = ceil(17.62) = 18 x 31/28
    #        = 558/28 = 19.928571... -> 19.93; calls Feb 5, 20: 2.00 -> 21.93.
    # Apr 1  March: 31.00 + Mar 3 call 1.00 = 32.00.
    # Apr 16 Upgrade: basic days(Apr 1 -> Apr 16) - 1 = 15 x 31/30 = 15.50, basic calls Apr 10,
    #        Apr 16 11:00: 2.00; pro in advance Apr 16..30 = 15 x 60/30 = 30.00 -> 47.50.
    # May 1  Pro May 60.00 + pro calls Apr 16 13:00, Apr 25: 2 x 2.00 = 4.00 -> 64.00.
    # Jun 1  Pro June 60.00 + May 10 call 2.00 -> 62.00.
    # Jul 1  The downgrade: pro ends with June (already paid: no fee, nothing unused to credit);
    #        June's pro calls (Jun 5, Jun 20) 4.00 -> 4.00.
    # Aug 1  Lite July 31.00 + calls Jul 8, 9: 2 x 0.50 = 1.00 -> 32.00.
    # Sep 1  Lite August 31.00 + 4 calls 2.00 -> 33.00.
    # Sep 20 Terminated 18:00: Sep 1..20 = 20 x 31/30 = 20.666... -> 20.67; calls Sep 5,
    #        Sep 20 17:00: 1.00 (19:00 is out) -> 21.67. Nothing after.
    assert invoices(warehouse, "cust_year", "type", "fees", "total") == [
        (d("2025-02-01"), "subscription", *money("2.00", "2.00")),
        (d("2025-03-01"), "subscription", *money("21.93", "21.93")),
        (d("2025-04-01"), "subscription", *money("32.00", "32.00")),
        (d("2025-04-16"), "subscription", *money("47.50", "47.50")),
        (d("2025-05-01"), "subscription", *money("64.00", "64.00")),
        (d("2025-06-01"), "subscription", *money("62.00", "62.00")),
        (d("2025-07-01"), "subscription", *money("4.00", "4.00")),
        (d("2025-08-01"), "subscription", *money("32.00", "32.00")),
        (d("2025-09-01"), "subscription", *money("33.00", "33.00")),
        (d("2025-09-20"), "subscription", *money("21.67", "21.67")),
    ]
    assert fee_amounts(warehouse, "sub_year") == [
        (d("2025-03-01"), "yl_basic", q9(F(558, 28)), Decimal("19.93")),
        (d("2025-04-01"), "yl_basic", q9(31), cents(31)),
        (d("2025-04-16"), "yl_basic", q9(F(31, 2)), Decimal("15.50")),
        (d("2025-04-16"), "yl_pro", q9(30), cents(30)),
        (d("2025-05-01"), "yl_pro", q9(60), cents(60)),
        (d("2025-06-01"), "yl_pro", q9(60), cents(60)),
        (d("2025-08-01"), "yl_lite", q9(31), cents(31)),
        (d("2025-09-01"), "yl_lite", q9(31), cents(31)),
        (d("2025-09-20"), "yl_lite", q9(F(620, 30)), Decimal("20.67")),
    ]
    assert [(row[0], row[1], row[4], row[5]) for row in charge_lines(warehouse, "sub_year")] == [
        (d("2025-02-01"), "yl_basic_calls", Decimal(2), Decimal("2.00")),
        (d("2025-03-01"), "yl_basic_calls", Decimal(2), Decimal("2.00")),
        (d("2025-04-01"), "yl_basic_calls", Decimal(1), Decimal("1.00")),
        (d("2025-04-16"), "yl_basic_calls", Decimal(2), Decimal("2.00")),
        (d("2025-05-01"), "yl_pro_calls", Decimal(2), Decimal("4.00")),
        (d("2025-06-01"), "yl_pro_calls", Decimal(1), Decimal("2.00")),
        (d("2025-07-01"), "yl_pro_calls", Decimal(2), Decimal("4.00")),
        (d("2025-08-01"), "yl_lite_calls", Decimal(2), Decimal("1.00")),
        (d("2025-09-01"), "yl_lite_calls", Decimal(4), Decimal("2.00")),
        (d("2025-09-20"), "yl_lite_calls", Decimal(2), Decimal("1.00")),
    ]
    # No credit note: the upgrade left an in-arrears plan, and yl_pro ended with its paid
    # period (unused days: 0).
    assert credit_notes(warehouse, "cust_year") == []
