"""Delivering the webhook outbox, outside any close (docs/webhooks.md).

A pass holds the warehouse only to read what is due and to record the results, never while it
talks to a receiver: a receiver that is down or slow delays no close. When a close or a
finalization holds the warehouse, the pass is skipped (the next one delivers). Lago's policy:
success is HTTP 200, 201, 202 or 204 (a redirect is a failure); `attempts` tries in all; after the
n-th failure the next try waits n⁴ + random(0..0.15·n⁴) + 2 seconds; the last failure is final.
"""

import base64
import fcntl
import hashlib
import hmac
import http.client
import os
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa

from orchestration.runs import RunError, warehouse_lock
from orchestration.settings import Locations
from orchestration.sql_rows import one_row
from orchestration.webhooks import outbox
from orchestration.webhooks.config import Endpoint, WebhookSettings

SUCCESS_STATUSES = frozenset({200, 201, 202, 204})
LOCK_HOLDER = "webhooks"  # the warehouse lock's note: a short holder, closes wait for it
MAX_PARALLEL = 8
RESPONSE_KEPT = 2000  # characters of a receiver's answer kept in the log


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def hmac_signature(secret: str, body: bytes) -> str:
    """Lago's `X-Lago-Signature` for hmac: Base64(HMAC-SHA256(secret, body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(endpoint: Endpoint, webhook_id: str, body: bytes) -> dict[str, str]:
    """Lago's headers (app/models/webhook.rb#generate_headers)."""
    return {
        "Content-Type": "application/json",
        "X-Lago-Signature": hmac_signature(endpoint.secret, body),
        "X-Lago-Signature-Algorithm": endpoint.signature_algo,
        "X-Lago-Unique-Key": webhook_id,
        "User-Agent": "Meterhouse-Webhooks",
    }


