"""Durable landing writes with group commit.

A request hands its rows (one NDJSON line each) to the journal of its landing folder and waits.
One committer at a time takes every request waiting, judges their rows with the loader's own
rules (`loader.stage_and_validate`: the same checks and quarantine reasons as a close), writes the
rows of the requests that passed to a hidden temporary file, fsyncs it, renames it into place,
and fsyncs the folder. Only then are those requests acknowledged. Requests that arrive while a
commit runs wait for the next one: many requests share one fsync.

A file is visible to the loader (`<kind>/api/<day>/<ns>-<pid>-<n>.ndjson`) only once it is whole
and on disk. A SIGKILL before the rename leaves a hidden `.*.tmp` file, which the loader ignores
(its suffix is not a landing format) and the next server start removes: its rows were never
acknowledged, so a client retries them, and a retry of a row that did reach a file is an exact
duplicate the loader drops (same transaction_id and payload).
"""

import asyncio
import itertools
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.landing.loader import stage_and_validate
from orchestration.landing.readers import LANDING_KINDS


@dataclass(slots=True)
class CommitStats:
    """What a journal has done since it started (for the bench and /health)."""

    commits: int = 0
    rows: int = 0
    fsyncs: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class _Pending:
    lines: list[bytes]
    future: asyncio.Future = field(repr=False)


def sweep_unacknowledged(folder: Path) -> int:
    """Remove the hidden temporary files a killed server left (never acknowledged)."""
    removed = 0
    if folder.is_dir():
        for path in folder.rglob(".*.tmp"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _fsync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LandingJournal:
    """Group-committed, validated, durable appends to `<landing>/<kind>/api`."""

    def __init__(self, landing_dir: Path, kind: str, commit_threads: int = 1) -> None:
        self.kind = LANDING_KINDS[kind]
        # Commits in flight at once. One is best when the CPU is the limit: each commit has a
        # fixed cost (the schema checks), so fewer, larger groups go faster.
        self.commit_threads = commit_threads
        self.folder = landing_dir / kind / "api"
        self.stats = CommitStats()
        self._pending: list[_Pending] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._sequence = itertools.count(1)
        self._local = threading.local()
        self._stats_lock = threading.Lock()
        self._scratch = Path(tempfile.mkdtemp(prefix=f"meterhouse-{kind}-"))

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        sweep_unacknowledged(self.folder)
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"journal-{self.kind.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        shutil.rmtree(self._scratch, ignore_errors=True)

    async def append(self, lines: list[bytes]) -> dict[int, str]:
        """Commit `lines` durably; return {index: reason} of the rows refused (then none is
        written), or {} once all of them are on disk."""
        if self._task is None:
            raise RuntimeError("the journal is not started")
        future = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(lines, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        """Hand waiting requests to a committer as soon as one of `commit_threads` is free."""
        slots = asyncio.Semaphore(self.commit_threads)
        running: set[asyncio.Task] = set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                continue
            await slots.acquire()
            group, self._pending = self._pending, []  # everything that arrived meanwhile too
            if not group:
                slots.release()
                continue
            task = asyncio.create_task(self._commit_group(group, slots))
            running.add(task)
            task.add_done_callback(running.discard)

    async def _commit_group(self, group: list[_Pending], slots: asyncio.Semaphore) -> None:
        try:
            outcomes = await asyncio.to_thread(self._commit, [p.lines for p in group])
        except Exception as error:  # the disk failed: no request of the group is acknowledged
            for pending in group:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        finally:
            slots.release()
            if self._pending:
                self._wake.set()
        for pending, outcome in zip(group, outcomes, strict=True):
            if not pending.future.done():
                pending.future.set_result(outcome)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = duckdb.connect(":memory:", config={"threads": 1})
            conn.execute("set TimeZone = 'UTC'")
            self._local.conn = conn
        return conn

    def _next_name(self) -> Path:
        sequence = next(self._sequence)  # atomic: commits run in several threads
        now = time.time_ns()
        day = datetime.fromtimestamp(now / 1e9, UTC).strftime("%Y-%m-%d")
        folder = self.folder / day
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{now:020d}-{os.getpid()}-{sequence:08d}.ndjson"

    @staticmethod
    def _write(path: Path, requests: list[list[bytes]]) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"".join(line + b"\n" for lines in requests for line in lines))
        finally:
            os.close(fd)

    def _commit(self, requests: list[list[bytes]]) -> list[dict[int, str]]:
        """Judge, write, fsync and rename one group; the outcome of each request."""
        started = time.perf_counter()
        target = self._next_name()
        temporary = target.with_name(f".{target.name}.tmp")
        try:
            # Judged from a scratch copy outside the landing folder (the reader goes by suffix).
            scratch = self._scratch / f"{threading.get_ident()}.ndjson"
            self._write(scratch, requests)
            outcomes = self._judge(scratch, requests)
            accepted = [r for r, o in zip(requests, outcomes, strict=True) if not o]
            if accepted:
                self._write(temporary, accepted)
                fd = os.open(temporary, os.O_WRONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temporary, target)
                _fsync_directory(target.parent)
                with self._stats_lock:
                    self.stats.fsyncs += 2
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        with self._stats_lock:
            self.stats.commits += 1
            self.stats.rows += sum(len(r) for r in accepted)
            self.stats.seconds += time.perf_counter() - started
        return outcomes

    def _judge(self, path: Path, requests: list[list[bytes]]) -> list[dict[int, str]]:
        """The loader's verdict on every row of the file, split back per request."""
        conn = self._connection()
        loaded_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        stage_and_validate(conn, self.kind, path, loaded_at)
        rejected = dict(conn.execute("select line_number, reason from row_rejections").fetchall())
        for table in ("staged_text", "typed", "row_rejections"):
            conn.execute(f"drop table if exists temp.main.{table}")
        outcomes = []
        line = 0
        for lines in requests:
            outcome = {}
            for index in range(len(lines)):
                line += 1
                if line in rejected:
                    outcome[index] = rejected[line]
            outcomes.append(outcome)
        return outcomes
