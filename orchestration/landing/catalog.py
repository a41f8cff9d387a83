"""Load the pricing catalog (docs/inputs.md) into `raw.catalog_*` and refuse an invalid one.

The catalog is code: a file that breaks a rule stops the close with an error naming the file, the
line and the rule (docs/bad-input.md, docs/rules.md §17b). Every rule is one SQL query in `RULES`,
over the raw text, so the message can point at the line a person has to fix.
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from invoice_render.i18n import DOCUMENT_LANGUAGES, DOCUMENT_LOCALE_PATTERN
from orchestration.landing.readers import sql_string
from orchestration.landing.schemas import known_currencies, known_timezones
from orchestration.settings import REPO_ROOT
from orchestration.sql_rows import one_row

PROPERTY_COLUMNS = (
    "amount",
    "package_size",
    "free_units",
    "rate",
    "fixed_amount",
    "free_units_per_events",
    "free_units_per_total_aggregation",
    "per_transaction_min_amount",
    "per_transaction_max_amount",
)

CATALOG_FILES: dict[str, tuple[str, ...]] = {
    "billing_entity": (
        "name",
        "legal_name",
        "address_line1",
        "address_line2",
        "city",
        "zipcode",
        "country",
        "email",
        "tax_identification_number",
        "timezone",
        "invoice_prefix",
        "document_numbering",
        "net_payment_term",
        "document_locale",
        "invoice_footer",
        "payment_details",
    ),
    "billable_metrics": (
        "metric_code",
        "name",
        "aggregation",
        "field_name",
        "recurring",
        "rounding_function",
        "rounding_precision",
        "valid_from",
    ),
    "metric_filters": ("metric_code", "key", "values"),
    "plans": (
        "plan_code",
        "name",
        "interval",
        "currency",
        "amount",
        "pay_in_advance",
        "trial_days",
        "bill_charges_monthly",
        "minimum_commitment",
        "tax_codes",
        "valid_from",
        "spend_cap_amount",
    ),
    "charges": (
        "charge_code",
        "plan_code",
        "metric_code",
        "charge_model",
        "pay_in_advance",
        "invoiceable",
        "prorated",
        "min_amount",
        "pricing_group_keys",
        "tax_codes",
        *PROPERTY_COLUMNS,
        "valid_from",
    ),
    "charge_filters": (
        "charge_code",
        "filter_code",
        "conditions",
        "pricing_group_keys",
        *PROPERTY_COLUMNS,
        "valid_from",
    ),
    "charge_tiers": (
        "charge_code",
        "filter_code",
        "from_value",
        "to_value",
        "per_unit_amount",
        "flat_amount",
        "rate",
        "valid_from",
    ),
    "usage_thresholds": ("plan_code", "amount", "recurring"),
    "taxes": ("tax_code", "name", "rate", "applied_by_default"),
    "coupons": (
        "coupon_code",
        "coupon_type",
        "amount",
        "currency",
        "percentage_rate",
        "frequency",
        "frequency_duration",
        "plan_codes",
        "metric_codes",
        "expires_at",
    ),
}
REQUIRED_FILES = ("billing_entity", "billable_metrics", "plans", "charges", "taxes")
KEY_COLUMNS = {
    "billing_entity": ("name",),
    "billable_metrics": ("metric_code", "aggregation"),
    "metric_filters": ("metric_code", "key", "values"),
    "plans": ("plan_code", "interval", "currency", "amount"),
    "charges": ("charge_code", "plan_code", "metric_code", "charge_model"),
    "charge_filters": ("charge_code", "filter_code", "conditions"),
    "charge_tiers": ("charge_code", "from_value"),
    "usage_thresholds": ("plan_code", "amount"),
    "taxes": ("tax_code", "rate"),
    "coupons": ("coupon_code", "coupon_type", "frequency"),
}


class CatalogError(ValueError):
    """The catalog breaks a rule; the message lists every violation with file, line and rule."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule at one line of one catalog file."""

    file: str
    line: int | None
    rule: str
    column: str | None = None  # the one column the rule judges, when it judges one

    def __str__(self) -> str:
        where = f"{self.file}.csv" + (f" line {self.line}" if self.line else "")
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.rule}"


DBT_MACROS = REPO_ROOT / "dbt_project" / "macros"


@cache
def plain_sql_macro(file: str, name: str) -> str:
    """The body of a dbt macro without arguments nor Jinja (`dbt_project/macros/<file>`), so
    that Python checks and dbt models apply one rule stated once."""
    path = DBT_MACROS / file
    found = re.search(
        r"\{%\s*macro\s+" + re.escape(name) + r"\(\)\s*-%\}(.*?)\{%-\s*endmacro\s*%\}",
        path.read_text(),
        re.DOTALL,
    )
    if found is None or "{" in found.group(1):
        raise RuntimeError(f"{path}: no plain-SQL macro {name}()")
    return found.group(1).strip()


def tier_rule(name: str) -> str:
    """The SQL predicate of one tier bounds rule, read from the dbt macro that states it, so that
    this check and the dbt test `tiers_are_contiguous` apply the same rule."""
    return plain_sql_macro("tier_bounds.sql", name)


