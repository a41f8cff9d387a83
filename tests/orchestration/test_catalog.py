"""The catalog loads its issue #3 and #4 features, and each rule names the file, line and rule."""

from pathlib import Path

import duckdb
import pytest

from orchestration.landing.catalog import CatalogError, load_catalog

CHARGE_COLUMNS = (
    "charge_code,plan_code,metric_code,charge_model,pay_in_advance,invoiceable,prorated,"
    "min_amount,pricing_group_keys,tax_codes,amount,package_size,free_units,rate,fixed_amount,"
    "free_units_per_events,free_units_per_total_aggregation,per_transaction_min_amount,"
    "per_transaction_max_amount,valid_from"
)
FILTER_COLUMNS = (
    "charge_code,filter_code,conditions,pricing_group_keys,amount,package_size,free_units,rate,"
    "fixed_amount,free_units_per_events,free_units_per_total_aggregation,"
    "per_transaction_min_amount,per_transaction_max_amount,valid_from"
)

# Every issue #3 feature at least once; the line numbers below count the header as line 1.
FEATURES = {
    "billing_entity.csv": "name,timezone,document_numbering\nAcme,UTC,per_customer\n",
    "taxes.csv": "tax_code,name,rate,applied_by_default\nvat,VAT,20,false\n",
    "billable_metrics.csv": (
        "metric_code,name,aggregation,field_name,recurring,rounding_function,"
        "rounding_precision,valid_from\n"
        "api_calls,API calls,count,,false,,,\n"  # 2
        "payments,Payments,sum,amount,false,,,\n"  # 3
        "gpu_hours,GPU hours,weighted_sum,gpus,false,,,\n"  # 4
        "seats,Seats,sum,seats,true,,,\n"  # 5
        "storage,Storage,sum,gb,true,,,\n"  # 6
    ),
    "metric_filters.csv": (
        "metric_code,key,values\n"
        "api_calls,region,us|europe|asia\n"  # 2
        "api_calls,tier,free|paid\n"  # 3
        "payments,method,card|bank\n"  # 4
    ),
    "plans.csv": (
        "plan_code,name,interval,currency,amount,pay_in_advance,trial_days,bill_charges_monthly,"
        "minimum_commitment,tax_codes,valid_from\n"
        "pro,Pro,monthly,USD,100,true,0,false,,vat,\n"
    ),
    "charges.csv": (
        f"{CHARGE_COLUMNS}\n"
        "pro_api_calls,pro,api_calls,standard,false,true,false,5,model|project,,"
        "0.001,,,,,,,,,\n"  # 2
        "pro_exports,pro,api_calls,package,false,true,false,,,,1,100,10,,,,,,,\n"  # 3
        "pro_payments,pro,payments,percentage,false,true,false,,,,,,,1.5,0.25,3,100,0.5,20,\n"  # 4
        "pro_payments_tiered,pro,payments,graduated_percentage,false,true,false,,,,"
        ",,,,,,,,,\n"  # 5
        "pro_resale,pro,payments,dynamic,false,true,false,,,,,,,,,,,,,\n"  # 6
        "pro_gpu_hours,pro,gpu_hours,standard,false,true,false,,,,2.5,,,,,,,,,\n"  # 7
        "pro_seats,pro,seats,standard,false,true,true,,,,10,,,,,,,,,\n"  # 8
        "pro_seats_upfront,pro,seats,standard,true,false,true,,,,12,,,,,,,,,\n"  # 9
        "pro_deposits,pro,payments,standard,true,false,false,,,,0.01,,,,,,,,,\n"  # 10
        "pro_storage,pro,storage,graduated,false,true,true,,,,,,,,,,,,,\n"  # 11
    ),
    "charge_filters.csv": (
        f"{FILTER_COLUMNS}\n"
        "pro_api_calls,us,region=us,,0.002,,,,,,,,,\n"  # 2
        "pro_api_calls,us_paid,region=us;tier=paid,,0.003,,,,,,,,,\n"  # 3
        "pro_api_calls,elsewhere,region=europe|asia,model,0.0015,,,,,,,,,\n"  # 4
        "pro_api_calls,any_tier,tier=*,,0.0012,,,,,,,,,\n"  # 5
        "pro_exports,eu,region=europe,,0.8,50,,,,,,,,\n"  # 6
        "pro_payments,cards,method=card,,,,,2.9,0.3,1,,0.1,10,\n"  # 7
        "pro_payments_tiered,bank,method=bank,,,,,,,,,,,\n"  # 8
    ),
    "charge_tiers.csv": (
        "charge_code,filter_code,from_value,to_value,per_unit_amount,flat_amount,rate,valid_from\n"
        "pro_payments_tiered,,0,1000,,0,2,\n"  # 2
        "pro_payments_tiered,,1001,,,0,1,\n"  # 3
        "pro_payments_tiered,bank,0,,,,0.5,\n"  # 4
        "pro_storage,,0,100,0.1,0,,\n"  # 5
        "pro_storage,,100,,0.05,0,,\n"  # 6
    ),
}


