"""Lago's customer endpoints: create or update, get, and the customer's portal link.

A write lands one customer row (Lago's create-or-update: the fields given replace those already
landed); reads take the customer as last landed, else as published (`Api.known_customer`).
"""

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from orchestration.api import errors, serializers
from orchestration.api.context import Api, now_text
from orchestration.api.errors import JSONResponse
from orchestration.api.parsing import base_url, read_body, require_object

CUSTOMER_FIELDS = {  # Lago's field -> the landing field
    "external_id": "external_customer_id",
    "name": "name",
    "legal_name": "legal_name",
    "email": "email",
    "address_line1": "address_line1",
    "address_line2": "address_line2",
    "city": "city",
    "zipcode": "zipcode",
    "state": "state",
    "country": "country",
    "currency": "currency",
    "timezone": "timezone",
    "tax_identification_number": "tax_identification_number",
    "tax_codes": "tax_codes",
}


def customer_details(reason: str, row: dict) -> dict:
    """Lago-style details for the loader's quarantine reason of a customer row."""
    if reason == "missing_field":
        return {"currency": ["value_is_mandatory"]}
    if reason == "bad_value":
        return {f: ["invalid_value"] for f in ("currency", "country", "timezone") if row.get(f)}
    return {"customer": [reason]}


class CustomerHandlers:
    """The customer routes, writing to the API's customers journal."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def create_customer(self, request: Request) -> Response:
        body = await read_body(request, "customer", self.api.settings.max_body_bytes)
        given = require_object(body["customer"], "customer")
        given = {k: v for k, v in given.items() if v is not None}
        unknown = sorted(set(given) - set(CUSTOMER_FIELDS))
        if unknown:
            raise errors.validation_errors({key: ["not_supported"] for key in unknown})
        if not isinstance(given.get("external_id"), str) or not given["external_id"].strip():
            raise errors.validation_errors({"external_id": ["value_is_mandatory"]})
        wrong = [
            key
            for key, value in given.items()
            if value is not None
            and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
                if key == "tax_codes"
                else isinstance(value, str)
            )
        ]
        if wrong:
            raise errors.validation_errors({key: ["invalid_type"] for key in sorted(wrong)})
        external_id = given["external_id"].strip()
        existing = await asyncio.to_thread(self.api.state.customer, external_id) or {}
        row = {field: existing.get(field) for field in CUSTOMER_FIELDS.values()}
        for key, value in given.items():
            row[CUSTOMER_FIELDS[key]] = "|".join(value) if isinstance(value, list) else value
        row["external_customer_id"] = external_id
        row["updated_at"] = now_text()
        refused = await self.api.journals["customers"].append([orjson.dumps(row)])
        if refused:
            raise errors.validation_errors(customer_details(refused[0], row))
        body = serializers.customer(
            row,
            entity_timezone=self.api.catalog.entity.get("timezone", ""),
            created_at=existing.get("updated_at"),
        )
        return JSONResponse({"customer": body})

    def get_customer(self, request: Request) -> Response:
        external_id = request.path_params["external_customer_id"]
        row = self.api.known_customer(external_id)
        if row is None:
            raise errors.not_found("customer")
        timezone = self.api.catalog.entity.get("timezone", "")
        return JSONResponse({"customer": serializers.customer(row, entity_timezone=timezone)})

    def portal_url(self, request: Request) -> Response:
        external_id = request.path_params["external_customer_id"]
        if self.api.known_customer(external_id) is None:
            raise errors.not_found("customer")
        token = self.api.settings.portal.sign(external_id)
        return JSONResponse({"customer": {"portal_url": f"{base_url(request)}/portal/{token}"}})