def _is_decimal(column: str) -> str:
    return f"({column} is null or try_cast({column} as decimal(38, 9)) is not null)"


def _is_bool(column: str) -> str:
    return f"({column} is null or lower({column}) in ('true', 'false'))"


def _is_date(column: str) -> str:
    return f"({column} is null or try_cast({column} as date) is not null)"


def _bool(column: str) -> str:
    return f"coalesce(lower({column}) = 'true', false)"


def _codes_exist(table: str, column: str, target: str, target_key: str) -> str:
    return f"""
        select line_number from raw.catalog_{table} as t
        where exists (
            select 1 from unnest(string_split(coalesce(t.{column}, ''), '|')) as s(code)
            where trim(s.code) <> ''
              and trim(s.code) not in (select {target_key} from raw.catalog_{target})
        )
    """


def _is_whole(column: str) -> str:
    number = f"try_cast({column} as decimal(38, 9))"
    return f"({column} is null or {number} = floor({number}))"


def _has_empty_item(column: str) -> str:
    return (
        f"exists (select 1 from unnest(string_split({column}, '|')) as s(item) "
        "where trim(s.item) = '')"
    )


TIERED_MODELS = "('graduated', 'volume', 'graduated_percentage')"

# A rule: (file, rule text, SQL returning the offending line_numbers of that file), and the one
# column it judges when it judges one (the message then quotes that column's value).
Rule = tuple[str, str, str] | tuple[str, str, str, str]


def _each_column(
    file: str, columns: tuple[str, ...], rule: str, broken: str, table: str = ""
) -> list[Rule]:
    """One rule per column: `rule` and `broken` (an SQL predicate) with `{column}` filled in."""
    table = table or f"raw.catalog_{file}"
    return [
        (
            file,
            rule.format(column=column),
            f"select line_number from {table} where {broken.format(column=column)}",
            column,
        )
        for column in columns
    ]


def _non_negative(column: str) -> str:
    return f"(not {_is_decimal(column)} or try_cast({column} as decimal(38, 9)) < 0)"


def _property_rules(file: str, amounts: tuple[str, ...], subject: str) -> list[Rule]:
    """The rules on the pricing properties of a charge or of a filter (charge_filters.csv).

    They read `priced_<file>`: the file's rows with the `charge_model` they are priced by and a
    `filter_code` (empty for a charge's own properties). `subject` starts each model's message.
    """
    table, priced = f"raw.catalog_{file}", f"priced_{file}"
    return [
        *_each_column(
            file,
            amounts,
            "{column} must be a non-negative decimal",
            "{column} is not null and " + _non_negative("{column}"),
        ),
        (
            file,
            f"{subject}standard charges need an amount",
            f"select line_number from {priced} where charge_model = 'standard' and amount is null",
        ),
        (
            file,
            f"{subject}package charges need an amount",
            f"select line_number from {priced} where charge_model = 'package' and amount is null",
            "amount",
        ),
        (
            file,
            f"{subject}package charges need a whole package_size of at least 1",
            f"select line_number from {priced} where charge_model = 'package' and ("
            "try_cast(package_size as integer) is null "
            "or try_cast(package_size as decimal(38, 9)) <> try_cast(package_size as integer) "
            "or try_cast(package_size as integer) < 1)",
            "package_size",
        ),
        (
            file,
            f"{subject}percentage charges need a rate",
            f"select line_number from {priced} where charge_model = 'percentage' and rate is null",
        ),
        (
            file,
            f"{subject}graduated, volume and graduated_percentage charges need tiers in "
            "charge_tiers.csv with "
            + (
                "an empty filter_code" if file == "charges" else "their charge_code and filter_code"
            ),
            f"select p.line_number from {priced} as p where p.charge_model in {TIERED_MODELS} "
            "and not exists (select 1 from raw.catalog_charge_tiers as t "
            "where t.charge_code = p.charge_code "
            "and t.filter_code is not distinct from p.filter_code)",
        ),
        (
            file,
            "free_units_per_events must be a whole number of events",
            f"select line_number from {table} where not {_is_whole('free_units_per_events')}",
        ),
        (
            file,
            "per_transaction_min_amount must not exceed per_transaction_max_amount",
            f"select line_number from {table} "
            "where try_cast(per_transaction_min_amount as decimal(38, 9)) "
            "> try_cast(per_transaction_max_amount as decimal(38, 9))",
        ),
        (
            file,
            "pricing_group_keys must be `|`-separated non-empty keys (no `a||b`, no leading "
            "or trailing `|`)",
            f"select line_number from {table} as t where t.pricing_group_keys is not null "
            f"and {_has_empty_item('t.pricing_group_keys')}",
        ),
        (
            file,
            "pricing_group_keys: a key must not start or end with spaces (an event property "
            "key is matched as written)",
            f"select t.line_number, s.item from {table} as t, "
            "unnest(string_split(t.pricing_group_keys, '|')) as s(item) "
            "where trim(s.item) <> '' and s.item <> trim(s.item) order by t.line_number",
        ),
    ]


# A row of `filter_conditions` (below) that does not read key=value.
MALFORMED_CONDITION = (
    "key is null or key = '' or key <> trim(key) or value is null or value = '' "
    "or value <> trim(value)"
)

