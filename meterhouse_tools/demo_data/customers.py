"""Draw the demo customers and the later updates of a few of them."""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from meterhouse_tools.demo_data.clock import DAY_MS, epoch_ms, iso_instant
from meterhouse_tools.demo_data.countries import (
    COUNTRIES,
    COUNTRY_BY_CODE,
    COUNTRY_WEIGHTS,
    DOCUMENT_LOCALES,
    MIN_PER_COUNTRY,
    Country,
)


@dataclass(frozen=True, slots=True)
class Customer:
    row: dict[str, str]  # CUSTOMER_FIELDS
    country: Country
    key: str  # zero-padded customer number, used in user ids
    user_pool: int  # distinct active users the customer can send


def _slug(name: str) -> str:
    folded = name.replace("ß", "ss")
    ascii_name = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    words = "".join(ch if ch.isalnum() else " " for ch in ascii_name.lower()).split()
    return "-".join(word for word in words if word not in ("co", "the"))


def _tax_id(code: str, rng: np.random.Generator) -> str:
    if code == "US":
        return f"{rng.integers(10, 99)}-{rng.integers(1_000_000, 9_999_999)}"
    if code == "FR":
        return f"FR{rng.integers(10, 99)}{rng.integers(100_000_000, 999_999_999)}"
    if code == "DE":
        return f"DE{rng.integers(100_000_000, 999_999_999)}"
    return f"T{rng.integers(10**12, 10**13 - 1)}"


def _assign_countries(rng: np.random.Generator, count: int) -> list[str]:
    codes = [country.code for country in COUNTRIES]
    if count < sum(MIN_PER_COUNTRY.values()):
        return [codes[i % len(codes)] for i in range(count)]
    base = [code for code, minimum in MIN_PER_COUNTRY.items() for _ in range(minimum)]
    weights = np.array([COUNTRY_WEIGHTS[code] for code in codes])
    extra = rng.choice(len(codes), size=count - len(base), p=weights / weights.sum())
    assigned = np.array(base + [codes[i] for i in extra])
    return [str(code) for code in assigned[rng.permutation(count)]]


def _address(country: Country, rng: np.random.Generator) -> tuple[str, str, str, str, str]:
    city, zipcode, state, district = country.places[rng.integers(len(country.places))]
    line2 = country.line2[rng.integers(len(country.line2))]
    if country.code == "JP":
        line1 = f"{rng.integers(1, 9)}-{rng.integers(1, 20)}-{rng.integers(1, 30)} {district}"
    elif country.code == "DE":
        line1 = f"{country.streets[rng.integers(len(country.streets))]} {rng.integers(1, 180)}"
    else:
        line1 = f"{rng.integers(1, 2400)} {country.streets[rng.integers(len(country.streets))]}"
    return line1, line2, city, zipcode, state


def make_customers(rng: np.random.Generator, count: int, first_month: date) -> list[Customer]:
    codes = _assign_countries(rng, count)
    name_order = {}
    for country in COUNTRIES:
        order = [int(i) for i in rng.permutation(len(country.names))]
        leads = [i for i in order if any(ch in country.names[i] for ch in country.lead)]
        if leads:  # guarantee an apostrophe, accents and an ampersand among the first customers
            order.remove(leads[0])
            order.insert(0, leads[0])
        name_order[country.code] = order
    seen = dict.fromkeys(COUNTRY_BY_CODE, 0)
    width = max(4, len(str(count)))
    start_ms = epoch_ms(datetime(first_month.year, first_month.month, 1, tzinfo=UTC))
    customers = []
    for index, code in enumerate(codes):
        country = COUNTRY_BY_CODE[code]
        nth = seen[code]
        seen[code] += 1
        base = country.names[name_order[code][nth % len(country.names)]]
        name = base if nth < len(country.names) else f"{base} {nth // len(country.names) + 1}"
        suffix = country.legal_suffixes[rng.integers(len(country.legal_suffixes))]
        line1, line2, city, zipcode, state = _address(country, rng)
        every = country.empty_timezone_every
        no_timezone = every > 0 and nth % every == 1
        local_part = ("billing", "finance", "accounts", "ap")[rng.integers(4)]
        updated_ms = start_ms - DAY_MS - int(rng.integers(0, 400 * 86_400)) * 1000
        key = f"{index + 1:0{width}d}"
        row = {
            "external_customer_id": f"cust_{key}",
            "name": name,
            "legal_name": f"{name} {suffix}",
            "email": f"{local_part}@{_slug(name)}.example",
            "address_line1": line1,
            "address_line2": line2,
            "city": city,
            "zipcode": zipcode,
            "state": state,
            "country": code,
            "currency": country.currency,
            "timezone": "" if no_timezone else country.timezone,
            "tax_codes": country.tax_code,
            "tax_identification_number": ""
            if code == "US" and nth % 4 == 3
            else _tax_id(code, rng),
            # Documents in the customer's language; US customers keep the billing entity's.
            "document_locale": DOCUMENT_LOCALES.get(code, ""),
            # Every other German customer pays in 30 days; the rest by the entity's term.
            "net_payment_term": "30" if code == "DE" and nth % 2 == 1 else "",
            "updated_at": iso_instant(updated_ms),
        }
        pool = int(rng.integers(5, 201))
        customers.append(Customer(row=row, country=country, key=key, user_pool=pool))
    return customers


def customer_updates(
    rng: np.random.Generator, customers: Sequence[Customer], first_month: date
) -> list[dict[str, str]]:
    """Later rows for a few customers: a new billing email, sometimes a new address."""
    count = max(2, round(len(customers) / 15))
    chosen = np.sort(rng.choice(len(customers), size=min(count, len(customers)), replace=False))
    start_ms = epoch_ms(datetime(first_month.year, first_month.month, 1, tzinfo=UTC))
    updates = []
    for order, index in enumerate(chosen):
        customer = customers[int(index)]
        rounds = 2 if order == 0 else 1  # one customer changes twice: the latest row wins
        updated_ms = start_ms + int(rng.integers(3 * 86_400, 20 * 86_400)) * 1000
        row = dict(customer.row)
        for step in range(rounds):
            row = dict(row)
            local = ("invoices", "payables", "billing-team")[(order + step) % 3]
            row["email"] = f"{local}@{_slug(row['name'])}.example"
            if (order + step) % 2 == 0:
                line1, line2, _, _, _ = _address(customer.country, rng)
                row["address_line1"], row["address_line2"] = line1, line2
            updated_ms += int(rng.integers(1 * 86_400, 10 * 86_400)) * 1000
            row["updated_at"] = iso_instant(updated_ms)
            updates.append(row)
    updates.sort(key=lambda r: (r["updated_at"], r["external_customer_id"]))
    return updates
