"""Build the hand-made anomaly rows of the demo events (docs/inputs.md): a few dozen per run."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from meterhouse_tools.demo_data.clock import iso_instant
from meterhouse_tools.demo_data.event_draws import KIND_REGULAR, Block, EventContext
from meterhouse_tools.demo_data.vocabulary import (
    ENDPOINTS,
    EVENT_FIELDS,
    PLAN_MIX,
    REGIONS,
    TOKENS,
    UNIX_TIMESTAMP_SHARE,
    WRAPPED_SHARE,
)

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


def scaled_count(base: int, events: int) -> int:
    return base if events >= 20_000 else max(1, base * events // 20_000)


@dataclass(frozen=True, slots=True)
class SpecialRow:
    """One hand-built anomaly row (a few dozen per run)."""

    fields: dict[str, str | None]  # EVENT_FIELDS subset; None = absent
    line: str  # the NDJSON line
    arrival: int


def special_rows(
    rng: np.random.Generator,
    kinds: Sequence[str],
    ctx: EventContext,
    block: Block,
    totals: np.ndarray,
    counter: list[int],
    plans: Sequence[str],
    ndjson: bool,
) -> list[SpecialRow]:
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
            rows.append(SpecialRow(dict.fromkeys(EVENT_FIELDS), line, ts))
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
        rows.append(SpecialRow(fields, line, ts))
    return rows
