"""The Dagster instance of an installation: its `dagster.yaml`, and an event log that keeps its
SQLite connections open (docs/performance.md).

Dagster's default SQLite event log opens a new connection for every event it stores and closes it
after. Closing the last connection of a database in WAL mode checkpoints it and syncs the file, so
each event costs tens of milliseconds of disk waits: a close or finalization stores 400 to 700
events (one per dbt model and test, with their checks and materializations), 10 to 25 s of a
small run. Keeping one connection per database open, synced at checkpoints rather than at every
commit, makes it about 5 ms. Everything else (files, schema, migrations, what the UI reads) is
Dagster's own storage, unchanged.
"""

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

# The default configuration of the CLI's instances before the event log above; an instance
# written with it is upgraded in place (nothing else in the file differs).
_PREVIOUS_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1   # one DuckDB writer at a time (docs/contributing.md)
"""


def instance_yaml(home: Path) -> str:
    """The `dagster.yaml` of a Meterhouse instance in `home`."""
    return (
        _PREVIOUS_YAML
        + f"""\
# Dagster's SQLite event log, with its connections kept open (orchestration/dagster_instance.py).
event_log_storage:
  module: orchestration.dagster_instance
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {home.resolve() / "history" / "runs"}
"""
    )


def write_instance_config(home: Path) -> None:
    """Write `home/dagster.yaml` unless it exists with settings of its own."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() == _PREVIOUS_YAML:
        config.write_text(instance_yaml(home))


def _sync_at_checkpoints(connection, _record) -> None:
    """Commits are not synced one by one, only checkpoints: in WAL mode a killed process loses
    nothing committed, a power cut may lose the last events (a run then reads as killed and the
    next command marks it failed, runs.py). The billing data is in the warehouse, not here."""
    connection.execute("PRAGMA synchronous=NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one open connection per database (the index and the most
    recently used runs), reused under the storage's own lock instead of opened per event."""

    KEPT_ENGINES = 8

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> db.Engine:
        """The open engine of a database, the most recently used kept; call under _db_lock."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = db.create_engine(
                self.conn_string_for_shard(shard),
                # One connection, used by one thread at a time: _connect holds _db_lock.
                poolclass=db.pool.StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            db.event.listen(engine, "connect", _sync_at_checkpoints)
        self._engines[shard] = engine
        while len(self._engines) > self.KEPT_ENGINES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event(self, event) -> None:
        super().store_event(event)
        # The UI follows a live run by watching its database file for changes. With the
        # connection open, new events stay in the write-ahead log (`.db-wal`) until a checkpoint,
        # so the file is touched instead, as a closing connection's checkpoint would.
        path = self.path_for_shard(event.run_id)
        if os.path.exists(path):
            os.utime(path)

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()  # the run databases are deleted: no connection may keep them
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
