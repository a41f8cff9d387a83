"""Write the demo's money after the fees: applied coupons, wallets and wallet transactions."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from meterhouse_tools.demo_data.clock import add_months, epoch_ms, iso_instant
from meterhouse_tools.demo_data.customers import Customer
from meterhouse_tools.demo_data.vocabulary import (
    APPLIED_COUPON_FIELDS,
    WALLET_FIELDS,
    WALLET_TRANSACTION_FIELDS,
)
from meterhouse_tools.demo_data.writers import write_csv

ACCOUNT_FILES = (
    "applied_coupons/applied_coupons.csv",
    "wallets/wallets.csv",
    "wallet_transactions/wallet_transactions.csv",
)
# Demo coupons (seeds/catalog/coupons.csv) by customer currency: a fixed one only fits its own.
DEMO_COUPONS = {
    "USD": ("WELCOME50", "LAUNCH10", "TOKENS20"),
    "EUR": ("TEAMEUR15", "LAUNCH10", "TOKENS20"),
    "JPY": ("LAUNCH10", "TOKENS20"),
}


def write_account_inputs(landing_dir: Path, people: Sequence[Customer], first_month: date) -> None:
    """Coupons on every fourth customer, a wallet on every fifth (deterministic, no draws)."""
    start = datetime(first_month.year, first_month.month, 1, tzinfo=UTC)
    coupons, wallets, movements = [], [], []
    for index, person in enumerate(people):
        customer_id = person.row["external_customer_id"]
        currency = person.row["currency"]
        if index % 4 == 1:
            choices = DEMO_COUPONS[currency]
            coupons.append(
                {
                    "external_customer_id": customer_id,
                    "coupon_code": choices[index // 4 % len(choices)],
                    "applied_at": iso_instant(epoch_ms(start + timedelta(days=2, hours=9))),
                    "amount_override": "",
                    "percentage_rate_override": "",
                }
            )
        if index % 5 == 2:
            wallet = f"wallet_{person.key}"
            # One credit is worth one currency unit (100 yen for JPY, a whole-unit currency).
            rate = "100" if currency == "JPY" else "1.00"
            wallets.append(
                {
                    "wallet_code": wallet,
                    "external_customer_id": customer_id,
                    "currency": currency,
                    "rate_amount": rate,
                    "priority": "1",
                    "allowed_line_types": "",
                    "metric_codes": "",
                    "created_at": iso_instant(epoch_ms(start + timedelta(days=1))),
                    "expires_at": "",
                }
            )
            second = add_months(first_month, 1)
            paid = datetime(second.year, second.month, 4, 12, tzinfo=UTC)
            movements += [
                {
                    "wallet_code": wallet,
                    "transaction_type": "granted",
                    "credits": "25",
                    "created_at": iso_instant(epoch_ms(start + timedelta(days=1))),
                    "paid_at": "",
                },
                {
                    "wallet_code": wallet,
                    "transaction_type": "purchased",
                    "credits": "100",
                    "created_at": iso_instant(epoch_ms(paid - timedelta(days=1))),
                    "paid_at": iso_instant(epoch_ms(paid)),
                },
            ]
            if index % 10 == 7:
                movements.append(
                    {
                        "wallet_code": wallet,
                        "transaction_type": "voided",
                        "credits": "10",
                        "created_at": iso_instant(epoch_ms(paid + timedelta(days=1))),
                        "paid_at": "",
                    }
                )
    write_csv(landing_dir / ACCOUNT_FILES[0], APPLIED_COUPON_FIELDS, coupons)
    write_csv(landing_dir / ACCOUNT_FILES[1], WALLET_FIELDS, wallets)
    write_csv(landing_dir / ACCOUNT_FILES[2], WALLET_TRANSACTION_FIELDS, movements)