# Two filters of one charge and valid_from overlap when they have the same keys and share a value on
# each of them (`*` expanded): some events would match both.
FILTER_OVERLAPS_SQL = """
with key_sets as (
    select line_number, list_sort(list(distinct key)) as keys, count(distinct key) as key_count
    from filter_values
    group by line_number
),
shared as (
    select a.line_number, b.line_number as other_line, count(distinct a.key) as shared_keys
    from filter_values as a
    inner join filter_values as b
        on a.charge_code = b.charge_code and a.valid_from = b.valid_from
        and a.key = b.key and a.value = b.value and a.line_number <> b.line_number
    group by a.line_number, b.line_number
)
select distinct s.line_number
from shared as s
inner join key_sets as k on k.line_number = s.line_number
inner join key_sets as o on o.line_number = s.other_line
where k.keys = o.keys and s.shared_keys = k.key_count
"""

# (file, rule text, SQL returning the offending line_numbers of that file)
RULES: list[Rule] = [
    (
        "billing_entity",
        "exactly one billing entity row is required",
        "select min(line_number) from raw.catalog_billing_entity having count(*) <> 1",
    ),
    (
        "billing_entity",
        "document_numbering must be per_customer or per_organization",
        "select line_number from raw.catalog_billing_entity where document_numbering is not null "
        "and document_numbering not in ('per_customer', 'per_organization')",
    ),
    (
        "billing_entity",
        "net_payment_term must be a whole number of days from 0 to 9999",
        "select line_number from raw.catalog_billing_entity where net_payment_term is not null "
        "and not regexp_full_match(net_payment_term, '[0-9]{1,4}')",
    ),
    (
        "billing_entity",
        "document_locale must be one of "
        + ", ".join(DOCUMENT_LANGUAGES)
        + ", optionally with a country (fr_CH, de-AT)",
        "select line_number from raw.catalog_billing_entity where document_locale is not null "
        f"and not regexp_full_match(document_locale, '{DOCUMENT_LOCALE_PATTERN}', 'i')",
    ),
    (
        "billing_entity",
        "timezone must be an IANA name",
        "select line_number from raw.catalog_billing_entity where timezone is not null "
        "and timezone not in (select name from catalog_timezones)",
    ),
    (
        "billable_metrics",
        "aggregation must be count, sum, max, latest, unique_count or weighted_sum",
        "select line_number from raw.catalog_billable_metrics where aggregation not in "
        "('count', 'sum', 'max', 'latest', 'unique_count', 'weighted_sum')",
    ),
    (
        "billable_metrics",
        "field_name is required for every aggregation but count",
        "select line_number from raw.catalog_billable_metrics "
        "where aggregation <> 'count' and field_name is null",
    ),
    (
        "billable_metrics",
        "rounding_function must be round, ceil or floor",
        "select line_number from raw.catalog_billable_metrics where rounding_function is not null "
        "and rounding_function not in ('round', 'ceil', 'floor')",
        "rounding_function",
    ),
    (
        "billable_metrics",
        "rounding_precision must be an integer",
        "select line_number from raw.catalog_billable_metrics where rounding_precision is not null "
        "and try_cast(rounding_precision as integer) is null",
        "rounding_precision",
    ),
    *_each_column(
        "billable_metrics",
        ("recurring",),
        "{column} must be true or false",
        f"not {_is_bool('{column}')}",
    ),
    *_each_column(
        "billable_metrics",
        ("valid_from",),
        "{column} must be a date",
        f"not {_is_date('{column}')}",
    ),
    (
        "billable_metrics",
        "metric_code is defined twice with the same valid_from",
        "select line_number from raw.catalog_billable_metrics qualify "
        "count(*) over (partition by metric_code, coalesce(valid_from, '')) > 1",
    ),
    (
        "billable_metrics",
        "recurring is only allowed for sum, unique_count and weighted_sum metrics "
        "(count, max and latest metrics cannot be recurring in Lago)",
        f"select line_number from raw.catalog_billable_metrics where {_bool('recurring')} "
        "and aggregation in ('count', 'max', 'latest')",
    ),
    (
        "metric_filters",
        "metric_code must name a metric of billable_metrics.csv",
        "select line_number from raw.catalog_metric_filters "
        "where metric_code not in (select metric_code from raw.catalog_billable_metrics)",
    ),
    (
        "metric_filters",
        "key is defined twice for the same metric",
        "select line_number from raw.catalog_metric_filters "
        "qualify count(*) over (partition by metric_code, key) > 1",
    ),
    (
        "metric_filters",
        "values must be `|`-separated, with no empty value and no spaces around a value",
        'select line_number from raw.catalog_metric_filters as m where m."values" is not null '
        "and exists (select 1 from unnest(string_split(m.\"values\", '|')) as s(item) "
        "where s.item = '' or s.item <> trim(s.item))",
    ),
    (
        "metric_filters",
        "values must not list a value twice",
        'select line_number from raw.catalog_metric_filters as m where m."values" is not null '
        "and len(string_split(m.\"values\", '|')) "
        "<> len(list_distinct(string_split(m.\"values\", '|')))",
    ),
    (
        "metric_filters",
        "key must not contain `=`, `;` or `|`, and a value must not be `*` nor contain `;` "
        "(they are the syntax of conditions in charge_filters.csv)",
        "select line_number from raw.catalog_metric_filters as m "
        "where regexp_matches(m.key, '[=;|]') or regexp_matches(m.\"values\", ';') "
        "or list_contains(string_split(m.\"values\", '|'), '*')",
    ),
    (
        "plans",
        "interval must be weekly, monthly, quarterly, semiannual or yearly",
        "select line_number from raw.catalog_plans where interval not in "
        "('weekly', 'monthly', 'quarterly', 'semiannual', 'yearly')",
    ),
    (
        "plans",
        "currency must be an ISO 4217 code shipped in seeds/reference/currencies.csv",
        "select line_number from raw.catalog_plans "
        "where currency not in (select currency from catalog_currencies)",
    ),
    (
        "plans",
        "the subscription fee must be a non-negative decimal",
        f"select line_number from raw.catalog_plans where {_non_negative('amount')}",
        "amount",
    ),
    (
        "plans",
        "minimum_commitment must be a decimal",
        f"select line_number from raw.catalog_plans where not {_is_decimal('minimum_commitment')}",
        "minimum_commitment",
    ),
    (
        "plans",
        "spend_cap_amount must be empty (no cap) or a non-negative decimal (docs/rules.md §12b)",
        "select line_number, spend_cap_amount from raw.catalog_plans "
        f"where {_non_negative('spend_cap_amount')}",
        "spend_cap_amount",
    ),
    *_each_column(
        "plans",
        ("pay_in_advance", "bill_charges_monthly"),
        "{column} must be true or false",
        f"not {_is_bool('{column}')}",
    ),
    *_each_column(
        "plans", ("valid_from",), "{column} must be a date", f"not {_is_date('{column}')}"
    ),
    (
        "plans",
        "bill_charges_monthly is only for yearly and semiannual plans (docs/rules.md §8)",
        f"select line_number from raw.catalog_plans where {_bool('bill_charges_monthly')} "
        "and interval not in ('yearly', 'semiannual')",
    ),
    (
        "plans",
        "trial_days must be a whole number of days, 0 or more (docs/rules.md §9)",
        "select line_number from raw.catalog_plans where trial_days is not null "
        "and (try_cast(trial_days as integer) is null or try_cast(trial_days as integer) < 0 "
        "or try_cast(trial_days as decimal(38, 9)) <> try_cast(trial_days as integer))",
    ),
    (
        "plans",
        "plan_code is defined twice with the same valid_from",
        "select line_number from raw.catalog_plans qualify "
        "count(*) over (partition by plan_code, coalesce(valid_from, '')) > 1",
    ),
    (
        "plans",
        "tax_codes must name taxes of taxes.csv",
        _codes_exist("plans", "tax_codes", "taxes", "tax_code"),
    ),
    (
        "charges",
        "plan_code must name a plan of plans.csv",
        "select line_number from raw.catalog_charges "
        "where plan_code not in (select plan_code from raw.catalog_plans)",
    ),
    (
        "charges",
        "metric_code must name a metric of billable_metrics.csv",
        "select line_number from raw.catalog_charges "
        "where metric_code not in (select metric_code from raw.catalog_billable_metrics)",
    ),
    (
        "charges",
        "charge_model must be standard, package, graduated, volume, percentage, "
        "graduated_percentage or dynamic",
        "select line_number from raw.catalog_charges where charge_model not in ('standard', "
        "'package', 'graduated', 'volume', 'percentage', 'graduated_percentage', 'dynamic')",
    ),
    *_each_column(
        "charges",
        ("pay_in_advance", "invoiceable", "prorated"),
        "{column} must be true or false",
        f"not {_is_bool('{column}')}",
    ),
    *_each_column(
        "charges", ("valid_from",), "{column} must be a date", f"not {_is_date('{column}')}"
    ),
    *_property_rules("charges", (*PROPERTY_COLUMNS, "min_amount"), ""),
    (
        "charges",
        "charge_code is defined twice with the same valid_from",
        "select line_number from raw.catalog_charges qualify "
        "count(*) over (partition by charge_code, coalesce(valid_from, '')) > 1",
    ),
    (
        "charges",
        "tax_codes must name taxes of taxes.csv",
        _codes_exist("charges", "tax_codes", "taxes", "tax_code"),
    ),
    # Rule book §17b: combinations Lago refuses.
    (
        "charges",
        "§17b: volume charges cannot be paid in advance",
        f"select line_number from raw.catalog_charges where charge_model = 'volume' "
        f"and {_bool('pay_in_advance')}",
    ),
    (
        "charges",
        "§17b: pay_in_advance needs a count, sum or unique_count metric",
        f"select c.line_number from raw.catalog_charges as c "
        f"inner join raw.catalog_billable_metrics "
        f"as m on m.metric_code = c.metric_code where {_bool('c.pay_in_advance')} "
        "and m.aggregation not in ('count', 'sum', 'unique_count')",
    ),
    (
        "charges",
        "§17b: prorated needs a recurring metric other than weighted_sum",
        f"select c.line_number from raw.catalog_charges as c "
        f"inner join raw.catalog_billable_metrics "
        f"as m on m.metric_code = c.metric_code where {_bool('c.prorated')} "
        f"and (not {_bool('m.recurring')} or m.aggregation = 'weighted_sum')",
    ),
    (
        "charges",
        "§17b: prorated pay-in-advance charges must be standard",
        f"select line_number from raw.catalog_charges where {_bool('prorated')} "
        f"and {_bool('pay_in_advance')} and charge_model <> 'standard'",
    ),
    (
        "charges",
        "§17b: prorated charges in arrears must be standard, volume or graduated",
        f"select line_number from raw.catalog_charges where {_bool('prorated')} "
        f"and not {_bool('pay_in_advance')} "
        "and charge_model not in ('standard', 'volume', 'graduated')",
    ),
    (
        "charges",
        "§17b: a spending minimum (min_amount) is not allowed on pay-in-advance charges",
        f"select line_number from raw.catalog_charges where {_bool('pay_in_advance')} "
        "and coalesce(try_cast(min_amount as decimal(38, 9)), 0) > 0",
    ),
    (
        "charges",
        "§17b: invoiceable false is only allowed on pay-in-advance charges",
        "select line_number from raw.catalog_charges where lower(invoiceable) = 'false' "
        f"and not {_bool('pay_in_advance')}",
    ),
    (
        "charges",
        "§17b: dynamic charges need a sum metric",
        "select c.line_number from raw.catalog_charges as c "
        "inner join raw.catalog_billable_metrics "
        "as m on m.metric_code = c.metric_code where c.charge_model = 'dynamic' "
        "and m.aggregation <> 'sum'",
    ),
    (
        "charge_filters",
        "charge_code must name a charge of charges.csv",
        "select line_number from raw.catalog_charge_filters "
        "where charge_code not in (select charge_code from raw.catalog_charges)",
    ),
    (
        "charge_filters",
        "filter_code is defined twice for the same charge and valid_from",
        "select line_number from raw.catalog_charge_filters qualify count(*) over "
        "(partition by charge_code, filter_code, coalesce(valid_from, '')) > 1",
    ),
    (
        "charge_filters",
        "valid_from must be a date",
        f"select line_number from raw.catalog_charge_filters where not {_is_date('valid_from')}",
    ),
    (
        "charge_filters",
        "conditions must read key=v1|v2;key2=v3: `;`-separated keys, each with `=` and "
        "`|`-separated values, none of them empty or with spaces around it",
        f"select distinct line_number from filter_conditions where {MALFORMED_CONDITION}",
    ),
    (
        "charge_filters",
        "conditions: a key may appear only once",
        "select distinct line_number from filter_conditions where key <> '' "
        "group by line_number, key having count(distinct part_index) > 1",
    ),
    (
        "charge_filters",
        "conditions: each key must be one metric_filters.csv declares for the charge's metric",
        "select distinct c.line_number from filter_conditions as c "
        "inner join filter_charges as fc on fc.line_number = c.line_number "
        "where c.key <> '' and c.key = trim(c.key) and not exists ("
        "select 1 from raw.catalog_metric_filters as m "
        "where m.metric_code = fc.metric_code and m.key = c.key)",
    ),
    (
        "charge_filters",
        "conditions: each value must be one metric_filters.csv declares for its key, "
        "or `*` alone (every declared value)",
        "select distinct c.line_number from filter_conditions as c "
        "inner join filter_charges as fc on fc.line_number = c.line_number "
        "where c.value <> '' and exists (select 1 from raw.catalog_metric_filters as m "
        "where m.metric_code = fc.metric_code and m.key = c.key) "
        "and ((c.value = '*' and c.value_count > 1) or (c.value <> '*' and not exists ("
        "select 1 from raw.catalog_metric_filters as m where m.metric_code = fc.metric_code "
        "and m.key = c.key and list_contains(string_split(m.\"values\", '|'), c.value))))",
    ),
    (
        "charge_filters",
        "filters of one charge with the same keys must not overlap (share a value on every "
        "key, `*` counting as every declared value): Lago's pricing of overlapping filters "
        "with the same keys is degenerate, so they are refused (docs/rules.md §1.11)",
        FILTER_OVERLAPS_SQL,
    ),
    *_property_rules("charge_filters", PROPERTY_COLUMNS, "filters of "),
    (
        "charge_tiers",
        "charge_code must name a graduated, volume or graduated_percentage charge",
        "select line_number from raw.catalog_charge_tiers where charge_code not in (select "
        "charge_code from raw.catalog_charges where charge_model in "
        "('graduated', 'volume', 'graduated_percentage'))",
    ),
    *_each_column(
        "charge_tiers",
        ("from_value", "to_value", "per_unit_amount", "flat_amount", "rate"),
        "{column} must be a non-negative decimal",
        "{column} is not null and " + _non_negative("{column}"),
    ),
    *_each_column(
        "charge_tiers", ("valid_from",), "{column} must be a date", f"not {_is_date('{column}')}"
    ),
    (
        "charge_tiers",
        "the first tier of a charge must start at 0 (or 1, which Lago counts the same way)",
        f"select line_number from tier_sets where {tier_rule('tier_starts_elsewhere')}",
    ),
    (
        "charge_tiers",
        "to_value must be above from_value",
        f"select line_number from tier_sets where {tier_rule('tier_ends_before_its_start')}",
    ),
    (
        "charge_tiers",
        "only the last tier may be unbounded (empty to_value)",
        f"select line_number from tier_sets where {tier_rule('tier_unbounded_before_last')}",
    ),
    (
        "charge_tiers",
        "the last tier must be unbounded (empty to_value)",
        f"select line_number from tier_sets where {tier_rule('tier_bounded_last')}",
    ),
    (
        "charge_tiers",
        "tiers must be contiguous: each from_value equals the previous to_value "
        "or the previous to_value + 1 (as Lago's validator); anything else is a gap or an "
        "overlap",
        f"select line_number from tier_sets where {tier_rule('tier_leaves_gap_or_overlap')}",
    ),
    (
        "charge_tiers",
        "filter_code must name a filter of that charge in charge_filters.csv",
        "select t.line_number from raw.catalog_charge_tiers as t where t.filter_code is not null "
        "and not exists (select 1 from raw.catalog_charge_filters as f "
        "where f.charge_code = t.charge_code and f.filter_code = t.filter_code)",
    ),
    (
        "charge_tiers",
        "tiers of graduated_percentage charges need a rate",
        "select line_number from raw.catalog_charge_tiers where rate is null and charge_code in "
        "(select charge_code from raw.catalog_charges where charge_model = 'graduated_percentage')",
    ),
    (
        "taxes",
        "rate must be a decimal percent between 0 and 100",
        f"select line_number from raw.catalog_taxes where not {_is_decimal('rate')} "
        "or try_cast(rate as decimal(38, 9)) not between 0 and 100",
        "rate",
    ),
    *_each_column(
        "taxes",
        ("applied_by_default",),
        "{column} must be true or false",
        f"not {_is_bool('{column}')}",
    ),
    (
        "usage_thresholds",
        "plan_code must name a plan of plans.csv",
        "select line_number from raw.catalog_usage_thresholds "
        "where plan_code not in (select plan_code from raw.catalog_plans)",
    ),
    (
        "usage_thresholds",
        "amount must be a decimal above 0",
        f"select line_number from raw.catalog_usage_thresholds where not {_is_decimal('amount')} "
        "or try_cast(amount as decimal(38, 9)) <= 0",
        "amount",
    ),
    *_each_column(
        "usage_thresholds",
        ("recurring",),
        "{column} must be true or false",
        f"not {_is_bool('{column}')}",
    ),
    (
        "usage_thresholds",
        "a plan has this threshold amount twice",
        "select line_number from raw.catalog_usage_thresholds "
        f"where {_is_decimal('amount')} qualify count(*) over (partition by plan_code, "
        f"try_cast(amount as decimal(38, 9)), {_bool('recurring')}) > 1",
    ),
    (
        "usage_thresholds",
        "a plan has at most one recurring threshold (docs/rules.md §14)",
        "select line_number from raw.catalog_usage_thresholds "
        f"where {_bool('recurring')} qualify count(*) over (partition by plan_code) > 1",
    ),
    (
        "coupons",
        "coupon_type must be fixed_amount or percentage",
        "select line_number from raw.catalog_coupons "
        "where coupon_type not in ('fixed_amount', 'percentage')",
        "coupon_type",
    ),
    (
        "coupons",
        "frequency must be once, recurring or forever",
        "select line_number from raw.catalog_coupons "
        "where frequency not in ('once', 'recurring', 'forever')",
        "frequency",
    ),
    (
        "coupons",
        "a fixed_amount coupon needs an amount above 0",
        "select line_number from raw.catalog_coupons where coupon_type = 'fixed_amount' and ("
        f"not {_is_decimal('amount')} or coalesce(try_cast(amount as decimal(38, 9)), 0) <= 0)",
        "amount",
    ),
    (
        "coupons",
        "a fixed_amount coupon needs a currency shipped in seeds/reference/currencies.csv",
        "select line_number from raw.catalog_coupons where coupon_type = 'fixed_amount' and "
        "upper(coalesce(currency, '')) not in (select currency from catalog_currencies)",
        "currency",
    ),
    (
        "coupons",
        "a percentage coupon needs a percentage_rate above 0 and at most 100",
        "select line_number from raw.catalog_coupons where coupon_type = 'percentage' and ("
        f"not {_is_decimal('percentage_rate')} "
        "or coalesce(try_cast(percentage_rate as decimal(38, 9)), 0) <= 0 "
        "or try_cast(percentage_rate as decimal(38, 9)) > 100)",
    ),
    (
        "coupons",
        "a recurring coupon needs a whole frequency_duration of at least 1 (invoices)",
        "select line_number from raw.catalog_coupons where frequency = 'recurring' and ("
        f"not {_is_whole('frequency_duration')} "
        "or coalesce(try_cast(frequency_duration as decimal(38, 9)), 0) < 1)",
    ),
    (
        "coupons",
        "expires_at must be an ISO 8601 date or timestamp",
        "select line_number from raw.catalog_coupons "
        "where expires_at is not null and try_cast(expires_at as timestamp) is null",
    ),
    (
        "coupons",
        "a coupon is limited to plans or to metrics, not both (docs/rules.md §13)",
        "select line_number from raw.catalog_coupons "
        "where nullif(trim(plan_codes), '') is not null "
        "and nullif(trim(metric_codes), '') is not null",
    ),
    (
        "coupons",
        "plan_codes must name plans of plans.csv",
        _codes_exist("coupons", "plan_codes", "plans", "plan_code"),
    ),
    (
        "coupons",
        "metric_codes must name metrics of billable_metrics.csv",
        _codes_exist("coupons", "metric_codes", "billable_metrics", "metric_code"),
    ),
    (
        "coupons",
        "coupon_code is defined twice",
        "select line_number from raw.catalog_coupons "
        "qualify count(*) over (partition by coupon_code) > 1",
    ),
    (
        "taxes",
        "tax_code is defined twice",
        "select line_number from raw.catalog_taxes "
        "qualify count(*) over (partition by tax_code) > 1",
    ),
]

