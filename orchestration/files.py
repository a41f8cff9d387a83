"""Files a run publishes (PDFs, the ledger, Parquet marts): whole or not at all.

A file is written under a hidden temporary name in its own folder, then renamed over the target:
a reader, or a run killed half-way, sees the old file or the new one, never half of one. What a
killed run leaves behind is a hidden `.*.tmp` file, which the next run of the same output sweeps.

`replaced_atomically` is that one rule, for every writer: bytes from Python (PDFs, the ledger),
DuckDB's `copy` (Parquet marts), a file copy (dbt's partial parse), the API's journal. The one
variation is the batch of invoice PDFs (orchestration/rendering.py), rendered by worker
processes and fsynced by threads before it renames the whole batch; it follows the same naming,
so the same sweep cleans up after it.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestration.faults import crash_point

# A temporary file, and the WAL of a temporary DuckDB file (the marts' billing_snapshot.duckdb).
TEMPORARY_GLOBS = (".*.tmp", ".*.tmp.wal")


@contextmanager
def replaced_atomically(
    target: Path, *, point: str | None = None, mode: int | None = None, sync_folder: bool = False
) -> Iterator[Path]:
    """Yield a hidden temporary path beside `target`; once the block has written it, rename it
    over `target`. Every file Meterhouse publishes goes through here.

    Whatever writes the temporary file (Python, DuckDB's `copy`, a file copy) must finish it in
    the block; a block that raises leaves `target` as it was and the temporary file removed.
    `point` names the crash point before the rename (orchestration.faults, for the crash
    tests); `mode` sets the permissions; `sync_folder` fsyncs the folder after the rename, for
    writers that acknowledge the file as durable (the API's journal).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    # Unique per writer, and short enough to stay under NAME_MAX for long target names.
    temporary = target.with_name(f".{target.name[:200]}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temporary
        if mode is not None:
            os.chmod(temporary, mode)
        if point:
            crash_point(point)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if sync_folder:
        fsync_path(target.parent)


def write_atomically(
    target: Path, data: bytes, *, point: str | None = None, mode: int | None = None
) -> None:
    """Write `data` to `target` (parent folders created), fsynced, whole or not at all."""
    with replaced_atomically(target, point=point, mode=mode) as temporary:
        # 0o666 minus the umask, like a plain open(): PDFs are meant to be shared.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder (which makes the renames in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_temporaries(folder: Path) -> int:
    """Remove what killed runs left in `folder` (hidden temporary files); return how many.

    One run at a time writes these folders (the warehouse lock for CLI runs, the `duckdb_writer`
    pool for UI runs), so a temporary file found when a run starts is a leftover.
    """
    if not folder.is_dir():
        return 0
    swept = 0
    for pattern in TEMPORARY_GLOBS:
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)
            swept += 1
    return swept
