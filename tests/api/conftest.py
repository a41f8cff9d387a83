"""Fixtures of the API tests (helpers in api_live.py, beside this file)."""

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.api_live import (
    CATALOG,
    CUSTOMER,
    MONTH,
    OTHER_CUSTOMER,
    OTHER_SUBSCRIPTION,
    SUBSCRIPTION,
    _events,
    kill_mid_load,
    lago_client,
    live_server,
    publish_current_usage,
    resend,
)


def write_ndjson(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.fixture(scope="session")
def closed_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two customers and subscriptions created and billed through the API with Lago's client;
    November 2026 closed and finalized by the CLI; the server left running for the tests."""
    from lago_python_client.models import BatchEvent, Customer, Event, Subscription

    from orchestration.cli import main

    root = tmp_path_factory.mktemp("api_workspace")
    landing, output = root / "landing", root / "output"
    landing.mkdir()
    # Events become loader-visible when sealed (every MH_API_SEAL_SECONDS): seal often here.
    # The first server is killed with SIGKILL in the middle of a load (test_crash.py checks
    # that the close bills every acknowledged and retried event once); the second takes the
    # clients' retries and serves the rest of the tests.
    with live_server(landing, output, workers=2, MH_API_SEAL_SECONDS="0.2") as (base, process):
        client = lago_client(base)
        for external_id, name in ((CUSTOMER, "Acme & Sons <Ltd>"), (OTHER_CUSTOMER, "Other Co")):
            client.customers.create(
                Customer(external_id=external_id, name=name, currency="USD", country="US")
            )
        for external_id, customer in (
            (SUBSCRIPTION, CUSTOMER),
            (OTHER_SUBSCRIPTION, OTHER_CUSTOMER),
        ):
            client.subscriptions.create(
                Subscription(
                    external_id=external_id,
                    external_customer_id=customer,
                    plan_code="starter_usd",
                    subscription_at="2026-11-01T00:00:00Z",
                )
            )
        november_10th = int(datetime(2026, 11, 10, tzinfo=UTC).timestamp())
        acknowledged, unacknowledged = kill_mid_load(base, process, SUBSCRIPTION, november_10th)
    server = live_server(landing, output, MH_API_SEAL_SECONDS="0.2")
    with server as (base, _process):
        resend(base, unacknowledged + acknowledged[:5])
        client = lago_client(base)
        singles = _events(SUBSCRIPTION, 10, "single")
        for event in singles:
            client.events.create(Event(**event))
        batched = _events(SUBSCRIPTION, 250, "batch")[10:]
        for start in range(0, len(batched), 100):
            client.events.batch_create(
                BatchEvent(events=[Event(**e) for e in batched[start : start + 100]])
            )
        client.events.batch_create(
            BatchEvent(events=[Event(**e) for e in _events(OTHER_SUBSCRIPTION, 30, "o")])
        )
        # Wallets have no write endpoint here (they are landing inputs): one lands as a file.
        write_ndjson(
            landing / "wallets" / "wallets.ndjson",
            [
                {
                    "wallet_code": "api_wallet",
                    "external_customer_id": CUSTOMER,
                    "currency": "USD",
                    "rate_amount": "1",
                    "created_at": "2026-11-01T00:00:00Z",
                }
            ],
        )
        write_ndjson(
            landing / "wallet_transactions" / "granted.ndjson",
            [
                {
                    "wallet_code": "api_wallet",
                    "transaction_type": "granted",
                    "credits": "20",
                    "created_at": "2026-11-01T00:00:00Z",
                }
            ],
        )
        time.sleep(1)  # a seal has run since the last event was acknowledged
        args = [
            f"--catalog={CATALOG}",
            f"--landing={landing}",
            f"--warehouse={root / 'warehouse.duckdb'}",
            f"--output={output}",
        ]
        assert main(["close", "--month", MONTH, *args]) == 0
        assert main(["finalize", "--month", MONTH, *args]) == 0
        publish_current_usage(output / "marts")
        yield {
            "root": root,
            "landing": landing,
            "output": output,
            "warehouse": root / "warehouse.duckdb",
            "base": base,
            "client": client,
            "sent": singles + batched,
            "killed": {"acknowledged": acknowledged, "unacknowledged": unacknowledged},
        }