def retry_wait(failures: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next try after the `failures`-th failure (Lago's wait)."""
    power = failures**4
    return power + rand() * power * 0.15 + 2


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    http_status: int | None
    error: str | None
    response: str | None


def post(url: str, body: bytes, request_headers: dict[str, str], timeout: float) -> Outcome:
    """One POST, no redirect followed, `timeout` seconds per connect, write and read."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    # webhooks/config.py accepts only http(s) URLs with a host, so hostname is never None.
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)  # type: ignore[arg-type]
    try:
        connection.request("POST", path, body=body, headers=request_headers)
        response = connection.getresponse()
        text = response.read(RESPONSE_KEPT * 4).decode(errors="replace")[:RESPONSE_KEPT]
        if response.status in SUCCESS_STATUSES:
            return Outcome(True, response.status, None, text)
        return Outcome(False, response.status, f"HTTP {response.status} {response.reason}", text)
    except TimeoutError:
        return Outcome(False, None, f"timeout after {timeout:g} s", None)
    except (OSError, http.client.HTTPException) as error:
        return Outcome(False, None, f"{type(error).__name__}: {error}", None)
    finally:
        connection.close()


@dataclass
class PassReport:
    """What one delivery pass did, and the outbox afterwards."""

    skipped: str | None = None
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0  # failures of this pass (retrying or final)
    counts: dict[str, int] = field(default_factory=dict)  # the outbox by status afterwards
    next_attempt_at: datetime | None = None


@contextmanager
def _delivery_lock(warehouse: Path) -> Iterator[bool]:
    """One delivery pass at a time per warehouse (the sensor's and the CLI's)."""
    path = warehouse.with_name(f"{warehouse.name}.webhooks.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


DUE_SQL = """
select deliveries.webhook_id, deliveries.endpoint_id, deliveries.attempts, events.body
from webhooks.deliveries as deliveries
inner join webhooks.events as events
    on deliveries.webhook_event_id = events.webhook_event_id
where deliveries.status in ('pending', 'retrying') and deliveries.next_attempt_at <= ?
order by deliveries.next_attempt_at, deliveries.webhook_id
"""


def deliver_due(
    locations: Locations,
    settings: WebhookSettings,
    *,
    now: Callable[[], datetime] = utc_now,
    rand: Callable[[], float] = random.random,
) -> PassReport:
    """Send every delivery that is due, record the results and publish the delivery log."""
    warehouse = locations.warehouse
    if not warehouse.exists():
        return PassReport(skipped="no warehouse yet")
    with _delivery_lock(warehouse) as mine:
        if not mine:
            return PassReport(skipped="another delivery pass is running")
        try:
            with (
                warehouse_lock(warehouse, note=LOCK_HOLDER),
                duckdb.connect(str(warehouse)) as conn,
            ):
                outbox.ensure_tables(conn)
                due = conn.execute(DUE_SQL, [now()]).fetchall()
        except RunError:
            return PassReport(skipped="a close or finalization holds the warehouse")
        endpoints = {endpoint.endpoint_id: endpoint for endpoint in settings.endpoints}

        def send(item: tuple) -> tuple[str, int, Outcome]:
            webhook_id, endpoint_id, attempts, body = item
            endpoint = endpoints.get(endpoint_id)
            if endpoint is None:
                return (
                    webhook_id,
                    attempts,
                    Outcome(False, None, "endpoint no longer configured", None),
                )
            data = body.encode()
            return (
                webhook_id,
                attempts,
                post(
                    endpoint.url,
                    data,
                    headers(endpoint, webhook_id, data),
                    settings.timeout_seconds,
                ),
            )

        with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
            results = list(pool.map(send, due))
        report = PassReport(attempted=len(results))
        # (status, attempts, outcome, attempted at, retry at, delivered at, webhook id)
        updates: list[tuple[str, int, Outcome, datetime, datetime | None, datetime | None, str]]
        updates = []
        for webhook_id, attempts, outcome in results:
            at = now()
            tries = attempts + 1
            if outcome.ok:
                report.succeeded += 1
                updates.append(("succeeded", tries, outcome, at, None, at, webhook_id))
                continue
            report.failed += 1
            final = tries >= settings.attempts or outcome.error == "endpoint no longer configured"
            retry_at = None if final else at + timedelta(seconds=retry_wait(tries, rand))
            status = "failed" if final else "retrying"
            updates.append((status, tries, outcome, at, retry_at, None, webhook_id))
        results = _results_table(updates)  # built before the lock: pyarrow's first call is slow
        # Waits for a close that started meanwhile: the deliverer waits, never the close.
        with (
            warehouse_lock(warehouse, wait=True, note=LOCK_HOLDER),
            duckdb.connect(str(warehouse)) as conn,
        ):
            outbox.ensure_tables(conn)
            if updates:
                _record(conn, results)
            report.counts = outbox.status_counts(conn)
            report.next_attempt_at = one_row(
                conn.execute(
                    "select min(next_attempt_at) from webhooks.deliveries "
                    "where status in ('pending', 'retrying')"
                )
            )[0]
            outbox.publish_log(conn, locations.output_dir)
        return report


RESULT_SCHEMA = pa.schema(
    [
        ("status", pa.string()),
        ("attempts", pa.int32()),
        ("http_status", pa.int32()),
        ("last_error", pa.string()),
        ("response_body", pa.string()),
        ("last_attempt_at", pa.timestamp("us")),
        ("next_attempt_at", pa.timestamp("us")),
        ("delivered_at", pa.timestamp("us")),
        ("webhook_id", pa.string()),
    ]
)


def _results_table(updates: list[tuple]) -> pa.Table:
    rows = [
        (status, tries, o.http_status, o.error, o.response, at, retry_at, delivered, webhook_id)
        for status, tries, o, at, retry_at, delivered, webhook_id in updates
    ]
    return pa.Table.from_pylist(
        [dict(zip(RESULT_SCHEMA.names, row, strict=True)) for row in rows], schema=RESULT_SCHEMA
    )


def _record(conn: duckdb.DuckDBPyConnection, results: pa.Table) -> None:
    """Every result of a pass in one statement (a statement per row holds the lock ~2 ms each)."""
    conn.register("webhook_results", results)
    try:
        conn.execute(
            """
            update webhooks.deliveries
            set
                status = results.status,
                attempts = results.attempts,
                http_status = results.http_status,
                last_error = results.last_error,
                response_body = results.response_body,
                last_attempt_at = results.last_attempt_at,
                next_attempt_at = results.next_attempt_at,
                delivered_at = results.delivered_at
            from webhook_results as results
            where deliveries.webhook_id = results.webhook_id
            """
        )
    finally:
        conn.unregister("webhook_results")


def deliver_until_done(
    locations: Locations,
    settings: WebhookSettings,
    *,
    max_wait_seconds: float = 120,
    sleep: Callable[[float], None] = time.sleep,
) -> list[PassReport]:
    """Passes until nothing is pending or retrying (sleeping for the retries' waits), or until
    the next try is more than `max_wait_seconds` away."""
    reports = []
    while True:
        report = deliver_due(locations, settings)
        reports.append(report)
        if report.skipped or report.next_attempt_at is None:
            return reports
        wait = (report.next_attempt_at - utc_now()).total_seconds()
        if wait > max_wait_seconds:
            return reports
        sleep(max(wait, 0) + 0.05)