# Catalog features whose billing rules are not built yet: refused rather than mispriced.
NOT_YET_SUPPORTED: list[Rule] = [
    (
        "usage_thresholds",
        "progressive billing is supported on plans whose in-arrears charges are standard, "
        "package, graduated or volume on a count or sum metric that is not recurring, without "
        "proration; this plan has another charge (issue #4)",
        "select line_number from raw.catalog_usage_thresholds where plan_code in ("
        "select charges.plan_code from raw.catalog_charges as charges "
        "left join raw.catalog_billable_metrics as metrics using (metric_code) "
        f"where not {_bool('charges.pay_in_advance')} and ("
        "charges.charge_model not in ('standard', 'package', 'graduated', 'volume') "
        f"or metrics.aggregation not in ('count', 'sum') or {_bool('metrics.recurring')} "
        f"or {_bool('charges.prorated')}))",
    ),
]

TIER_SETS_SQL = """
create or replace temp table tier_sets as
with tiers as (
    select
        line_number,
        charge_code,
        coalesce(filter_code, '') as filter_code,
        coalesce(valid_from, '') as valid_from,
        try_cast(from_value as decimal(38, 9)) as from_value,
        try_cast(to_value as decimal(38, 9)) as to_value
    from raw.catalog_charge_tiers
)
select
    *,
    row_number() over tier_set as tier_rank,
    count(*) over (partition by charge_code, filter_code, valid_from) as tier_count,
    lag(to_value) over tier_set as previous_to_value
from tiers
window tier_set as (partition by charge_code, filter_code, valid_from
                    order by from_value, line_number)
"""

