"""Run the API with uvicorn (`meterhouse serve`).

Starlette on uvicorn (uvloop event loop, httptools parser): a thin ASGI stack whose per-request
overhead is a few tens of microseconds, leaving the time to JSON parsing (orjson) and the group
commit. `--workers N` starts N processes on one socket; each has its own journals, whose files
never collide (the process id is in every name).
"""

import os

import uvicorn
from starlette.applications import Starlette

from orchestration.api.app import create_app
from orchestration.api.context import ApiSettings
from orchestration.api.security import ApiKeys, PortalSigner
from orchestration.settings import current_locations


def app_factory() -> Starlette:
    """The application of the installation the MH_* environment names (uvicorn's factory)."""
    locations = current_locations()
    settings = ApiSettings.from_environment(
        locations.landing_dir, locations.output_dir, locations.catalog_dir
    )
    return create_app(settings)


def check_configuration() -> None:
    """Refuse to start without API keys or a portal secret (ConfigurationError)."""
    ApiKeys.from_environment()
    PortalSigner.from_environment()


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    check_configuration()
    uvicorn.run(
        "orchestration.api.server:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=bool(os.environ.get("MH_API_ACCESS_LOG")),
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
