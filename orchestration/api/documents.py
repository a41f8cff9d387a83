"""Lago's invoice and credit note endpoints: list (with Lago's filters), get, and download.

Documents are read from the published marts; a document's `file_url` is a signed portal link
to its PDF once the PDF exists (`document_path`), and a download answers Lago's empty 200 until
then.
"""

from datetime import date
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from orchestration.api import errors, serializers
from orchestration.api.context import Api
from orchestration.api.errors import JSONResponse
from orchestration.api.marts import to_cents
from orchestration.api.parsing import (
    base_url,
    check_filters,
    in_dates,
    matches,
    paginate,
    query_integer,
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


def in_amounts(row: dict, query) -> bool:
    """Whether the total, in cents, lies within the query's `amount_from` / `amount_to`."""
    low, high = query_integer(query, "amount_from"), query_integer(query, "amount_to")
    cents = to_cents(row.get("total_amount"), row["currency"])
    return (low is None or cents >= low) and (high is None or cents <= high)


class DocumentHandlers:
    """The invoice and credit note routes, reading the published marts."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def file_url(self, request: Request, kind: str, row: dict) -> str | None:
        """A signed link to the document's PDF (the portal's download), or None before it exists."""
        if kind == "invoices":
            number, identifier = row.get("invoice_number"), row["invoice_id"]
        else:
            number, identifier = row.get("credit_note_number"), row["credit_note_id"]
        if not number or document_path(self.api.settings.output_dir, kind, number) is None:
            return None
        token = self.api.settings.portal.sign(row["external_customer_id"])
        return f"{base_url(request)}/portal/{token}/{kind}/{identifier}.pdf"

    # -- invoices -----------------------------------------------------------------------------

    def _customer_body(self, external_customer_id: str) -> dict | None:
        rows = self.api.marts.where("dim_customers", external_customer_id=external_customer_id)
        if not rows:
            return None
        return serializers.customer(
            rows[0], entity_timezone=self.api.catalog.entity.get("timezone", "")
        )

    def _invoice_body(self, request: Request, row: dict, *, full: bool) -> dict:
        marts = self.api.marts
        lines = marts.where("fct_invoice_lines", invoice_id=row["invoice_id"]) if full else None
        return serializers.invoice(
            row,
            file_url=self.file_url(request, "invoices", row),
            customer=self._customer_body(row["external_customer_id"]) if full else None,
            fees=[serializers.fee(line) for line in lines] if lines is not None else None,
            lines=lines,
        )

    def list_invoices(self, request: Request) -> Response:
        query = request.query_params
        check_filters(query, INVOICE_FILTERS)
        rows = self.api.marts.rows("fct_invoices") or []
        selected = [
            row
            for row in rows
            if matches(row, query, ("external_customer_id", "status", "invoice_type", "currency"))
            and in_dates(row.get("issuing_date"), query)
            and in_amounts(row, query)
        ]
        selected.sort(key=lambda r: (r.get("issuing_date") or date.min, r["invoice_id"]))
        selected.reverse()
        page, meta = paginate(selected, query)
        bodies = [self._invoice_body(request, row, full=False) for row in page]
        return JSONResponse({"invoices": bodies, "meta": meta})

    def _invoice(self, invoice_id: str) -> dict:
        rows = self.api.marts.where("fct_invoices", invoice_id=invoice_id)
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

    # -- credit notes -------------------------------------------------------------------------

    def _credit_note_body(self, request: Request, row: dict) -> dict:
        invoices = self.api.marts.where("fct_invoices", invoice_id=row.get("invoice_id"))
        number = invoices[0].get("invoice_number") if invoices else None
        return serializers.credit_note(
            row, invoice_number=number, file_url=self.file_url(request, "credit_notes", row)
        )

    def list_credit_notes(self, request: Request) -> Response:
        query = request.query_params
        check_filters(query, CREDIT_NOTE_FILTERS)
        rows = [
            row
            for row in self.api.marts.rows("fct_credit_notes") or []
            if matches(row, query, ("external_customer_id", "reason", "currency"))
            and in_dates(row.get("issuing_date"), query)
        ]
        rows.sort(key=lambda r: (r.get("issuing_date") or date.min, r["credit_note_id"]))
        rows.reverse()
        page, meta = paginate(rows, query)
        bodies = [self._credit_note_body(request, row) for row in page]
        return JSONResponse({"credit_notes": bodies, "meta": meta})

    def _credit_note(self, credit_note_id: str) -> dict:
        rows = self.api.marts.where("fct_credit_notes", credit_note_id=credit_note_id)
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
