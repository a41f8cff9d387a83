"""Deterministic demo data set for Lumen Labs, an AI/API company: the input of `make demo`.

`generate_demo_dataset()` writes the operational inputs of docs/inputs.md into a landing directory:

- `customers/customers.csv` and `customers/customer_updates.ndjson` (a few later rows; the latest
  `updated_at` wins);
- `subscriptions/subscriptions.csv` (one phase per subscription; calendar billing, anniversary
  billing for every other mid-month start);
- `events/events_YYYY-MM.ndjson` for the first month, `.csv` for the second, `.parquet` for the
  third and later (a month with more than `MAX_ROWS_PER_FILE` rows is split into
  `events_YYYY-MM_partNN.*` by time), and `events/replay_YYYY-MM.ndjson`, which repeats rows of
  the first month's file;
- `applied_coupons/applied_coupons.csv`, `wallets/wallets.csv` and
  `wallet_transactions/wallet_transactions.csv`: the money after the fees (docs/rules.md §13, §15):
  coupons of `seeds/catalog/coupons.csv` on some customers, and prepaid-credit wallets with
  granted, purchased (a `credit` invoice, paid a day later) and voided credits;
- `demo_manifest.json` (see `DemoManifest`).

Load order: files are meant to be loaded in lexicographic order of their path relative to the
landing directory (`events/events_…` before `events/replay_…`). Every injected duplicate appears
after its original in that order: later in the same file or in a later file.

Event files share one shape: `transaction_id`, `external_subscription_id`, `code`, `timestamp`,
`properties` (a JSON object; as text in CSV and Parquet), `operation_type`, `precise_total_amount`
(both always empty). `transaction_id` is unique per subscription only (`tx_1`, `tx_2`, … restart
in every subscription), so the event key is (`external_subscription_id`, `transaction_id`).
Timestamps are ISO 8601 UTC with milliseconds (`2026-08-03T10:15:22.123Z`); about 10 % of the
NDJSON lines carry Unix seconds instead, and about 10 % use Lago's API body `{"event": {...}}`.
Anomalies are injected on purpose and counted in the manifest (`ANOMALY_KINDS`).

Same arguments, same bytes: every random draw comes from `numpy.random.default_rng(seed)`.
"""

import csv
import json
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.landing.readers import (
    APPLIED_COUPONS,
    CUSTOMERS,
    EVENTS,
    SUBSCRIPTIONS,
    WALLET_TRANSACTIONS,
    WALLETS,
)
from orchestration.sql_rows import one_row

MAX_ROWS_PER_FILE = 1_000_000
MANIFEST_NAME = "demo_manifest.json"

ANOMALY_KINDS = (
    "exact_duplicate",
    "conflicting_duplicate",
    "malformed",
    "missing_field",
    "bad_timestamp",
    "bad_value",
    "unknown_metric",
    "unknown_subscription",
    "before_start",
)

# The landing contract's fields (docs/inputs.md), as the loader reads them.
CUSTOMER_FIELDS = CUSTOMERS.fields
SUBSCRIPTION_FIELDS = SUBSCRIPTIONS.fields
EVENT_FIELDS = EVENTS.fields
APPLIED_COUPON_FIELDS = APPLIED_COUPONS.fields
WALLET_FIELDS = WALLETS.fields
WALLET_TRANSACTION_FIELDS = WALLET_TRANSACTIONS.fields

METRICS = ("api_calls", "tokens", "gpu_seconds", "peak_streams", "storage_gb", "active_users")
API, TOKENS, GPU, STREAMS, STORAGE, USERS = range(len(METRICS))

# Share of a subscription's events per metric (METRICS order); non-zero = the plan has a charge.
PLAN_MIX: dict[str, tuple[float, ...]] = {
    "free": (0.80, 0.20, 0, 0, 0, 0),
    "starter_usd": (0.72, 0.20, 0, 0, 0, 0.08),
    "starter_eur": (0.72, 0.20, 0, 0, 0, 0.08),
    "starter_jpy": (0.78, 0.22, 0, 0, 0, 0),
    "team_eur": (0.70, 0, 0, 0.10, 0.04, 0.16),
    "scale_yearly_usd": (0.62, 0.23, 0.15, 0, 0, 0),
}
PLANS_BY_CURRENCY: dict[str, tuple[tuple[str, float], ...]] = {
    "USD": (("free", 0.35), ("starter_usd", 0.45), ("scale_yearly_usd", 0.20)),
    "EUR": (("starter_eur", 0.60), ("team_eur", 0.40)),
    "JPY": (("starter_jpy", 1.0),),
}
PLAN_CURRENCY = {plan: cur for cur, plans in PLANS_BY_CURRENCY.items() for plan, _ in plans}

ENDPOINTS = ("/v1/chat", "/v1/embed", "/v1/complete", "/v1/images", "/v1/moderate")
ENDPOINT_WEIGHTS = (0.50, 0.25, 0.12, 0.06, 0.07)
REGIONS = ("us", "eu", "ap")
MODELS = ("lumen-small", "lumen-large")
GPUS = ("a100", "h100")

# Share of event rows: exact duplicates inside the files, replayed rows, conflicting duplicates.
DUPLICATE_SHARE = 0.002
REPLAY_SHARE = 0.001
CONFLICT_SHARE = 0.0005
NUMERIC_STRING_SHARE = 0.03
WRAPPED_SHARE = 0.10
UNIX_TIMESTAMP_SHARE = 0.10
# Fixed counts at >= 20,000 events (scaled down below that).
SPECIAL_COUNTS = {
    "malformed": 20,
    "missing_field": 20,
    "bad_timestamp": 10,
    "bad_value": 10,
    "unknown_metric": 10,
    "unknown_subscription": 10,
}
BEFORE_START_COUNT = 10
# Two "whales" on starter plans (past the 100k api-call tier each month at 1M events over
# three months) and one heavy GPU user on the scale plan; everyone else shares the rest.
WHALE_SHARES = (0.36, 0.34)
WHALE_API_SHARE = 0.94
HEAVY_SCALE_SHARE = 0.06

