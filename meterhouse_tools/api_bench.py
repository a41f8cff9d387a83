"""`meterhouse bench --api`: events per second through `POST /api/v1/events/batch`.

Starts `meterhouse serve` on 127.0.0.1 (a free port, a temporary landing folder, a generated key)
and drives it with a concurrent client on the same machine: `concurrency` connections send
pre-encoded batches until `requests` batches are sent or `seconds` have passed. Reports events
per second, p50 and p99 latency per request, and the fsyncs per second of the group commit (each
committed landing file costs two: the file and its folder).
"""

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import orjson


@dataclass(frozen=True, slots=True)
class ApiBenchOptions:
    requests: int = 3000
    batch: int = 100
    concurrency: int = 32
    seconds: float = 60.0
    workers: int = 2
    workdir: Path | None = None


@dataclass(frozen=True, slots=True)
class ApiBenchResult:
    requests: int
    events: int
    failed: int
    seconds: float
    events_per_second: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    commits: int
    fsyncs_per_second: float
    events_per_fsync: float
    workers: int
    concurrency: int
    batch: int
    cpus: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def table(self) -> str:
        rows = [
            ("events/s", f"{self.events_per_second:,.0f}"),
            ("requests/s", f"{self.requests_per_second:,.0f}"),
            ("latency p50 per request", f"{self.p50_ms:.1f} ms"),
            ("latency p99 per request", f"{self.p99_ms:.1f} ms"),
            ("fsyncs/s", f"{self.fsyncs_per_second:,.0f}"),
            ("events per fsync", f"{self.events_per_fsync:,.0f}"),
            ("events acknowledged", f"{self.events:,}"),
            ("requests failed", f"{self.failed}"),
            ("seconds", f"{self.seconds:.2f}"),
            (
                "setup",
                f"{self.workers} workers, {self.concurrency} connections, {self.batch} events "
                f"a batch, {self.cpus} CPUs",
            ),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bodies(count: int, batch: int) -> list[bytes]:
    base = int(time.time()) - 3600
    return [
        orjson.dumps(
            {
                "events": [
                    {
                        "transaction_id": f"bench_{r}_{i}",
                        "external_subscription_id": f"bench_sub_{r % 500}",
                        "code": "api_calls",
                        "timestamp": base + (r * batch + i) % 3600,
                        "properties": {"endpoint": "/v1/chat", "tokens": str(i)},
                    }
                    for i in range(batch)
                ]
            }
        )
        for r in range(count)
    ]


async def _drive(base: str, key: str, bodies: list[bytes], options: ApiBenchOptions):
    """Send the batches over `concurrency` keep-alive HTTP/1.1 connections.

    A minimal client on asyncio streams, with each request's bytes built before the clock starts:
    a general-purpose client (httpx) spent more CPU per request than the server, and on the same
    two cores it measured the client.
    """
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    failed = 0
    queue = iter(bodies)
    deadline = time.perf_counter() + options.seconds
    head = (
        "POST /api/v1/events/batch HTTP/1.1\r\nHost: {host}\r\n"
        "Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        "Content-Length: {length}\r\n\r\n"
    )

    async def connection() -> None:
        nonlocal failed
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for body in queue:
                if time.perf_counter() > deadline:
                    return
                request = head.format(host=host, key=key, length=len(body)).encode() + body
                started = time.perf_counter()
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                if status_line.split()[1:2] == [b"200"]:
                    latencies.append(time.perf_counter() - started)
                else:
                    failed += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(options.concurrency)))
    return latencies, failed, time.perf_counter() - started


def run_api_bench(options: ApiBenchOptions) -> ApiBenchResult:
    workdir = Path(tempfile.mkdtemp(prefix="meterhouse-api-bench-", dir=options.workdir))
    key = secrets.token_urlsafe(24)
    port = _free_port()
    env = {
        **os.environ,
        "MH_API_KEYS": key,
        "MH_PORTAL_SECRET": secrets.token_urlsafe(24),
        "MH_LANDING_DIR": str(workdir / "landing"),
        "MH_OUTPUT_DIR": str(workdir / "output"),
        "MH_API_BATCH_LIMIT": str(max(100, options.batch)),
        "MH_API_MAX_BODY_BYTES": str(max(1024 * 1024, options.batch * 400)),
        "MH_API_SEAL_SECONDS": "86400",  # no seal during the run: a spool file per commit
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "meterhouse"),
            "serve",
            "--host",
            "127.0.0.1",  # loopback only
            "--port",
            str(port),
            "--workers",
            str(options.workers),
        ],
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the API server did not start")
        bodies = _bodies(options.requests, options.batch)
        latencies, failed, elapsed = asyncio.run(_drive(base, key, bodies, options))
        commits = sum(1 for _ in (workdir / "landing" / "events").rglob("*.spool"))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)
    done = len(latencies)
    ordered = sorted(latencies) or [0.0]
    events = done * options.batch
    return ApiBenchResult(
        requests=done,
        events=events,
        failed=failed,
        seconds=elapsed,
        events_per_second=events / elapsed,
        requests_per_second=done / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        commits=commits,
        fsyncs_per_second=2 * commits / elapsed,
        events_per_fsync=events / max(1, 2 * commits),
        workers=options.workers,
        concurrency=options.concurrency,
        batch=options.batch,
        cpus=os.cpu_count() or 0,
    )
