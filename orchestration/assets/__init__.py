"""Dagster assets of the monthly close and of finalization."""
