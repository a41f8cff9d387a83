"""The CLI's Dagster instance: its configuration, and an event log that keeps connections open
but stores, reads and notifies exactly as Dagster's own (orchestration/dagster_instance.py)."""

import threading

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration.dagster_instance import (
    _PREVIOUS_YAML,
    PooledSqliteEventLogStorage,
    instance_yaml,
    write_instance_config,
)


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


def test_an_instance_stores_runs_and_asset_events_in_the_pooled_log(tmp_path):
    write_instance_config(tmp_path)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        for _ in range(2):
            result = dg.materialize([counted], instance=instance)
            assert result.success
        events = instance.fetch_materializations(dg.AssetKey("counted"), limit=10).records
        assert [event.asset_materialization.metadata["rows"].value for event in events] == [3, 3]
        logs = instance.all_logs(result.run_id)
        assert any(log.dagster_event and log.dagster_event.is_successful_output for log in logs)
    # Dagster's own storage reads what the pooled one wrote (same files, same schema).
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        plain = SqliteEventLogStorage(str(tmp_path / "history" / "runs"))
        assert len(plain.get_logs_for_run(result.run_id)) == len(logs)


def test_a_watcher_of_a_live_run_hears_each_new_event(tmp_path):
    """The UI follows a running run by watching its database file; with the connection kept
    open the events wait in the write-ahead log, so each write must still reach the watcher."""
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    heard = threading.Event()
    seen = []

    def callback(entry, cursor):
        seen.append(entry.user_message)
        heard.set()

    def log(message: str) -> dg.EventLogEntry:
        return dg.EventLogEntry(
            error_info=None,
            level=20,
            user_message=message,
            run_id="live",
            timestamp=0.0,
        )

    storage.store_event(log("first"))  # creates the run's database
    storage.watch("live", None, callback)
    try:
        storage.store_event(log("second"))
        assert heard.wait(10), "the watcher never heard of the new event"
        assert seen[-1] == "second"
    finally:
        storage.end_watch("live", callback)
        storage.dispose()


def test_the_default_configuration_of_an_older_instance_is_upgraded_and_custom_ones_kept(
    tmp_path,
):
    older = tmp_path / "older"
    older.mkdir()
    (older / "dagster.yaml").write_text(_PREVIOUS_YAML)
    write_instance_config(older)
    assert (older / "dagster.yaml").read_text() == instance_yaml(older)

    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    write_instance_config(custom)
    assert (custom / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"
