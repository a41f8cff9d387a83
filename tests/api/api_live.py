"""Helpers of the API tests: an installation's folders, keys, and a live `meterhouse serve`.

The live server is the real command (a subprocess on 127.0.0.1 and a free port), stopped by the
fixture. `closed_workspace` drives it with Lago's official client, closes and finalizes the month
once per session, and publishes the period-to-date usage tables in their contracted shape.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.settings import REPO_ROOT

API_KEY = "test-key-7d1f0c2b"
PORTAL_SECRET = "portal-secret-for-tests-only-4b8e"
CATALOG = REPO_ROOT / "seeds" / "catalog"


def server_environment(landing: Path, output: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "MH_API_KEYS": f"other-key,{API_KEY}",
        "MH_PORTAL_SECRET": PORTAL_SECRET,
        "MH_LANDING_DIR": str(landing),
        "MH_OUTPUT_DIR": str(output),
        "MH_CATALOG_DIR": str(CATALOG),
        **extra,
    }
    env.pop("DAGSTER_HOME", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(
    landing: Path, output: Path, workers: int = 1, **extra: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`meterhouse serve` on a free loopback port; yields its base URL and process (the leader
    of its own process group, with its workers)."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "meterhouse"), "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(
        command,
        env=server_environment(landing, output, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stderr.read().decode()}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in 60 s")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stderr.close()


def lago_client(base: str):
    from lago_python_client.client import Client

    return Client(api_key=API_KEY, api_url=base)


MONTH = "2026-11"
CUSTOMER = "api_cust_1"
SUBSCRIPTION = "api_sub_1"
OTHER_CUSTOMER = "api_cust_2"
OTHER_SUBSCRIPTION = "api_sub_2"


def publish_current_usage(marts: Path) -> None:
    """fct_usage_current, fct_usage_current_subscriptions and fct_usage_daily in the contracted
    shape (docs/tables.md), as the period-to-date refresh publishes them, for one subscription."""
    computed = datetime(2026, 12, 6, 12, 0)
    start, end = datetime(2026, 12, 1), datetime(2026, 12, 31, 23, 59, 59)
    dec = pa.decimal128(38, 9)
    pq.write_table(
        pa.table(
            {
                "external_subscription_id": [SUBSCRIPTION, SUBSCRIPTION],
                "charge_code": ["starter_usd_api_calls", "starter_usd_tokens"],
                "filter_code": [None, None],
                "pricing_group": [None, None],
                "from_datetime": [start, start],
                "to_datetime": [end, end],
                "units": pa.array([Decimal("1250"), Decimal("4200.5")], dec),
                "events_count": [1250, 17],
                "amount": pa.array([Decimal("1.25"), Decimal("0.08")], dec),
                "currency": ["USD", "USD"],
                "computed_at": [computed, computed],
            }
        ),
        marts / "fct_usage_current.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "external_subscription_id": [SUBSCRIPTION],
                "external_customer_id": [CUSTOMER],
                "currency": ["USD"],
                "from_datetime": [start],
                "to_datetime": [end],
                "amount": pa.array([Decimal("1.33")], dec),
                "taxes_amount": pa.array([Decimal("0.11")], dec),
                "total_amount": pa.array([Decimal("1.44")], dec),
                "projected_amount": pa.array([Decimal("6.87")], dec),
                "spend_cap_reached": [False],
                "computed_at": [computed],
            }
        ),
        marts / "fct_usage_current_subscriptions.parquet",
    )
    days = [datetime(2026, 12, d).date() for d in range(1, 6)]
    pq.write_table(
        pa.table(
            {
                "external_subscription_id": [SUBSCRIPTION] * 5,
                "usage_date": days,
                "amount": pa.array(
                    [Decimal(x) for x in ("0.10", "0.40", "0.25", "0.33", "0.25")], dec
                ),
            }
        ),
        marts / "fct_usage_daily.parquet",
    )


def _events(subscription: str, count: int, prefix: str) -> list[dict]:
    return [
        {
            "transaction_id": f"{prefix}_{i}",
            "external_subscription_id": subscription,
            "code": "api_calls" if i % 3 else "tokens",
            "timestamp": int(datetime(2026, 11, 1 + i % 28, 9, tzinfo=UTC).timestamp()) + i,
            "properties": {"tokens": str(100 + i)} if i % 3 == 0 else {"endpoint": "/v1/x"},
        }
        for i in range(count)
    ]


def crash_batch(subscription: str, client_index: int, number: int, first_second: int) -> list[dict]:
    """50 events of one sender's batch, stamped from `first_second` (Unix seconds) on."""
    return [
        {
            "transaction_id": f"k{client_index}_{number}_{i}",
            "external_subscription_id": subscription,
            "code": "api_calls",
            "timestamp": first_second + number * 60 + i,
            "properties": {"endpoint": "/v1/crash", "n": i},
        }
        for i in range(50)
    ]


def kill_mid_load(
    base: str, process: subprocess.Popen, subscription: str, first_second: int, senders: int = 6
) -> tuple[list[list[dict]], list[list[dict]]]:
    """Send batches from several clients and SIGKILL the server's process group while requests
    are in flight; return the batches acknowledged and those that were not."""
    acknowledged: dict[tuple[int, int], list[dict]] = {}
    unacknowledged: dict[tuple[int, int], list[dict]] = {}
    stop = threading.Event()
    auth = {"Authorization": f"Bearer {API_KEY}"}

    def sender(client_index: int) -> None:
        number = 0
        with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
            while not stop.is_set():
                events = crash_batch(subscription, client_index, number, first_second)
                try:
                    response = http.post("/api/v1/events/batch", json={"events": events})
                except httpx.HTTPError:
                    unacknowledged[(client_index, number)] = events
                    return
                target = acknowledged if response.status_code == 200 else unacknowledged
                target[(client_index, number)] = events
                number += 1

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # mid-load: requests are in flight
    process.wait()
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) >= 40 and unacknowledged, "the kill did not land mid-load"
    return list(acknowledged.values()), list(unacknowledged.values())


def resend(base: str, batches: list[list[dict]]) -> None:
    """A client's retries: every batch again, each acknowledged this time."""
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as http:
        for events in batches:
            assert http.post("/api/v1/events/batch", json={"events": events}).status_code == 200
