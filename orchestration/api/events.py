"""Lago's event endpoints: `POST /api/v1/events` and `POST /api/v1/events/batch`.

An event is checked against the fields Meterhouse takes (docs/api.md), stamped on receipt when it
has no timestamp, and appended to the events journal, which judges it with the loader's rules;
the loader's quarantine reasons come back as Lago's validation details.
"""

from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response

from orchestration.api import errors, serializers
from orchestration.api.context import Api, now_text
from orchestration.api.errors import JSONResponse
from orchestration.api.parsing import read_body

EVENT_FIELDS = frozenset(
    {
        "transaction_id",
        "external_subscription_id",
        "code",
        "timestamp",
        "properties",
        # Meterhouse's landing fields (docs/inputs.md), beyond Lago's body: docs/api.md
        "operation_type",
        "precise_total_amount",
    }
)
UNSUPPORTED_EVENT_FIELDS = frozenset({"precise_total_amount_cents", "external_customer_id"})
REQUIRED_EVENT_FIELDS = ("transaction_id", "external_subscription_id", "code")


def event_line(event: object, received_at: str) -> tuple[dict, bytes] | dict:
    """The landing line of one event, or its error details (unknown or unsupported fields)."""
    if not isinstance(event, dict):
        return {"event": ["invalid_type"]}
    # Lago's fields Meterhouse does not support are refused when given; a null is not given
    # (Lago's client sends `precise_total_amount_cents: null` in batches).
    event = {k: v for k, v in event.items() if not (k in UNSUPPORTED_EVENT_FIELDS and v is None)}
    unknown = sorted(set(event) - EVENT_FIELDS)
    if unknown:
        return {
            key: ["not_supported" if key in UNSUPPORTED_EVENT_FIELDS else "unknown_field"]
            for key in unknown
        }
    if event.get("timestamp") in (None, ""):
        event = {**event, "timestamp": received_at}  # Lago stamps it on receipt
    return event, orjson.dumps(event)


def rejection_details(reason: str, event: dict) -> dict:
    """Lago-style details for the loader's quarantine reason of one event."""
    if reason == "missing_field":
        missing = [f for f in REQUIRED_EVENT_FIELDS if event.get(f) in (None, "")]
        return {f: ["value_is_mandatory"] for f in missing or ["event"]}
    if reason == "bad_timestamp":
        return {"timestamp": ["invalid_format"]}
    if reason == "future_timestamp":
        return {"timestamp": ["too_far_in_the_future"]}
    if reason == "bad_value":
        fields = [f for f in EVENT_FIELDS if isinstance(event.get(f), dict | list)]
        fields = [f for f in fields if f != "properties"]
        if event.get("properties") is not None and not isinstance(event["properties"], dict):
            fields.append("properties")
        if len(str(event.get("transaction_id", ""))) > 255:
            fields.append("transaction_id")
        return {f: ["invalid_value"] for f in sorted(fields) or ["event"]}
    return {"event": [reason]}


def event_response(event: dict, created_at: str) -> dict:
    """Lago's body of an accepted event."""
    return {
        "lago_id": serializers.event_lago_id(
            str(event.get("external_subscription_id")), str(event["transaction_id"])
        ),
        "transaction_id": event["transaction_id"],
        "lago_customer_id": None,
        "code": event["code"],
        "timestamp": timestamp_text(event.get("timestamp")),
        "precise_total_amount_cents": None,
        "properties": event.get("properties") or {},
        "lago_subscription_id": serializers.lago_id(
            "subscription", str(event.get("external_subscription_id"))
        ),
        "external_subscription_id": event["external_subscription_id"],
        "created_at": created_at,
    }


def timestamp_text(value: object) -> str:
    """An event's timestamp (Unix seconds or ISO text) as Lago echoes it; other text as given."""
    if isinstance(value, int | float) or (isinstance(value, str) and is_number(value)):
        moment = datetime.fromtimestamp(float(value), UTC)
        return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class EventHandlers:
    """The event routes, writing to the API's events journal."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def create_event(self, request: Request) -> Response:
        body = await read_body(request, "event", self.api.settings.max_body_bytes)
        line = event_line(body["event"], now_text())
        if isinstance(line, dict):
            raise errors.validation_errors(line)
        event, encoded = line
        refused = await self.api.journals["events"].append([encoded])
        if refused:
            raise errors.validation_errors(rejection_details(refused[0], event))
        return JSONResponse({"event": event_response(event, now_text())})

    async def create_events_batch(self, request: Request) -> Response:
        body = await read_body(request, "events", self.api.settings.max_body_bytes)
        events = body["events"]
        if not isinstance(events, list):
            raise errors.validation_errors({"events": ["invalid_type"]})
        if len(events) > self.api.settings.batch_limit:
            raise errors.validation_errors({"events": ["too_many_events"]})
        received_at = now_text()
        lines, accepted, details = [], [], {}
        for index, raw in enumerate(events):
            line = event_line(raw, received_at)
            if isinstance(line, dict):
                details[str(index)] = line
            else:
                accepted.append(line[0])
                lines.append(line[1])
        if details:
            raise errors.validation_errors(details)
        refused = await self.api.journals["events"].append(lines)
        if refused:
            raise errors.validation_errors(
                {
                    str(index): rejection_details(reason, accepted[index])
                    for index, reason in sorted(refused.items())
                }
            )
        created_at = now_text()
        return JSONResponse({"events": [event_response(e, created_at) for e in accepted]})
