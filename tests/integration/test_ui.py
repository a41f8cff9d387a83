"""`meterhouse ui` serves the whole asset graph: assets, partitions and checks load over GraphQL,
and a reviewer finds the month's runs and its review there."""

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


MONTH_RUNS = """
{
  runsOrError(filter: {tags: [{key: "meterhouse/month", value: "2026-10"}]}) {
    ... on Runs { results { jobName tags { key value } } }
  }
}
"""

MONTH_REVIEW = """
{
  assetOrError(assetKey: {path: ["review", "month_review"]}) {
    ... on Asset {
      assetMaterializations(partitions: ["2026-10"], limit: 1) {
        partition
        description
        tags { key value }
        metadataEntries {
          label
          ... on MarkdownMetadataEntry { mdStr }
          ... on IntMetadataEntry { intValue }
        }
      }
    }
  }
}
"""


def _read_the_month_from_the_ui(port: int) -> None:
    """The runs of the close and finalization of October, and October's review, as the UI
    reads them."""
    runs = _graphql(port, MONTH_RUNS)["data"]["runsOrError"]["results"]
    tags = {run["jobName"]: {t["key"]: t["value"] for t in run["tags"]} for run in runs}
    assert tags["finalize_month"]["dagster/partition"] == "2026-10"  # the runs list's chip
    assert tags["monthly_close"]["meterhouse/stage"] == "close"
    (review,) = _graphql(port, MONTH_REVIEW)["data"]["assetOrError"]["assetMaterializations"]
    entries = {entry["label"]: entry for entry in review["metadataEntries"]}
    assert review["partition"] == "2026-10" and review["description"] == "2026-10: finalized"
    assert {"key": "meterhouse/month_status", "value": "finalized"} in review["tags"]
    assert entries["review"]["mdStr"].startswith("# Billing month 2026-10: finalized")
    assert entries["invoice_count"]["intValue"] > 0


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
        # The instance beside the scenario's warehouse: the one its close and finalization used.
        env={name: value for name, value in os.environ.items() if name != "DAGSTER_HOME"},
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
        # No month before the data: the scenario's first subscription starts in September.
        assert invoices["partitionKeys"][0] == "2026-09"
        assert invoices["hasAssetChecks"]
        _read_the_month_from_the_ui(port)
        # The monthly assets: current usage is not a month's (docs/current-usage.md), it is
        # refreshed by its own job, not by a partition backfill.
        _backfill_two_months_from_the_ui(
            port, [node["assetKey"]["path"] for node in nodes if node["isPartitioned"]]
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