def _write(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _replaced(file: str, old: str, new: str) -> dict[str, str]:
    assert FEATURES[file].count(old) == 1, f"{old!r} must occur once in {file}"
    return {**FEATURES, file: FEATURES[file].replace(old, new)}


def test_a_catalog_using_every_issue_3_feature_loads(tmp_path: Path):
    conn = duckdb.connect()
    counts = load_catalog(conn, _write(tmp_path, FEATURES))
    assert counts["metric_filters"] == 3 and counts["charge_filters"] == 7
    assert counts["charges"] == 10 and counts["charge_tiers"] == 5


CASES = [
    # billable_metrics.csv
    (
        "billable_metrics.csv",
        "api_calls,API calls,count,,false",
        "api_calls,API calls,count,,true",
        "billable_metrics.csv line 2: recurring is only allowed for sum, unique_count and "
        "weighted_sum metrics",
    ),
    (
        "billable_metrics.csv",
        "gpu_hours,GPU hours,weighted_sum,gpus",
        "gpu_hours,GPU hours,weighted_sum,",
        "billable_metrics.csv line 4: field_name is required for every aggregation but count",
    ),
    # metric_filters.csv
    (
        "metric_filters.csv",
        "payments,method",
        "refunds,method",
        "metric_filters.csv line 4: metric_code must name a metric of billable_metrics.csv",
    ),
    (
        "metric_filters.csv",
        "payments,method,card|bank\n",
        "payments,method,card|bank\napi_calls,tier,gold\n",
        "metric_filters.csv line 5: key is defined twice for the same metric",
    ),
    (
        "metric_filters.csv",
        "card|bank",
        "card||bank",
        "metric_filters.csv line 4: values must be `|`-separated, with no empty value",
    ),
    (
        "metric_filters.csv",
        "card|bank",
        "card|bank|",
        "metric_filters.csv line 4: values must be `|`-separated, with no empty value",
    ),
    (
        "metric_filters.csv",
        "card|bank",
        "card|bank|card",
        "metric_filters.csv line 4: values must not list a value twice",
    ),
    (
        "metric_filters.csv",
        "card|bank",
        "card|*",
        "metric_filters.csv line 4: key must not contain `=`, `;` or `|`, and a value must not "
        "be `*`",
    ),
    # plans.csv: a spend cap (docs/rules.md §12b) is empty or a non-negative decimal.
    (
        "plans.csv",
        "valid_from\npro,Pro,monthly,USD,100,true,0,false,,vat,\n",
        "valid_from,spend_cap_amount\npro,Pro,monthly,USD,100,true,0,false,,vat,,-5\n",
        "plans.csv line 2, column spend_cap_amount: spend_cap_amount must be empty (no cap) or a "
        "non-negative decimal (docs/rules.md §12b), found '-5'",
    ),
    (
        "plans.csv",
        "valid_from\npro,Pro,monthly,USD,100,true,0,false,,vat,\n",
        "valid_from,spend_cap_amount\npro,Pro,monthly,USD,100,true,0,false,,vat,,ten\n",
        "plans.csv line 2, column spend_cap_amount: spend_cap_amount must be empty",
    ),
    # charges.csv
    (
        "charges.csv",
        "pro_storage,pro,storage,graduated,false",
        "pro_storage,pro,storage,graduated,true",
        "charges.csv line 11: §17b: prorated pay-in-advance charges must be standard",
    ),
    (
        "charges.csv",
        "pro_seats,pro,seats,standard,false,true,true,,,,10,",
        "pro_seats,pro,seats,package,false,true,true,,,,10,1",
        "charges.csv line 8: §17b: prorated charges in arrears must be standard, volume or "
        "graduated",
    ),
    (
        "charges.csv",
        "pro_gpu_hours,pro,gpu_hours,standard,false,true,false",
        "pro_gpu_hours,pro,gpu_hours,standard,false,true,true",
        "charges.csv line 7: §17b: prorated needs a recurring metric other than weighted_sum",
    ),
    (
        "charges.csv",
        ",1.5,0.25,",
        ",,0.25,",
        "charges.csv line 4: percentage charges need a rate",
    ),
    (
        "charges.csv",
        ",0.25,3,100,",
        ",0.25,2.5,100,",
        "charges.csv line 4: free_units_per_events must be a whole number of events",
    ),
    (
        "charges.csv",
        ",0.5,20,",
        ",30,20,",
        "charges.csv line 4: per_transaction_min_amount must not exceed per_transaction_max_amount",
    ),
    (
        "charges.csv",
        ",1.5,0.25,",
        ",-1.5,0.25,",
        "charges.csv line 4, column rate: rate must be a non-negative decimal",
    ),
    (
        "charges.csv",
        "model|project",
        "model||project",
        "charges.csv line 2: pricing_group_keys must be `|`-separated non-empty keys",
    ),
    (
        "charges.csv",
        "model|project",
        "model|",
        "charges.csv line 2: pricing_group_keys must be `|`-separated non-empty keys",
    ),
    # Issue 13 item 6: a group key is matched as written, so one with surrounding spaces (which
    # would otherwise be trimmed silently) is refused, naming the file, line, column and value.
    (
        "charges.csv",
        "model|project",
        "model| project",
        "charges.csv line 2: pricing_group_keys: a key must not start or end with spaces "
        "(an event property key is matched as written), found ' project'",
    ),
    (
        "charges.csv",
        "pro_resale,pro,payments,dynamic",
        "pro_resale,pro,api_calls,dynamic",
        "charges.csv line 6: §17b: dynamic charges need a sum metric",
    ),
    (
        "charge_tiers.csv",
        "pro_payments_tiered,,0,1000,,0,2,\npro_payments_tiered,,1001,,,0,1,\n",
        "",
        "charges.csv line 5: graduated, volume and graduated_percentage charges need tiers in "
        "charge_tiers.csv with an empty filter_code",
    ),
    # charge_filters.csv
    (
        "charge_filters.csv",
        "pro_api_calls,us_paid",
        "pro_api_call,us_paid",
        "charge_filters.csv line 3: charge_code must name a charge of charges.csv",
    ),
    (
        "charge_filters.csv",
        "pro_api_calls,any_tier,",
        "pro_api_calls,us,",
        "charge_filters.csv line 5: filter_code is defined twice for the same charge and "
        "valid_from",
    ),
    (
        "charge_filters.csv",
        "0.003,,,,,,,,,\n",
        "0.003,,,,,,,,,next week\n",
        "charge_filters.csv line 3: valid_from must be a date",
    ),
    *(
        (
            "charge_filters.csv",
            "region=us;tier=paid",
            conditions,
            "charge_filters.csv line 3: conditions must read key=v1|v2;key2=v3",
        )
        for conditions in (
            "region=us;tier=",
            "region=us;tier",
            "region=us;=paid",
            "region=us;tier=paid;",
            "region=us|;tier=paid",
            "region=us; tier=paid",
        )
    ),
    (
        "charge_filters.csv",
        "region=us;tier=paid",
        "region=us;region=asia",
        "charge_filters.csv line 3: conditions: a key may appear only once",
    ),
    (
        "charge_filters.csv",
        "tier=*",
        "plan=*",
        "charge_filters.csv line 5: conditions: each key must be one metric_filters.csv "
        "declares for the charge's metric",
    ),
    (
        "charge_filters.csv",
        "method=card",
        "region=us",
        "charge_filters.csv line 7: conditions: each key must be one metric_filters.csv "
        "declares for the charge's metric",
    ),
    (
        "charge_filters.csv",
        "region=europe|asia",
        "region=europe|mars",
        "charge_filters.csv line 4: conditions: each value must be one metric_filters.csv "
        "declares for its key, or `*` alone",
    ),
    (
        "charge_filters.csv",
        "tier=*",
        "tier=*|paid",
        "charge_filters.csv line 5: conditions: each value must be one metric_filters.csv "
        "declares for its key, or `*` alone",
    ),
    (
        "charge_filters.csv",
        "region=europe|asia",
        "region=europe|us",
        "charge_filters.csv line 4: filters of one charge with the same keys must not overlap",
    ),
    (
        "charge_filters.csv",
        "region=europe|asia",
        "region=*",
        "charge_filters.csv line 2: filters of one charge with the same keys must not overlap",
    ),
    (
        "charge_filters.csv",
        "pro_api_calls,us,region=us,,0.002",
        "pro_api_calls,us,region=us,,",
        "charge_filters.csv line 2: filters of standard charges need an amount",
    ),
    (
        "charge_filters.csv",
        "region=europe,,0.8,50,",
        "region=europe,,0.8,0.5,",
        "charge_filters.csv line 6, column package_size: filters of package charges need a "
        "whole package_size of at least 1",
    ),
    (
        "charge_filters.csv",
        ",2.9,0.3,",
        ",,0.3,",
        "charge_filters.csv line 7: filters of percentage charges need a rate",
    ),
    (
        "charge_filters.csv",
        "pro_payments_tiered,bank,method=bank",
        "pro_payments_tiered,wire,method=bank",
        "charge_filters.csv line 8: filters of graduated, volume and graduated_percentage "
        "charges need tiers in charge_tiers.csv with their charge_code and filter_code",
    ),
    (
        "charge_filters.csv",
        "0.0015,",
        "-0.0015,",
        "charge_filters.csv line 4, column amount: amount must be a non-negative decimal",
    ),
    (
        "charge_filters.csv",
        ",0.3,1,,",
        ",0.3,1.5,,",
        "charge_filters.csv line 7: free_units_per_events must be a whole number of events",
    ),
    (
        "charge_filters.csv",
        ",0.1,10,",
        ",11,10,",
        "charge_filters.csv line 7: per_transaction_min_amount must not exceed "
        "per_transaction_max_amount",
    ),
    (
        "charge_filters.csv",
        "asia,model,",
        "asia,model ,",
        "charge_filters.csv line 4: pricing_group_keys: a key must not start or end with spaces "
        "(an event property key is matched as written), found 'model '",
    ),
    (
        "charge_filters.csv",
        "asia,model,",
        "asia,|model,",
        "charge_filters.csv line 4: pricing_group_keys must be `|`-separated non-empty keys",
    ),
    # charge_tiers.csv
    (
        "charge_tiers.csv",
        "pro_payments_tiered,bank,0",
        "pro_payments_tiered,wire,0",
        "charge_tiers.csv line 4: filter_code must name a filter of that charge in "
        "charge_filters.csv",
    ),
    (
        "charge_tiers.csv",
        "pro_payments_tiered,,1001,,,0,1,",
        "pro_payments_tiered,,1001,,,0,,",
        "charge_tiers.csv line 3: tiers of graduated_percentage charges need a rate",
    ),
    (
        "charge_tiers.csv",
        "pro_storage,,100,,",
        "pro_storage,,102,,",
        "charge_tiers.csv line 6: tiers must be contiguous",
    ),
    (
        "charge_tiers.csv",
        "pro_storage,,100,,",
        "pro_storage,,99,,",
        "charge_tiers.csv line 6: tiers must be contiguous",
    ),
    (
        "charge_tiers.csv",
        "pro_storage,,0,100,",
        "pro_storage,,2,100,",
        "charge_tiers.csv line 5: the first tier of a charge must start at 0",
    ),
    (
        "plans.csv",
        "100,true,0,false",
        "100,true,1.5,false",
        "plans.csv line 2: trial_days must be a whole number of days, 0 or more (docs/rules.md §9)",
    ),
    (
        "plans.csv",
        "100,true,0,false",
        "100,true,-3,false",
        "plans.csv line 2: trial_days must be a whole number of days, 0 or more (docs/rules.md §9)",
    ),
]


# Tier sets Lago's validator accepts (app/services/charges/validators/graduated_service.rb with
# app/services/validators/range_bounds_validator.rb: each from_value is the previous to_value or
# that plus 1, from 0; only the last tier unbounded).
LAGO_TIER_SETS = {
    # spec/services/charge_models/graduated_service_spec.rb, "when first tier flat amount is zero"
    "graduated_service_spec_first_tier_flat_amount_is_zero": (
        "pro_storage,,0,0.01,0,0,,\npro_storage,,0.01,10,10,2,,\npro_storage,,11,,5,3,,\n"
    ),
    "adjacent_then_inclusive": (
        "pro_storage,,0,10,1,0,,\npro_storage,,10,20,1,0,,\npro_storage,,21,,1,0,,\n"
    ),
    "first_tier_from_1": "pro_storage,,1,10,1,0,,\npro_storage,,11,,1,0,,\n",
}


@pytest.mark.parametrize("tiers", LAGO_TIER_SETS.values(), ids=LAGO_TIER_SETS.keys())
def test_tier_sets_lago_accepts_load(tmp_path: Path, tiers: str):
    storage = "pro_storage,,0,100,0.1,0,,\npro_storage,,100,,0.05,0,,\n"
    conn = duckdb.connect()
    load_catalog(conn, _write(tmp_path, _replaced("charge_tiers.csv", storage, tiers)))
    assert conn.sql(
        "select count(*) from raw.catalog_charge_tiers where charge_code = 'pro_storage'"
    ).fetchall() == [(tiers.count("\n"),)]


def test_adjacent_graduated_percentage_tiers_load_as_lago_accepts_them(tmp_path: Path):
    # Lago's graduated_percentage validator uses the same range bounds (an adjacent set is
    # valid); the pricing then counts each tier's units inclusively, as Lago does.
    files = _replaced(
        "charge_tiers.csv", "pro_payments_tiered,,1001,", "pro_payments_tiered,,1000,"
    )
    load_catalog(duckdb.connect(), _write(tmp_path, files))


@pytest.mark.parametrize(("file", "old", "new", "message"), CASES)
def test_each_issue_3_rule_names_file_line_and_rule(tmp_path: Path, file, old, new, message):
    folder = _write(tmp_path, _replaced(file, old, new))
    with pytest.raises(CatalogError) as error:
        load_catalog(duckdb.connect(), folder)
    assert message in str(error.value)


def test_overlapping_filters_are_refused_on_both_lines_and_nested_ones_are_not(tmp_path: Path):
    # us (line 2) and us|europe (line 4) share `us`; us_paid (line 3) is nested in us: allowed.
    folder = _write(
        tmp_path, _replaced("charge_filters.csv", "region=europe|asia", "region=us|europe")
    )
    with pytest.raises(CatalogError) as error:
        load_catalog(duckdb.connect(), folder)
    overlapping = [line for line in str(error.value).splitlines() if "must not overlap" in line]
    assert [line.split(":")[0].rsplit(" ", 1)[1] for line in overlapping] == ["2", "4"]


def _with_thresholds(tmp_path: Path, thresholds: str) -> Path:
    """FEATURES plus plan `lite`, whose one charge counts API calls at a standard price."""
    files = dict(FEATURES)
    files["plans.csv"] += "lite,Lite,monthly,USD,10,false,0,false,,,\n"  # 3
    files["charges.csv"] += (
        "lite_api_calls,lite,api_calls,standard,false,true,false,,,,0.01,,,,,,,,,\n"
    )
    files["usage_thresholds.csv"] = "plan_code,amount,recurring\n" + thresholds
    return _write(tmp_path, files)


def test_usage_thresholds_on_a_unit_priced_plan_load(tmp_path: Path):
    conn = duckdb.connect()
    load_catalog(
        conn, _with_thresholds(tmp_path, "lite,50,false\nlite,100.5,false\nlite,25,true\n")
    )
    assert conn.execute("select count(*) from raw.catalog_usage_thresholds").fetchone() == (3,)


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ("lite,25,true\nlite,30,true\n", "usage_thresholds.csv line 3: a plan has at most one "
         "recurring threshold (docs/rules.md §14)"),
        ("lite,25,false\nlite,25.0,false\n", "usage_thresholds.csv line 3: a plan has this "
         "threshold amount twice"),
        ("lite,0,false\n", "usage_thresholds.csv line 2, column amount: amount must be a decimal "
         "above 0"),
        ("lite,10,maybe\n", "usage_thresholds.csv line 2, column recurring: recurring must be "
         "true or false"),
        ("basic,10,false\n", "usage_thresholds.csv line 2: plan_code must name a plan of "
         "plans.csv"),
        # `pro` prices percentages, weighted sums and recurring metrics in arrears.
        ("pro,10,false\n", "usage_thresholds.csv line 2: progressive billing is supported on plans "
         "whose in-arrears charges are standard, package, graduated or volume"),
    ],
)  # fmt: skip
def test_each_usage_threshold_rule_names_file_line_and_rule(tmp_path: Path, thresholds, message):
    with pytest.raises(CatalogError) as error:
        load_catalog(duckdb.connect(), _with_thresholds(tmp_path, thresholds))
    assert message in str(error.value)