# The charge version a filter belongs to: the one in force when the filter starts (the earliest
# version if the filter starts before all of them).
FILTER_CHARGES_SQL = """
create or replace temp table filter_charges as
with dated as (
    select
        f.line_number,
        c.charge_model,
        c.metric_code,
        c.line_number as charge_line,
        coalesce(try_cast(c.valid_from as date), date '0001-01-01') as charge_from,
        coalesce(try_cast(f.valid_from as date), date '0001-01-01') as filter_from
    from raw.catalog_charge_filters as f
    inner join raw.catalog_charges as c on c.charge_code = f.charge_code
)
select line_number, charge_model, metric_code
from dated
qualify row_number() over (
    partition by line_number
    order by
        charge_from <= filter_from desc,
        case when charge_from <= filter_from then charge_from end desc nulls last,
        charge_from,
        charge_line
) = 1
"""

# `conditions` parsed: one row per value of each `;`-separated part, split at the part's first `=`.
# A part without `=` gives one row with a null key and value.
FILTER_CONDITIONS_SQL = """
create or replace temp table filter_conditions as
with filters as (
    select
        line_number,
        charge_code,
        coalesce(valid_from, '') as valid_from,
        string_split(conditions, ';') as parts
    from raw.catalog_charge_filters
    where conditions is not null
),
parts as (
    select
        line_number,
        charge_code,
        valid_from,
        unnest(parts) as part,
        unnest(range(1, len(parts) + 1)) as part_index
    from filters
),
split as (
    select
        line_number,
        charge_code,
        valid_from,
        part_index,
        case when strpos(part, '=') > 0 then left(part, strpos(part, '=') - 1) end as key,
        case
            when strpos(part, '=') > 0 then string_split(substr(part, strpos(part, '=') + 1), '|')
            else [cast(null as varchar)]
        end as value_list
    from parts
)
select
    line_number,
    charge_code,
    valid_from,
    part_index,
    key,
    len(value_list) as value_count,
    unnest(value_list) as value
from split
"""

