"""The demo data's vocabulary: the landing fields, metrics, plans and property values.

The fields are the landing contract's (docs/inputs.md), as the loader reads them; the metrics and
plans are those of the demo pricing catalog (`seeds/catalog/`).
"""

from orchestration.landing.readers import (
    APPLIED_COUPONS,
    CUSTOMERS,
    EVENTS,
    SUBSCRIPTIONS,
    WALLET_TRANSACTIONS,
    WALLETS,
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
NUMERIC_STRING_SHARE = 0.03
WRAPPED_SHARE = 0.10
UNIX_TIMESTAMP_SHARE = 0.10
