"""Durable landing writes with group commit.

A request hands its rows (one NDJSON line each) to the journal of its landing folder and waits.
One committer at a time takes every request waiting, judges their rows with the loader's own
rules (`loader.stage_and_validate`: the same checks and quarantine reasons as a close), writes the
rows of the requests that passed to a hidden temporary file, fsyncs it, renames it into place,
and fsyncs the folder. Only then are those requests acknowledged. Requests that arrive while a
commit runs wait for the next one: many requests share one fsync.

Customers and subscriptions are committed straight to loader-visible files
(`<kind>/api/<day>/<ns>-<pid>-<n>.ndjson`). Events, which arrive by the thousand a second, are
committed to `events/api/spool/<ns>-<pid>-<n>.spool` (a suffix the loader does not read), and
sealed every few seconds: the spool files are concatenated into one landing file (fsynced,
renamed), then removed. A close pays a fixed cost per landing file, so one file per commit
(tens a second) would make loading slower than the traffic; a file per seal keeps it small.
A crash between a seal's rename and its removals leaves rows in both places: the next seal
lands them again, and the loader drops them as exact duplicates (same key and payload).

A SIGKILL before a commit's rename leaves a hidden `.*.tmp` file, which the loader ignores and
the next server start removes: its rows were never acknowledged, so a client retries them, and a
retry of a row that did reach a file is an exact duplicate the loader drops. Spool files left by
a killed server are sealed when the server starts again.
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

from orchestration.files import fsync_path, replaced_atomically
from orchestration.landing.loader import stage_and_validate
from orchestration.landing.readers import LANDING_KINDS


@dataclass(slots=True)
class CommitStats:
    """What a journal has done since it started (for the bench and /health)."""

    commits: int = 0
    seals: int = 0
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


def _process_alive(spool_name: str) -> bool:
    """Whether the process that wrote a spool file (`<ns>-<pid>-<n>.spool`) still runs."""
    try:
        pid = int(spool_name.split("-")[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    # A killed worker nobody has reaped yet (a zombie: in a container, PID 1 may never reap it)
    # still answers kill(pid, 0), but writes nothing more.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class LandingJournal:
    """Group-committed, validated, durable appends to `<landing>/<kind>/api`."""

    def __init__(
        self,
        landing_dir: Path,
        kind: str,
        commit_threads: int = 1,
        seal_seconds: float | None = None,
    ) -> None:
        self.kind = LANDING_KINDS[kind]
        # None: commits land straight in loader-visible files; else spooled and sealed this often.
        self.seal_seconds = seal_seconds
        # Commits in flight at once. One is best when the CPU is the limit: each commit has a
        # fixed cost (the schema checks), so fewer, larger groups go faster.
        self.commit_threads = commit_threads
        self.folder = landing_dir / kind / "api"
        self.spool = self.folder / "spool"
        self._seal_lock = threading.Lock()
        self._sealer: asyncio.Task | None = None
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
        if self.seal_seconds is not None:
            self.spool.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(self.seal, orphans=True)  # what a killed server left
            self._sealer = asyncio.create_task(self._seal_periodically(), name="sealer")

    async def stop(self) -> None:
        for task in (self._task, self._sealer):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self._task = self._sealer = None
        if self.seal_seconds is not None:
            await asyncio.to_thread(self.seal)
        shutil.rmtree(self._scratch, ignore_errors=True)

    async def _seal_periodically(self) -> None:
        assert self.seal_seconds is not None  # start() runs this task only when it is set
        while True:
            await asyncio.sleep(self.seal_seconds)
            await asyncio.to_thread(self.seal)

    def seal(self, orphans: bool = False) -> int:
        """Move this process's spool files (and, with `orphans`, those of dead processes) into
        one landing file; return how many spool files were sealed."""
        with self._seal_lock:
            mine = f"-{os.getpid()}-"
            files = sorted(
                path
                for path in self.spool.glob("*.spool")
                if mine in path.name or (orphans and not _process_alive(path.name))
            )
            if not files:
                return 0
            target = self._next_name("sealed")
            with replaced_atomically(target, sync_folder=True) as temporary:
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    for path in files:
                        try:
                            os.write(fd, path.read_bytes())
                        except FileNotFoundError:  # another worker sealed this orphan first
                            continue
                    os.fsync(fd)
                finally:
                    os.close(fd)
            for path in files:
                path.unlink(missing_ok=True)
            fsync_path(self.spool)
            with self._stats_lock:
                self.stats.fsyncs += 3
                self.stats.seals += 1
            return len(files)

    async def append(self, lines: list[bytes]) -> dict[int, str]:
        """Commit `lines` durably; return {index: reason} of the rows refused (then none is
        written), or {} once all of them are on disk."""
        if self._task is None:
            raise RuntimeError("the journal is not started")
        assert self._wake is not None  # start() sets it with _task
        future = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(lines, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        """Hand waiting requests to a committer as soon as one of `commit_threads` is free."""
        slots = asyncio.Semaphore(self.commit_threads)
        running: set[asyncio.Task] = set()
        wake = self._wake
        assert wake is not None  # start() sets it before it starts this task
        while True:
            await wake.wait()
            wake.clear()
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
            if self._pending and self._wake is not None:  # set since start()
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

    def _next_name(self, purpose: str = "commit") -> Path:
        """A new file name: a loader-visible landing file, or a spool file for a commit."""
        sequence = next(self._sequence)  # atomic: commits run in several threads
        now = time.time_ns()
        stem = f"{now:020d}-{os.getpid()}-{sequence:08d}"
        if purpose == "commit" and self.seal_seconds is not None:
            return self.spool / f"{stem}.spool"
        day = datetime.fromtimestamp(now / 1e9, UTC).strftime("%Y-%m-%d")
        folder = self.folder / day
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{stem}.ndjson"

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
        # Judged from a scratch copy outside the landing folder (the reader goes by suffix).
        scratch = self._scratch / f"{threading.get_ident()}.ndjson"
        self._write(scratch, requests)
        outcomes = self._judge(scratch, requests)
        accepted = [r for r, o in zip(requests, outcomes, strict=True) if not o]
        if accepted:
            with replaced_atomically(target, sync_folder=True) as temporary:
                self._write(temporary, accepted)
                fd = os.open(temporary, os.O_WRONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            with self._stats_lock:
                self.stats.fsyncs += 2
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