# The well-formed conditions with `*` expanded to the values the metric filter declares.
FILTER_VALUES_SQL = """
create or replace temp table filter_values as
with declared as (
    select metric_code, key, unnest(string_split("values", '|')) as value
    from raw.catalog_metric_filters
    where "values" is not null
)
select c.line_number, c.charge_code, c.valid_from, c.key, coalesce(d.value, c.value) as value
from filter_conditions as c
left join filter_charges as fc on fc.line_number = c.line_number
left join declared as d on c.value = '*' and d.metric_code = fc.metric_code and d.key = c.key
where c.line_number not in (
    select line_number
    from filter_conditions
    group by line_number
    having bool_or(MALFORMED) or count(distinct key) < count(distinct part_index)
)
""".replace("MALFORMED", MALFORMED_CONDITION)

# What prices each row of charges.csv and charge_filters.csv (read by `_property_rules`).
PRICED_SQL = """
create or replace temp view priced_charges as
select *, cast(null as varchar) as filter_code from raw.catalog_charges;
create or replace temp view priced_charge_filters as
select f.*, fc.charge_model
from raw.catalog_charge_filters as f
inner join filter_charges as fc on fc.line_number = f.line_number
"""

WORK_TABLES_SQL = (
    TIER_SETS_SQL,
    FILTER_CHARGES_SQL,
    FILTER_CONDITIONS_SQL,
    FILTER_VALUES_SQL,
    PRICED_SQL,
)


