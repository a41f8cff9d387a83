"""Lago's subscription endpoints: create (or change plan) and terminate.

A subscription lands as phases: creating one lands its first phase, a new plan code for an
existing subscription lands a new phase from now (docs/rules.md §9 decides its effect), and a
termination lands the last phase again with its end. The same request twice answers the same.
"""

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from orchestration.api import errors, serializers
from orchestration.api.context import Api, now_text
from orchestration.api.errors import JSONResponse
from orchestration.api.parsing import read_body, require_object

SUBSCRIPTION_FIELDS = frozenset(
    {"external_customer_id", "plan_code", "external_id", "subscription_at", "billing_time"}
)


def subscription_details(reason: str) -> dict:
    """Lago-style details for the loader's quarantine reason of a subscription row."""
    if reason == "bad_timestamp":
        return {"subscription_at": ["invalid_format"]}
    if reason == "bad_value":
        return {"billing_time": ["invalid_value"]}
    return {"subscription": [reason]}


def phase_status(phase: dict) -> str:
    """Lago's status of a subscription phase: terminated, pending (starts later) or active."""
    if phase.get("terminated_at"):
        return "terminated"
    started = phase.get("started_at") or ""
    return "pending" if started > now_text() else "active"


class SubscriptionHandlers:
    """The subscription routes, writing to the API's subscriptions journal."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def create_subscription(self, request: Request) -> Response:
        body = await read_body(request, "subscription", self.api.settings.max_body_bytes)
        given = require_object(body["subscription"], "subscription")
        given = {k: v for k, v in given.items() if v is not None}
        unknown = sorted(set(given) - SUBSCRIPTION_FIELDS)
        if unknown:
            raise errors.validation_errors({key: ["not_supported"] for key in unknown})
        wrong = sorted(k for k, v in given.items() if v is not None and not isinstance(v, str))
        if wrong:
            raise errors.validation_errors({key: ["invalid_type"] for key in wrong})
        missing = [
            f for f in ("external_customer_id", "plan_code", "external_id") if not given.get(f)
        ]
        if missing:
            raise errors.validation_errors({f: ["value_is_mandatory"] for f in missing})
        if given["plan_code"] not in self.api.catalog.plans:
            raise errors.not_found("plan")
        customer = await asyncio.to_thread(self.api.known_customer, given["external_customer_id"])
        if customer is None:
            raise errors.not_found("customer")
        phases = await asyncio.to_thread(self.api.state.subscription_phases, given["external_id"])
        stamp = now_text()
        if phases:
            last, first = phases[-1], phases[0]
            if last["external_customer_id"] != given["external_customer_id"]:
                raise errors.validation_errors({"external_id": ["value_already_exist"]})
            if last["plan_code"] == given["plan_code"] or last.get("terminated_at"):
                if last.get("terminated_at"):
                    raise errors.not_found("subscription")
                return JSONResponse(
                    {
                        "subscription": serializers.subscription(
                            last, first=first, status=phase_status(last)
                        )
                    }
                )
            row = {  # a plan change: a new phase from now (docs/rules.md §9 decides its effect)
                **{k: last.get(k) for k in ("external_customer_id", "billing_time")},
                "external_subscription_id": given["external_id"],
                "plan_code": given["plan_code"],
                "subscription_at": first.get("subscription_at") or first.get("started_at"),
                "started_at": stamp,
                "terminated_at": None,
                "updated_at": stamp,
            }
        else:
            first = None
            starts = given.get("subscription_at") or stamp
            row = {
                "external_subscription_id": given["external_id"],
                "external_customer_id": given["external_customer_id"],
                "plan_code": given["plan_code"],
                "billing_time": given.get("billing_time") or "calendar",
                "subscription_at": starts,
                "started_at": starts,
                "terminated_at": None,
                "updated_at": stamp,
            }
        refused = await self.api.journals["subscriptions"].append([orjson.dumps(row)])
        if refused:
            raise errors.validation_errors(subscription_details(refused[0]))
        body = serializers.subscription(row, first=first or row, status=phase_status(row))
        return JSONResponse({"subscription": body})

    async def terminate_subscription(self, request: Request) -> Response:
        external_id = request.path_params["external_id"]
        phases = await asyncio.to_thread(self.api.state.subscription_phases, external_id)
        if not phases or phases[-1].get("terminated_at"):
            raise errors.not_found("subscription")
        last = phases[-1]
        stamp = now_text()
        row = {**last, "terminated_at": stamp, "updated_at": stamp}
        refused = await self.api.journals["subscriptions"].append([orjson.dumps(row)])
        if refused:
            raise errors.validation_errors(subscription_details(refused[0]))
        body = serializers.subscription(row, first=phases[0], status="terminated")
        return JSONResponse({"subscription": body})
