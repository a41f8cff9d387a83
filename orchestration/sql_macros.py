"""Read dbt macros of `dbt_project/macros` as SQL, so Python checks and dbt models share one rule.

Only macros written as plain SQL can be read: a body without Jinja, except its arguments, written
`{{ name }}` and replaced by the SQL text given for them, and calls of other such macros without
arguments, `{{ other() }}`. A dispatched macro is read by the name of the implementation wanted
(`duckdb__...`), since Python runs on DuckDB.
"""

import re
from functools import cache

from orchestration.settings import REPO_ROOT

DBT_MACROS = REPO_ROOT / "dbt_project" / "macros"

# A call of a macro without arguments, as a Python-side SQL text may hold it.
PLAIN_CALL = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\(\)\s*\}\}")


@cache
def _macro_text(file: str, name: str) -> tuple[tuple[str, ...], str]:
    """The argument names and the body of macro `name` in `dbt_project/macros/<file>`."""
    path = DBT_MACROS / file
    found = re.search(
        r"\{%\s*macro\s+" + re.escape(name) + r"\(([^)]*)\)\s*-%\}(.*?)\{%-\s*endmacro\s*%\}",
        path.read_text(),
        re.DOTALL,
    )
    if found is None:
        raise RuntimeError(f"{path}: no macro {name}()")
    arguments = tuple(a.strip() for a in found.group(1).split(",") if a.strip())
    return arguments, found.group(2).strip()


def sql_macro(file: str, name: str, **arguments: str) -> str:
    """The body of macro `name` (`dbt_project/macros/<file>`) with each `{{ argument }}` replaced
    by the SQL text given for it and each `{{ other_macro() }}` by that plain macro's body; an
    error if the macro holds any other Jinja."""
    names, body = _macro_text(file, name)
    body = render_plain_calls(body)
    if set(names) != set(arguments):
        raise RuntimeError(f"{file}: macro {name}({', '.join(names)}) got {sorted(arguments)}")
    for argument, sql in arguments.items():
        body = body.replace("{{ " + argument + " }}", sql)
    if "{{" in body or "{%" in body or "{#" in body:
        raise RuntimeError(f"{file}: macro {name}() is not plain SQL")
    return body


def plain_sql_macro(file: str, name: str) -> str:
    """The body of a dbt macro without arguments nor Jinja (`dbt_project/macros/<file>`)."""
    return sql_macro(file, name)


@cache
def _macro_files() -> dict[str, str]:
    """Which macro file defines each macro name."""
    files = {}
    for path in sorted(DBT_MACROS.glob("*.sql")):
        for name in re.findall(r"\{%-?\s*macro\s+([a-z_][a-z0-9_]*)\(", path.read_text()):
            files[name] = path.name
    return files


def render_plain_calls(sql: str) -> str:
    """`sql` with each `{{ name() }}` replaced by the body of that plain-SQL dbt macro."""

    def body(call: re.Match[str]) -> str:
        name = call.group(1)
        if name not in _macro_files():
            raise RuntimeError(f"no dbt macro {name}() in {DBT_MACROS}")
        return plain_sql_macro(_macro_files()[name], name)

    return PLAIN_CALL.sub(body, sql)
