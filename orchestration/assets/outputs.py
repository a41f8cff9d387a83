"""What a finalized month produces outside the warehouse: invoice PDFs, the Beancount ledger, and
Parquet copies of every `billing` table for BI tools (docs/tables.md)."""

import time
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from invoice_render import render_credit_note_pdf_bytes
from orchestration.accounting import check_ledger, sync_ledger
from orchestration.assets.dbt_models import dbt_asset_key
from orchestration.credit_notes import finalized_credit_notes_for_month
from orchestration.files import replaced_atomically, sweep_temporaries, write_atomically
from orchestration.invoices import (
    all_finalized_ledger_credit_notes,
    all_finalized_ledger_invoices,
    all_ledger_wallet_movements,
    finalized_invoices_for_month,
)
from orchestration.partitions import monthly_partitions
from orchestration.rendering import render_invoice_pdfs
from orchestration.settings import current_locations
from orchestration.sql_rows import one_row

# Every output follows the close month, runs once for a backfill range, and opens the warehouse.
MONTHLY_OUTPUT: dict[str, Any] = {
    "group_name": "outputs",
    "partitions_def": monthly_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "pool": "duckdb_writer",
}

BILLING_MARTS = ("fct_invoices", "fct_invoice_lines", "fct_invoice_taxes", "dim_customers")


def _safe_file_name(invoice_number: str) -> str:
    # Numbers come from a configurable prefix: keep a path separator from escaping the folder.
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in invoice_number) or "invoice"


# What invoice_pdfs reads besides BILLING_MARTS: the tier rows under lines, the coupons, credit
# notes and wallets named on the totals.
INVOICE_PDF_MARTS = ("fct_invoice_line_tiers", "fct_invoice_credits", "fct_credit_notes")