BAD_TIMESTAMPS = (
    "not-a-date",
    "2026-13-45T00:00:00Z",
    "2026-08-32T10:00:00Z",
    "08/15/2026 25:00",
    "2026-02-30T10:00:00Z",
)
MALFORMED_LINES = (
    '{{"transaction_id": "{tx}", ',
    '{{"transaction_id": "{tx}", "external_subscription_id": "{sub}", "code": "api_ca',
    "<html><body><h1>502 Bad Gateway</h1></body></html>",
    "{{'transaction_id': '{tx}', 'external_subscription_id': '{sub}', 'code': 'api_calls'}}",
    '{{"event": {{"transaction_id": "{tx}", "external_subscription_id": "{sub}"}}',
    "{tx},{sub},api_calls,2026-08-03T10:15:22Z",
    '{{"transaction_id": "{tx}" "external_subscription_id": "{sub}"}}',
    "undefined",
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class DemoManifest:
    """What a demo run wrote: sizes, files (relative, in load order) and injected anomalies."""

    first_month: date
    months: int
    customers: int
    subscriptions: int
    events_written: int  # all rows written to event files, anomalies included
    files: tuple[str, ...]  # paths relative to landing_dir
    injected: dict[str, int]  # anomaly counts by kind (ANOMALY_KINDS)

    def to_json(self) -> str:
        """The manifest as pretty JSON text (stable key order)."""
        body = {
            "first_month": self.first_month.isoformat(),
            "months": self.months,
            "customers": self.customers,
            "subscriptions": self.subscriptions,
            "events_written": self.events_written,
            "files": list(self.files),
            "injected": {kind: self.injected.get(kind, 0) for kind in ANOMALY_KINDS},
        }
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Read a manifest written by `to_json`."""
        body = json.loads(text)
        return cls(
            first_month=date.fromisoformat(body["first_month"]),
            months=int(body["months"]),
            customers=int(body["customers"]),
            subscriptions=int(body["subscriptions"]),
            events_written=int(body["events_written"]),
            files=tuple(body["files"]),
            injected={str(k): int(v) for k, v in body["injected"].items()},
        )


# --------------------------------------------------------------------------------------------
# Customers


@dataclass(frozen=True, slots=True)
class _Country:
    code: str
    currency: str
    tax_code: str
    timezone: str
    empty_timezone_every: int  # every n-th customer of the country (from the 2nd) has no timezone
    region_weights: tuple[float, float, float]
    names: tuple[str, ...]
    legal_suffixes: tuple[str, ...]
    places: tuple[tuple[str, str, str, str], ...]  # city, zipcode, state, district (JP)
    streets: tuple[str, ...]
    line2: tuple[str, ...]
    lead: str  # the country's first customer has a name containing one of these characters


DOCUMENT_LOCALES = {"FR": "fr", "DE": "de", "JP": "ja", "ES": "es"}

COUNTRIES = (
    _Country(
        code="US",
        currency="USD",
        tax_code="us_ca_sales",
        timezone="America/Los_Angeles",
        empty_timezone_every=3,
        region_weights=(0.85, 0.10, 0.05),
        names=(
            "Northwind Analytics",
            "Bluefin Robotics",
            "Harbor & Pine Software",
            "O'Connell Data Systems",
            "Redwood Compute",
            "Golden Gate Genomics",
            "Sierra Vista Health",
            "Pacific Ledger",
            "Brightline Legal AI",
            "Coastal Freight Labs",
            "Mission Street Media",
            "Sunset Learning",
            "Arcadia Retail",
            "Quartz & Quill",
            "Tidepool Games",
            "Summit Insurance Tech",
            "Cypress Logistics",
            "Granite Peak Security",
            "Emberly Voice",
            "Juniper Health Partners",
            "Baker's Dozen Foods",
            "Foggy Bay Studios",
            "Hartley, Byrne & Co.",
            "Mesa Verde Energy",
        ),
        legal_suffixes=("Inc.", "LLC", "Corp."),
        places=(
            ("San Francisco", "94105", "CA", ""),
            ("San Francisco", "94107", "CA", ""),
            ("Oakland", "94607", "CA", ""),
            ("Palo Alto", "94301", "CA", ""),
            ("San Jose", "95113", "CA", ""),
            ("Los Angeles", "90012", "CA", ""),
            ("Santa Monica", "90401", "CA", ""),
            ("San Diego", "92101", "CA", ""),
            ("Sacramento", "95814", "CA", ""),
            ("Berkeley", "94704", "CA", ""),
            ("Irvine", "92618", "CA", ""),
        ),
        streets=(
            "Market Street",
            "Mission Street",
            "Howard Street",
            "University Avenue",
            "Broadway",
            "Ocean Avenue",
            "El Camino Real",
            "Sunset Boulevard",
            "Spring Street",
        ),
        line2=("Suite 200", "Suite 1450", "Floor 3", "", "", ""),
        lead="'",
    ),
    _Country(
        code="FR",
        currency="EUR",
        tax_code="fr_vat",
        timezone="Europe/Paris",
        empty_timezone_every=0,
        region_weights=(0.08, 0.87, 0.05),
        names=(
            "Atelier Lumière",
            "Société Mistral",
            "Les Éditions du Quai",
            "Boulangerie Numérique",
            "L'Oréade Conseil",
            "Château Données",
            "Pâtisserie & Code",
            "Groupe Hélios",
            "Côté Santé",
            "Étoile Finance",
            "Nuage Bleu",
            "Orbe Médias",
            "Vignoble Analytique",
            "L'Assurance Parisienne",
            "Marché Direct",
            "Écho Juridique",
            "Azur Mobilité",
            "Sémaphore Logistique",
        ),
        legal_suffixes=("SAS", "SARL", "SA"),
        places=(
            ("Paris", "75002", "", ""),
            ("Paris", "75008", "", ""),
            ("Paris", "75011", "", ""),
            ("Lyon", "69002", "", ""),
            ("Marseille", "13001", "", ""),
            ("Bordeaux", "33000", "", ""),
            ("Toulouse", "31000", "", ""),
            ("Nantes", "44000", "", ""),
            ("Lille", "59000", "", ""),
        ),
        streets=(
            "rue de Rivoli",
            "boulevard Haussmann",
            "rue de la République",
            "quai des Chartrons",
            "avenue Jean Jaurès",
            "rue Sainte-Catherine",
            "place Bellecour",
        ),
        line2=("Bâtiment B", "3e étage", "", "", ""),
        lead="éèâôÉ",
    ),
    _Country(
        code="DE",
        currency="EUR",
        tax_code="de_vat",
        timezone="Europe/Berlin",
        empty_timezone_every=4,
        region_weights=(0.08, 0.87, 0.05),
        names=(
            "Müller Datenwerk",
            "Schäfer & Söhne",
            "Rheinblick Software",
            "Nordlicht Energie",
            "Krümel Digital",
            "Weißwald Analytik",
            "Isar Robotik",
            "Grünfeld Versicherung",
            "Hafenkran Logistik",
            "Lindenhof Medien",
            "Zöllner Rechtstechnik",
            "Alpenglühen Reisen",
            "Spreewald Gesundheit",
            "Kessler & Voigt",
            "Fuchsbau Spiele",
            "Elbtal Finanz",
        ),
        legal_suffixes=("GmbH", "AG", "GmbH & Co. KG"),
        places=(
            ("Berlin", "10115", "", ""),
            ("Berlin", "10969", "", ""),
            ("München", "80331", "", ""),
            ("Hamburg", "20095", "", ""),
            ("Köln", "50667", "", ""),
            ("Dresden", "01067", "", ""),
            ("Leipzig", "04109", "", ""),
            ("Frankfurt am Main", "60311", "", ""),
            ("Stuttgart", "70173", "", ""),
        ),
        streets=(
            "Friedrichstraße",
            "Torstraße",
            "Maximilianstraße",
            "Mönckebergstraße",
            "Hohe Straße",
            "Prager Straße",
            "Zeil",
            "Königstraße",
        ),
        line2=("Hinterhaus", "3. OG", "", "", ""),
        lead="&",
    ),
    _Country(
        code="JP",
        currency="JPY",
        tax_code="jp_ct",
        timezone="Asia/Tokyo",
        empty_timezone_every=0,
        region_weights=(0.07, 0.05, 0.88),
        names=(
            "Sakura Data Works",
            "Hikari Robotics",
            "Tsubame Logistics",
            "Kaze Media",
            "Fujimi Health",
            "Yamato Analytics",
            "Shinkansen Labs",
            "Kumo Systems",
            "Aozora Learning",
            "Minato Finance",
            "Midori Energy",
            "Kitsune Games",
            "Umi Foods",
            "Hoshi Security",
        ),
        legal_suffixes=("K.K.", "Co., Ltd.", "G.K."),
        places=(
            ("Tokyo", "100-0005", "Tokyo", "Marunouchi, Chiyoda-ku"),
            ("Tokyo", "150-0002", "Tokyo", "Shibuya, Shibuya-ku"),
            ("Osaka", "530-0001", "Osaka", "Umeda, Kita-ku"),
            ("Yokohama", "220-0012", "Kanagawa", "Minatomirai, Nishi-ku"),
            ("Kyoto", "600-8216", "Kyoto", "Higashishiokoji, Shimogyo-ku"),
            ("Fukuoka", "810-0001", "Fukuoka", "Tenjin, Chuo-ku"),
            ("Sapporo", "060-0001", "Hokkaido", "Kita 1-jo Nishi, Chuo-ku"),
        ),
        streets=(),
        line2=("5F", "12F", "", ""),
        lead="",
    ),
)
COUNTRY_BY_CODE = {country.code: country for country in COUNTRIES}
COUNTRY_WEIGHTS = {"US": 0.45, "FR": 0.20, "DE": 0.20, "JP": 0.15}
MIN_PER_COUNTRY = {"US": 3, "FR": 2, "DE": 2, "JP": 1}  # 8 customers cover every country and plan


@dataclass(frozen=True, slots=True)
class _Customer:
    row: dict[str, str]  # CUSTOMER_FIELDS
    country: _Country
    key: str  # zero-padded customer number, used in user ids
    user_pool: int  # distinct active users the customer can send


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso_instant(ms: int, *, millis: bool = False) -> str:
    moment = EPOCH + timedelta(milliseconds=int(ms))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if millis else f"{text}Z"


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def local_midnight_ms(month: date, timezone: str) -> int:
    zone = ZoneInfo(timezone) if timezone else UTC
    return epoch_ms(datetime(month.year, month.month, 1, tzinfo=zone).astimezone(UTC))


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


def _address(country: _Country, rng: np.random.Generator) -> tuple[str, str, str, str, str]:
    city, zipcode, state, district = country.places[rng.integers(len(country.places))]
    line2 = country.line2[rng.integers(len(country.line2))]
    if country.code == "JP":
        line1 = f"{rng.integers(1, 9)}-{rng.integers(1, 20)}-{rng.integers(1, 30)} {district}"
    elif country.code == "DE":
        line1 = f"{country.streets[rng.integers(len(country.streets))]} {rng.integers(1, 180)}"
    else:
        line1 = f"{rng.integers(1, 2400)} {country.streets[rng.integers(len(country.streets))]}"
    return line1, line2, city, zipcode, state


def make_customers(rng: np.random.Generator, count: int, first_month: date) -> list[_Customer]:
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
        customers.append(_Customer(row=row, country=country, key=key, user_pool=pool))
    return customers


def _customer_updates(
    rng: np.random.Generator, customers: Sequence[_Customer], first_month: date
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


# --------------------------------------------------------------------------------------------
# Subscriptions


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


def primary_plans(rng: np.random.Generator, customers: Sequence[_Customer]) -> list[str]:
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


def _make_subscriptions(
    rng: np.random.Generator, customers: Sequence[_Customer], first_month: date, months: int
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
    subs: Sequence[Subscription], customers: Sequence[_Customer]
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


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True, slots=True)
class _Chunk:
    month: int  # 0-based demo month: 0 -> NDJSON, 1 -> CSV, later -> Parquet
    start: int  # UTC ms, inclusive
    end: int  # UTC ms, exclusive
    path: str  # relative to landing_dir

    @property
    def fmt(self) -> str:
        return ("ndjson", "csv")[self.month] if self.month < 2 else "parquet"


@dataclass(frozen=True, slots=True)
class _Context:
    """Per-subscription arrays (index = subscription) used to draw events."""

    sub_ids: list[str]
    user_keys: list[str]
    window_start: np.ndarray
    window_end: np.ndarray
    mix_cum: np.ndarray  # (S, 6) cumulative metric shares; 2.0 past the last metric
    region_cum: np.ndarray  # (S, 3)
    user_pool: np.ndarray
    stream_level: np.ndarray
    storage_base: np.ndarray  # centi-GB at the start of the demo
    storage_growth: np.ndarray  # relative growth over the demo months
    total_start: int
    total_end: int


Block = dict[str, np.ndarray]
BLOCK_KEYS = (
    "sub",
    "metric",
    "ts",
    "arrival",
    "seq",
    "cat1",
    "cat2",
    "val",
    "strnum",
    "wrapped",
    "unix",
    "kind",
)
KIND_REGULAR, KIND_BEFORE, KIND_DUPLICATE, KIND_CONFLICT = range(4)


def _take(block: Block, index: np.ndarray) -> Block:
    return {key: values[index] for key, values in block.items()}


def _concat(blocks: Iterable[Block]) -> Block:
    blocks = list(blocks)
    return {key: np.concatenate([b[key] for b in blocks]) for key in BLOCK_KEYS}


def _context(
    rng: np.random.Generator,
    subs: Sequence[Subscription],
    customers: Sequence[_Customer],
    first_month: date,
    months: int,
) -> _Context:
    last = add_months(first_month, months)
    total_start = epoch_ms(datetime(first_month.year, first_month.month, 1, tzinfo=UTC))
    total_end = epoch_ms(datetime(last.year, last.month, 1, tzinfo=UTC))
    starts, ends, mixes, regions = [], [], [], []
    for sub in subs:
        customer = customers[sub.customer]
        local_end = local_midnight_ms(last, customer.row["timezone"])
        end = min(total_end, local_end, sub.terminated_ms or total_end)
        starts.append(max(sub.started_ms, total_start))
        ends.append(end)
        mix = np.array(PLAN_MIX[sub.plan], dtype=np.float64)
        if sub.api_share:
            rest = mix.sum() - mix[API]
            mix = mix * ((1 - sub.api_share) / rest)
            mix[API] = sub.api_share
        cum = np.cumsum(mix / mix.sum())
        cum[np.flatnonzero(mix)[-1] :] = 2.0
        mixes.append(cum)
        weights = np.array(customer.country.region_weights)
        region = np.cumsum(weights / weights.sum())
        region[-1] = 2.0
        regions.append(region)
    count = len(subs)
    return _Context(
        sub_ids=[s.sub_id for s in subs],
        user_keys=[customers[s.customer].key for s in subs],
        window_start=np.array(starts, dtype=np.int64),
        window_end=np.array(ends, dtype=np.int64),
        mix_cum=np.array(mixes),
        region_cum=np.array(regions),
        user_pool=np.array([customers[s.customer].user_pool for s in subs], dtype=np.int64),
        stream_level=rng.integers(2, 17, size=count),
        storage_base=np.rint(rng.lognormal(np.log(8_000), 1.2, size=count)).astype(np.int64),
        storage_growth=rng.uniform(0.05, 0.6, size=count),
        total_start=total_start,
        total_end=total_end,
    )


def _properties(rng: np.random.Generator, ctx: _Context, block: Block) -> None:
    """Fill cat1/cat2/val/strnum for every row from its metric (in place)."""
    sub, metric, ts = block["sub"], block["metric"], block["ts"]
    n = len(sub)
    cat1 = np.zeros(n, dtype=np.int8)
    cat2 = np.zeros(n, dtype=np.int8)
    val = np.zeros(n, dtype=np.int64)
    rows = np.flatnonzero(metric == API)
    cat1[rows] = rng.choice(len(ENDPOINTS), size=len(rows), p=np.array(ENDPOINT_WEIGHTS))
    u = rng.random(len(rows))
    cat2[rows] = (u[:, None] >= ctx.region_cum[sub[rows]]).sum(axis=1)
    rows = np.flatnonzero(metric == TOKENS)
    cat1[rows] = rng.random(len(rows)) < 0.3
    val[rows] = np.clip(np.rint(rng.lognormal(np.log(700), 0.8, len(rows))), 10, 5000)
    rows = np.flatnonzero(metric == GPU)
    cat1[rows] = rng.random(len(rows)) < 0.4
    val[rows] = np.clip(np.rint(rng.lognormal(np.log(25_000), 0.9, len(rows))), 100, 600_000)
    rows = np.flatnonzero(metric == STREAMS)
    level = ctx.stream_level[sub[rows]] * (0.4 + 0.8 * rng.random(len(rows)))
    val[rows] = np.clip(np.rint(level), 1, 20)
    rows = np.flatnonzero(metric == STORAGE)
    progress = (ts[rows] - ctx.total_start) / (ctx.total_end - ctx.total_start)
    val[rows] = np.rint(
        ctx.storage_base[sub[rows]] * (1 + ctx.storage_growth[sub[rows]] * progress)
    )
    rows = np.flatnonzero(metric == USERS)
    val[rows] = np.floor(ctx.user_pool[sub[rows]] * rng.random(len(rows)) ** 2).astype(np.int64) + 1
    numeric = np.isin(metric, (TOKENS, GPU, STREAMS, STORAGE))
    block["cat1"], block["cat2"], block["val"] = cat1, cat2, val
    block["strnum"] = numeric & (rng.random(n) < NUMERIC_STRING_SHARE)


def _conflicting(rng: np.random.Generator, ctx: _Context, block: Block) -> Block:
    """Copies of rows with different properties (same key, code and timestamp)."""
    out = {key: values.copy() for key, values in block.items()}
    metric, val = out["metric"], out["val"]
    delta = rng.integers(1, 500, size=len(val))
    out["cat1"] = np.where(
        metric == API, (out["cat1"] + 1 + rng.integers(0, 4, size=len(val))) % 5, out["cat1"]
    ).astype(np.int8)
    bumped = np.where(val + delta <= 5000, val + delta, val - delta)
    val = np.where(metric == TOKENS, bumped, val)
    val = np.where((metric == GPU) | (metric == STORAGE), val + delta, val)
    val = np.where(metric == STREAMS, np.where(val < 20, val + 1, val - 1), val)
    pool = ctx.user_pool[out["sub"]]
    out["val"] = np.where(metric == USERS, val % pool + 1, val)
    out["kind"] = np.full(len(val), KIND_CONFLICT, dtype=np.int8)
    return out


def _draw_block(
    rng: np.random.Generator,
    ctx: _Context,
    chunk: _Chunk,
    counts: np.ndarray,
    before_sub: np.ndarray,
    before_ts: np.ndarray,
    offsets: np.ndarray,
) -> Block:
    """The regular (and before-start) events of one file, numbered per subscription by time."""
    n_subs = len(counts)
    sub = np.repeat(np.arange(n_subs, dtype=np.int32), counts)
    lo = np.maximum(ctx.window_start, chunk.start)[sub]
    hi = np.minimum(ctx.window_end, chunk.end)[sub]
    ts = lo + (rng.random(len(sub)) * (hi - lo)).astype(np.int64)
    metric = (rng.random(len(sub))[:, None] >= ctx.mix_cum[sub][:, :-1]).sum(axis=1)
    n = len(sub) + len(before_sub)
    kind = np.full(n, KIND_REGULAR, dtype=np.int8)
    kind[len(sub) :] = KIND_BEFORE
    block: Block = {
        "sub": np.concatenate([sub, before_sub]).astype(np.int32),
        "metric": np.concatenate([metric, np.full(len(before_sub), API)]).astype(np.int8),
        "ts": np.concatenate([ts, before_ts]),
        "kind": kind,
        "wrapped": np.zeros(n, dtype=bool),
        "unix": np.zeros(n, dtype=bool),
    }
    if chunk.fmt == "ndjson":
        block["wrapped"] = rng.random(n) < WRAPPED_SHARE
        block["unix"] = rng.random(n) < UNIX_TIMESTAMP_SHARE
        # Unix seconds carry no milliseconds: the event's instant is the whole second.
        block["ts"] = np.where(block["unix"], block["ts"] // 1000 * 1000, block["ts"])
    block = _take(block, np.lexsort((block["ts"], block["sub"])))
    first_row = np.searchsorted(block["sub"], np.arange(n_subs))
    block["seq"] = offsets[block["sub"]] + np.arange(n) - first_row[block["sub"]] + 1
    block["arrival"] = block["ts"].copy()
    _properties(rng, ctx, block)
    return block


def _scaled(base: int, events: int) -> int:
    return base if events >= 20_000 else max(1, base * events // 20_000)


def _chunks(first_month: date, months: int, expected: np.ndarray) -> list[_Chunk]:
    chunks = []
    for month in range(months):
        begin, end = add_months(first_month, month), add_months(first_month, month + 1)
        start_ms = epoch_ms(datetime(begin.year, begin.month, 1, tzinfo=UTC))
        end_ms = epoch_ms(datetime(end.year, end.month, 1, tzinfo=UTC))
        parts = max(1, math.ceil(expected[month] / MAX_ROWS_PER_FILE))
        edges = np.linspace(start_ms, end_ms, parts + 1).astype(np.int64)
        ext = ("ndjson", "csv")[month] if month < 2 else "parquet"
        for part in range(parts):
            suffix = f"_part{part + 1:02d}" if parts > 1 else ""
            path = f"events/events_{begin:%Y-%m}{suffix}.{ext}"
            chunks.append(_Chunk(month, int(edges[part]), int(edges[part + 1]), path))
    return chunks


def _overlap(ctx: _Context, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(S, C) ms of each subscription's event window inside each [start, end)."""
    lo = np.maximum(ctx.window_start[:, None], start[None, :])
    hi = np.minimum(ctx.window_end[:, None], end[None, :])
    return np.maximum(hi - lo, 0).astype(np.float64)


EVENT_SQL = """
with base as (
    select
        *,
        {codes}[metric + 1] as code,
        strftime(epoch_ms(ts), '%Y-%m-%dT%H:%M:%S.%gZ') as iso,
        case when strnum then '"' else '' end as q
    from bulk
),

formatted as (
    select
        *,
        case metric
            when 0 then '{{"endpoint": "' || {endpoints}[cat1 + 1]
                || '", "region": "' || {regions}[cat2 + 1] || '"}}'
            when 1 then '{{"tokens": ' || q || val || q
                || ', "model": "' || {models}[cat1 + 1] || '"}}'
            when 2 then '{{"seconds": ' || q || (val // 1000) || '.'
                || lpad(cast(val % 1000 as varchar), 3, '0') || q
                || ', "gpu": "' || {gpus}[cat1 + 1] || '"}}'
            when 3 then '{{"streams": ' || q || val || q || '}}'
            when 4 then '{{"gb": ' || q || (val // 100) || '.'
                || lpad(cast(val % 100 as varchar), 2, '0') || q || '}}'
            else '{{"user_id": "usr_' || user_key || '_' || lpad(cast(val as varchar), 3, '0')
                || '"}}'
        end as props
    from base
)

select
    'tx_' || seq as transaction_id,
    sub_id as external_subscription_id,
    code,
    iso as "timestamp",
    props as properties,
    cast(null as varchar) as operation_type,
    cast(null as varchar) as precise_total_amount,
    case when {ndjson} then
        case when wrapped then '{{"event": ' else '' end
        || '{{"transaction_id": "tx_' || seq
        || '", "external_subscription_id": "' || sub_id
        || '", "code": "' || code
        || '", "timestamp": '
        || case when unix then cast(ts // 1000 as varchar) else '"' || iso || '"' end
        || ', "properties": ' || props || '}}'
        || case when wrapped then '}}' else '' end
    end as line,
    arrival,
    ord
from formatted
"""


def sql_list(values: Sequence[str]) -> str:
    """A DuckDB list literal of strings, quotes escaped."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


@dataclass(frozen=True, slots=True)
class _Special:
    """One hand-built anomaly row (a few dozen per run)."""

    fields: dict[str, str | None]  # EVENT_FIELDS subset; None = absent
    line: str  # the NDJSON line
    arrival: int


def _special_rows(
    rng: np.random.Generator,
    kinds: Sequence[str],
    ctx: _Context,
    block: Block,
    totals: np.ndarray,
    counter: list[int],
    plans: Sequence[str],
    ndjson: bool,
) -> list[_Special]:
    """Anomalies built on random regular rows of the block (their subscription and time)."""
    regular = np.flatnonzero(block["kind"] == KIND_REGULAR)
    rows = []
    for kind in kinds:
        counter[0] += 1
        k = counter[0]
        row = int(regular[rng.integers(len(regular))])
        sub, ts = int(block["sub"][row]), int(block["ts"][row])
        tx = f"tx_{int(totals[sub]) + k}"
        fields: dict[str, str | None] = {
            "transaction_id": tx,
            "external_subscription_id": ctx.sub_ids[sub],
            "code": "api_calls",
            "timestamp": iso_instant(ts, millis=True),
        }
        properties: object = {
            "endpoint": ENDPOINTS[int(rng.integers(len(ENDPOINTS)))],
            "region": REGIONS[int(rng.integers(len(REGIONS)))],
        }
        unix = ndjson and rng.random() < UNIX_TIMESTAMP_SHARE
        wrapped = ndjson and rng.random() < WRAPPED_SHARE
        variant = k % 6
        if kind == "malformed":
            template = MALFORMED_LINES[k % len(MALFORMED_LINES)]
            line = template.format(tx=tx, sub=ctx.sub_ids[sub])
            rows.append(_Special(dict.fromkeys(EVENT_FIELDS), line, ts))
            continue
        if kind == "missing_field":
            field = ("transaction_id", "code", "external_subscription_id")[variant % 3]
            fields[field] = None if variant < 3 else ""
        elif kind == "bad_timestamp":
            fields["timestamp"] = BAD_TIMESTAMPS[k % len(BAD_TIMESTAMPS)]
            unix = False
        elif kind == "bad_value":
            has_tokens = PLAN_MIX[plans[sub]][TOKENS] > 0
            fields["code"] = "tokens" if has_tokens else "api_calls"
            properties = ([120, 80], "tokens=120", 42, [{"tokens": 120}])[k % 4]
        elif kind == "unknown_metric":
            fields["code"] = "nonexistent_metric"
            properties = {"value": int(rng.integers(1, 100))}
        elif kind == "unknown_subscription":
            fields["external_subscription_id"] = f"sub_ghost_{k:03d}"
        body: dict[str, object] = {f: v for f, v in fields.items() if v is not None}
        if unix:
            body["timestamp"] = ts // 1000
        body["properties"] = properties
        line = json.dumps({"event": body} if wrapped else body, ensure_ascii=False)
        fields["properties"] = json.dumps(properties)
        fields["operation_type"] = fields["precise_total_amount"] = None
        rows.append(_Special(fields, line, ts))
    return rows


def _write_lines(path: Path, lines: pa.ChunkedArray) -> None:
    """Write a string column whose values already end in a newline, byte for byte."""
    with path.open("wb") as handle:
        for chunk in lines.cast(pa.large_string()).chunks:
            if len(chunk) == 0:
                continue
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
            offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
            data = memoryview(chunk.buffers()[2])
            handle.write(data[int(offsets[0]) : int(offsets[-1])])


def _write_chunk(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    ctx: _Context,
    block: Block,
    specials: Sequence[_Special],
    replay: np.ndarray | None,
) -> tuple[int, pa.ChunkedArray | None]:
    """Format a block plus its anomalies in DuckDB, sorted by arrival; write one file."""
    n = len(block["sub"])
    sub_ids = pa.array(ctx.sub_ids, type=pa.string())
    user_keys = pa.array(ctx.user_keys, type=pa.string())
    indices = pa.array(block["sub"])
    bulk = pa.table(
        {
            "sub_id": sub_ids.take(indices),
            "user_key": user_keys.take(indices),
            **{
                key: block[key]
                for key in (
                    "metric",
                    "ts",
                    "arrival",
                    "seq",
                    "cat1",
                    "cat2",
                    "val",
                    "strnum",
                    "wrapped",
                    "unix",
                )
            },
            "ord": np.arange(n, dtype=np.int64),
        }
    )
    special = pa.table(
        {
            **{
                f: pa.array([s.fields[f] for s in specials], type=pa.string()) for f in EVENT_FIELDS
            },
            "line": pa.array([s.line for s in specials], type=pa.string()),
            "arrival": pa.array([s.arrival for s in specials], type=pa.int64()),
            "ord": pa.array(range(n, n + len(specials)), type=pa.int64()),
        }
    )
    con.register("bulk", bulk)
    con.register("special", special)
    sql = EVENT_SQL.format(
        codes=sql_list(METRICS),
        endpoints=sql_list(ENDPOINTS),
        regions=sql_list(REGIONS),
        models=sql_list(MODELS),
        gpus=sql_list(GPUS),
        ndjson="true" if fmt == "ndjson" else "false",
    )
    con.execute(
        f"create or replace temp table chunk_out as select * from ({sql}) "
        "union all select * from special"
    )
    con.unregister("bulk")
    con.unregister("special")
    columns = ", ".join(f'"{f}"' for f in EVENT_FIELDS)
    replayed = None
    if fmt == "ndjson":
        lines = con.sql(
            "select line || chr(10) as line from chunk_out order by arrival, ord"
        ).to_arrow_table()
        _write_lines(path, lines.column("line"))
        if replay is not None:
            con.register("replay_ord", pa.table({"ord": replay}))
            replayed = (
                con.sql(
                    "select line || chr(10) as line from chunk_out "
                    "where ord in (select ord from replay_ord) order by arrival, ord"
                )
                .to_arrow_table()
                .column("line")
            )
            con.unregister("replay_ord")
    elif fmt == "csv":
        target = str(path).replace("'", "''")
        con.execute(
            f"copy (select {columns} from chunk_out order by arrival, ord) "
            f"to '{target}' (format csv, header true, delimiter ',')"
        )
    else:
        table = con.sql(f"select {columns} from chunk_out order by arrival, ord").to_arrow_table()
        pq.write_table(table, path, compression="zstd", row_group_size=250_000)
    count = int(one_row(con.execute("select count(*) from chunk_out"))[0])
    con.execute("drop table chunk_out")
    return count, replayed


def _write_events(
    rng: np.random.Generator,
    landing_dir: Path,
    subs: Sequence[Subscription],
    customers: Sequence[_Customer],
    first_month: date,
    months: int,
    events: int,
) -> tuple[list[str], dict[str, int], int]:
    ctx = _context(rng, subs, customers, first_month, months)
    plans = [s.plan for s in subs]
    n_subs = len(subs)

    special_counts = {kind: _scaled(base, events) for kind, base in SPECIAL_COUNTS.items()}
    n_dup = max(1, round(DUPLICATE_SHARE * events))
    n_replay = max(1, round(REPLAY_SHARE * events))
    n_conflict = max(2, round(CONFLICT_SHARE * events))
    mid = [i for i, s in enumerate(subs) if s.mid_month]
    n_before = _scaled(BEFORE_START_COUNT, events) if mid else 0
    n_regular = events - sum(special_counts.values()) - n_dup - n_replay - n_conflict - n_before
    if n_regular < max(500, 5 * n_subs):
        raise ValueError(f"events={events} is too small for {n_subs} subscriptions")

    # Each subscription's share of the events: whales fixed, the rest lognormal x active time.
    duration = (ctx.window_end - ctx.window_start).clip(min=0).astype(np.float64)
    fixed = np.array([s.share for s in subs])
    drawn = rng.lognormal(0.0, 1.3, size=n_subs) * duration / duration.max()
    drawn[fixed > 0] = 0
    rest = 1.0 - fixed.sum()
    share = fixed + (rest * drawn / drawn.sum() if drawn.sum() > 0 else 0)
    rate = np.divide(share, duration, out=np.zeros(n_subs), where=duration > 0)

    month_edges = np.array(
        [
            epoch_ms(datetime.combine(add_months(first_month, m), datetime.min.time(), UTC))
            for m in range(months + 1)
        ],
        dtype=np.int64,
    )
    month_p = _overlap(ctx, month_edges[:-1], month_edges[1:]) * rate[:, None]
    chunks = _chunks(first_month, months, n_regular * month_p.sum(axis=0) / month_p.sum())
    starts = np.array([c.start for c in chunks], dtype=np.int64)
    ends = np.array([c.end for c in chunks], dtype=np.int64)
    p = _overlap(ctx, starts, ends) * rate[:, None]
    counts = rng.multinomial(n_regular, (p / p.sum()).ravel()).reshape(n_subs, len(chunks))

    # A handful of valid events shortly before a mid-month start: loaded, never billed.
    candidates = np.array(mid, dtype=np.int64)[rng.permutation(len(mid))] if mid else np.zeros(0)
    before_sub = np.resize(candidates, n_before).astype(np.int32)
    started = np.array([s.started_ms for s in subs], dtype=np.int64)
    gap = np.minimum(2 * DAY_MS, started[before_sub] - ctx.total_start)
    before_ts = started[before_sub] - 1 - (rng.random(n_before) * (gap - 1)).astype(np.int64)
    before_chunk = np.searchsorted(starts, before_ts, side="right") - 1
    before_counts = np.zeros_like(counts)
    np.add.at(before_counts, (before_sub, before_chunk), 1)
    totals = (counts + before_counts).sum(axis=1)
    offsets = np.cumsum(counts + before_counts, axis=1) - (counts + before_counts)

    # Where duplicates and anomalies go, in proportion to each file's size.
    size = counts.sum(axis=0).astype(np.float64)
    n_chunks = len(chunks)
    dup_per_chunk = rng.multinomial(n_dup, size / size.sum())
    n_cross = n_conflict // 2 if n_chunks > 1 else 0
    same_per_chunk = rng.multinomial(n_conflict - n_cross, size / size.sum())
    cross_size = size.copy()
    cross_size[-1] = 0
    cross_per_chunk = (
        rng.multinomial(n_cross, cross_size / cross_size.sum())
        if n_cross
        else np.zeros(n_chunks, dtype=np.int64)
    )
    ndjson_size = np.where([c.month == 0 for c in chunks], size, 0)
    special_chunk: list[list[str]] = [[] for _ in chunks]
    for kind, count in special_counts.items():
        weights = ndjson_size if kind == "malformed" else size
        for c in rng.choice(n_chunks, size=count, p=weights / weights.sum()):
            special_chunk[int(c)].append(kind)

    con = duckdb.connect()
    files: list[str] = []
    written = 0
    counter = [0]
    placed = {"exact_duplicate": 0, "conflicting_duplicate": 0}
    pending: Block | None = None
    replay_lines: pa.ChunkedArray | None = None
    for c, chunk in enumerate(chunks):
        in_chunk = before_chunk == c
        block = _draw_block(
            rng, ctx, chunk, counts[:, c], before_sub[in_chunk], before_ts[in_chunk], offsets[:, c]
        )

        # Originals for duplicates, disjoint: in-file exact, same-file conflict, next-file
        # conflict, and (first file only) the replayed rows.
        regular = np.flatnonzero(block["kind"] == KIND_REGULAR)
        sizes = [
            int(dup_per_chunk[c]),
            int(same_per_chunk[c]),
            int(cross_per_chunk[c]),
            n_replay if c == 0 else 0,
        ]
        picked = rng.choice(regular, size=min(sum(sizes), len(regular)), replace=False)
        bounds = np.cumsum([0, *sizes])
        dup_idx, same_idx, cross_idx, replay_idx = (
            picked[bounds[i] : bounds[i + 1]] for i in range(4)
        )
        placed["exact_duplicate"] += len(dup_idx)
        placed["conflicting_duplicate"] += len(same_idx) + len(cross_idx)
        dups = _take(block, dup_idx)
        dups["arrival"] = dups["ts"] + rng.integers(1_000, 600_000, size=len(dup_idx))
        dups["kind"] = np.full(len(dup_idx), KIND_DUPLICATE, dtype=np.int8)
        same = _conflicting(rng, ctx, _take(block, same_idx))
        same["arrival"] = same["ts"] + rng.integers(60_000, 6 * 3_600_000, size=len(same_idx))
        parts = [block, dups, same]
        if pending is not None:
            span = min(3 * DAY_MS, chunk.end - chunk.start)
            pending["arrival"] = chunk.start + rng.integers(0, span, size=len(pending["ts"]))
            parts.append(pending)
        pending = _conflicting(rng, ctx, _take(block, cross_idx)) if len(cross_idx) else None
        full = _concat(parts)
        specials = _special_rows(
            rng, special_chunk[c], ctx, block, totals, counter, plans, chunk.fmt == "ndjson"
        )
        count, replayed = _write_chunk(
            con,
            landing_dir / chunk.path,
            chunk.fmt,
            ctx,
            full,
            specials,
            np.sort(replay_idx) if c == 0 else None,
        )
        if replayed is not None:
            replay_lines = replayed
        files.append(chunk.path)
        written += count
    con.close()

    replay_path = f"events/replay_{first_month:%Y-%m}.ndjson"
    if replay_lines is not None:
        _write_lines(landing_dir / replay_path, replay_lines)
        files.append(replay_path)
        written += len(replay_lines)
    injected = {
        "exact_duplicate": placed["exact_duplicate"]
        + (0 if replay_lines is None else len(replay_lines)),
        "conflicting_duplicate": placed["conflicting_duplicate"],
        **special_counts,
        "before_start": n_before,
    }
    return files, injected, written


# --------------------------------------------------------------------------------------------
# Entry point


def write_csv(path: Path, fields: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _clean(landing_dir: Path) -> None:
    """Remove files an earlier demo run wrote (only the demo's own file names)."""
    patterns = (
        "customers/customers.csv",
        "customers/customer_updates.ndjson",
        "subscriptions/subscriptions.csv",
        "events/events_*.ndjson",
        "events/events_*.csv",
        "events/events_*.parquet",
        "events/replay_*.ndjson",
        *ACCOUNT_FILES,
        MANIFEST_NAME,
    )
    for pattern in patterns:
        for path in sorted(landing_dir.glob(pattern)):
            if path.is_file():
                path.unlink()
    for folder in (
        "customers",
        "subscriptions",
        "events",
        "applied_coupons",
        "wallets",
        "wallet_transactions",
    ):
        (landing_dir / folder).mkdir(parents=True, exist_ok=True)


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


def _write_account_inputs(
    landing_dir: Path, people: Sequence[_Customer], first_month: date
) -> None:
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


def generate_demo_dataset(
    landing_dir: Path,
    *,
    seed: int = 7,
    months: int = 3,
    customers: int = 60,
    events: int = 1_000_000,
    first_month: date = date(2026, 8, 1),
) -> DemoManifest:
    """Write the Lumen Labs demo data set into `landing_dir` and return its manifest.

    Deterministic: the same arguments give byte-identical files. Earlier demo files in
    `customers/`, `subscriptions/` and `events/` are removed first; other files are left alone.
    `events` is the exact number of event rows written (anomalies and duplicates included).
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if first_month.day != 1:
        raise ValueError("first_month must be the first day of a month")
    landing_dir = Path(landing_dir)
    _clean(landing_dir)
    rng_customers, rng_subscriptions, rng_events = np.random.default_rng(seed).spawn(3)

    people = make_customers(rng_customers, customers, first_month)
    updates = _customer_updates(rng_customers, people, first_month)
    subs = _make_subscriptions(rng_subscriptions, people, first_month, months)
    write_csv(landing_dir / "customers/customers.csv", CUSTOMER_FIELDS, (c.row for c in people))
    with (landing_dir / "customers/customer_updates.ndjson").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in updates)
    write_csv(
        landing_dir / "subscriptions/subscriptions.csv",
        SUBSCRIPTION_FIELDS,
        subscription_rows(subs, people),
    )
    _write_account_inputs(landing_dir, people, first_month)
    event_files, injected, written = _write_events(
        rng_events, landing_dir, subs, people, first_month, months, events
    )
    manifest = DemoManifest(
        first_month=first_month,
        months=months,
        customers=customers,
        subscriptions=len(subs),
        events_written=written,
        files=tuple(
            sorted(
                [
                    "customers/customer_updates.ndjson",
                    "customers/customers.csv",
                    "subscriptions/subscriptions.csv",
                    *ACCOUNT_FILES,
                    *event_files,
                ]
            )
        ),
        injected=injected,
    )
    (landing_dir / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest
