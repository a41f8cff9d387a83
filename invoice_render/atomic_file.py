"""Write a rendered PDF atomically, so a reader never sees a half-written document."""

import os
import uuid
from pathlib import Path


def write_atomically(target: Path, data: bytes) -> None:
    """Write to a temp file beside `target`, fsync, then rename over it.

    For callers of this library's `render_*_pdf(path)`; the orchestration renders bytes and
    publishes them through its own writer (orchestration/files.py), the library not depending
    on it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Unique per writer, and short enough to stay under NAME_MAX for long target names.
    temp = target.with_name(f".{target.name[:200]}.{uuid.uuid4().hex[:16]}.tmp")
    # os.open with 0o666 honours the umask, unlike mkstemp's 0o600.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
