"""Read-only commands: `status`, `validate`, `explain` and `rejects`.

None of them builds anything or takes the warehouse lock. `explain` and `rejects` read the
warehouse, or the published snapshot (`marts/billing_snapshot.duckdb`) when the warehouse is
missing or open in another program, or when `--snapshot` names it.
"""

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import duckdb

from orchestration.settings import Locations
from orchestration.sql_rows import one_row


def add_commands(
    commands: argparse._SubParsersAction, add_locations: Callable[[argparse.ArgumentParser], None]
) -> dict[str, Callable[[argparse.Namespace, Locations], int]]:
    """Register the commands; return their handlers by name."""
    status = commands.add_parser("status", help="months closed and finalized, last run, rejects")
    validate = commands.add_parser(
        "validate", help="check the catalog and the landing files without building anything"
    )
    explain = commands.add_parser(
        "explain", help="an invoice's lines: plan, tiers, units and the events behind each"
    )
    explain.add_argument("--invoice", required=True, help="invoice number (or invoice_id)")
    explain.add_argument("--events", type=int, default=20, help="events shown per line")
    rejects = commands.add_parser("rejects", help="list rejected input rows")
    rejects.add_argument("--reason")
    rejects.add_argument("--kind", help="input kind: events, subscriptions, customers, ...")
    rejects.add_argument("--limit", type=int, default=50)
    for command in (explain, rejects):
        command.add_argument("--snapshot", type=Path, help="a published billing_snapshot.duckdb")
    for command in (status, validate, explain, rejects):
        add_locations(command)
    return {"status": _status, "validate": _validate, "explain": _explain, "rejects": _rejects}


def _print(text: str = "") -> None:
    print(text)  # noqa: T201