@dg.asset(
    key=["files", "invoice_pdfs"],
    deps=[dbt_asset_key(name) for name in (*BILLING_MARTS, *INVOICE_PDF_MARTS)],
    kinds={"pdf"},
    **MONTHLY_OUTPUT,
)
def invoice_pdfs(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """One PDF per finalized invoice of the month, under invoices/YYYY-MM/<number>.pdf."""
    output_dir = current_locations().output_dir
    rendered = skipped = 0
    started = time.perf_counter()
    for key in context.partition_keys:
        month = date.fromisoformat(f"{key}-01")
        with warehouse.get_connection() as conn:
            invoices = finalized_invoices_for_month(conn, month)
        folder = output_dir / "invoices" / key
        sweep_temporaries(folder)  # what a killed run left; its PDFs are rendered again below
        jobs = []
        for invoice in invoices:
            path = folder / f"{_safe_file_name(invoice.invoice_number)}.pdf"
            if path.exists():  # finalized invoices never change, nor do their PDFs
                skipped += 1
                continue
            jobs.append((invoice, path))
        rendered += render_invoice_pdfs(jobs)  # a process pool: reportlab holds the GIL
    seconds = time.perf_counter() - started
    return dg.MaterializeResult(
        metadata={
            "rendered": rendered,
            "already_rendered": skipped,
            "seconds": round(seconds, 3),
            "folder": dg.MetadataValue.path(str(output_dir / "invoices")),
        }
    )


@dg.asset(
    key=["files", "accounting_ledger"],
    deps=[
        dbt_asset_key(name)
        for name in (
            *BILLING_MARTS,
            "fct_invoice_credits",
            "fct_credit_notes",
            "fct_credit_note_taxes",
            "fct_wallet_transactions",
        )
    ],
    kinds={"beancount"},
    **MONTHLY_OUTPUT,
)
def accounting_ledger(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """Beancount ledger of finalized invoices, credit notes and wallet moves; rewritten whole."""
    path = current_locations().output_dir / "accounting" / "ledger.beancount"
    sweep_temporaries(path.parent)
    with warehouse.get_connection() as conn:
        invoices = all_finalized_ledger_invoices(conn)
        credit_notes = all_finalized_ledger_credit_notes(conn)
        wallet_movements = all_ledger_wallet_movements(conn)
        entity = conn.execute(
            "select entity_name from staging.stg_catalog__billing_entities"
        ).fetchone()[0]
    result = sync_ledger(
        path, entity, invoices, credit_notes=credit_notes, wallet_movements=wallet_movements
    )
    errors = check_ledger(path)
    if errors:
        raise dg.Failure("the ledger does not pass bean-check:\n" + "\n".join(errors))
    months = [date.fromisoformat(f"{key}-01") for key in context.partition_keys]
    with warehouse.get_connection() as conn:
        posted = {
            name: conn.execute(
                f"select count(*) from billing.{table} "
                f"where {condition} and billing_month in (select unnest(?))",
                [months],
            ).fetchone()[0]
            for name, table, condition in (
                ("invoices", "fct_invoices", "status = 'finalized'"),
                ("credit_notes", "fct_credit_notes", "status = 'finalized'"),
                ("wallet_movements", "fct_wallet_transactions", "true"),
            )
        }
    # The month's own documents; the ledger file holds every month (`ledger_*`).
    return dg.MaterializeResult(
        metadata={
            **posted,
            "ledger_invoices": result.invoices_posted,
            "ledger_credit_notes": result.credit_notes_posted,
            "ledger_wallet_movements": result.wallet_movements_posted,
            "ledger_transactions": result.transactions_written,
            "changed": result.changed,
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(
    key=["files", "marts_parquet"],
    deps=[
        dbt_asset_key(name)
        for name in (
            *BILLING_MARTS,
            "rejected_inputs",
            "invoice_line_events",
            "fct_invoice_line_tiers",  # read by `meterhouse explain` from the snapshot too
        )
    ],
    kinds={"parquet"},
    **MONTHLY_OUTPUT,
)
def marts_parquet(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """A Parquet copy of every `billing` table, and billing_snapshot.duckdb holding them all,
    so that BI tools never lock the warehouse file. Views (`invoice_line_events`: the events
    behind every charge line) are published as tables under the same name."""
    folder = current_locations().output_dir / "marts"
    with warehouse.get_connection() as conn:
        counts = publish_marts(conn, folder)
    return dg.MaterializeResult(
        metadata={**{f"{t}_rows": n for t, n in counts.items()}, "folder": str(folder)}
    )


def publish_marts(conn: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Copy every `billing` table to `folder` as Parquet and as one DuckDB snapshot; return the
    row count of each. Shared by the close and the usage refresh (orchestration/assets/usage.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(folder)
    counts = {}
    tables = [
        row[0]
        for row in conn.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'billing' order by table_name"
        ).fetchall()
    ]
    for table in tables:
        target = folder / f"{table}.parquet"
        # Readers see the old file or the new one, never half.
        with replaced_atomically(target) as temporary:
            conn.execute(f"copy (select * from billing.{table}) to '{temporary}' (format parquet)")
        # Counted from the Parquet: a view is computed once, by the copy.
        counts[table] = one_row(conn.execute(f"select count(*) from read_parquet('{target}')"))[0]
    # Not billing.duckdb: a catalog named `billing` would make `billing.<table>` ambiguous.
    _publish_snapshot(conn, tables, folder / "billing_snapshot.duckdb")
    return counts


def _publish_snapshot(conn: duckdb.DuckDBPyConnection, tables: list[str], target: Path) -> None:
    """The same tables as one DuckDB file (schema `billing`), replaced whole like the Parquet.

    A BI tool may keep it open while runs go on; it is written in the storage format of DuckDB
    1.4, which older drivers read too (docs/contributing.md).
    """
    with replaced_atomically(target) as temporary:
        conn.execute(f"attach '{temporary}' as billing_snapshot (storage_version 'v1.4.0')")
        try:
            conn.execute("create schema billing_snapshot.billing")
            for table in tables:
                # From the Parquet just written: a view (invoice_line_events) is computed once.
                parquet = target.parent / f"{table}.parquet"
                conn.execute(
                    f"create table billing_snapshot.billing.{table} as "
                    f"select * from read_parquet('{parquet}')"
                )
        finally:
            conn.execute("detach billing_snapshot")


# What credit_note_pdfs reads: the notes, their items and taxes, the credited invoice, the customer.
CREDIT_NOTE_MARTS = (
    "fct_credit_notes",
    "fct_credit_note_items",
    "fct_credit_note_taxes",
    "fct_invoices",
    "dim_customers",
)


@dg.asset(
    key=["files", "credit_note_pdfs"],
    deps=[dbt_asset_key(name) for name in CREDIT_NOTE_MARTS],
    kinds={"pdf"},
    **MONTHLY_OUTPUT,
)
def credit_note_pdfs(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """One PDF per finalized credit note of the month, under credit_notes/YYYY-MM/<number>.pdf."""
    output_dir = current_locations().output_dir
    count = rendered = skipped = 0
    started = time.perf_counter()
    for key in context.partition_keys:
        month = date.fromisoformat(f"{key}-01")
        with warehouse.get_connection() as conn:
            credit_notes = finalized_credit_notes_for_month(conn, month)
        folder = output_dir / "credit_notes" / key
        sweep_temporaries(folder)
        for credit_note in credit_notes:
            count += 1
            path = folder / f"{_safe_file_name(credit_note.credit_note_number)}.pdf"
            if path.exists():  # finalized credit notes never change, nor do their PDFs
                skipped += 1
                continue
            write_atomically(path, render_credit_note_pdf_bytes(credit_note), point="pdf_writing")
            rendered += 1
    seconds = time.perf_counter() - started
    return dg.MaterializeResult(
        metadata={
            "count": count,
            "rendered": rendered,
            "already_rendered": skipped,
            "seconds": round(seconds, 3),
            "folder": dg.MetadataValue.path(str(output_dir / "credit_notes")),
        }
    )