# Cells kept as written: a pricing group key is an event property key, matched as written, so
# its spaces are checked (and refused) rather than trimmed away.
UNTRIMMED_COLUMNS = frozenset({"pricing_group_keys"})


def _cell(column: str) -> str:
    """A cell trimmed (empty is null), except the columns kept as written."""
    if column in UNTRIMMED_COLUMNS:
        return f"case when trim({column}) = '' then null else {column} end"
    return f"nullif(trim({column}), '')"


def _load_file(conn: duckdb.DuckDBPyConnection, catalog_dir: Path, name: str) -> int:
    columns = CATALOG_FILES[name]
    path = catalog_dir / f"{name}.csv"
    line = "cast(null as bigint) as line_number"
    if not path.exists():
        if name in REQUIRED_FILES:
            raise CatalogError(f"{path}: required catalog file is missing")
        select = ", ".join(f"cast(null as varchar) as {c}" for c in columns)
        conn.execute(
            f"create or replace table raw.catalog_{name} as select {select}, {line} where false"
        )
        return 0
    reader = (
        f"read_csv({sql_string(str(path))}, header = true, all_varchar = true, "
        "parallel = false, auto_detect = true)"
    )
    try:
        header = [row[0] for row in conn.execute(f"describe select * from {reader}").fetchall()]
        missing = [c for c in KEY_COLUMNS[name] if c not in header]
        if missing:
            raise CatalogError(f"{name}.csv: required columns missing: {', '.join(missing)}")
        select = ", ".join(
            f"{_cell(c)} as {c}" if c in header else f"cast(null as varchar) as {c}"
            for c in columns
        )
        conn.execute(
            f"create or replace table raw.catalog_{name} as "
            f"select {select}, row_number() over () + 1 as line_number from {reader}"
        )
    except duckdb.Error as error:
        raise CatalogError(f"{name}.csv: cannot be read as CSV: {error}") from error
    return one_row(conn.execute(f"select count(*) from raw.catalog_{name}"))[0]


