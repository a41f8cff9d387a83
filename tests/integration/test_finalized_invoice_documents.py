"""Invoices finance would send, through a real close and finalization (issue 14).

The demo month of cli_runs.shared_reference (built once per session and shared with the crash and
concurrency modules) has customers writing in German, French and Japanese, a customer with two
subscriptions, graduated and package charges with free tiers, coupons and wallets. Its finalized
PDFs are read back with pypdf and pdffonts and compared with the warehouse.
"""

import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from babel import Locale
from babel.dates import format_date
from cli_runs import MONTH  # beside this module, like the crash and concurrency tests
from pypdf import PdfReader

from invoice_render import document_locale, render_invoice_pdf_bytes
from orchestration.invoices import finalized_invoices_for_month

pytestmark = pytest.mark.integration


@pytest.fixture
def workspace(cli_reference: dict) -> Path:
    """The reference workspace after its close and finalization (read, never written)."""
    return cli_reference["root"] / "reference"


def query(workspace: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(workspace / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def pdf_text(path: Path) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(path).pages)


def test_payment_due_date_is_the_issuing_date_plus_the_net_payment_term(workspace: Path):
    rows = query(
        workspace,
        """
        select invoices.invoice_number, invoices.status, invoices.issuing_date,
               invoices.payment_due_date, customers.net_payment_term
        from billing.fct_invoices as invoices
        inner join billing.dim_customers as customers using (external_customer_id)
        """,
    )
    assert rows and all(status == "finalized" for _, status, *_ in rows)
    for number, _, issued, due, term in rows:
        assert due == issued + timedelta(days=term), number
    # Some customers have their own term (30), the others the billing entity's (15).
    assert {term for *_, term in rows} == {15, 30}


def test_tier_rows_add_up_to_their_lines(workspace: Path):
    tiers = query(
        workspace,
        """
        select tiers.invoice_line_id, tiers.step_kind, tiers.units, tiers.unit_amount,
               tiers.flat_amount, tiers.packages, tiers.precise_amount, lines.precise_amount,
               lines.charge_code
        from billing.fct_invoice_line_tiers as tiers
        inner join billing.fct_invoice_lines as lines using (invoice_line_id)
        """,
    )
    assert {kind for _, kind, *_ in tiers} == {"tier", "free_units", "packages"}
    sums: dict[str, Decimal] = {}
    for line_id, kind, units, price, flat, packages, amount, *_ in tiers:
        expected = packages * price if kind == "packages" else units * price + flat
        assert amount == expected, line_id
        sums[line_id] = sums.get(line_id, Decimal(0)) + amount
    line_amounts = {row[0]: row[7] for row in tiers}
    assert sums == line_amounts
    frozen = query(workspace, "select count(*) from ledger.finalized_invoice_line_tiers")
    assert frozen == [(len(tiers),)]


def _invoice(workspace: Path, currency: str) -> tuple:
    """The invoice in `currency` with the most subscriptions, then the most tier rows."""
    return query(
        workspace,
        f"""
        select invoices.invoice_number, customers.document_locale, customers.country,
               invoices.payment_due_date,
               count(distinct lines.external_subscription_id) as subscriptions,
               count(tiers.invoice_line_tier_id) as tier_rows
        from billing.fct_invoices as invoices
        inner join billing.dim_customers as customers using (external_customer_id)
        inner join billing.fct_invoice_lines as lines using (invoice_id)
        left join billing.fct_invoice_line_tiers as tiers using (invoice_line_id)
        where invoices.currency = '{currency}'
        group by all
        order by subscriptions desc, tier_rows desc, invoices.invoice_number
        limit 1
        """,
    )[0]


def _assert_every_font_embedded(path: Path) -> set[str]:
    if not shutil.which("pdffonts"):
        pytest.skip("pdffonts (poppler-utils) is not installed; .ci/run installs it")
    output = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    rows = [line.split() for line in output.stdout.splitlines()[2:] if line.strip()]
    assert rows and all(row[-5] == "yes" for row in rows), output.stdout
    return {row[0].partition("+")[2] for row in rows}


def _credits(workspace: Path, number: str) -> list[str]:
    return [
        code
        for (code,) in query(
            workspace,
            f"""
            select coalesce(credits.coupon_code, credits.wallet_code)
            from billing.fct_invoice_credits as credits
            inner join billing.fct_invoices as invoices using (invoice_id)
            where invoices.invoice_number = '{number}' and credits.credit_type <> 'credit_note'
            """,
        )
    ]


def _plans(workspace: Path, number: str) -> list[tuple[str, str]]:
    return query(
        workspace,
        f"""
        select distinct plans.plan_name, lines.external_subscription_id
        from billing.fct_invoice_lines as lines
        inner join billing.fct_invoices as invoices using (invoice_id)
        inner join staging.stg_catalog__plans as plans using (plan_code)
        where invoices.invoice_number = '{number}'
        """,
    )


@pytest.mark.parametrize(
    ("currency", "language", "labels"),
    [
        ("EUR", "de", ("Rechnung", "Zu zahlen", "Fällig am", "Einzelpreis")),
        ("JPY", "ja", ("請求書", "ご請求金額", "お支払期限", "単価")),
    ],
)
def test_pdfs_group_by_plan_show_tiers_due_date_credits_in_the_customer_locale(
    workspace: Path, currency: str, language: str, labels: tuple[str, ...]
):
    number, locale, country, due, subscriptions, tier_rows = _invoice(workspace, currency)
    assert locale == language and tier_rows > 0
    path = workspace / "output" / "invoices" / MONTH / f"{number}.pdf"
    text = pdf_text(path)
    for label in labels:
        assert label in text, (number, label)
    assert "Invoice" not in text and "Total due" not in text
    document = document_locale(language, country)
    assert Locale.parse(document).territories[country] in text  # "Deutschland", "日本"
    # Each subscription under its plan's name, in the customer's words.
    reference = {"de": "Abonnement", "ja": "契約"}[language]
    for plan_name, subscription in _plans(workspace, number):
        assert f"{plan_name} · {reference} {subscription}" in text
    if currency == "EUR":
        assert subscriptions == 2
    # Tiers: free tiers explained, no average price of a tiered line.
    free = {"de": "Einheiten frei", "ja": "単位は無料"}[language]
    assert free in text
    assert format_date(due, "medium", locale=document) in text
    for code in _credits(workspace, number):
        assert code in text
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= _assert_every_font_embedded(path)
    if language == "ja":
        assert "WenQuanYiMicroHei-0" in _assert_every_font_embedded(path)


def test_a_finalized_invoice_renders_again_to_the_same_bytes(workspace: Path):
    with duckdb.connect(str(workspace / "warehouse.duckdb"), read_only=True) as conn:
        invoices = finalized_invoices_for_month(conn, date.fromisoformat(f"{MONTH}-01"))
    assert any(line.tiers for invoice in invoices for line in invoice.lines)
    for invoice in invoices:
        path = workspace / "output" / "invoices" / MONTH / f"{invoice.invoice_number}.pdf"
        assert render_invoice_pdf_bytes(invoice) == path.read_bytes(), invoice.invoice_number
