"""`meterhouse bench` at tiny N: every figure is printed, and the floor computes what is billed.

No timing is asserted (the machine is shared); the point is that the bench runs end to end and
that its floor query is a fair floor: the same per-subscription aggregates as the close.
"""

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main

pytestmark = pytest.mark.integration

FIGURES = (
    "floor parquet",
    "floor ndjson",
    "load parquet",
    "load ndjson",
    "close",
    "floor aggregates == billed",
    "invoice PDFs rendered",
    "finalize",
    "peak memory",
)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One tiny bench run, kept on disk: its stdout, JSON and work directory."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("bench")
    workdir = root / "work"
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = main(
            [
                "bench",
                "--events=20000",
                "--subscriptions=500",
                f"--workdir={workdir}",
                f"--json={root / 'bench.json'}",
            ]
        )
    assert code == 0
    return {
        "stdout": output.getvalue(),
        "result": json.loads((root / "bench.json").read_text()),
        "workdir": workdir,
    }


def test_every_figure_is_printed_with_a_value(bench):
    printed = [line for line in bench["stdout"].splitlines() if line.strip()]
    for name in FIGURES:
        assert any(line.startswith(name) for line in printed), name
    figures = {f["name"].split(" (")[0]: f for f in bench["result"]["figures"]}
    assert all(f["value"] >= 0 for f in figures.values())
    assert figures["invoice PDFs rendered"]["value"] > 0
    assert figures["peak memory"]["value"] > 0


def test_the_floor_aggregates_equal_what_was_billed(bench):
    assert bench["result"]["details"]["floor_vs_close"]["rows"] > 0
    mismatches = {
        k: v for k, v in bench["result"]["details"]["floor_vs_close"].items() if k != "rows"
    }
    assert mismatches == dict.fromkeys(mismatches, 0)

    # And independently: events and units per subscription and metric, floor against warehouse.
    workdir: Path = bench["workdir"]
    with duckdb.connect(str(workdir / "warehouse_parquet.duckdb"), read_only=True) as conn:
        billed = dict(
            (
                (sub, metric),
                (int(events), units),
            )
            for sub, metric, events, units in conn.execute(
                "select external_subscription_id, metric_code, sum(events_count), sum(units) "
                "from billing.fct_invoice_lines where line_type = 'charge' "
                "group by all having sum(events_count) > 0"
            ).fetchall()
        )
        floor = {
            (sub, metric): (int(events), {"api_calls": events, "tokens": total}.get(metric))
            for sub, metric, events, total in conn.execute(
                "select external_subscription_id, metric_code, events_count, sum_value "
                f"from read_parquet('{workdir / 'floor_parquet.parquet'}')"
            ).fetchall()
        }
    assert floor.keys() == billed.keys()
    for key, (events, units) in floor.items():
        assert billed[key][0] == events, key
        if units is not None:
            assert billed[key][1] == units, key


def test_both_formats_give_the_same_floor_and_the_same_load(bench):
    workdir: Path = bench["workdir"]
    with duckdb.connect() as conn:
        differing = conn.execute(
            f"""
            select count(*) from (
                (select * from read_parquet('{workdir / "floor_parquet.parquet"}')
                 except all
                 select * from read_parquet('{workdir / "floor_ndjson.parquet"}'))
                union all
                (select * from read_parquet('{workdir / "floor_ndjson.parquet"}')
                 except all
                 select * from read_parquet('{workdir / "floor_parquet.parquet"}'))
            )
            """
        ).fetchall()[0][0]
    assert differing == 0
    details = bench["result"]["details"]
    injected = bench["result"]["generated"]["injected"]
    for fmt in ("parquet", "ndjson"):
        load = details[f"load_{fmt}"]
        assert load["rows_read"] == bench["result"]["generated"]["events_written"]
        assert load["rows_duplicate"] == injected["exact_duplicate"]
        assert load["rejected_conflicting_duplicate"] == injected["conflicting_duplicate"]
        assert load["rejected_missing_field"] == injected["missing_field"]
    assert details["load_parquet"]["rows_loaded"] == details["load_ndjson"]["rows_loaded"]


def test_the_generated_data_is_deterministic(tmp_path):
    from meterhouse_tools.bench import BenchOptions, generate

    options = BenchOptions(events=5_000, subscriptions=100, formats=("parquet",))
    first = generate(options, tmp_path / "a")
    second = generate(options, tmp_path / "b")
    for a, b in zip(first.event_files["parquet"], second.event_files["parquet"], strict=True):
        with duckdb.connect() as conn:
            rows_a = conn.execute(f"select * from read_parquet('{a}')").fetchall()
            rows_b = conn.execute(f"select * from read_parquet('{b}')").fetchall()
        assert rows_a == rows_b
    assert first.injected == second.injected
