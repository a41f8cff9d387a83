"""The API's state: one installation's settings, and what every handler reads and writes.

`Api` holds the published marts, the catalog, the landing state and the landing journals (one
per kind the API writes), and the customer lookup the customers, subscriptions, wallets and the
portal share. The handler groups (events, customers, subscriptions, usage, documents, wallets)
and the portal each take it; `app.create_app` builds it and starts its journals.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration.api.catalog import Catalog
from orchestration.api.journal import LandingJournal
from orchestration.api.marts import Marts
from orchestration.api.security import ApiKeys, PortalSigner
from orchestration.api.state import LandingState


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


def now_text() -> str:
    """Now, as the UTC timestamp text Lago writes (microseconds, `Z`)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class Api:
    """One installation's folders and secrets, with the readers and journals bound to them."""

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

    def known_customer(self, external_customer_id: str) -> dict | None:
        """The customer as last landed, else as published, else None."""
        landed = self.state.customer(external_customer_id)
        if landed is not None:
            return landed
        published = self.marts.where("dim_customers", external_customer_id=external_customer_id)
        return published[0] if published else None

    def currency_of(self, external_customer_id: str) -> str:
        """The customer's currency, USD when unknown or unset."""
        customer = self.known_customer(external_customer_id) or {}
        return customer.get("currency") or "USD"
