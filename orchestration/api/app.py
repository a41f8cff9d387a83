"""The ASGI application: Lago's `/api/v1` for what Meterhouse supports, and the customer portal.

Writes go through a `LandingJournal` (validated by the loader's rules, fsynced, renamed) and are
acknowledged only once on disk; reads come from the published marts (`Marts`). docs/api.md lists
the endpoints, fields and filters supported; anything else answers as Lago answers an unknown
route (404 `resource_not_found`).
"""

import asyncio
import contextlib
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast, overload

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orchestration.api import errors, serializers
from orchestration.api.catalog import Catalog
from orchestration.api.errors import ApiError, JSONResponse
from orchestration.api.journal import LandingJournal
from orchestration.api.marts import Marts, to_cents
from orchestration.api.security import ApiKeys, PortalSigner, bearer_token
from orchestration.api.state import LandingState

VERSION = "0.1.0"


@dataclass(frozen=True, slots=True)
class ApiSettings:
    landing_dir: Path
    output_dir: Path
    catalog_dir: Path
    api_keys: ApiKeys
    portal: PortalSigner
    batch_limit: int = 100  # Lago's LAGO_EVENTS_BATCH_MAX_LENGTH default
    max_body_bytes: int = 1024 * 1024
    seal_seconds: float = 10.0  # how often spooled events become one landing file

    @classmethod
    def from_environment(cls, landing_dir: Path, output_dir: Path, catalog_dir: Path):
        return cls(
            landing_dir=landing_dir,
            output_dir=output_dir,
            catalog_dir=catalog_dir,
            api_keys=ApiKeys.from_environment(),
            portal=PortalSigner.from_environment(),
            batch_limit=int(os.environ.get("MH_API_BATCH_LIMIT", "100")),
            max_body_bytes=int(os.environ.get("MH_API_MAX_BODY_BYTES", str(1024 * 1024))),
            seal_seconds=float(os.environ.get("MH_API_SEAL_SECONDS", "10")),
        )


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
SUBSCRIPTION_FIELDS = frozenset(
    {"external_customer_id", "plan_code", "external_id", "subscription_at", "billing_time"}
)
INVOICE_FILTERS = frozenset(
    {
        "page",
        "per_page",
        "external_customer_id",
        "status",
        "invoice_type",
        "currency",
        "issuing_date_from",
        "issuing_date_to",
        "amount_from",
        "amount_to",
    }
)
CREDIT_NOTE_FILTERS = frozenset(
    {
        "page",
        "per_page",
        "external_customer_id",
        "reason",
        "currency",
        "issuing_date_from",
        "issuing_date_to",
    }
)