@contextmanager
def _billing(locations: Locations, snapshot: Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection whose `billing` schema is the warehouse's or the snapshot's."""
    candidates = (
        [snapshot]
        if snapshot
        else [
            locations.warehouse,
            locations.output_dir / "marts" / "billing_snapshot.duckdb",
        ]
    )
    errors = []
    for path in candidates:
        if not path.exists():
            errors.append(f"{path} does not exist")
            continue
        try:
            conn = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as error:
            errors.append(f"{path}: {error}")
            continue
        with conn:
            yield conn
        return
    from orchestration.runs import RunError

    raise RunError("nothing to read: " + "; ".join(errors))


def _has_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        one_row(
            conn.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            )
        )[0]
    )


def _status(args: argparse.Namespace, locations: Locations) -> int:
    """Months closed and finalized, restatements pending, the last run, rejects since it."""
    import dagster as dg

    from orchestration.partitions import first_close_month

    first = first_close_month(locations)
    _print(f"Warehouse:    {locations.warehouse}")
    _print(f"First month:  {first.month or 'none yet'} ({first.source})")
    if not locations.warehouse.exists():
        _print("Nothing closed yet.")
        return 0
    with _billing(locations, locations.warehouse) as conn:
        closed = _months(conn, "raw", "closed_months", "billing_month")
        finalized = _months(
            conn, "raw", "finalizations", "billing_month", "finished_at is not null"
        )
        pending = (
            one_row(
                conn.execute(
                    "select count(*), count(distinct invoice_id) "
                    "from billing.fct_invoice_restatements where settlement_status = 'pending'"
                )
            )
            if _has_table(conn, "billing", "fct_invoice_restatements")
            else (0, 0)
        )
        last_close = (
            one_row(conn.execute("select max(closed_at) from raw.closed_months"))[0]
            if _has_table(conn, "raw", "closed_months")
            else None
        )
        rejects = (
            conn.execute(
                "select input_kind, reason, count(*) from billing.rejected_inputs "
                "where ? is null or loaded_at >= ? group by all order by all",
                [last_close, last_close],
            ).fetchall()
            if _has_table(conn, "billing", "rejected_inputs")
            else []
        )
    drafts = [m for m in closed if m not in finalized]
    _print(f"Closed:       {_ranges(closed) or 'none'}")
    _print(f"Finalized:    {_ranges(finalized) or 'none'}")
    _print(f"Drafts:       {', '.join(drafts) or 'none'}")
    _print(
        f"Restatements: {pending[0]} line(s) of {pending[1]} finalized invoice(s) pending"
        if pending[0]
        else "Restatements: none pending"
    )
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
    if runs:
        run = runs[0]
        month = run.tags.get("meterhouse/month") or run.tags.get("dagster/partition", "")
        _print(
            f"Last run:     {run.job_name} {month} {run.status.value.lower()} "
            f"({run.run_id[:8]})".replace("  ", " ")
        )
    else:
        _print("Last run:     none in this Dagster instance")
    count = sum(row[2] for row in rejects)
    _print(f"Rejected rows loaded since the last close ({last_close}): {count}")
    for kind, reason, rows in rejects:
        _print(f"  {kind:<20} {reason:<24} {rows:>6}")
    return 0


def _months(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str, column: str, condition: str = "true"
) -> list[str]:
    if not _has_table(conn, schema, table):
        return []
    return [
        row[0]
        for row in conn.execute(
            f"select distinct strftime({column}, '%Y-%m') as month from {schema}.{table} "
            f"where {condition} order by month"
        ).fetchall()
    ]


def _ranges(months: list[str]) -> str:
    """2026-08..2026-10, 2027-01: consecutive months as ranges."""

    def index(month: str) -> int:
        return int(month[:4]) * 12 + int(month[5:]) - 1

    groups: list[list[str]] = []
    for month in months:
        if groups and index(month) == index(groups[-1][-1]) + 1:
            groups[-1].append(month)
        else:
            groups.append([month])
    return ", ".join(g[0] if len(g) == 1 else f"{g[0]}..{g[-1]}" for g in groups)


def _validate(args: argparse.Namespace, locations: Locations) -> int:
    """Load the catalog and every landing file into an in-memory DuckDB with the loader's own
    rules (nothing is written to the warehouse); report every error; non-zero if any."""
    from orchestration.landing.catalog import CatalogError, load_catalog
    from orchestration.landing.loader import ensure_raw_tables, load_folder
    from orchestration.landing.readers import LANDING_KINDS

    errors = 0
    catalog_loaded = False
    with duckdb.connect() as conn:
        ensure_raw_tables(conn)
        try:
            counts = load_catalog(conn, locations.catalog_dir)
            _print(
                f"Catalog {locations.catalog_dir}: valid "
                f"({', '.join(f'{n} {name}' for name, n in counts.items() if n)})"
            )
            catalog_loaded = True
        except CatalogError as error:
            errors += 1
            from orchestration.console import explain_catalog_violations

            _print(f"Catalog {locations.catalog_dir}: {explain_catalog_violations(str(error))}")
        for name in LANDING_KINDS:
            stats = load_folder(conn, name, locations.landing_dir / name)
            _print(
                f"{name + '/':<22} {stats.files_seen:>4} file(s) {stats.rows_read:>9} rows "
                f"{stats.rows_rejected:>6} rejected"
            )
        _reference_checks(conn, catalog_loaded)
        rejected = conn.execute(
            "select input_kind, source_file, line_number, reason, detail from raw.rejected_inputs "
            "union all select * from reference_rejections "
            "order by input_kind, source_file, line_number"
        ).fetchall()
    for _kind, source_file, line, reason, detail in rejected:
        where = f"{source_file}" + (f" line {line}" if line is not None else "")
        _print(f"  {where}: {reason}: {detail}")
    errors += len(rejected)
    _print(f"{errors} error(s)." if errors else "No error found.")
    return 1 if errors else 0


# The rules the close judges across inputs (dbt_project/macros/reference_rules.sql), over the raw
# tables as validate loaded them. The relations are named as the close's models name theirs.
REFERENCE_RELATIONS = """
create or replace temp view customers as
select external_customer_id, currency
from raw.customers
qualify row_number() over (
    partition by external_customer_id order by updated_at desc nulls last, line_number desc
) = 1;
create or replace temp view plan_currencies as
select plan_code, arg_max(currency, coalesce(valid_from, '')) as currency
from raw.catalog_plans
group by plan_code;
create or replace temp view judged_subscriptions as
select
    s.source_file,
    s.line_number,
    s.external_subscription_id,
    s.external_customer_id,
    s.plan_code,
    s.billing_time,
    c.currency as customer_currency,
    p.currency as plan_currency,
    c.external_customer_id is not null as has_customer,
    p.plan_code is not null as has_plan
from raw.subscriptions as s
left join customers as c on c.external_customer_id = s.external_customer_id
left join plan_currencies as p on p.plan_code = s.plan_code;
create or replace temp view metrics as
select distinct metric_code from raw.catalog_billable_metrics;
create or replace temp view events as
select *, code as metric_code from raw.events;
create or replace temp view coupons as
select coupon_code, try_cast(expires_at as timestamp) as expires_at from raw.catalog_coupons;
"""


def _reference_checks(conn: duckdb.DuckDBPyConnection, catalog_loaded: bool) -> None:
    """The rows the close would reject against the catalog or other inputs: subscriptions (unknown
    customer or plan, plan currency other than the customer's), events (unknown metric, no
    billable subscription), applied coupons (unknown customer or coupon, expired), wallets
    (unknown customer, other currency). Catalog references are judged only once it is valid."""
    from orchestration.sql_macros import plain_sql_macro

    def rule(name: str) -> str:
        return plain_sql_macro("reference_rules.sql", name)

    columns = "input_kind, source_file, line_number, reason, detail"
    conn.execute(
        f"create or replace temp table reference_rejections as select {columns} "
        "from raw.rejected_inputs where false"
    )
    if not catalog_loaded:
        return
    for statement in REFERENCE_RELATIONS.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(
        f"""
        create or replace temp view subscription_judgements as
        select *, {rule("subscription_rejection_reason")} as rejection_reason,
            {rule("subscription_rejection_detail")} as rejection_detail
        from judged_subscriptions;
        create or replace temp view billable_subscription_ids as
        select distinct external_subscription_id from subscription_judgements
        where rejection_reason is null;
        insert into reference_rejections
        select 'subscriptions', source_file, line_number, rejection_reason, rejection_detail
        from subscription_judgements where rejection_reason is not null;
        insert into reference_rejections
        select 'events', source_file, line_number, reason, case reason
            when 'unknown_metric' then 'no metric ' || metric_code || ' in billable_metrics.csv'
            else 'no billable subscription ' || external_subscription_id end
        from (select *, {rule("event_rejection_reason")} as reason from events)
        where reason is not null;
        insert into reference_rejections
        select 'applied_coupons', source_file, line_number, rejection_reason,
            {rule("applied_coupon_rejection_detail")}
        from (
            select applied.*, {rule("applied_coupon_rejection_reason")} as rejection_reason
            from raw.applied_coupons as applied
            left join coupons on applied.coupon_code = coupons.coupon_code
            left join customers on applied.external_customer_id = customers.external_customer_id
        )
        where rejection_reason is not null;
        insert into reference_rejections
        select 'wallets', source_file, line_number, rejection_reason,
            {rule("wallet_rejection_detail")}
        from (
            select wallets.*, {rule("wallet_rejection_reason")} as rejection_reason
            from raw.wallets as wallets
            left join customers on wallets.external_customer_id = customers.external_customer_id
        )
        where rejection_reason is not null
        """
    )


def _explain(args: argparse.Namespace, locations: Locations) -> int:
    """Each line of one invoice: subscription, plan, charge, units, amount, how it was priced
    (`fct_invoice_line_tiers`: one row per tier used or package step) and the events behind it
    (`invoice_line_events`), newest first up to --events. Only published tables are read, so the
    warehouse and the snapshot print the same."""
    from orchestration.runs import RunError

    with _billing(locations, args.snapshot) as conn:
        invoice = conn.execute(
            "select invoice_id, invoice_number, external_customer_id, currency, status, "
            "billing_month, total_amount from billing.fct_invoices "
            "where invoice_number = ? or invoice_id = ?",
            [args.invoice, args.invoice],
        ).fetchone()
        if invoice is None:
            raise RunError(f"no invoice {args.invoice!r} in billing.fct_invoices")
        invoice_id, number, customer, currency, status, month, total = invoice
        _print(
            f"Invoice {number or invoice_id} ({status}) for {customer}, billing month "
            f"{month:%Y-%m}: total {total} {currency}"
        )
        lines = conn.execute(
            "select invoice_line_id, external_subscription_id, plan_code, line_type, charge_code, "
            "metric_code, description, units, events_count, unit_amount, amount "
            "from billing.fct_invoice_lines where invoice_id = ? "
            "order by external_subscription_id, line_type, charge_code, invoice_line_id",
            [invoice_id],
        ).fetchall()
        tiers = _line_tiers(conn, invoice_id)
        for (
            line_id,
            subscription,
            plan,
            line_type,
            charge,
            metric,
            description,
            units,
            events_count,
            unit_amount,
            amount,
        ) in lines:
            _print("")
            _print(f"- {description}  [{line_type}]")
            _print(f"  subscription {subscription}, plan {plan}, charge {charge or '-'}")
            _print(
                f"  units {units} x unit price {unit_amount} = {amount} {currency} "
                f"({events_count} event(s))"
            )
            for tier in tiers.get(line_id, []):
                _print(f"  {_tier_text(tier, currency)}")
            if line_type != "charge" or not metric:
                continue
            count = one_row(
                conn.execute(
                    "select count(*) from billing.invoice_line_events where invoice_line_id = ?",
                    [line_id],
                )
            )[0]
            _print(f"  events behind this line: {count}")
            for transaction_id, event_at, source_file, line_number, properties in conn.execute(
                "select transaction_id, event_at, source_file, line_number, properties "
                "from billing.invoice_line_events where invoice_line_id = ? "
                "order by event_at desc, transaction_id limit ?",
                [line_id, args.events],
            ).fetchall():
                _print(
                    f"    {event_at} {transaction_id} {properties} ({source_file}:{line_number})"
                )
            if count > args.events:
                _print(f"    ... {count - args.events} more (--events N shows more)")
    return 0


def _line_tiers(conn: duckdb.DuckDBPyConnection, invoice_id: str) -> dict[str, list[tuple]]:
    """The invoice's rows of billing.fct_invoice_line_tiers by line, lowest tier first."""
    rows = conn.execute(
        "select invoice_line_id, step_kind, from_value, to_value, units, unit_amount, "
        "flat_amount, package_size, packages, precise_amount "
        "from billing.fct_invoice_line_tiers where invoice_id = ? "
        "order by invoice_line_id, tier_rank",
        [invoice_id],
    ).fetchall()
    by_line: dict[str, list[tuple]] = {}
    for line_id, *tier in rows:
        by_line.setdefault(line_id, []).append(tuple(tier))
    return by_line


def _number(value: Decimal | None) -> str:
    """A decimal(38, 9) without its trailing zeros: 10000, 0.001."""
    return "" if value is None else format(value.normalize(), "f")


def _tier_text(tier: tuple, currency: str) -> str:
    """One tier row: `tier 10001..: 2345 units x 0.001 + 5 flat = 7.345 USD`, a free tier
    `tier 0..10000: 10000 units free`, a package line's `free units` and `packages` rows."""
    kind, low, high, units, unit_amount, flat, size, packages, amount = tier
    if kind == "free_units":
        return f"free units: the first {_number(units)} units free"
    if kind == "packages":
        return (
            f"packages: {_number(packages)} package(s) of {_number(size)} units x "
            f"{_number(unit_amount)} = {_number(amount)} {currency}"
        )
    bounds = f"tier {_number(low)}..{_number(high)}"
    if not amount and not unit_amount and not flat:
        return f"{bounds}: {_number(units)} units free"
    flat_text = f" + {_number(flat)} flat" if flat else ""
    return (
        f"{bounds}: {_number(units)} units x {_number(unit_amount)}{flat_text} "
        f"= {_number(amount)} {currency}"
    )


def _rejects(args: argparse.Namespace, locations: Locations) -> int:
    """Rejected input rows: where they are, why, and the raw text."""
    with _billing(locations, args.snapshot) as conn:
        rows = conn.execute(
            "select input_kind, reason, source_file, line_number, detail, raw "
            "from billing.rejected_inputs "
            "where (? is null or reason = ?) and (? is null or input_kind = ?) "
            "order by input_kind, source_file, line_number limit ?",
            [args.reason, args.reason, args.kind, args.kind, args.limit],
        ).fetchall()
        total = one_row(
            conn.execute(
                "select count(*) from billing.rejected_inputs "
                "where (? is null or reason = ?) and (? is null or input_kind = ?)",
                [args.reason, args.reason, args.kind, args.kind],
            )
        )[0]
    for kind, reason, source_file, line, detail, raw in rows:
        where = source_file + (f" line {line}" if line is not None else "")
        _print(f"{where}: {reason} ({kind}): {detail}")
        if raw:
            _print(f"    {raw[:200]}")
    _print(f"{len(rows)} of {total} rejected row(s) shown." if rows else "No rejected row.")
    if total > len(rows):
        _print("(--limit N shows more)")
    sys.stdout.flush()
    return 0
