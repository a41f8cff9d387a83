"""SIGKILL of the server in the middle of a load loses no acknowledged event and duplicates none.

Clients send batches while the server (two workers) is killed with SIGKILL; a restarted server
then takes the clients' retries of every batch that was not acknowledged, and of some that were
(a response lost in the crash). The landing folder is then loaded exactly as a close loads it
(`load_folder`, the close's first step): every event is in `raw.events` once, none is missing,
nothing is rejected, and the retried copies are counted as duplicates.
"""

import os
import signal
import threading
import time
from pathlib import Path

import duckdb
import httpx
from api_live import API_KEY, live_server

from orchestration.landing.loader import load_folder

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def batch(client_index: int, number: int) -> list[dict]:
    return [
        {
            "transaction_id": f"k{client_index}_{number}_{i}",
            "external_subscription_id": f"sub_{client_index}",
            "code": "api_calls",
            "timestamp": 1793000000 + number,
            "properties": {"n": i},
        }
        for i in range(50)
    ]


def test_sigkill_mid_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    landing, output = tmp_path / "landing", tmp_path / "output"
    acknowledged: dict[tuple[int, int], list[dict]] = {}
    unacknowledged: dict[tuple[int, int], list[dict]] = {}
    stop = threading.Event()

    def sender(base: str, client_index: int) -> None:
        number = 0
        with httpx.Client(base_url=base, headers=AUTH, timeout=10) as http:
            while not stop.is_set():
                events = batch(client_index, number)
                try:
                    response = http.post("/api/v1/events/batch", json={"events": events})
                except httpx.HTTPError:
                    unacknowledged[(client_index, number)] = events
                    return
                if response.status_code == 200:
                    acknowledged[(client_index, number)] = events
                else:
                    unacknowledged[(client_index, number)] = events
                number += 1

    with live_server(landing, output, workers=2) as (base, process):
        threads = [threading.Thread(target=sender, args=(base, i)) for i in range(6)]
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

    with live_server(landing, output) as (base, _process):
        resent = list(unacknowledged.values()) + list(acknowledged.values())[:5]
        with httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
            for events in resent:
                response = http.post("/api/v1/events/batch", json={"events": events})
                assert response.status_code == 200

    assert not list(landing.rglob(".*.tmp"))  # the restart swept what the kill left
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        stats = load_folder(conn, "events", landing / "events")
        loaded = [t for (t,) in conn.execute("select transaction_id from raw.events").fetchall()]
    expected = {
        e["transaction_id"]
        for events in (*acknowledged.values(), *unacknowledged.values())
        for e in events
    }
    assert len(loaded) == len(set(loaded)) == len(expected)  # none lost, none twice
    assert set(loaded) == expected
    assert stats.rows_rejected == 0
    assert stats.rows_duplicate == stats.rows_read - len(expected) >= 5 * 50
