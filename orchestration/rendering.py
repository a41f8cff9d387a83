"""Render many documents at once: a process pool over the machine's cores (issue #6).

reportlab is pure Python and holds the GIL, and each PDF is fsynced before it is renamed into
place, so one process renders a few dozen invoices a second. Rendering is a pure function of the
invoice (`invariant=1`), so any process gives the same bytes: documents are rendered in chunks by
worker processes, twice as many as cores so that one worker's fsync overlaps another's layout.

This module imports no Dagster or DuckDB code, so spawned workers start quickly.
"""

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from invoice_render import Invoice, render_invoice_pdf

# Below this many documents a pool costs more (worker start-up, ~1 s) than it saves.
POOL_THRESHOLD = 64
CHUNK_SIZE = 50


def render_workers() -> int:
    """Worker processes: MH_RENDER_WORKERS, else two per CPU (fsync waits overlap layout)."""
    configured = os.environ.get("MH_RENDER_WORKERS")
    if configured:
        return max(1, int(configured))
    return 2 * (os.cpu_count() or 1)


def _render_chunk(jobs: Sequence[tuple[Invoice, Path]]) -> int:
    for invoice, path in jobs:
        render_invoice_pdf(invoice, path)
    return len(jobs)


def render_invoice_pdfs(jobs: Sequence[tuple[Invoice, Path]], workers: int | None = None) -> int:
    """Render every (invoice, path) and return how many were written.

    Raises the first rendering error (as `render_invoice_pdf` would); documents already written
    stay, each complete, as the single-document writes are atomic.
    """
    workers = workers or render_workers()
    if workers == 1 or len(jobs) < POOL_THRESHOLD:
        return _render_chunk(jobs)
    chunks = [jobs[i : i + CHUNK_SIZE] for i in range(0, len(jobs), CHUNK_SIZE)]
    # spawn, not fork: the caller (Dagster, DuckDB) runs threads that a fork would copy mid-state.
    with ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)), mp_context=get_context("spawn")
    ) as pool:
        return sum(pool.map(_render_chunk, chunks))
