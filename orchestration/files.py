"""Files a run publishes (PDFs, the ledger, Parquet marts): whole or not at all.

A file is written under a hidden temporary name in its own folder, then renamed over the target:
a reader, or a run killed half-way, sees the old file or the new one, never half of one. What a
killed run leaves behind is a hidden `.*.tmp` file, which the next run of the same output sweeps.
"""

import os
from pathlib import Path

from orchestration.faults import crash_point

# A temporary file, and the WAL of a temporary DuckDB file (the marts' billing_snapshot.duckdb).
TEMPORARY_GLOBS = (".*.tmp", ".*.tmp.wal")


def write_atomically(target: Path, data: bytes, *, point: str) -> None:
    """Write `data` to `target` (parent folders created) through a temp file and a rename.

    `point` names the crash point between the two (orchestration.faults), for the crash tests.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name[:200]}.{os.getpid()}.tmp")
    # 0o666 minus the umask, like a plain open(): PDFs are meant to be shared.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        crash_point(point)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


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
