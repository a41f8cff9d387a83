"""Render many documents at once: a process pool over the machine's cores (issue #6).

reportlab is pure Python and holds the GIL, so one process renders a few dozen invoices a second;
and `render_invoice_pdf` fsyncs each file before renaming it into place, which one after another
costs as much again on a slow disk. Rendering is a pure function of the invoice (`invariant=1`),
so any process gives the same bytes. Here worker processes (one per core) render chunks into
temporary files beside their targets; the parent fsyncs those from a thread pool while later
chunks render (concurrent fsyncs share the journal commits), then renames each into place and
fsyncs the folders. Workers only compute and write to the page cache, so a second worker per
core bought no overlap: it cost its start-up (~0.5 CPU-s: imports, font parsing) and a cold
cache of parsed text (invoice_render.layout), 15% more CPU per PDF (docs/performance.md).
A reader still never sees a half-written PDF, and a PDF is on disk before it has its final
name, as with `render_invoice_pdf`.

This module imports no Dagster or DuckDB code, so spawned workers start quickly.
"""

import os
import uuid
from collections.abc import Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from multiprocessing import get_context
from pathlib import Path

from invoice_render import Invoice, render_invoice_pdf_bytes
from orchestration.files import fsync_path, write_atomically

# Below this many documents a pool costs more (worker start-up, ~1 s) than it saves.
POOL_THRESHOLD = 64
# Small chunks even out the end of a batch: one worker still on a 50-PDF chunk while the others
# idle cost up to a second; a chunk's own overhead (pickling, a future) is far below a PDF.
CHUNK_SIZE = 16
FSYNC_THREADS = 32


def render_workers() -> int:
    """Worker processes: MH_RENDER_WORKERS, else one per CPU (rendering is CPU-bound)."""
    configured = os.environ.get("MH_RENDER_WORKERS")
    if configured:
        return max(1, int(configured))
    return os.cpu_count() or 1


def _temp_name(target: Path, batch: str) -> Path:
    # Hidden, unique per batch, and short enough to stay under NAME_MAX for long target names.
    return target.with_name(f".{target.name[:200]}.{batch}.tmp")


def _render_chunk(jobs: Sequence[tuple[Invoice, Path]], batch: str) -> list[tuple[Path, Path]]:
    """Render a chunk into temporary files (not yet fsynced); return (temporary, target) pairs."""
    written = []
    for invoice, target in jobs:
        data = render_invoice_pdf_bytes(invoice)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = _temp_name(target, batch)
        with open(temp, "xb") as handle:
            handle.write(data)
        written.append((temp, target))
    return written


def render_invoice_pdfs(jobs: Sequence[tuple[Invoice, Path]], workers: int | None = None) -> int:
    """Render every (invoice, path) and return how many were written.

    Raises the first rendering error (as `render_invoice_pdf` would); then no document of the
    batch gets its final name and its temporary files are removed.
    """
    workers = workers or render_workers()
    if workers == 1 or len(jobs) < POOL_THRESHOLD:
        for invoice, target in jobs:
            write_atomically(target, render_invoice_pdf_bytes(invoice), point="pdf_writing")
        return len(jobs)
    batch = uuid.uuid4().hex[:16]
    chunks = [jobs[i : i + CHUNK_SIZE] for i in range(0, len(jobs), CHUNK_SIZE)]
    written: list[tuple[Path, Path]] = []
    try:
        # spawn, not fork: the caller (Dagster, DuckDB) runs threads a fork would copy mid-state.
        with (
            ProcessPoolExecutor(
                max_workers=min(workers, len(chunks)), mp_context=get_context("spawn")
            ) as pool,
            ThreadPoolExecutor(FSYNC_THREADS) as syncer,
        ):
            rendering: set[Future] = {pool.submit(_render_chunk, c, batch) for c in chunks}
            syncing: list[Future] = []
            while rendering:
                done, rendering = wait(rendering, return_when=FIRST_COMPLETED)
                for future in done:
                    pairs = future.result()
                    written.extend(pairs)
                    syncing.extend(syncer.submit(fsync_path, temp) for temp, _ in pairs)
            for future in syncing:
                future.result()
        for temp, target in written:
            os.replace(temp, target)
        for folder in {target.parent for _, target in written}:
            fsync_path(folder)  # the renames themselves
    except BaseException:
        for folder in {target.parent for _, target in jobs}:
            for temp in folder.glob(f".*.{batch}.tmp"):
                temp.unlink(missing_ok=True)
        raise
    return len(written)