def catalog_violations(conn: duckdb.DuckDBPyConnection) -> list[Violation]:
    """Every rule the loaded catalog breaks, in file and line order."""
    conn.execute("create or replace temp table catalog_currencies (currency varchar)")
    conn.executemany("insert into catalog_currencies values (?)", [[c] for c in known_currencies()])
    conn.execute("create or replace temp table catalog_timezones (name varchar)")
    conn.executemany("insert into catalog_timezones values (?)", [[t] for t in known_timezones()])
    for sql in WORK_TABLES_SQL:
        conn.execute(sql)
    violations = []
    for file, rule, sql, *column in RULES + NOT_YET_SUPPORTED:
        # A rule's query gives the line, and may give the offending value as a second column.
        for line, *value in conn.execute(sql).fetchall():
            shown = f"{rule}, found {value[0]!r}" if value else rule
            violations.append(Violation(file, line, shown, column[0] if column else None))
    # Required key cells, per file.
    for name, keys in KEY_COLUMNS.items():
        for key in keys:
            for (line,) in conn.execute(
                f"select line_number from raw.catalog_{name} where {key} is null"
            ).fetchall():
                violations.append(Violation(name, line, f"{key} is required"))
    return sorted(violations, key=lambda v: (v.file, v.line or 0, v.rule))


def load_catalog(conn: duckdb.DuckDBPyConnection, catalog_dir: Path) -> dict[str, int]:
    """Replace `raw.catalog_*` with the catalog in `catalog_dir`; raise CatalogError if invalid.

    Runs in one transaction, so an invalid catalog leaves the previous one in place.
    """
    if not catalog_dir.is_dir():
        raise CatalogError(f"{catalog_dir}: catalog directory does not exist")
    conn.execute("create schema if not exists raw")
    conn.execute("begin transaction")
    try:
        counts = {name: _load_file(conn, catalog_dir, name) for name in CATALOG_FILES}
        violations = catalog_violations(conn)
        if violations:
            listing = "\n".join(f"  {catalog_dir}/{v}" for v in violations)
            raise CatalogError(f"the pricing catalog breaks {len(violations)} rule(s):\n{listing}")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return counts
