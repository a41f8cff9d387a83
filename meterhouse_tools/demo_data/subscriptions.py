"""Draw the demo subscriptions: plans, mid-month and anniversary starts, whales, a termination."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from meterhouse_tools.demo_data.clock import (
    DAY_MS,
    add_months,
    epoch_ms,
    iso_instant,
    local_midnight_ms,
)
from meterhouse_tools.demo_data.customers import Customer
from meterhouse_tools.demo_data.vocabulary import PLANS_BY_CURRENCY

# Two "whales" on starter plans (past the 100k api-call tier each month at 1M events over
# three months) and one heavy GPU user on the scale plan; everyone else shares the rest.
WHALE_SHARES = (0.36, 0.34)
WHALE_API_SHARE = 0.94
HEAVY_SCALE_SHARE = 0.06


@dataclass(slots=True)
class Subscription:
    sub_id: str
    customer: int
    plan: str
    started_ms: int
    terminated_ms: int | None
    mid_month: bool = False
    anniversary: bool = False  # periods from the start day instead of the calendar month
    share: float = 0.0  # fixed share of the events (whales), 0 = drawn
    api_share: float = 0.0  # overrides the plan's api_calls share when set


def primary_plans(rng: np.random.Generator, customers: Sequence[Customer]) -> list[str]:
    plans = []
    for customer in customers:
        options = PLANS_BY_CURRENCY[customer.country.currency]
        weights = np.array([w for _, w in options])
        plans.append(options[int(rng.choice(len(options), p=weights / weights.sum()))][0])
    # Every plan at least once: take a customer from the currency's most common plan.
    for currency, options in PLANS_BY_CURRENCY.items():
        members = [i for i, c in enumerate(customers) if c.country.currency == currency]
        for plan, _ in options:
            if plan in (plans[i] for i in members) or len(members) < len(options):
                continue
            counts = {p: sum(plans[i] == p for i in members) for p, _ in options}
            donor_plan = max(counts, key=lambda p: counts[p])
            if counts[donor_plan] < 2:
                continue
            donor = next(i for i in members if plans[i] == donor_plan)
            plans[donor] = plan
    return plans


def make_subscriptions(
    rng: np.random.Generator, customers: Sequence[Customer], first_month: date, months: int
) -> list[Subscription]:
    plans = primary_plans(rng, customers)
    entries: list[tuple[int, int, str]] = [(i, 0, plan) for i, plan in enumerate(plans)]
    # A few USD/EUR customers add a second subscription on another plan of their currency.
    multi = [i for i, c in enumerate(customers) if c.country.currency in ("USD", "EUR")]
    extra_count = min(len(multi), max(1, round(len(customers) * 0.08)))
    if len(customers) < 6:
        extra_count = 0
    for index in np.sort(rng.choice(len(multi), size=extra_count, replace=False)):
        customer = multi[int(index)]
        others = [
            p
            for p, _ in PLANS_BY_CURRENCY[customers[customer].country.currency]
            if p != plans[customer]
        ]
        entries.append((customer, 1, others[int(rng.integers(len(others)))]))
    entries.sort()
    width = max(4, len(str(len(entries))))
    subs = [
        Subscription(f"sub_{n + 1:0{width}d}", customer, plan, 0, None)
        for n, (customer, _, plan) in enumerate(entries)
    ]
    primary = [s for s, (_, order, _) in zip(subs, entries, strict=True) if order == 0]

    start_ms = epoch_ms(datetime(first_month.year, first_month.month, 1, tzinfo=UTC))
    end_ms = epoch_ms(datetime.combine(add_months(first_month, months), datetime.min.time(), UTC))
    special: set[str] = set()

    def pick(candidates: list[Subscription]) -> Subscription | None:
        free = [s for s in candidates if s.sub_id not in special]
        if not free:
            return None
        chosen = free[int(rng.integers(len(free)))]
        special.add(chosen.sub_id)
        return chosen

    terminated = pick([s for s in primary if s.plan == "team_eur"])
    if terminated is not None:
        month = add_months(first_month, min(1, months - 1))
        month_ms = epoch_ms(datetime(month.year, month.month, 1, tzinfo=UTC))
        terminated.terminated_ms = month_ms + 13 * DAY_MS + int(rng.integers(0, 3 * 86_400)) * 1000
    whale_pools = (
        [s for s in primary if s.plan == "starter_usd"],
        [s for s in primary if s.plan == "starter_eur"]
        or [s for s in primary if s.plan in ("starter_jpy", "starter_usd")],
    )
    for pool, share in zip(whale_pools, WHALE_SHARES, strict=True):
        whale = pick(pool)
        if whale is not None:
            whale.share, whale.api_share = share, WHALE_API_SHARE
    heavy = pick([s for s in primary if s.plan == "scale_yearly_usd"])
    if heavy is not None:
        heavy.share = HEAVY_SCALE_SHARE

    candidates = [s for s in subs if s.sub_id not in special]
    mid_count = min(len(candidates), max(2, round(0.2 * len(subs))))
    span_s = max(86_400, (end_ms - start_ms) // 1000 - 9 * 86_400)
    for n, index in enumerate(np.sort(rng.choice(len(candidates), size=mid_count, replace=False))):
        sub = candidates[int(index)]
        sub.mid_month = True
        sub.anniversary = n % 2 == 1
        sub.started_ms = start_ms + 2 * DAY_MS + int(rng.integers(0, span_s)) * 1000

    for sub in subs:
        if not sub.mid_month:
            sub.started_ms = local_midnight_ms(first_month, customers[sub.customer].row["timezone"])
    return subs


def subscription_rows(
    subs: Sequence[Subscription], customers: Sequence[Customer]
) -> list[dict[str, str]]:
    rows = []
    for sub in subs:
        started = iso_instant(sub.started_ms)
        terminated = "" if sub.terminated_ms is None else iso_instant(sub.terminated_ms)
        rows.append(
            {
                "external_subscription_id": sub.sub_id,
                "external_customer_id": customers[sub.customer].row["external_customer_id"],
                "plan_code": sub.plan,
                "billing_time": "anniversary" if sub.anniversary else "calendar",
                "subscription_at": started,
                "started_at": started,
                "terminated_at": terminated,
                "updated_at": terminated or started,
            }
        )
    return rows