def now_text() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class Api:
    """The routes, bound to one installation's folders and secrets."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.marts = Marts(settings.output_dir)
        self.catalog = Catalog.read(settings.catalog_dir)
        self.state = LandingState(settings.landing_dir)
        self.journals = {
            "events": LandingJournal(
                settings.landing_dir, "events", seal_seconds=settings.seal_seconds
            ),
            "customers": LandingJournal(settings.landing_dir, "customers"),
            "subscriptions": LandingJournal(settings.landing_dir, "subscriptions"),
        }

    # -- plumbing ---------------------------------------------------------------------------

    def authenticated(
        self, handler: Callable[[Request], Awaitable[Response] | Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        """The handler behind the API key check. Reads (plain functions: they read Parquet and
        landing files) run in a worker thread, so they never hold up the event loop's commits."""
        is_async = inspect.iscoroutinefunction(handler)

        async def endpoint(request: Request) -> Response:
            try:
                token = bearer_token(request.headers.get("authorization"))
                if not self.settings.api_keys.accepts(token):
                    raise errors.unauthorized()
                # is_async tells which of the two kinds `handler` is.
                if is_async:
                    return await cast(Awaitable[Response], handler(request))
                return await run_in_threadpool(
                    cast(Callable[[Request], Response], handler), request
                )
            except ApiError as error:
                return error.response()

        return endpoint

    async def body(self, request: Request, envelope: str) -> dict:
        """The request's JSON object, read up to the size limit; Lago's `envelope` key inside."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise errors.payload_too_large(limit)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise errors.payload_too_large(limit)
            chunks.append(chunk)
        try:
            parsed = orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as error:
            raise errors.bad_request(f"malformed JSON: {error}") from None
        if not isinstance(parsed, dict):
            raise errors.bad_request("the body must be a JSON object")
        unknown = sorted(set(parsed) - {envelope})
        if unknown:
            raise errors.validation_errors({key: ["unknown_field"] for key in unknown})
        if envelope not in parsed or parsed[envelope] in (None, "", [], {}):
            raise errors.bad_request(f"param is missing or the value is empty: {envelope}")
        return parsed

    @staticmethod
    def _object(value: object, name: str) -> dict:
        if not isinstance(value, dict):
            raise errors.validation_errors({name: ["invalid_type"]})
        return value

    def base_url(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    # -- events -----------------------------------------------------------------------------

    def _event_line(self, event: object, received_at: str) -> tuple[dict, bytes] | dict:
        """The landing line of one event, or its error details (unknown or unsupported fields)."""
        if not isinstance(event, dict):
            return {"event": ["invalid_type"]}
        # Lago's fields Meterhouse does not support are refused when given; a null is not given
        # (Lago's client sends `precise_total_amount_cents: null` in batches).
        event = {
            k: v for k, v in event.items() if not (k in UNSUPPORTED_EVENT_FIELDS and v is None)
        }
        unknown = sorted(set(event) - EVENT_FIELDS)
        if unknown:
            return {
                key: ["not_supported" if key in UNSUPPORTED_EVENT_FIELDS else "unknown_field"]
                for key in unknown
            }
        if event.get("timestamp") in (None, ""):
            event = {**event, "timestamp": received_at}  # Lago stamps it on receipt
        return event, orjson.dumps(event)

    @staticmethod
    def _rejection_details(reason: str, event: dict) -> dict:
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

    def _event_response(self, event: dict, created_at: str) -> dict:
        return {
            "lago_id": serializers.event_lago_id(
                str(event.get("external_subscription_id")), str(event["transaction_id"])
            ),
            "transaction_id": event["transaction_id"],
            "lago_customer_id": None,
            "code": event["code"],
            "timestamp": _timestamp_text(event.get("timestamp")),
            "precise_total_amount_cents": None,
            "properties": event.get("properties") or {},
            "lago_subscription_id": serializers.lago_id(
                "subscription", str(event.get("external_subscription_id"))
            ),
            "external_subscription_id": event["external_subscription_id"],
            "created_at": created_at,
        }

    async def create_event(self, request: Request) -> Response:
        body = await self.body(request, "event")
        line = self._event_line(body["event"], now_text())
        if isinstance(line, dict):
            raise errors.validation_errors(line)
        event, encoded = line
        refused = await self.journals["events"].append([encoded])
        if refused:
            raise errors.validation_errors(self._rejection_details(refused[0], event))
        return JSONResponse({"event": self._event_response(event, now_text())})

    async def create_events_batch(self, request: Request) -> Response:
        body = await self.body(request, "events")
        events = body["events"]
        if not isinstance(events, list):
            raise errors.validation_errors({"events": ["invalid_type"]})
        if len(events) > self.settings.batch_limit:
            raise errors.validation_errors({"events": ["too_many_events"]})
        received_at = now_text()
        lines, accepted, details = [], [], {}
        for index, raw in enumerate(events):
            line = self._event_line(raw, received_at)
            if isinstance(line, dict):
                details[str(index)] = line
            else:
                accepted.append(line[0])
                lines.append(line[1])
        if details:
            raise errors.validation_errors(details)
        refused = await self.journals["events"].append(lines)
        if refused:
            raise errors.validation_errors(
                {
                    str(index): self._rejection_details(reason, accepted[index])
                    for index, reason in sorted(refused.items())
                }
            )
        created_at = now_text()
        return JSONResponse({"events": [self._event_response(e, created_at) for e in accepted]})

    # -- customers and subscriptions ----------------------------------------------------------

    def _known_customer(self, external_customer_id: str) -> dict | None:
        landed = self.state.customer(external_customer_id)
        if landed is not None:
            return landed
        published = self.marts.where("dim_customers", external_customer_id=external_customer_id)
        return published[0] if published else None

    async def create_customer(self, request: Request) -> Response:
        given = self._object((await self.body(request, "customer"))["customer"], "customer")
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
        existing = await asyncio.to_thread(self.state.customer, external_id) or {}
        row = {field: existing.get(field) for field in CUSTOMER_FIELDS.values()}
        for key, value in given.items():
            row[CUSTOMER_FIELDS[key]] = "|".join(value) if isinstance(value, list) else value
        row["external_customer_id"] = external_id
        row["updated_at"] = now_text()
        refused = await self.journals["customers"].append([orjson.dumps(row)])
        if refused:
            raise errors.validation_errors(_customer_details(refused[0], row))
        body = serializers.customer(
            row,
            entity_timezone=self.catalog.entity.get("timezone", ""),
            created_at=existing.get("updated_at"),
        )
        return JSONResponse({"customer": body})

    def _status(self, phase: dict) -> str:
        if phase.get("terminated_at"):
            return "terminated"
        started = phase.get("started_at") or ""
        return "pending" if started > now_text() else "active"

    async def create_subscription(self, request: Request) -> Response:
        given = self._object(
            (await self.body(request, "subscription"))["subscription"], "subscription"
        )
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
        if given["plan_code"] not in self.catalog.plans:
            raise errors.not_found("plan")
        customer = await asyncio.to_thread(self._known_customer, given["external_customer_id"])
        if customer is None:
            raise errors.not_found("customer")
        phases = await asyncio.to_thread(self.state.subscription_phases, given["external_id"])
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
                            last, first=first, status=self._status(last)
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
        refused = await self.journals["subscriptions"].append([orjson.dumps(row)])
        if refused:
            raise errors.validation_errors(_subscription_details(refused[0]))
        body = serializers.subscription(row, first=first or row, status=self._status(row))
        return JSONResponse({"subscription": body})

    async def terminate_subscription(self, request: Request) -> Response:
        external_id = request.path_params["external_id"]
        phases = await asyncio.to_thread(self.state.subscription_phases, external_id)
        if not phases or phases[-1].get("terminated_at"):
            raise errors.not_found("subscription")
        last = phases[-1]
        stamp = now_text()
        row = {**last, "terminated_at": stamp, "updated_at": stamp}
        refused = await self.journals["subscriptions"].append([orjson.dumps(row)])
        if refused:
            raise errors.validation_errors(_subscription_details(refused[0]))
        body = serializers.subscription(row, first=phases[0], status="terminated")
        return JSONResponse({"subscription": body})

    # -- reads from the marts -----------------------------------------------------------------

    def _customer_body(self, external_customer_id: str) -> dict | None:
        rows = self.marts.where("dim_customers", external_customer_id=external_customer_id)
        if not rows:
            return None
        return serializers.customer(
            rows[0], entity_timezone=self.catalog.entity.get("timezone", "")
        )

    def get_customer(self, request: Request) -> Response:
        external_id = request.path_params["external_customer_id"]
        row = self._known_customer(external_id)
        if row is None:
            raise errors.not_found("customer")
        body = serializers.customer(row, entity_timezone=self.catalog.entity.get("timezone", ""))
        return JSONResponse({"customer": body})

    def file_url(self, request: Request, kind: str, row: dict) -> str | None:
        """A signed link to the document's PDF (the portal's download), or None before it exists."""
        if kind == "invoices":
            number, identifier = row.get("invoice_number"), row["invoice_id"]
        else:
            number, identifier = row.get("credit_note_number"), row["credit_note_id"]
        if not number or document_path(self.settings.output_dir, kind, number) is None:
            return None
        token = self.settings.portal.sign(row["external_customer_id"])
        return f"{self.base_url(request)}/portal/{token}/{kind}/{identifier}.pdf"

    def _invoice_body(self, request: Request, row: dict, *, full: bool) -> dict:
        lines = (
            self.marts.where("fct_invoice_lines", invoice_id=row["invoice_id"]) if full else None
        )
        return serializers.invoice(
            row,
            file_url=self.file_url(request, "invoices", row),
            customer=self._customer_body(row["external_customer_id"]) if full else None,
            fees=[serializers.fee(line) for line in lines] if lines is not None else None,
            lines=lines,
        )

    def list_invoices(self, request: Request) -> Response:
        query = request.query_params
        _check_filters(query, INVOICE_FILTERS)
        rows = self.marts.rows("fct_invoices") or []
        selected = [
            row
            for row in rows
            if _matches(row, query, ("external_customer_id", "status", "invoice_type", "currency"))
            and _in_dates(row.get("issuing_date"), query)
            and _in_amounts(row, query)
        ]
        selected.sort(key=lambda r: (r.get("issuing_date") or date.min, r["invoice_id"]))
        selected.reverse()
        page, meta = _paginate(selected, query)
        bodies = [self._invoice_body(request, row, full=False) for row in page]
        return JSONResponse({"invoices": bodies, "meta": meta})

    def _invoice(self, invoice_id: str) -> dict:
        rows = self.marts.where("fct_invoices", invoice_id=invoice_id)
        if not rows:
            raise errors.not_found("invoice")
        return rows[0]

    def get_invoice(self, request: Request) -> Response:
        row = self._invoice(request.path_params["invoice_id"])
        return JSONResponse({"invoice": self._invoice_body(request, row, full=True)})

    def download_invoice(self, request: Request) -> Response:
        row = self._invoice(request.path_params["invoice_id"])
        body = self._invoice_body(request, row, full=True)
        if body["file_url"] is None:  # Lago answers an empty 200 until the PDF is generated
            return Response(status_code=200)
        return JSONResponse({"invoice": body})

    def _credit_note_body(self, request: Request, row: dict) -> dict:
        invoices = self.marts.where("fct_invoices", invoice_id=row.get("invoice_id"))
        number = invoices[0].get("invoice_number") if invoices else None
        return serializers.credit_note(
            row, invoice_number=number, file_url=self.file_url(request, "credit_notes", row)
        )

    def list_credit_notes(self, request: Request) -> Response:
        query = request.query_params
        _check_filters(query, CREDIT_NOTE_FILTERS)
        rows = [
            row
            for row in self.marts.rows("fct_credit_notes") or []
            if _matches(row, query, ("external_customer_id", "reason", "currency"))
            and _in_dates(row.get("issuing_date"), query)
        ]
        rows.sort(key=lambda r: (r.get("issuing_date") or date.min, r["credit_note_id"]))
        rows.reverse()
        page, meta = _paginate(rows, query)
        bodies = [self._credit_note_body(request, row) for row in page]
        return JSONResponse({"credit_notes": bodies, "meta": meta})

    def _credit_note(self, credit_note_id: str) -> dict:
        rows = self.marts.where("fct_credit_notes", credit_note_id=credit_note_id)
        if not rows:
            raise errors.not_found("credit_note")
        return rows[0]

    def get_credit_note(self, request: Request) -> Response:
        row = self._credit_note(request.path_params["credit_note_id"])
        return JSONResponse({"credit_note": self._credit_note_body(request, row)})

    def download_credit_note(self, request: Request) -> Response:
        row = self._credit_note(request.path_params["credit_note_id"])
        body = self._credit_note_body(request, row)
        if body["file_url"] is None:
            return Response(status_code=200)
        return JSONResponse({"credit_note": body})

    def wallets_of(self, external_customer_id: str | None) -> dict[str, list[dict]]:
        """Ledger rows per wallet code (of one customer when given), in ledger order."""
        wallets: dict[str, list[dict]] = {}
        for row in self.marts.rows("fct_wallet_transactions") or []:
            if external_customer_id is None or row["external_customer_id"] == external_customer_id:
                wallets.setdefault(row["wallet_code"], []).append(row)
        for rows in wallets.values():
            rows.sort(
                key=lambda r: (r.get("created_at") or datetime.min, r["wallet_transaction_id"])
            )
        return wallets

    def _currency_of(self, external_customer_id: str) -> str:
        customer = self._known_customer(external_customer_id) or {}
        return customer.get("currency") or "USD"

    def list_wallets(self, request: Request) -> Response:
        query = request.query_params
        _check_filters(query, frozenset({"page", "per_page", "external_customer_id"}))
        customer = query.get("external_customer_id")
        if not customer:
            raise errors.validation_errors({"external_customer_id": ["value_is_mandatory"]})
        wallets = [
            serializers.wallet(code, rows, self._currency_of(customer))
            for code, rows in sorted(self.wallets_of(customer).items())
        ]
        page, meta = _paginate(wallets, query)
        return JSONResponse({"wallets": page, "meta": meta})

    def _wallet_rows(self, code: str) -> list[dict]:
        rows = self.wallets_of(None).get(code)
        if not rows:
            raise errors.not_found("wallet")
        return rows

    def get_wallet(self, request: Request) -> Response:
        rows = self._wallet_rows(request.path_params["wallet_id"])
        currency = self._currency_of(rows[-1]["external_customer_id"])
        return JSONResponse({"wallet": serializers.wallet(rows[0]["wallet_code"], rows, currency)})

    def list_wallet_transactions(self, request: Request) -> Response:
        query = request.query_params
        _check_filters(query, frozenset({"page", "per_page", "status", "transaction_status"}))
        rows = self._wallet_rows(request.path_params["wallet_id"])
        selected = [
            r
            for r in rows
            if query.get("status") in (None, r.get("status"))
            and query.get("transaction_status") in (None, r["transaction_type"])
        ]
        selected.reverse()
        page, meta = _paginate(selected, query)
        bodies = [serializers.wallet_transaction(r) for r in page]
        return JSONResponse({"wallet_transactions": bodies, "meta": meta})

    def usage_of(self, external_customer_id: str, external_subscription_id: str) -> dict:
        summaries = self.marts.where(
            "fct_usage_current_subscriptions", external_subscription_id=external_subscription_id
        )
        if not summaries:
            if not self.marts.has("fct_usage_current_subscriptions"):
                raise errors.not_found("customer_usage")
            raise errors.not_found("subscription")
        summary = max(summaries, key=lambda r: r.get("from_datetime") or datetime.min)
        if summary["external_customer_id"] != external_customer_id:
            raise errors.not_found("subscription")
        lines = [
            line
            for line in self.marts.where(
                "fct_usage_current", external_subscription_id=external_subscription_id
            )
            if line.get("from_datetime") == summary.get("from_datetime")
        ]
        return serializers.current_usage(summary, lines, self.catalog)

    def current_usage(self, request: Request) -> Response:
        query = request.query_params
        _check_filters(query, frozenset({"external_subscription_id"}))
        subscription = query.get("external_subscription_id")
        if not subscription:
            raise errors.validation_errors({"external_subscription_id": ["value_is_mandatory"]})
        usage = self.usage_of(request.path_params["external_customer_id"], subscription)
        return JSONResponse({"customer_usage": usage})

    def portal_url(self, request: Request) -> Response:
        external_id = request.path_params["external_customer_id"]
        if self._known_customer(external_id) is None:
            raise errors.not_found("customer")
        token = self.settings.portal.sign(external_id)
        return JSONResponse(
            {"customer": {"portal_url": f"{self.base_url(request)}/portal/{token}"}}
        )

    async def health(self, request: Request) -> Response:
        return JSONResponse({"version": VERSION, "message": "Success"})

    async def not_found_route(self, request: Request) -> Response:
        return errors.not_found("resource").response()


def document_path(output_dir: Path, kind: str, number: str) -> Path | None:
    """The PDF of an invoice or credit note number under `<output>/<kind>/<YYYY-MM>/`, or None.

    The file name is the number made safe as the renderer makes it (letters, digits, `-_.`), and
    the resolved path must stay inside the output folder: a number cannot name another file.
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in number)
    if not safe.strip("."):
        return None
    root = (output_dir / kind).resolve()
    for month in sorted(root.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]")) if root.is_dir() else []:
        candidate = (month / f"{safe}.pdf").resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    return None


