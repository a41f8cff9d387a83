"""Meterhouse orchestration: Dagster assets that load, close, finalize and publish months."""
