"""SIGKILL of the server in the middle of a load loses no acknowledged event and duplicates none.

Clients send batches while the server (two workers) is killed with SIGKILL; a restarted server
takes the clients' retries of every batch that was not acknowledged, and of some that were (a
response lost in the crash). Reconciled twice: against the close's load step alone (fast, its
own folder), and against a full close and its invoice lines (the shared workspace of conftest,
whose first server is killed this way before its close).
"""

from pathlib import Path

import duckdb

from api.api_live import SUBSCRIPTION, kill_mid_load, live_server, resend
from orchestration.landing.loader import load_folder


def test_sigkill_mid_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    landing, output = tmp_path / "landing", tmp_path / "output"
    with live_server(landing, output, workers=2) as (base, process):
        acknowledged, unacknowledged = kill_mid_load(base, process, "sub_crash", 1793000000)
    with live_server(landing, output) as (base, _process):
        resend(base, unacknowledged + acknowledged[:5])  # retries, some after a lost response

    assert not list(landing.rglob(".*.tmp"))  # the restart swept what the kill left
    assert not list(landing.rglob("*.spool"))  # and sealed the spool
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        stats = load_folder(conn, "events", landing / "events")
        loaded = [t for (t,) in conn.execute("select transaction_id from raw.events").fetchall()]
    expected = {e["transaction_id"] for events in acknowledged + unacknowledged for e in events}
    assert len(loaded) == len(set(loaded)) == len(expected)  # none lost, none twice
    assert set(loaded) == expected
    assert stats.rows_rejected == 0
    assert stats.rows_duplicate == stats.rows_read - len(expected) >= 5 * 50


def test_a_close_after_the_kill_bills_every_event_once(closed_workspace: dict) -> None:
    """The shared workspace's server was killed mid-load before its close (conftest)."""
    killed = closed_workspace["killed"]
    sent = {
        e["transaction_id"]
        for events in killed["acknowledged"] + killed["unacknowledged"]
        for e in events
    }
    with duckdb.connect(str(closed_workspace["warehouse"]), read_only=True) as conn:
        loaded = [
            t
            for (t,) in conn.execute(
                "select transaction_id from raw.events where transaction_id like 'k%'"
            ).fetchall()
        ]
        rejected = conn.execute(
            "select count(*) from billing.rejected_inputs where input_kind = 'events'"
        ).fetchone()[0]
        billed = conn.execute(
            "select sum(events_count) from billing.fct_invoice_lines "
            "where external_subscription_id = ? and charge_code = 'starter_usd_api_calls'",
            [SUBSCRIPTION],
        ).fetchone()[0]
    assert sorted(loaded) == sorted(sent)  # every acknowledged and retried event, once
    assert rejected == 0
    api_calls = [e for e in closed_workspace["sent"] if e["code"] == "api_calls"]
    assert billed == len(api_calls) + len(sent)
