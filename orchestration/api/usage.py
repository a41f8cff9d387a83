"""Lago's current usage endpoint: `GET /api/v1/customers/{id}/current_usage`.

Answers from the published `fct_usage_current_subscriptions` and `fct_usage_current` (the usage
refresh between closes): the subscription's latest period and its lines.
"""

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from orchestration.api import errors, serializers
from orchestration.api.context import Api
from orchestration.api.errors import JSONResponse
from orchestration.api.parsing import check_filters


class UsageHandlers:
    """The current usage route, reading the published usage marts."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def usage_of(self, external_customer_id: str, external_subscription_id: str) -> dict:
        """Lago's `customer_usage` body of a customer's subscription (404 when unknown)."""
        marts = self.api.marts
        summaries = marts.where(
            "fct_usage_current_subscriptions", external_subscription_id=external_subscription_id
        )
        if not summaries:
            if not marts.has("fct_usage_current_subscriptions"):
                raise errors.not_found("customer_usage")
            raise errors.not_found("subscription")
        summary = max(summaries, key=lambda r: r.get("from_datetime") or datetime.min)
        if summary["external_customer_id"] != external_customer_id:
            raise errors.not_found("subscription")
        lines = [
            line
            for line in marts.where(
                "fct_usage_current", external_subscription_id=external_subscription_id
            )
            if line.get("from_datetime") == summary.get("from_datetime")
        ]
        return serializers.current_usage(summary, lines, self.api.catalog)

    def current_usage(self, request: Request) -> Response:
        query = request.query_params
        check_filters(query, frozenset({"external_subscription_id"}))
        subscription = query.get("external_subscription_id")
        if not subscription:
            raise errors.validation_errors({"external_subscription_id": ["value_is_mandatory"]})
        usage = self.usage_of(request.path_params["external_customer_id"], subscription)
        return JSONResponse({"customer_usage": usage})