def _timestamp_text(value: object) -> str:
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        moment = datetime.fromtimestamp(float(value), UTC)
        return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _customer_details(reason: str, row: dict) -> dict:
    if reason == "missing_field":
        return {"currency": ["value_is_mandatory"]}
    if reason == "bad_value":
        return {f: ["invalid_value"] for f in ("currency", "country", "timezone") if row.get(f)}
    return {"customer": [reason]}


def _subscription_details(reason: str) -> dict:
    if reason == "bad_timestamp":
        return {"subscription_at": ["invalid_format"]}
    if reason == "bad_value":
        return {"billing_time": ["invalid_value"]}
    return {"subscription": [reason]}


def _check_filters(query, allowed: frozenset[str]) -> None:
    unsupported = sorted(set(query.keys()) - allowed)
    if unsupported:
        raise errors.validation_errors({key: ["not_supported"] for key in unsupported})


def _matches(row: dict, query, columns: tuple[str, ...]) -> bool:
    return all(query.get(c) in (None, row.get(c)) for c in columns)


def _date(query, name: str) -> date | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise errors.validation_errors({name: ["invalid_date"]}) from None


def _in_dates(value: date | None, query) -> bool:
    low, high = _date(query, "issuing_date_from"), _date(query, "issuing_date_to")
    if value is None:
        return low is None and high is None
    return (low is None or value >= low) and (high is None or value <= high)


