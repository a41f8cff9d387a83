"""The catalog's rule table: every rule the pricing catalog keeps, read from `catalog_sql/rules`.

Each rule is a text a person reads and one SQL query over `raw.catalog_*` (and the work tables of
`catalog_work_tables`) that returns the lines breaking it. The queries live in
`catalog_sql/rules/<file>.sql`, one file per catalog file, as blocks:

    -- rule: the text of the rule, shown in the error
    --   (further comment lines continue the text)
    -- column: the one column the rule judges, when it judges one
    select line_number from raw.catalog_<file> where <the rule is broken>

A query returns the offending `line_number`s, and may return the offending value as a second
column (the message then quotes it). `-- columns: a, b` in place of `-- column:` repeats the rule
for each column, `{column}` standing for it in the text and the query. `{{ name() }}` is a
plain-SQL dbt macro (orchestration/sql_macros.py), so a rule the dbt models also apply is stated
once. `{name}` is a value given by this module (below). `charge_properties.sql` holds the rules on
pricing properties, which charges.csv and charge_filters.csv share.
"""

import re
from functools import cache
from importlib.resources import files

from invoice_render.i18n import DOCUMENT_LANGUAGES, DOCUMENT_LOCALE_PATTERN
from orchestration.landing.catalog_files import CATALOG_FILES, PROPERTY_COLUMNS
from orchestration.sql_macros import render_plain_calls

RULES_DIR = files("orchestration.landing") / "catalog_sql" / "rules"

# A rule: (file, rule text, SQL returning the offending line_numbers of that file), and the one
# column it judges when it judges one (the message then quotes that column's value).
Rule = tuple[str, str, str] | tuple[str, str, str, str]

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
BLOCK_START = re.compile(r"^-- rule: ", re.MULTILINE)


def _fill(text: str, values: dict[str, str]) -> str:
    """`text` with each `{name}` of `values` replaced; an error if another `{name}` is left."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    left = PLACEHOLDER.search(text)
    if left:
        raise RuntimeError(f"catalog rules: no value for {left.group(0)}")
    return text


def parse_rules(file: str, text: str, values: dict[str, str]) -> list[Rule]:
    """The rules of one rules file (format in the module docstring) for catalog file `file`."""
    rules: list[Rule] = []
    for block in BLOCK_START.split(render_plain_calls(text))[1:]:
        lines = block.splitlines()
        header = [lines[0]]
        body_start = 1
        while body_start < len(lines) and lines[body_start].startswith("--"):
            header.append(lines[body_start].removeprefix("--").strip())
            body_start += 1
        columns: tuple[str, ...] = ()
        words = []
        for line in header:
            if line.startswith(("column:", "columns:")):
                listed = _fill(line.split(":", 1)[1], values)
                columns = tuple(c.strip() for c in listed.split(","))
            else:
                words.append(line.strip())
        rule = " ".join(words)
        body = lines[body_start:]
        while body and (not body[-1].strip() or body[-1].startswith("--")):
            body.pop()  # a comment between blocks belongs to the next ones, not to this query
        sql = "\n".join(body).strip()
        if not sql:
            raise RuntimeError(f"catalog rules of {file}: no query for rule {rule!r}")
        if not columns:
            rules.append((file, _fill(rule, values), _fill(sql, values)))
        for column in columns:
            each = {**values, "column": column}
            rules.append((file, _fill(rule, each), _fill(sql, each), column))
    return rules


def _rules_file(name: str) -> str:
    return (RULES_DIR / f"{name}.sql").read_text()


@cache
def catalog_rules() -> tuple[Rule, ...]:
    """Every rule of the catalog, file by file."""
    rules: list[Rule] = []
    for file in CATALOG_FILES:
        values = {
            "document_languages": ", ".join(DOCUMENT_LANGUAGES),
            "document_locale_pattern": DOCUMENT_LOCALE_PATTERN,
        }
        rules += parse_rules(file, _rules_file(file), values)
    # The rules on pricing properties, for a charge's own and for a filter's (charge_filters.csv).
    for file, amounts, subject, tiers_named_by in (
        ("charges", (*PROPERTY_COLUMNS, "min_amount"), "", "an empty filter_code"),
        ("charge_filters", PROPERTY_COLUMNS, "filters of ", "their charge_code and filter_code"),
    ):
        values = {
            "table": f"raw.catalog_{file}",
            "priced": f"priced_{file}",
            "subject": subject,
            "amounts": ", ".join(amounts),
            "tiers_named_by": tiers_named_by,
        }
        rules += parse_rules(file, _rules_file("charge_properties"), values)
    return tuple(rules)
