"""Run the whole bench (generate, floor, load, close, finalize) and print its table of figures."""

import os
import shutil
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import asdict
from pathlib import Path

from meterhouse_tools.bench.floor import compare_floor_to_close, measure_floor
from meterhouse_tools.bench.generation import generate
from meterhouse_tools.bench.memory import MemorySampler, rusage_peaks
from meterhouse_tools.bench.product import dbt_timings, latest_metadata, measure_load, point_at
from meterhouse_tools.bench.results import BenchOptions, BenchResult, Figure, Generated
from orchestration.settings import REPO_ROOT

# Targets of issue #6 on a 2-core machine.
TARGET_LOAD_EVENTS_PER_SECOND = 1_000_000
TARGET_CLOSE_OVER_FLOOR = 3.0
TARGET_PDFS_PER_SECOND = 200
TARGET_PEAK_MEMORY_BYTES = 4 * 1024**3


def _gib(value: float) -> float:
    return value / 1024**3


def run_bench(options: BenchOptions) -> BenchResult:
    """Generate, measure and compare; return every figure (see the module docstring)."""
    from orchestration.settings import command_environment

    # The bench points the product at its own files through the environment, then puts it back.
    with command_environment():
        return _run_in_workdir(options)


def _run_in_workdir(options: BenchOptions) -> BenchResult:
    root = Path(options.workdir or tempfile.mkdtemp(prefix="meterhouse-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    catalog_dir = REPO_ROOT / "seeds" / "catalog"
    # A Dagster instance of the bench's own, so bench runs never mix with real ones.
    dagster_home = root / "dagster_home"
    from orchestration.dagster_instance import write_instance_config

    write_instance_config(dagster_home)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ["MH_DUCKDB_MEMORY_LIMIT"] = options.memory_limit  # dbt's DuckDB (profiles.yml)
    try:
        if options.usage:
            from meterhouse_tools.bench_usage import run_usage_bench

            return run_usage_bench(options, root)
        with MemorySampler() as memory:
            return _run(options, root, catalog_dir, memory)
    finally:
        if not options.keep and options.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


def new_result(options: BenchOptions, root: Path, generated: Generated) -> BenchResult:
    """A result with the run's options, machine and generated data set, and no figure yet."""
    return BenchResult(
        options={**asdict(options), "workdir": str(root), "month_keys": options.month_keys},
        machine={"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        generated={
            "customers": generated.customers,
            "subscriptions": generated.subscriptions,
            "events_written": generated.events_written,
            "injected": generated.injected,
            "files": {fmt: len(paths) for fmt, paths in generated.event_files.items()},
            "bytes": {
                fmt: sum(p.stat().st_size for p in paths)
                for fmt, paths in generated.event_files.items()
            },
            "seconds": round(generated.seconds, 2),
        },
    )


def _run(
    options: BenchOptions, root: Path, catalog_dir: Path, memory: MemorySampler
) -> BenchResult:
    from orchestration.project import ensure_manifest

    ensure_manifest()
    with memory.phase("generate"):
        generated = generate(options, root)
    result = new_result(options, root, generated)
    events = generated.events_written
    floors: dict[str, float] = {}
    for fmt in options.formats:
        with memory.phase(f"floor_{fmt}"):
            seconds, rows = measure_floor(
                options, fmt, generated, catalog_dir, root / f"floor_{fmt}.parquet"
            )
        floors[fmt] = seconds
        result.details[f"floor_{fmt}_rows"] = rows
        result.figures.append(
            Figure(f"floor {fmt} (DuckDB, one query)", seconds, "s", ratio_to_floor=1.0)
        )

    warehouses = {fmt: root / f"warehouse_{fmt}.duckdb" for fmt in options.formats}
    # NDJSON first, so the Parquet warehouse is the last one loaded and the one closed.
    for fmt in sorted(options.formats, key=lambda f: f == "parquet"):
        point_at(generated.landing[fmt], warehouses[fmt], root / f"output_{fmt}")
        with memory.phase(f"load_{fmt}"):
            load = measure_load(options, generated.landing[fmt], warehouses[fmt])
        result.details[f"load_{fmt}"] = load
        rate = events / load["seconds"]
        is_parquet = fmt == "parquet"
        result.figures.append(
            Figure(
                f"load {fmt} (validate + dedup)",
                rate,
                "events/s",
                target=f">= {TARGET_LOAD_EVENTS_PER_SECOND:,}" if is_parquet else "",
                ratio_to_floor=load["seconds"] / floors[fmt],
                passed=rate >= TARGET_LOAD_EVENTS_PER_SECOND if is_parquet else None,
            )
        )

    from orchestration import runs

    closed_fmt = "parquet" if "parquet" in options.formats else options.formats[0]
    for fmt, path in warehouses.items():  # only the closed warehouse is needed from here on
        if fmt != closed_fmt:
            path.unlink(missing_ok=True)
    floor_seconds = floors[closed_fmt]
    output = root / f"output_{closed_fmt}"
    point_at(generated.landing[closed_fmt], warehouses[closed_fmt], output)
    # dagster-dbt echoes dbt's log to stdout; keep it in the work directory, not in the table.
    log = (root / "product.log").open("a", encoding="utf-8")
    with memory.phase("close"), redirect_stdout(log), redirect_stderr(log):
        started = time.perf_counter()
        closed = runs.close_month(options.month_keys[-1])
        close_seconds = time.perf_counter() - started
    result.details["closed_months"] = closed
    result.details["close_dbt"] = dbt_timings()
    result.figures.append(
        Figure(
            "close (runs.close_month, load excluded)",
            close_seconds,
            "s",
            target=f"<= {TARGET_CLOSE_OVER_FLOOR:g}x floor",
            ratio_to_floor=close_seconds / floor_seconds,
            passed=close_seconds <= TARGET_CLOSE_OVER_FLOOR * floor_seconds,
        )
    )
    comparison = compare_floor_to_close(
        warehouses[closed_fmt], root / f"floor_{closed_fmt}.parquet"
    )
    result.details["floor_vs_close"] = comparison
    mismatches = sum(v for k, v in comparison.items() if k != "rows")
    result.figures.append(
        Figure(
            "floor aggregates == billed (mismatched rows)",
            mismatches,
            "rows",
            target="0",
            passed=mismatches == 0,
        )
    )

    if options.render_pdfs:
        rendered = render_seconds = 0.0
        with memory.phase("finalize"), redirect_stdout(log), redirect_stderr(log):
            started = time.perf_counter()
            for month in options.month_keys:
                runs.finalize_month(month)
                metadata = latest_metadata(["files", "invoice_pdfs"])
                rendered += metadata.get("rendered", 0)
                render_seconds += metadata.get("seconds", 0.0)
            finalize_seconds = time.perf_counter() - started
        result.details["finalize_seconds"] = finalize_seconds
        result.details["finalize_dbt"] = dbt_timings()
        result.details["pdfs_rendered"] = int(rendered)
        result.details["pdf_render_seconds"] = render_seconds
        pdf_rate = rendered / render_seconds if render_seconds else 0.0
        result.figures.append(
            Figure(
                "invoice PDFs rendered",
                pdf_rate,
                "PDFs/s",
                target=f">= {TARGET_PDFS_PER_SECOND}",
                passed=pdf_rate >= TARGET_PDFS_PER_SECOND,
            )
        )
        result.figures.append(Figure("finalize (numbers, PDFs, ledger)", finalize_seconds, "s"))

    log.close()
    product_phases = [p for p in memory.peaks if p.startswith(("load", "close", "finalize"))]
    peak = max((memory.peaks[p] for p in product_phases), default=0)
    result.details["memory_peaks_by_phase_gib"] = {
        p: round(_gib(v), 3) for p, v in memory.peaks.items()
    }
    result.details["rusage_gib"] = {k: round(_gib(v), 3) for k, v in rusage_peaks().items()}
    result.figures.append(
        Figure(
            "peak memory (process tree: load, close, finalize)",
            _gib(peak),
            "GiB",
            target="< 4 GiB (at 50M)",
            passed=peak < TARGET_PEAK_MEMORY_BYTES,
        )
    )
    result.machine["load_average_after"] = os.getloadavg()
    return result


def format_table(result: BenchResult) -> str:
    """The figures as a fixed-width table: figure, value, target, ratio to the floor, pass/miss."""
    header = ("figure", "value", "target", "x floor", "")
    rows = [header]
    for f in result.figures:
        if f.unit == "events/s":
            value = f"{f.value:,.0f} {f.unit}"
        elif f.unit in ("rows", "buckets"):
            value = f"{f.value:,.0f}"
        else:
            value = f"{f.value:,.2f} {f.unit}"
        ratio = "" if f.ratio_to_floor is None else f"{f.ratio_to_floor:.2f}"
        verdict = "" if f.passed is None else ("pass" if f.passed else "MISS")
        rows.append((f.name, value, f.target, ratio, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in (1, 3) else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    generated = result.generated
    lines.append(
        f"\n{generated['events_written']:,} events ({generated['injected']}) for "
        f"{generated['subscriptions']:,} subscriptions / {generated['customers']:,} customers; "
        f"months {', '.join(result.options['month_keys'])}; "
        f"{result.machine['cpus']} CPUs, load average before "
        f"{', '.join(f'{x:.2f}' for x in result.machine['load_average'])}."
    )
    return "\n".join(lines)
