"""The ASGI application: Lago's `/api/v1` for what Meterhouse supports, and the customer portal.

This module routes and dispatches: each route to its handler group (events, customers,
subscriptions, usage, documents, wallets, the portal), the API key check in front of the API's
routes, and the lifespan that starts and stops the landing journals. Writes go through a
`LandingJournal` (validated by the loader's rules, fsynced, renamed) and are acknowledged only
once on disk; reads come from the published marts (`Marts`). docs/api.md lists the endpoints,
fields and filters supported; anything else answers as Lago answers an unknown route (404
`resource_not_found`).
"""

import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import cast

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orchestration.api import errors
from orchestration.api.context import Api, ApiSettings
from orchestration.api.customers import CustomerHandlers
from orchestration.api.documents import DocumentHandlers
from orchestration.api.errors import ApiError, JSONResponse
from orchestration.api.events import EventHandlers
from orchestration.api.portal import Portal
from orchestration.api.security import ApiKeys, bearer_token
from orchestration.api.subscriptions import SubscriptionHandlers
from orchestration.api.usage import UsageHandlers
from orchestration.api.wallets import WalletHandlers

VERSION = "0.1.0"

Handler = Callable[[Request], Awaitable[Response] | Response]


def authenticated(api_keys: ApiKeys, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The handler behind the API key check, its `ApiError`s turned into Lago's responses.

    Reads (plain functions: they read Parquet and landing files) run in a worker thread, so they
    never hold up the event loop's commits.
    """
    is_async = inspect.iscoroutinefunction(handler)

    async def endpoint(request: Request) -> Response:
        try:
            token = bearer_token(request.headers.get("authorization"))
            if not api_keys.accepts(token):
                raise errors.unauthorized()
            # is_async tells which of the two kinds `handler` is.
            if is_async:
                return await cast(Awaitable[Response], handler(request))
            return await run_in_threadpool(cast(Callable[[Request], Response], handler), request)
        except ApiError as error:
            return error.response()

    return endpoint


async def health(request: Request) -> Response:
    return JSONResponse({"version": VERSION, "message": "Success"})


async def unknown_route(request: Request, exc: Exception) -> Response:
    return errors.not_found("resource").response()


def api_routes(api: Api) -> list[Route]:
    """Lago's routes Meterhouse supports, each behind the API key check."""
    events, customers = EventHandlers(api), CustomerHandlers(api)
    subscriptions, usage = SubscriptionHandlers(api), UsageHandlers(api)
    documents, wallets = DocumentHandlers(api), WalletHandlers(api)

    def auth(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return authenticated(api.settings.api_keys, handler)

    return [
        Route("/api/v1/events", auth(events.create_event), methods=["POST"]),
        Route("/api/v1/events/batch", auth(events.create_events_batch), methods=["POST"]),
        Route("/api/v1/customers", auth(customers.create_customer), methods=["POST"]),
        Route(
            "/api/v1/customers/{external_customer_id}",
            auth(customers.get_customer),
            methods=["GET"],
        ),
        Route(
            "/api/v1/customers/{external_customer_id}/current_usage",
            auth(usage.current_usage),
            methods=["GET"],
        ),
        Route(
            "/api/v1/customers/{external_customer_id}/portal_url",
            auth(customers.portal_url),
            methods=["GET"],
        ),
        Route("/api/v1/subscriptions", auth(subscriptions.create_subscription), methods=["POST"]),
        Route(
            "/api/v1/subscriptions/{external_id}",
            auth(subscriptions.terminate_subscription),
            methods=["DELETE"],
        ),
        Route("/api/v1/invoices", auth(documents.list_invoices), methods=["GET"]),
        Route("/api/v1/invoices/{invoice_id}", auth(documents.get_invoice), methods=["GET"]),
        Route(
            "/api/v1/invoices/{invoice_id}/download",
            auth(documents.download_invoice),
            methods=["POST"],
        ),
        Route("/api/v1/credit_notes", auth(documents.list_credit_notes), methods=["GET"]),
        Route(
            "/api/v1/credit_notes/{credit_note_id}",
            auth(documents.get_credit_note),
            methods=["GET"],
        ),
        Route(
            "/api/v1/credit_notes/{credit_note_id}/download",
            auth(documents.download_credit_note),
            methods=["POST"],
        ),
        Route("/api/v1/wallets", auth(wallets.list_wallets), methods=["GET"]),
        Route("/api/v1/wallets/{wallet_id}", auth(wallets.get_wallet), methods=["GET"]),
        Route(
            "/api/v1/wallets/{wallet_id}/wallet_transactions",
            auth(wallets.list_wallet_transactions),
            methods=["GET"],
        ),
    ]


def create_app(settings: ApiSettings) -> Starlette:
    """The application: the API, the portal, and Lago's 404 for everything else."""
    api = Api(settings)
    routes = [
        Route("/health", health, methods=["GET"]),
        *api_routes(api),
        *Portal(api).routes(),
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

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: unknown_route, 405: unknown_route},
    )
    app.state.api = api
    return app
