"""The exact arithmetic macros of dbt_project/macros/money.sql (issue 13 item 7), compiled by dbt
and run by DuckDB on numbers up to the 29 integer digits of decimal(38, 9), against Python's
decimal module: products and quotients beyond the 20 integer digits DuckDB keeps for a product,
and a usage sum beyond the limit stopping with an error that names its metric and subscription.
"""

import os
import random
import subprocess
from decimal import ROUND_HALF_UP, Decimal, localcontext

import duckdb
import pytest

from orchestration.project import DBT_EXECUTABLE
from orchestration.settings import REPO_ROOT

NINE = Decimal("1e-9")
LIMIT = Decimal("1e29")


EXPRESSIONS = {
    "multiply": "{{ multiply_exact('a', 'b') }}",
    "divide": "{{ divide_exact('a', 'b') }}",
    "sum": "{{ sum_within_limit('a', \"'the sum of metric ' || any_value(m)\") }}",
    "prorate_whole": "{{ prorate_whole('a', 'c') }}",
    "prorate_exact": "{{ prorate_exact('a', 'b', 'c', 'w') }}",
    "round_literal": "{{ round_units('a', \"'ceil'\", 5) }}",
    "round_general": "{{ round_units('a', 'f', 'p') }}",
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each of EXPRESSIONS as dbt compiles it for DuckDB, all from one `dbt compile` (each
    invocation parses the project)."""
    tmp_path = tmp_path_factory.mktemp("compiled")
    env = {**os.environ, "MH_WAREHOUSE": str(tmp_path / "unused.duckdb")}
    columns = ", ".join(f"{expression} as mh_{name}" for name, expression in EXPRESSIONS.items())
    done = subprocess.run(
        [
            DBT_EXECUTABLE,
            "compile",
            "--quiet",
            "--target-path",
            str(tmp_path / "target"),
            "--inline",
            f"select {columns} from t",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    text = done.stdout[done.stdout.index("select ") + len("select ") :]
    expressions = {}
    for name in EXPRESSIONS:
        end = text.index(f" as mh_{name}")
        expressions[name] = text[:end].strip()
        text = text[end + len(f" as mh_{name}") :].removeprefix(",")
    return expressions


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


def _run_each(expression: str, pairs: list[tuple[Decimal, Decimal]]) -> list[object]:
    """The compiled expression on each pair: the value, or 'error' if DuckDB refuses that pair.

    One query for all pairs, so the long expression is planned once: TRY turns a pair's error
    into NULL, and each NULL is run again alone to tell an error from a NULL result.
    """
    conn = duckdb.connect()
    conn.execute("create table t (n integer, a decimal(38, 9), b decimal(38, 9))")
    conn.executemany(
        "insert into t values (?, ?, ?)", [[n, a, b] for n, (a, b) in enumerate(pairs)]
    )
    results = [
        row[0] for row in conn.execute(f"select try({expression}) from t order by n").fetchall()
    ]
    for n, result in enumerate(results):
        if result is None:
            try:
                results[n] = conn.execute(
                    f"select {expression} from t where n = ?", [n]
                ).fetchone()[0]
            except duckdb.Error:
                results[n] = "error"
    return results


def test_multiply_exact_is_the_exact_product_rounded_half_away_from_zero(compiled, pairs):
    checked = 0
    with localcontext() as exact:
        exact.prec = 80
        for (a, b), got in zip(pairs, _run_each(compiled["multiply"], pairs), strict=True):
            expected = _exact(a * b)
            if abs(expected) >= LIMIT:
                assert got == "error", (a, b)  # beyond the decimal: refused, never wrapped
                continue
            assert got == expected, (a, b)
            checked += 1
    assert checked > 500


def test_divide_exact_is_the_exact_quotient_rounded_half_away_from_zero(compiled, pairs):
    checked = 0
    with localcontext() as exact:
        exact.prec = 80
        for (a, b), got in zip(pairs, _run_each(compiled["divide"], pairs), strict=True):
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


def test_a_sum_beyond_29_digits_stops_with_an_error_naming_what_it_sums(compiled):
    sql = f"select {compiled['sum']} as result from t"
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


def test_prorate_exact_is_the_exact_share_rounded_once_beyond_the_products_limit(compiled, pairs):
    # quantity x days / period_days, where quantity x days alone may pass 29 integer digits
    # (a prorated sum's value times its active days; a prorated graduated tier's amount). The
    # models pass prorate_whole as a column, as here (inline, the SQL text grows too long).
    whole, share = compiled["prorate_whole"], compiled["prorate_exact"]
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
    compiled, pairs
):
    """`round_units(x, "'ceil'", 5)` (the prorated units) compiles to one branch instead of 48,
    which kept nested calls from growing to megabytes of SQL (docs/performance.md), and equals
    the general form that reads the function and the precision from columns."""
    literal_sql, general_sql = compiled["round_literal"], compiled["round_general"]
    assert len(literal_sql) * 10 < len(general_sql)
    sql = f"select {literal_sql} as literal, {general_sql} from t"
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
