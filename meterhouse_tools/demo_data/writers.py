"""Write demo files byte for byte: CSV with a header, and lines that end in a newline."""

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa


def write_lines(path: Path, lines: pa.ChunkedArray) -> None:
    """Write a string column whose values already end in a newline, byte for byte."""
    with path.open("wb") as handle:
        for chunk in lines.cast(pa.large_string()).chunks:
            if len(chunk) == 0:
                continue
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
            offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
            data = memoryview(chunk.buffers()[2])
            handle.write(data[int(offsets[0]) : int(offsets[-1])])


def write_csv(path: Path, fields: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
