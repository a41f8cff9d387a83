"""`make lint`'s SQL step: sqlfluff's command line, with the dbt compiler set up for linting.

Run as `python -m meterhouse_tools.sql_lint lint dbt_project` (docs/contributing.md, "SQL lint").
The dbt templater compiles each model in this process (also under `--processes`: the workers
inherit the settings below), so two adjustments hold for every file:

- dbt injects ephemeral models into the model that refs them by tokenizing that model with
  sqlparse. sqlparse caps a statement at 10,000 tokens; dbt's own commands lift the cap (their
  `--sqlparse` option defaults to no limit), but the templater calls dbt's compiler without going
  through that option, so the largest models (`int_invoice_lines_drafted`) would fail to compile
  and be skipped.
- `multiply_exact` and `divide_exact` (macros/money.sql) expand on DuckDB into long, nested
  integer arithmetic: a model with a few of them renders to tens of kilobytes, and sqlfluff then
  spends minutes on SQL that is none of the model's own text (it never reports what a macro
  emits). For the lint only they render as the plain `cast(a * b as decimal(38, 9))` and
  `cast(a / nullif(b, 0) as decimal(38, 9))`; every other macro renders as dbt builds it.
"""

from collections.abc import Callable
from typing import Any

import sqlparse.engine.grouping
from dbt.context.providers import BaseDatabaseWrapper
from sqlfluff.cli.commands import cli


def _decimal(expression: object) -> str:
    return f"cast({expression} as decimal(38, 9))"


def _plain_multiply(left: object, right: object) -> str:
    return f"cast({_decimal(left)} * {_decimal(right)} as decimal(38, 9))"


def _plain_divide(numerator: object, denominator: object) -> str:
    return f"cast({_decimal(numerator)} / nullif({_decimal(denominator)}, 0) as decimal(38, 9))"


PLAIN_MACROS: dict[str, Callable[[object, object], str]] = {
    "multiply_exact": _plain_multiply,
    "divide_exact": _plain_divide,
}


class _PlainMacro:
    """A macro in its plain form; other attributes (dbt reads `.macro`) are the real macro's."""

    def __init__(self, render: Callable[[object, object], str], generator: Any) -> None:
        self._render = render
        self._generator = generator

    def __call__(self, first: object, second: object) -> str:
        return self._render(first, second)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._generator, name)


def _dispatch_plain(dispatch: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap dbt's `adapter.dispatch` so the macros of PLAIN_MACROS resolve to their plain form."""

    def wrapped(self: BaseDatabaseWrapper, macro_name: str, *args: Any, **kwargs: Any) -> Any:
        generator = dispatch(self, macro_name, *args, **kwargs)
        render = PLAIN_MACROS.get(macro_name)
        return generator if render is None else _PlainMacro(render, generator)

    return wrapped


def main() -> None:
    """Set up dbt's compiler for linting (module docstring), then run sqlfluff's command line."""
    sqlparse.engine.grouping.MAX_GROUPING_TOKENS = None  # type: ignore[assignment]  # dbt sets None
    sqlparse.engine.grouping.MAX_GROUPING_DEPTH = None  # type: ignore[assignment]  # likewise
    BaseDatabaseWrapper.dispatch = _dispatch_plain(BaseDatabaseWrapper.dispatch)  # type: ignore[method-assign]
    cli()


if __name__ == "__main__":
    main()
