"""Lago's wallet endpoints: a customer's wallets, one wallet, and its transactions.

A wallet is its ledger rows in the published `fct_wallet_transactions` (`wallets_of`, which the
portal reads too); its code is the identifier these routes take.
"""

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from orchestration.api import errors, serializers
from orchestration.api.context import Api
from orchestration.api.errors import JSONResponse
from orchestration.api.marts import Marts
from orchestration.api.parsing import check_filters, paginate


def wallets_of(marts: Marts, external_customer_id: str | None) -> dict[str, list[dict]]:
    """Ledger rows per wallet code (of one customer when given), in ledger order."""
    wallets: dict[str, list[dict]] = {}
    for row in marts.rows("fct_wallet_transactions") or []:
        if external_customer_id is None or row["external_customer_id"] == external_customer_id:
            wallets.setdefault(row["wallet_code"], []).append(row)
    for rows in wallets.values():
        rows.sort(key=lambda r: (r.get("created_at") or datetime.min, r["wallet_transaction_id"]))
    return wallets


class WalletHandlers:
    """The wallet routes, reading the published wallet ledger."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def list_wallets(self, request: Request) -> Response:
        query = request.query_params
        check_filters(query, frozenset({"page", "per_page", "external_customer_id"}))
        customer = query.get("external_customer_id")
        if not customer:
            raise errors.validation_errors({"external_customer_id": ["value_is_mandatory"]})
        wallets = [
            serializers.wallet(code, rows, self.api.currency_of(customer))
            for code, rows in sorted(wallets_of(self.api.marts, customer).items())
        ]
        page, meta = paginate(wallets, query)
        return JSONResponse({"wallets": page, "meta": meta})

    def _wallet_rows(self, code: str) -> list[dict]:
        rows = wallets_of(self.api.marts, None).get(code)
        if not rows:
            raise errors.not_found("wallet")
        return rows

    def get_wallet(self, request: Request) -> Response:
        rows = self._wallet_rows(request.path_params["wallet_id"])
        currency = self.api.currency_of(rows[-1]["external_customer_id"])
        return JSONResponse({"wallet": serializers.wallet(rows[0]["wallet_code"], rows, currency)})

    def list_wallet_transactions(self, request: Request) -> Response:
        query = request.query_params
        check_filters(query, frozenset({"page", "per_page", "status", "transaction_status"}))
        rows = self._wallet_rows(request.path_params["wallet_id"])
        selected = [
            r
            for r in rows
            if query.get("status") in (None, r.get("status"))
            and query.get("transaction_status") in (None, r["transaction_type"])
        ]
        selected.reverse()
        page, meta = paginate(selected, query)
        bodies = [serializers.wallet_transaction(r) for r in page]
        return JSONResponse({"wallet_transactions": bodies, "meta": meta})
