"""`meterhouse ui` serves the whole asset graph: assets, partitions and checks load over GraphQL."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.ui]

QUERY = """
{
  assetNodes {
    assetKey { path }
    isPartitioned
    partitionKeys
    hasAssetChecks
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


BACKFILL = """
mutation {
  launchPartitionBackfill(backfillParams: {
    partitionNames: ["2026-09", "2026-10"],
    assetSelection: [%s]
  }) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""

BACKFILL_STATUS = """
{ partitionBackfillOrError(backfillId: "%s") { ... on PartitionBackfill { status } } }
"""


def _backfill_two_months_from_the_ui(port: int, keys: list[list[str]]) -> None:
    """A backfill of every asset over two months, launched as the UI's "Materialize all" does."""
    selection = ", ".join(f"{{path: {json.dumps(key)}}}" for key in keys)
    launched = _graphql(port, BACKFILL % selection)["data"]["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        status = _graphql(port, BACKFILL_STATUS % launched["backfillId"])["data"][
            "partitionBackfillOrError"
        ]["status"]
        if status in ("COMPLETED", "COMPLETED_SUCCESS", "FAILED", "COMPLETED_FAILED", "CANCELED"):
            break
        time.sleep(3)
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status


def test_ui_serves_assets_partitions_and_checks(scenario, tmp_path: Path):
    port = _free_port()
    meterhouse = Path(sys.executable).parent / "meterhouse"
    log = (tmp_path / "ui.log").open("w")
    process = subprocess.Popen(
        [str(meterhouse), "ui", "--port", str(port), *scenario["args"]],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the whole tree can be stopped
        env={**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")},
    )
    try:
        deadline = time.monotonic() + 180
        nodes = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                nodes = _graphql(port, QUERY)["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            time.sleep(2)
        assert nodes, (tmp_path / "ui.log").read_text()[-3000:]
        by_key = {"/".join(node["assetKey"]["path"]): node for node in nodes}
        assert {"billing/fct_invoices", "landing/events", "files/invoice_pdfs"} <= set(by_key)
        invoices = by_key["billing/fct_invoices"]
        assert invoices["isPartitioned"] and "2026-10" in invoices["partitionKeys"]
        assert invoices["hasAssetChecks"]
        _backfill_two_months_from_the_ui(port, [node["assetKey"]["path"] for node in nodes])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
