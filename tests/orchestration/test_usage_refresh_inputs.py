"""A usage refresh with nothing new skips its dbt run (orchestration/assets/usage.py): the digest
of what a refresh reads changes with each of those inputs, and only with them."""

import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.assets.usage import refresh_inputs_digest
from orchestration.landing.loader import ensure_raw_tables
from orchestration.settings import REPO_ROOT


@pytest.fixture
def conn(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        ensure_raw_tables(connection)
        yield connection


def _load_file(conn, kind: str, name: str, loaded_at: str) -> None:
    conn.execute(
        "insert into raw.loaded_files values (?, ?, 10, timestamp '2026-03-01', ?, 1, 1, 0, 0, ?)",
        [kind, name, loaded_at, name],
    )


def _event(conn) -> None:
    conn.execute(
        "insert into raw.events (transaction_id, external_subscription_id, code, event_timestamp, "
        "properties, payload_hash, source_file, line_number, loaded_at) values ('t1', 'sub_1', "
        "'api_calls', timestamp '2026-03-08 11:00', '{}', 'h', 'e1.ndjson', 1, "
        "timestamp '2026-03-08 12:00')"
    )


def test_the_digest_follows_every_input_of_a_refresh(conn, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO_ROOT / "seeds" / "catalog", catalog)
    # No event loaded: the instant is the wall clock, so a refresh always computes.
    assert refresh_inputs_digest(conn, catalog, "") is None

    _event(conn)
    _load_file(conn, "events", "e1.ndjson", "2026-03-08 12:00:00")
    first = refresh_inputs_digest(conn, catalog, "")
    assert first == refresh_inputs_digest(conn, catalog, "")  # nothing new: the same

    changed = []
    _load_file(conn, "events", "e2.ndjson", "2026-03-08 12:05:00")  # a new landing file
    changed.append(refresh_inputs_digest(conn, catalog, ""))
    conn.execute(
        "create table raw.closed_months (billing_month date, closed_at timestamp, run_id varchar)"
    )
    conn.execute("insert into raw.closed_months values (date '2026-02-01', now(), 'r')")  # a close
    changed.append(refresh_inputs_digest(conn, catalog, ""))
    with (catalog / "plans.csv").open("a") as plans:  # a catalog edit
        plans.write("\n")
    changed.append(refresh_inputs_digest(conn, catalog, ""))
    changed.append(refresh_inputs_digest(conn, catalog, "2026-03-20T12:00:00Z"))  # another instant
    assert len({first, *changed}) == 5