@overload
def _integer(query: Any, name: str, default: int, minimum: int = 0) -> int: ...
@overload
def _integer(query: Any, name: str, default: None = None, minimum: int = 0) -> int | None: ...
def _integer(query, name: str, default: int | None = None, minimum: int = 0) -> int | None:
    value = query.get(name)
    if value is None:
        return default
    if not value.lstrip("-").isdigit() or int(value) < minimum:
        raise errors.validation_errors({name: ["invalid_value"]})
    return int(value)


def _in_amounts(row: dict, query) -> bool:
    low, high = _integer(query, "amount_from"), _integer(query, "amount_to")
    cents = to_cents(row.get("total_amount"), row["currency"])
    return (low is None or cents >= low) and (high is None or cents <= high)


def _paginate(rows: list, query) -> tuple[list, dict]:
    """Lago's page / per_page (default 100) and its `meta` block."""
    page = _integer(query, "page", 1, minimum=1)
    per_page = _integer(query, "per_page", 100, minimum=1)
    total = len(rows)
    if not total:
        meta = {"current_page": 0, "next_page": None, "prev_page": None, "total_pages": 0}
        return [], {**meta, "total_count": 0}
    pages = -(-total // per_page)
    chunk = rows[(page - 1) * per_page : page * per_page]
    meta = {
        "current_page": page,
        "next_page": page + 1 if page < pages else None,
        "prev_page": page - 1 if page > 1 else None,
        "total_pages": pages,
        "total_count": total,
    }
    return chunk, meta


def create_app(settings: ApiSettings) -> Starlette:
    """The application: the API, the portal, and Lago's 404 for everything else."""
    from orchestration.api.portal import Portal

    api = Api(settings)
    portal = Portal(api)
    auth = api.authenticated
    routes = [
        Route("/health", api.health, methods=["GET"]),
        Route("/api/v1/events", auth(api.create_event), methods=["POST"]),
        Route("/api/v1/events/batch", auth(api.create_events_batch), methods=["POST"]),
        Route("/api/v1/customers", auth(api.create_customer), methods=["POST"]),
        Route("/api/v1/customers/{external_customer_id}", auth(api.get_customer), methods=["GET"]),
        Route(
            "/api/v1/customers/{external_customer_id}/current_usage",
            auth(api.current_usage),
            methods=["GET"],
        ),
        Route(
            "/api/v1/customers/{external_customer_id}/portal_url",
            auth(api.portal_url),
            methods=["GET"],
        ),
        Route("/api/v1/subscriptions", auth(api.create_subscription), methods=["POST"]),
        Route(
            "/api/v1/subscriptions/{external_id}",
            auth(api.terminate_subscription),
            methods=["DELETE"],
        ),
        Route("/api/v1/invoices", auth(api.list_invoices), methods=["GET"]),
        Route("/api/v1/invoices/{invoice_id}", auth(api.get_invoice), methods=["GET"]),
        Route(
            "/api/v1/invoices/{invoice_id}/download", auth(api.download_invoice), methods=["POST"]
        ),
        Route("/api/v1/credit_notes", auth(api.list_credit_notes), methods=["GET"]),
        Route("/api/v1/credit_notes/{credit_note_id}", auth(api.get_credit_note), methods=["GET"]),
        Route(
            "/api/v1/credit_notes/{credit_note_id}/download",
            auth(api.download_credit_note),
            methods=["POST"],
        ),
        Route("/api/v1/wallets", auth(api.list_wallets), methods=["GET"]),
        Route("/api/v1/wallets/{wallet_id}", auth(api.get_wallet), methods=["GET"]),
        Route(
            "/api/v1/wallets/{wallet_id}/wallet_transactions",
            auth(api.list_wallet_transactions),
            methods=["GET"],
        ),
        *portal.routes(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        for journal in api.journals.values():
            await journal.start()
        try:
            yield
        finally:
            for journal in api.journals.values():
                await journal.stop()

    async def unknown_route(request: Request, exc: Exception) -> Response:
        return errors.not_found("resource").response()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: unknown_route, 405: unknown_route},
    )
    app.state.api = api
    return app
