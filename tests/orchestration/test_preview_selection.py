"""Which drafted invoices of the scratch copy become previews, and how a preview replaces the
earlier ones (orchestration/preview.py, docs/preview.md), on a hand-made copy: no close needed.

The copy holds two customers. `cust_tokyo` (Asia/Tokyo) has a subscription billed on Dec 1 and on
Jan 1, a finalized invoice and an instant (pay-in-advance) invoice; `cust_utc` one billed on
Dec 1. The end-to-end check against a real close is tests/integration/test_invoice_preview.py.
"""

from datetime import datetime
from pathlib import Path

import duckdb

from orchestration import preview

COPY_DDL = """
create schema intermediate;
create schema billing;
create table intermediate.int_subscription_phases (
    external_subscription_id varchar, external_customer_id varchar, timezone varchar,
    started_at timestamp, ended_at timestamp
);
insert into intermediate.int_subscription_phases values
    ('sub_tokyo', 'cust_tokyo', 'Asia/Tokyo', '2026-10-01', null),
    ('sub_utc', 'cust_utc', 'UTC', '2026-10-01', null),
    ('sub_ended', 'cust_utc', 'UTC', '2026-10-01', '2026-11-10');
create table billing.fct_invoices (
    invoice_id varchar, invoice_number varchar, status varchar, invoice_type varchar,
    external_customer_id varchar, issuing_date date, total_amount decimal(38, 4)
);
insert into billing.fct_invoices values
    ('inv_final', 'N-1', 'finalized', 'subscription', 'cust_tokyo', '2026-11-01', 1),
    ('inv_advance', null, 'draft', 'pay_in_advance', 'cust_tokyo', '2026-11-20', 2),
    ('inv_tokyo_dec', null, 'draft', 'subscription', 'cust_tokyo', '2026-12-01', 3),
    ('inv_tokyo_jan', null, 'draft', 'subscription', 'cust_tokyo', '2027-01-01', 4),
    ('inv_utc_dec', null, 'draft', 'subscription', 'cust_utc', '2026-12-01', 5),
    ('inv_ended', null, 'draft', 'subscription', 'cust_utc', '2026-11-11', 6);
create table billing.fct_invoice_lines (
    invoice_line_id varchar, invoice_id varchar, external_customer_id varchar,
    external_subscription_id varchar, amount decimal(38, 4)
);
insert into billing.fct_invoice_lines
    select 'l_' || invoice_id, invoice_id, external_customer_id,
        case when invoice_id = 'inv_ended' then 'sub_ended'
             when external_customer_id = 'cust_tokyo' then 'sub_tokyo' else 'sub_utc' end,
        total_amount
    from billing.fct_invoices;
create table billing.fct_invoice_taxes (invoice_tax_id varchar, invoice_id varchar,
    external_customer_id varchar);
create table billing.fct_invoice_credits (invoice_credit_id varchar, invoice_id varchar,
    external_customer_id varchar, status varchar);
insert into billing.fct_invoice_credits
    select 'c_' || invoice_id, invoice_id, external_customer_id, 'draft' from billing.fct_invoices;
"""


def _copy(tmp_path: Path) -> Path:
    scratch = tmp_path / "copy" / "warehouse.duckdb"
    scratch.parent.mkdir()
    with duckdb.connect(str(scratch)) as conn:
        conn.execute(COPY_DDL)
    return scratch


def _previews(conn) -> list[tuple]:
    return conn.execute(
        "select invoice_id, status, invoice_number, preview_as_of_at "
        "from billing.fct_invoice_previews order by invoice_id"
    ).fetchall()


def test_the_next_period_end_invoice_of_each_active_subscription(tmp_path: Path) -> None:
    scratch = _copy(tmp_path)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        # Nov 30 16:00 UTC is Dec 1 in Tokyo: the invoice issued that day closed November's
        # period, so Tokyo's preview is the next one; in UTC it is still November.
        instant = datetime(2026, 11, 30, 16)
        assert preview._write_previews(conn, scratch, instant, None) == 2
        assert _previews(conn) == [
            ("inv_tokyo_jan", "preview", None, instant),
            ("inv_utc_dec", "preview", None, instant),
        ]
        lines = conn.execute(
            "select invoice_id from billing.fct_invoice_preview_lines order by 1"
        ).fetchall()
        assert lines == [("inv_tokyo_jan",), ("inv_utc_dec",)]
        credits = conn.execute(
            "select invoice_id, status from billing.fct_invoice_preview_credits order by 1"
        ).fetchall()
        assert credits == [("inv_tokyo_jan", "preview"), ("inv_utc_dec", "preview")]

        # One customer's preview replaces that customer's rows and keeps the others'.
        earlier = datetime(2026, 11, 15)
        assert preview._write_previews(conn, scratch, earlier, "cust_tokyo") == 1
        assert _previews(conn) == [
            ("inv_tokyo_dec", "preview", None, earlier),
            ("inv_utc_dec", "preview", None, instant),
        ]
        # Before sub_ended ended, its termination invoice was its next billing.
        assert preview._write_previews(conn, scratch, datetime(2026, 11, 5), "cust_utc") == 2
        assert [row[0] for row in _previews(conn)] == ["inv_ended", "inv_tokyo_dec", "inv_utc_dec"]


def test_the_copy_closes_up_to_the_end_of_the_longest_current_period(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        conn.execute(
            "create schema raw; "
            "create table raw.catalog_plans (plan_code varchar, interval varchar); "
            "insert into raw.catalog_plans values ('m', 'monthly'), ('y', 'yearly'); "
            "create table raw.subscriptions (external_customer_id varchar, plan_code varchar, "
            "billing_time varchar, started_at timestamp); "
            "insert into raw.subscriptions values ('a', 'm', null, '2026-01-01'), "
            "('b', 'm', 'anniversary', '2026-01-01'), ('c', 'y', 'calendar', '2026-01-01'), "
            "('d', 'y', 'anniversary', '2026-01-01'), ('e', 'y', 'anniversary', '2027-01-01')"
        )
        instant = datetime(2026, 11, 30, 16)  # local dates up to Dec 1
        # Calendar (the default): the month, or year, of the local date, December at the latest;
        # anniversary: up to an interval later.
        assert preview._last_month(conn, instant, "a") == "2026-12"
        assert preview._last_month(conn, instant, "b") == "2027-01"
        assert preview._last_month(conn, instant, "c") == "2026-12"
        assert preview._last_month(conn, instant, None) == "2027-12"
        assert preview._last_month(conn, instant, "e") == "2026-12"  # not started yet
