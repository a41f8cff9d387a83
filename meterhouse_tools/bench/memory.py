"""Peak memory of the bench's process tree, sampled from /proc beside getrusage maxima."""

import os
import resource
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; fields resume after the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    page = os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * page
        except OSError:
            continue
        stack.extend(children.get(pid, ()))
    return total


class MemorySampler:
    """Samples the process tree's RSS in a thread and keeps the peak of each named phase."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._phase: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)
        self._available = Path("/proc/self/statm").exists()

    def __enter__(self) -> "MemorySampler":
        if self._available:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._available:
            self._thread.join()

    def _sample(self) -> None:
        phase = self._phase
        if phase is None:
            return
        rss = _tree_rss_bytes(os.getpid())
        self.peaks[phase] = max(self.peaks.get(phase, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Attribute the samples taken inside the block to `name`."""
        self._phase = name
        if self._available:
            self._sample()
        try:
            yield
        finally:
            if self._available:
                self._sample()
            self._phase = None


def rusage_peaks() -> dict[str, int]:
    """Max RSS (bytes) of this process and of its largest finished child (dbt), per getrusage."""
    # Linux reports ru_maxrss in KiB.
    return {
        "self_max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "children_max_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }
