"""The exact arithmetic macros of dbt_project/macros/money.sql (issue 13 item 7), compiled by dbt
and run by DuckDB on numbers up to the 29 integer digits of decimal(38, 9), against Python's
decimal module: products and quotients beyond the 20 integer digits DuckDB keeps for a product,
and a usage sum beyond the limit stopping with an error that names its metric and subscription.
"""

import os
import random
import subprocess
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import duckdb
import pytest

from orchestration.project import DBT_EXECUTABLE
from orchestration.settings import REPO_ROOT

NINE = Decimal("1e-9")
LIMIT = Decimal("1e29")


def _compiled(tmp_path: Path, expression: str) -> str:
    """`select <expression> as result from t`, as dbt compiles it for DuckDB."""
    env = {**os.environ, "MH_WAREHOUSE": str(tmp_path / "unused.duckdb")}
    done = subprocess.run(
        [
            DBT_EXECUTABLE,
            "compile",
            "--quiet",
            "--target-path",
            str(tmp_path / "target"),
            "--inline",
            f"select {expression} as result from t",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout[done.stdout.index("select") :]


def _exact(value: Decimal) -> Decimal:
    return value.quantize(NINE, rounding=ROUND_HALF_UP)


def _random_number(rng: random.Random) -> Decimal:
    digits = rng.randint(0, 29)
    whole = rng.randint(0, 10**digits - 1) if digits else 0
    number = Decimal(whole) + Decimal(rng.randint(0, 10**9 - 1)) * NINE
    return -number if rng.random() < 0.3 else number


@pytest.fixture(scope="module")
def pairs() -> list[tuple[Decimal, Decimal]]:
    rng = random.Random(13)
    edges = [
        (Decimal("1234567890123456789012345680"), Decimal("0.01")),
        (Decimal("99999999999999999999999999999.999999999"), Decimal(1)),
        (Decimal("0.000000001"), Decimal("0.5")),
        (Decimal("-0.000000001"), Decimal("0.5")),
        (Decimal(1), Decimal(2000000000)),
        (Decimal("99999999999999999999999999999"), Decimal("2e28")),
    ]
    return edges + [(_random_number(rng), _random_number(rng)) for _ in range(1500)]


def _run_each(sql: str, pairs: list[tuple[Decimal, Decimal]]) -> list[object]:
    """The compiled expression on each pair alone: the value, or 'error' if DuckDB refuses."""
    conn = duckdb.connect()
    conn.execute("create table t (a decimal(38, 9), b decimal(38, 9))")
    results = []
    for a, b in pairs:
        conn.execute("delete from t")
        conn.execute("insert into t values (?, ?)", [a, b])
        try:
            results.append(conn.execute(sql).fetchone()[0])
        except duckdb.Error:
            results.append("error")
    return results


def test_multiply_exact_is_the_exact_product_rounded_half_away_from_zero(tmp_path, pairs):
    sql = _compiled(tmp_path, "{{ multiply_exact('a', 'b') }}")
    checked = 0
    with localcontext() as exact:
        exact.prec = 80
        for (a, b), got in zip(pairs, _run_each(sql, pairs), strict=True):
            expected = _exact(a * b)
            if abs(expected) >= LIMIT:
                assert got == "error", (a, b)  # beyond the decimal: refused, never wrapped
                continue
            assert got == expected, (a, b)
            checked += 1
    assert checked > 500


def test_divide_exact_is_the_exact_quotient_rounded_half_away_from_zero(tmp_path, pairs):
    sql = _compiled(tmp_path, "{{ divide_exact('a', 'b') }}")
    checked = 0
    with localcontext() as exact:
        exact.prec = 80
        for (a, b), got in zip(pairs, _run_each(sql, pairs), strict=True):
            if b == 0:
                assert got is None
                continue
            expected = _exact(a / b)
            if abs(expected) >= LIMIT:
                assert got == "error", (a, b)
                continue
            assert got == expected, (a, b)
            checked += 1
    assert checked > 1000


def test_a_sum_beyond_29_digits_stops_with_an_error_naming_what_it_sums(tmp_path):
    sql = _compiled(
        tmp_path, "{{ sum_within_limit('a', \"'the sum of metric ' || any_value(m)\") }}"
    )
    conn = duckdb.connect()

    def total(*values: str) -> Decimal:
        conn.execute("create or replace table t (a decimal(38, 9), m varchar)")
        conn.executemany("insert into t values (?, 'huge_sum')", [[Decimal(v)] for v in values])
        return conn.execute(sql).fetchone()[0]

    assert total("1.5", "-2.25") == Decimal("-0.75")
    conn.execute("update t set a = null")
    assert conn.execute(sql).fetchone()[0] is None  # a count metric's values: no sum
    # At the limit, the integer and fractional parts summed apart meet exactly.
    assert total("99999999999999999999999999998.6", "0.4") == Decimal(
        "99999999999999999999999999999"
    )
    assert total("99999999999999999999999999999.999999999", "-0.5", "0.5") == Decimal(
        "99999999999999999999999999999.999999999"
    )
    for values in (("6e28", "6e28"), ("-99999999999999999999999999999.6", "-0.4")):
        with pytest.raises(duckdb.Error) as error:
            total(*values)
        assert (
            "the sum of metric huge_sum exceeds the 29 integer digits Meterhouse can bill exactly"
            in str(error.value)
        )


def test_prorate_exact_is_the_exact_share_rounded_once_beyond_the_products_limit(tmp_path, pairs):
    # quantity x days / period_days, where quantity x days alone may pass 29 integer digits
    # (a prorated sum's value times its active days; a prorated graduated tier's amount). The
    # models pass prorate_whole as a column, as here (inline, the SQL text grows too long).
    whole, share = (
        sql[len("select ") : sql.rindex(" as result")]
        for sql in (
            _compiled(tmp_path, "{{ prorate_whole('a', 'c') }}"),
            _compiled(tmp_path, "{{ prorate_exact('a', 'b', 'c', 'w') }}"),
        )
    )
    sql = f"select {share} as result from (select *, {whole} as w from t) as with_whole"
    rng = random.Random(21)
    cases = [(a, rng.randint(1, 366)) for a, _ in pairs[:400]]
    cases = [(a, rng.randint(1, period), period) for a, period in cases] + [
        (Decimal("99999999999999999999999999999.999999999"), 31, 31),
        (Decimal("99999999999999999999999999999.999999999"), 30, 31),
        (Decimal("-99999999999999999999999999999.999999999"), 1, 366),
        (Decimal("0.000000015"), 1, 3),  # 0.000000005: half away from zero
        (Decimal("-0.000000015"), 1, 3),
        (Decimal("5"), 31, 31),
    ]
    conn = duckdb.connect()
    conn.execute("create table t (n integer, a decimal(38, 9), b integer, c integer)")
    conn.executemany(
        "insert into t values (?, ?, ?, ?)", [[n, *case] for n, case in enumerate(cases)]
    )
    # One query for all cases (none passes the limit): planning the long expression once.
    got = conn.execute(sql.replace(" as result ", " as result, n ") + " order by n").fetchall()
    with localcontext() as exact:
        exact.prec = 80
        for (quantity, days, period), (result, _) in zip(cases, got, strict=True):
            assert result == _exact(quantity * days / period), (quantity, days, period)


def test_round_units_with_a_constant_precision_and_function_keeps_one_branch_of_the_same_value(
    tmp_path, pairs
):
    """`round_units(x, "'ceil'", 5)` (the prorated units) compiles to one branch instead of 48,
    which kept nested calls from growing to megabytes of SQL (docs/performance.md), and equals
    the general form that reads the function and the precision from columns."""
    literal = "{{ round_units('a', \"'ceil'\", 5) }}"
    general = "{{ round_units('a', 'f', 'p') }}"
    sql = _compiled(tmp_path, f"{literal} as literal, {general}")
    literal_sql, general_sql = sql.split(" as literal,")
    assert len(literal_sql) * 10 < len(general_sql)
    conn = duckdb.connect()
    conn.execute("create table t (a decimal(38, 9), f varchar, p integer)")
    conn.executemany(
        "insert into t values (?, 'ceil', 5)",
        [[a] for a, _ in pairs if abs(a) < LIMIT / 10] + [[None], [Decimal(0)]],
    )
    rows = conn.execute(sql.replace("from t", "from t order by all")).fetchall()
    assert rows and all(got == expected for got, expected in rows)
    with localcontext() as exact:
        exact.prec = 80
        for a in (Decimal("1.000001"), Decimal("-1.000009"), Decimal("2.5")):
            conn.execute("delete from t")
            conn.execute("insert into t values (?, 'ceil', 5)", [a])
            got = conn.execute(sql).fetchone()
            expected = a.quantize(Decimal("1e-5"), rounding="ROUND_CEILING")
            assert got == (expected, expected), a
