"""The columns invoices need (issue 14): payment terms and document locales in the catalog's
billing_entity.csv and in customers/, validated, optional, and compatible with older files and
warehouses."""

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.landing.catalog import CatalogError, load_catalog
from orchestration.landing.loader import ensure_raw_tables, load_folder
from orchestration.settings import REPO_ROOT

ENTITY_HEADER = (
    "name,legal_name,address_line1,address_line2,city,zipcode,country,email,"
    "tax_identification_number,timezone,invoice_prefix,document_numbering,net_payment_term,"
    "document_locale,invoice_footer,payment_details"
)
CUSTOMER = {
    "external_customer_id": "c1",
    "name": "Kessler & Voigt",
    "country": "DE",
    "currency": "EUR",
    "updated_at": "2026-01-01T00:00:00Z",
}


def _catalog(tmp_path: Path, entity: str) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    for source in (REPO_ROOT / "seeds" / "catalog").glob("*.csv"):
        (folder / source.name).write_text(source.read_text())
    (folder / "billing_entity.csv").write_text(entity)
    return folder


def test_the_billing_entity_loads_its_terms_locale_footer_and_multi_line_details(tmp_path):
    conn = duckdb.connect()
    entity = (
        f"{ENTITY_HEADER}\n"
        "Lumen,Lumen Inc.,1 St,,Paris,75002,FR,b@l.example,FR1,Europe/Paris,LUM,per_customer,"
        '30,fr-CH,"Merci, à bientôt","IBAN FR76 0000\nBIC EXAMFRPP"\n'
    )
    load_catalog(conn, _catalog(tmp_path, entity))
    row = conn.execute(
        "select net_payment_term, document_locale, invoice_footer, payment_details "
        "from raw.catalog_billing_entity"
    ).fetchone()
    assert row == ("30", "fr-CH", "Merci, à bientôt", "IBAN FR76 0000\nBIC EXAMFRPP")


def test_a_billing_entity_without_the_new_columns_still_loads(tmp_path):
    conn = duckdb.connect()
    entity = "name,timezone,document_numbering\nAcme,UTC,per_customer\n"
    load_catalog(conn, _catalog(tmp_path, entity))
    assert conn.execute(
        "select net_payment_term, document_locale from raw.catalog_billing_entity"
    ).fetchone() == (None, None)


@pytest.mark.parametrize(
    ("term", "locale", "rule"),
    [
        ("-5", "en", "net_payment_term must be a whole number of days from 0 to 9999"),
        ("thirty", "en", "net_payment_term must be a whole number of days from 0 to 9999"),
        ("30", "pt", "document_locale must be one of en, fr, de, es, ja"),
        ("30", "fr_FRANCE", "document_locale must be one of en, fr, de, es, ja"),
    ],
)
def test_a_bad_term_or_locale_names_the_line_and_the_rule(tmp_path, term, locale, rule):
    entity = f"{ENTITY_HEADER}\nLumen,,,,,,US,,,UTC,LUM,per_customer,{term},{locale},,\n"
    with pytest.raises(CatalogError) as error:
        load_catalog(duckdb.connect(), _catalog(tmp_path, entity))
    assert f"billing_entity.csv line 2: {rule}" in str(error.value)


def _load_customers(tmp_path: Path, rows: list[dict], conn=None) -> tuple:
    folder = tmp_path / "customers"
    folder.mkdir(exist_ok=True)
    (folder / f"c{len(list(folder.iterdir()))}.ndjson").write_text(
        "".join(json.dumps(row) + "\n" for row in rows)
    )
    conn = conn or duckdb.connect()
    return conn, load_folder(conn, "customers", folder)


def test_customers_carry_their_document_locale_and_payment_term(tmp_path):
    conn, stats = _load_customers(
        tmp_path,
        [
            {**CUSTOMER, "document_locale": "DE-at", "net_payment_term": "30"},
            {**CUSTOMER, "external_customer_id": "c2"},
        ],
    )
    assert stats.rows_loaded == 2 and stats.rows_rejected == 0
    assert conn.execute(
        "select external_customer_id, document_locale, net_payment_term "
        "from raw.customers order by 1"
    ).fetchall() == [("c1", "DE_at", 30), ("c2", None, None)]  # any case: "de_AT" when read


@pytest.mark.parametrize(
    "change",
    [
        {"document_locale": "pt"},
        {"document_locale": "english"},
        {"net_payment_term": "-1"},
        {"net_payment_term": "30 days"},
        {"net_payment_term": "12345"},
    ],
)
def test_a_bad_locale_or_term_quarantines_the_customer_row(tmp_path, change):
    _, stats = _load_customers(tmp_path, [{**CUSTOMER, **change}])
    assert stats.rows_loaded == 0 and stats.rejected_by_reason == {"bad_value": 1}


def test_rows_loaded_before_the_new_columns_stay_exact_duplicates(tmp_path):
    """A warehouse made before the columns existed: raw.customers lacks them and its rows were
    hashed without them. The columns are added, and an old row sent again is a duplicate."""
    conn = duckdb.connect()
    ensure_raw_tables(conn)
    conn.execute("alter table raw.customers drop column document_locale")
    conn.execute("alter table raw.customers drop column net_payment_term")
    _, first = _load_customers(tmp_path, [CUSTOMER], conn)
    assert first.rows_loaded == 1
    # Another file (a file with the same content is skipped whole), repeating the old row.
    other = {**CUSTOMER, "external_customer_id": "c2"}
    _, again = _load_customers(tmp_path, [CUSTOMER, other], conn)
    assert (again.rows_loaded, again.rows_duplicate, again.rows_rejected) == (1, 1, 0)
    _, changed = _load_customers(tmp_path, [{**CUSTOMER, "document_locale": "de"}], conn)
    assert changed.rejected_by_reason == {"conflicting_duplicate": 1}