COUPONS_HEADER = (
    "coupon_code,coupon_type,amount,currency,percentage_rate,frequency,frequency_duration,"
    "plan_codes,metric_codes,expires_at\n"
)


def _with_coupons(tmp_path: Path, coupons: str) -> Path:
    files = dict(FEATURES)
    files["coupons.csv"] = COUPONS_HEADER + coupons
    return _write(tmp_path, files)


def test_valid_coupons_load(tmp_path: Path):
    conn = duckdb.connect()
    coupons = (
        "WELCOME,fixed_amount,50,USD,,once,,,,2027-12-31\n"
        "TEN,percentage,,,10,recurring,3,pro,,\n"
        "API,percentage,,,100,forever,,,api_calls,\n"
    )
    load_catalog(conn, _with_coupons(tmp_path, coupons))
    assert conn.execute("select count(*) from raw.catalog_coupons").fetchone() == (3,)


@pytest.mark.parametrize(
    ("coupon", "message"),
    [
        (
            "X,bogus,1,USD,,once,,,,\n",
            "line 2, column coupon_type: coupon_type must be fixed_amount or percentage",
        ),
        ("X,fixed_amount,1,USD,,weekly,,,,\n", "line 2, column frequency: frequency must be once"),
        (
            "X,fixed_amount,0,USD,,once,,,,\n",
            "line 2, column amount: a fixed_amount coupon needs an amount",
        ),
        (
            "X,fixed_amount,5,XXX,,once,,,,\n",
            "line 2, column currency: a fixed_amount coupon needs a currency",
        ),
        ("X,percentage,,,0,once,,,,\n", "line 2: a percentage coupon needs a percentage_rate"),
        ("X,percentage,,,101,once,,,,\n", "line 2: a percentage coupon needs a percentage_rate"),
        ("X,percentage,,,5,recurring,1.5,,,\n", "line 2: a recurring coupon needs a whole"),
        ("X,percentage,,,5,recurring,,,,\n", "line 2: a recurring coupon needs a whole"),
        ("X,percentage,,,5,once,,,,soon\n", "line 2: expires_at must be an ISO 8601 date"),
        ("X,percentage,,,5,once,,pro,api_calls,\n", "line 2: a coupon is limited to plans or"),
        ("X,percentage,,,5,once,,nope,,\n", "line 2: plan_codes must name plans of plans.csv"),
        ("X,percentage,,,5,once,,,nope,\n", "line 2: metric_codes must name metrics"),
        (
            "X,percentage,,,5,once,,,,\nX,percentage,,,6,once,,,,\n",
            "line 3: coupon_code is defined",
        ),
    ],
)
def test_each_coupon_rule_names_file_line_and_rule(tmp_path: Path, coupon, message):
    with pytest.raises(CatalogError) as error:
        load_catalog(duckdb.connect(), _with_coupons(tmp_path, coupon))
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "pro,Pro,monthly,USD,100,",
            "pro,Pro,monthly,USD,-100,",
            'plans.csv line 2, column amount = "-100": the subscription fee must be a '
            "non-negative decimal",
        ),
        (
            "pro,Pro,monthly,USD,100,true,",
            "pro,Pro,monthly,USD,100,yes,",
            'plans.csv line 2, column pay_in_advance = "yes": pay_in_advance must be true or false',
        ),
        (
            "vat,\n",
            "vat,2026-13-01\n",
            'plans.csv line 2, column valid_from = "2026-13-01": valid_from must be a date',
        ),
    ],
)
def test_a_rule_on_several_columns_is_one_rule_per_column_quoting_its_value(
    tmp_path: Path, old: str, new: str, expected: str
):
    from orchestration.console import explain_catalog_violations

    with pytest.raises(CatalogError) as error:
        load_catalog(duckdb.connect(), _write(tmp_path, _replaced("plans.csv", old, new)))
    assert str(error.value).startswith("the pricing catalog breaks 1 rule(s):")
    explained = explain_catalog_violations(str(error.value))
    assert expected in explained, explained
