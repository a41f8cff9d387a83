"""`meterhouse bench --usage` at tiny N: every figure is printed, the hand-written floor prices
the same buckets as the refresh to the last decimal, and the arriving file is published. No
timing is asserted (the machine is shared)."""

import json
import shutil
from pathlib import Path

import pytest

from meterhouse_tools.bench_usage import usage_floor_sql
from orchestration.cli import main
from orchestration.settings import REPO_ROOT

pytestmark = pytest.mark.integration

FIGURES = (
    "load parquet",
    "usage floor",
    "usage refresh (",
    "floor == current usage",
    "usage refresh, nothing new",
    "usage refresh after a file",
    "landing file to published usage",
)


def test_the_usage_bench_prints_every_figure_and_its_floor_matches(tmp_path: Path, capsys):
    code = main(
        [
            "bench",
            "--usage",
            "--events=5000",
            "--subscriptions=100",
            f"--workdir={tmp_path / 'work'}",
            f"--json={tmp_path / 'bench.json'}",
        ]
    )
    assert code == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    for name in FIGURES:
        assert any(line.startswith(name) for line in printed), name
    result = json.loads((tmp_path / "bench.json").read_text())
    comparison = result["details"]["usage_floor_vs_refresh"]
    assert comparison["buckets"] > 100
    assert {k: v for k, v in comparison.items() if k != "buckets"} == dict.fromkeys(
        ("one_side_only", "units", "events", "amount"), 0
    )
    assert result["details"]["arrival_events"] == 1_000


def test_the_floor_refuses_a_shape_it_does_not_price(tmp_path: Path):
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO_ROOT / "seeds" / "catalog", catalog)
    charges = (catalog / "charges.csv").read_text().replace(",standard,", ",percentage,", 1)
    (catalog / "charges.csv").write_text(charges)
    (tmp_path / "landing" / "subscriptions").mkdir(parents=True)
    with pytest.raises(ValueError, match="does not price"):
        usage_floor_sql(catalog, tmp_path / "landing")
