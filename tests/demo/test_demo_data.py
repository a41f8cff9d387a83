"""Tests for the deterministic Lumen Labs demo data set (meterhouse_tools.demo_data)."""

import csv
import hashlib
import json
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from meterhouse_tools.demo_data import (
    ANOMALY_KINDS,
    CUSTOMER_FIELDS,
    EVENT_FIELDS,
    METRICS,
    PLAN_MIX,
    PLANS_BY_CURRENCY,
    DemoManifest,
    event_draws,
    generate_demo_dataset,
)
from orchestration.settings import REPO_ROOT

CATALOG = Path(__file__).resolve().parents[2] / "seeds" / "catalog"
SMALL = {"customers": 16, "events": 20_000}
FIRST = date(2026, 8, 1)
START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoManifest]:
    root = tmp_path_factory.mktemp("landing")
    return root, generate_demo_dataset(root, **SMALL)


def _event_rows(root: Path, manifest: DemoManifest) -> list[tuple]:
    """Every event row in load order: (file, position, tx, sub, code, timestamp, properties).

    NDJSON is parsed with `json` (a line that is not a JSON object has `None` everywhere and
    properties `"<malformed>"`); CSV and Parquet are read with DuckDB as text.
    """
    rows: list[tuple] = []
    con = duckdb.connect()
    for rel in manifest.files:
        if not rel.startswith("events/"):
            continue
        path = root / rel
        if path.suffix == ".ndjson":
            for position, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
                try:
                    body = json.loads(line)
                except json.JSONDecodeError:
                    body = None
                if not isinstance(body, dict):
                    rows.append((rel, position, None, None, None, None, "<malformed>"))
                    continue
                if isinstance(body.get("event"), dict):
                    body = body["event"]
                stamp = body.get("timestamp")
                props = body.get("properties")
                rows.append(
                    (
                        rel,
                        position,
                        body.get("transaction_id"),
                        body.get("external_subscription_id"),
                        body.get("code"),
                        None if stamp is None else str(stamp),
                        None if props is None else json.dumps(props),
                    )
                )
            continue
        reader = (
            f"read_csv('{path}', header = true, all_varchar = true)"
            if path.suffix == ".csv"
            else f"read_parquet('{path}')"
        )
        fetched = con.sql(
            'select transaction_id, external_subscription_id, code, "timestamp", properties '
            f"from {reader}"
        ).fetchall()
        rows.extend((rel, i, *row) for i, row in enumerate(fetched))
    return rows


@pytest.fixture(scope="module")
def loaded(demo: tuple[Path, DemoManifest]) -> duckdb.DuckDBPyConnection:
    """The demo's events and subscriptions in DuckDB, each event row with its defect."""
    return _load(*demo)


def _load(root: Path, manifest: DemoManifest) -> duckdb.DuckDBPyConnection:
    rows = _event_rows(root, manifest)
    columns = ["file", "position", *EVENT_FIELDS[:5]]
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    con = duckdb.connect()
    con.register("raw_events", table)
    con.execute(
        f"create table subs as select * from read_csv('{root}/subscriptions/subscriptions.csv', "
        "header = true, all_varchar = true)"
    )
    metric_list = ", ".join(f"'{m}'" for m in METRICS)
    con.execute(
        f"""
        create table events as
        with typed as (
            select
                *,
                case
                    when regexp_full_match("timestamp", '[0-9]+')
                        then to_timestamp(cast("timestamp" as bigint))
                    else try_cast("timestamp" as timestamptz)
                end as ts,
                coalesce(
                    case when json_valid(properties) then json_type(properties) = 'OBJECT' end,
                    false
                ) as is_object,
                case
                    when json_valid(properties) and json_type(properties) = 'OBJECT'
                        then cast(json(properties) as varchar)
                end as props
            from raw_events
        )
        select
            typed.*,
            case
                when properties = '<malformed>' then 'malformed'
                when coalesce(transaction_id, '') = '' or coalesce(code, '') = ''
                    or coalesce(external_subscription_id, '') = '' then 'missing_field'
                when external_subscription_id not in (select external_subscription_id from subs)
                    then 'unknown_subscription'
                when code not in ({metric_list}) then 'unknown_metric'
                when ts is null then 'bad_timestamp'
                when not is_object then 'bad_value'
            end as defect
        from typed
        """
    )
    return con


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    first = generate_demo_dataset(tmp_path / "a", **SMALL)
    second = generate_demo_dataset(tmp_path / "b", **SMALL)
    assert first == second
    hashes = _hashes(tmp_path / "a")
    assert hashes == _hashes(tmp_path / "b")
    assert set(hashes) == {*first.files, "demo_manifest.json"}
    generate_demo_dataset(tmp_path / "c", seed=8, **SMALL)
    assert _hashes(tmp_path / "c") != hashes


def test_rerun_replaces_earlier_demo_files_only(tmp_path: Path) -> None:
    generate_demo_dataset(tmp_path, **SMALL)
    keep = tmp_path / "events" / "from_production.ndjson"
    keep.write_text("{}\n", encoding="utf-8")
    manifest = generate_demo_dataset(tmp_path, months=2, customers=10, events=5_000)
    events = sorted(p.name for p in (tmp_path / "events").iterdir())
    assert events == [
        "events_2026-08.ndjson",
        "events_2026-09.csv",
        "from_production.ndjson",
        "replay_2026-08.ndjson",
    ]
    assert manifest.events_written == 5_000
    assert DemoManifest.from_json((tmp_path / "demo_manifest.json").read_text()) == manifest


def test_manifest_shape(demo: tuple[Path, DemoManifest]) -> None:
    _, manifest = demo
    assert manifest.first_month == FIRST
    assert (manifest.months, manifest.customers) == (3, 16)
    assert manifest.events_written == SMALL["events"]
    assert list(manifest.files) == sorted(manifest.files)
    assert manifest.files == (
        "applied_coupons/applied_coupons.csv",
        "customers/customer_updates.ndjson",
        "customers/customers.csv",
        "events/events_2026-08.ndjson",
        "events/events_2026-09.csv",
        "events/events_2026-10.parquet",
        "events/replay_2026-08.ndjson",
        "subscriptions/subscriptions.csv",
        "wallet_transactions/wallet_transactions.csv",
        "wallets/wallets.csv",
    )
    assert tuple(manifest.injected) == ANOMALY_KINDS
    assert all(count > 0 for count in manifest.injected.values())
    assert json.loads(manifest.to_json())["injected"] == manifest.injected


def test_manifest_counts_match_the_files(
    demo: tuple[Path, DemoManifest], loaded: duckdb.DuckDBPyConnection
) -> None:
    _check_counts(demo[1], loaded)


def _check_counts(manifest: DemoManifest, loaded: duckdb.DuckDBPyConnection) -> None:
    total = loaded.execute("select count(*) from events").fetchone()[0]
    assert total == manifest.events_written
    defects = dict(
        loaded.execute(
            "select defect, count(*) from events where defect is not null group by defect"
        ).fetchall()
    )
    for kind in ("malformed", "missing_field", "bad_timestamp", "bad_value"):
        assert defects.get(kind, 0) == manifest.injected[kind], kind
    unknown_metric = loaded.execute(
        "select count(*) from events where code = 'nonexistent_metric'"
    ).fetchone()[0]
    ghosts = loaded.execute(
        "select count(*) from events where external_subscription_id like 'sub_ghost_%'"
    ).fetchone()[0]
    assert unknown_metric == defects["unknown_metric"] == manifest.injected["unknown_metric"]
    assert ghosts == defects["unknown_subscription"] == manifest.injected["unknown_subscription"]

    # Among valid rows, (sub, tx) repeats are exact (same payload) or conflicting (different).
    rows, keys, payloads = loaded.execute(
        """
        select
            count(*),
            count(distinct (external_subscription_id, transaction_id)),
            count(distinct (external_subscription_id, transaction_id, code, ts, props))
        from events
        where defect is null
        """
    ).fetchone()
    assert rows - payloads == manifest.injected["exact_duplicate"]
    assert payloads - keys == manifest.injected["conflicting_duplicate"]
    assert (
        rows - keys
        == manifest.injected["exact_duplicate"] + (manifest.injected["conflicting_duplicate"])
    )


def test_duplicates_come_after_their_first_row_in_load_order(
    demo: tuple[Path, DemoManifest], loaded: duckdb.DuckDBPyConnection
) -> None:
    root, manifest = demo
    # Conflicts: the same code and timestamp, only the properties differ; some cross files.
    conflicts = loaded.execute(
        """
        select count(distinct code), count(distinct ts), count(distinct file)
        from events
        where defect is null
        group by external_subscription_id, transaction_id
        having count(distinct props) > 1
        """
    ).fetchall()
    assert len(conflicts) == manifest.injected["conflicting_duplicate"]
    assert all(codes == 1 and stamps == 1 for codes, stamps, _ in conflicts)
    assert any(files == 2 for _, _, files in conflicts)
    assert any(files == 1 for _, _, files in conflicts)
    # The replay file repeats lines of the first file, byte for byte, and is loaded last.
    first = set((root / "events/events_2026-08.ndjson").read_text("utf-8").splitlines())
    replay = (root / "events/replay_2026-08.ndjson").read_text("utf-8").splitlines()
    assert replay
    assert set(replay) <= first
    assert manifest.files.index("events/replay_2026-08.ndjson") > manifest.files.index(
        "events/events_2026-10.parquet"
    )
    # Some exact duplicates sit in the same file as their original.
    same_file = loaded.execute(
        """
        select count(*) from (
            select file from events where defect is null
            group by file, external_subscription_id, transaction_id, props
            having count(*) > 1
        )
        """
    ).fetchone()[0]
    assert same_file > 0


def test_events_respect_subscription_windows(
    demo: tuple[Path, DemoManifest], loaded: duckdb.DuckDBPyConnection
) -> None:
    _, manifest = demo
    before, after, outside = loaded.execute(
        f"""
        select
            count(*) filter (where e.ts < try_cast(s.started_at as timestamptz)),
            count(*) filter (where e.ts >= try_cast(s.terminated_at as timestamptz)),
            count(*) filter (
                where e.ts < timestamptz '{START.isoformat()}'
                or e.ts >= timestamptz '{END.isoformat()}'
            )
        from events as e
        inner join subs as s using (external_subscription_id)
        where e.defect is null
        """
    ).fetchone()
    assert before == manifest.injected["before_start"]
    assert after == 0
    assert outside == 0


def test_event_codes_belong_to_the_plan(loaded: duckdb.DuckDBPyConnection) -> None:
    charges = _csv_rows(CATALOG / "charges.csv")
    allowed = {(c["plan_code"], c["metric_code"]) for c in charges}
    used = loaded.execute(
        """
        select distinct s.plan_code, e.code
        from events as e
        inner join subs as s using (external_subscription_id)
        where e.defect is null
        """
    ).fetchall()
    assert set(used) <= allowed
    counts = dict(
        loaded.execute(
            "select code, count(*) from events where defect is null group by code"
        ).fetchall()
    )
    assert set(counts) == set(METRICS)
    assert max(counts, key=counts.__getitem__) == "api_calls"


def test_usage_is_skewed(loaded: duckdb.DuckDBPyConnection) -> None:
    per_sub = [
        n
        for (n,) in loaded.execute(
            "select count(*) as n from events where defect is null "
            "group by external_subscription_id order by n desc"
        ).fetchall()
    ]
    assert per_sub[0] > 0.3 * sum(per_sub)
    assert per_sub[-1] < 0.02 * sum(per_sub)


def test_properties_values(loaded: duckdb.DuckDBPyConnection) -> None:
    rows = loaded.execute(
        "select code, properties from events where defect is null and properties is not null"
    ).fetchall()
    by_code: dict[str, list[dict]] = {}
    for code, text in rows:
        by_code.setdefault(code, []).append(json.loads(text))
    assert {p["endpoint"] for p in by_code["api_calls"]} >= {"/v1/chat", "/v1/embed"}
    assert {p["region"] for p in by_code["api_calls"]} == {"us", "eu", "ap"}
    tokens = [p["tokens"] for p in by_code["tokens"]]
    assert all(10 <= int(t) <= 5000 for t in tokens)
    assert any(isinstance(t, str) for t in tokens) and any(isinstance(t, int) for t in tokens)
    assert {p["model"] for p in by_code["tokens"]} == {"lumen-small", "lumen-large"}
    assert all(1 <= int(p["streams"]) <= 20 for p in by_code["peak_streams"])
    # Decimals keep their scale in the text (CSV and Parquet hold the text as written).
    rows = loaded.execute(
        "select code, properties from events where defect is null and file not like '%.ndjson'"
    ).fetchall()
    texts = Counter(code for code, _ in rows)
    decimals = {
        "gpu_seconds": re.compile(r'\{"seconds": "?\d+\.\d{3}"?, "gpu": "(a100|h100)"\}'),
        "storage_gb": re.compile(r'\{"gb": "?\d+\.\d{2}"?\}'),
    }
    for code, pattern in decimals.items():
        matching = [t for c, t in rows if c == code and pattern.fullmatch(t)]
        assert len(matching) == texts[code], code
    users = Counter(p["user_id"] for p in by_code["active_users"])
    assert all(u.startswith("usr_") for u in users)
    as_strings = sum(isinstance(t, str) for t in tokens) / len(tokens)
    assert 0.005 < as_strings < 0.1


def test_ndjson_mixes_forms(demo: tuple[Path, DemoManifest]) -> None:
    root, _ = demo
    lines = (root / "events/events_2026-08.ndjson").read_text("utf-8").splitlines()
    forms = Counter()
    for line in lines:
        try:
            body = json.loads(line)
        except json.JSONDecodeError:
            forms["malformed"] += 1
            continue
        wrapped = isinstance(body, dict) and isinstance(body.get("event"), dict)
        event = body["event"] if wrapped else body
        forms["wrapped" if wrapped else "bare"] += 1
        stamp = event.get("timestamp")
        forms["unix" if isinstance(stamp, int) else "iso"] += 1
        assert set(event) <= set(EVENT_FIELDS)
    assert 0.05 < forms["wrapped"] / len(lines) < 0.15
    assert 0.05 < forms["unix"] / len(lines) < 0.15
    assert forms["bare"] > forms["wrapped"]
    assert forms["iso"] > forms["unix"]
    assert forms["malformed"] > 0


def test_csv_and_parquet_columns(demo: tuple[Path, DemoManifest]) -> None:
    root, _ = demo
    header = (root / "events/events_2026-09.csv").read_text("utf-8").splitlines()[0]
    assert header == ",".join(EVENT_FIELDS)
    schema = pq.read_schema(root / "events/events_2026-10.parquet")
    assert schema.names == list(EVENT_FIELDS)
    assert all(field.type == pa.string() for field in schema)
    stamps = [r["timestamp"] for r in _csv_rows(root / "events/events_2026-09.csv")[:100]]
    assert all(len(s) == 24 and s.endswith("Z") and s[19] == "." for s in stamps)


def test_customers(demo: tuple[Path, DemoManifest]) -> None:
    root, manifest = demo
    rows = _csv_rows(root / "customers/customers.csv")
    assert len(rows) == manifest.customers
    assert tuple(rows[0]) == CUSTOMER_FIELDS
    expected = {
        "US": ("USD", "us_ca_sales", {"America/Los_Angeles", ""}),
        "FR": ("EUR", "fr_vat", {"Europe/Paris"}),
        "DE": ("EUR", "de_vat", {"Europe/Berlin", ""}),
        "JP": ("JPY", "jp_ct", {"Asia/Tokyo"}),
    }
    for row in rows:
        currency, tax, zones = expected[row["country"]]
        assert (row["currency"], row["tax_codes"]) == (currency, tax)
        assert row["timezone"] in zones
        assert _utc(row["updated_at"]) < START
        assert row["email"].count("@") == 1
    assert {r["country"] for r in rows} == set(expected)
    assert {r["currency"] for r in rows} == {"USD", "EUR", "JPY"}
    assert len({r["external_customer_id"] for r in rows}) == len(rows)
    names = " ".join(r["name"] + r["legal_name"] for r in rows)
    assert "&" in names
    assert "'" in names
    assert any(not ch.isascii() for ch in names)

    updates = [
        json.loads(line)
        for line in (root / "customers/customer_updates.ndjson").read_text("utf-8").splitlines()
    ]
    original = {r["external_customer_id"]: r for r in rows}
    assert len({u["external_customer_id"] for u in updates}) >= 2
    for update in updates:
        before = original[update["external_customer_id"]]
        assert list(update) == list(before)
        assert _utc(update["updated_at"]) > _utc(before["updated_at"])
        assert update["email"] != before["email"]
        assert update["currency"] == before["currency"]


def test_subscriptions(demo: tuple[Path, DemoManifest]) -> None:
    root, manifest = demo
    plans = {r["plan_code"]: r for r in _csv_rows(CATALOG / "plans.csv")}
    customers = {r["external_customer_id"]: r for r in _csv_rows(root / "customers/customers.csv")}
    subs = _csv_rows(root / "subscriptions/subscriptions.csv")
    assert len(subs) == manifest.subscriptions > manifest.customers
    assert set(customers) == {s["external_customer_id"] for s in subs}
    assert {s["plan_code"] for s in subs} == set(plans)
    mid_month, anniversary, terminated = 0, 0, []
    for sub in subs:
        customer = customers[sub["external_customer_id"]]
        assert plans[sub["plan_code"]]["currency"] == customer["currency"]
        assert sub["subscription_at"] == sub["started_at"]
        started = _utc(sub["started_at"])
        zone = ZoneInfo(customer["timezone"]) if customer["timezone"] else UTC
        local_midnight = datetime(2026, 8, 1, tzinfo=zone).astimezone(UTC)
        if started != local_midnight:
            mid_month += 1
            anniversary += sub["billing_time"] == "anniversary"
            assert START < started < END
        else:
            assert sub["billing_time"] == "calendar"
        if sub["terminated_at"]:
            terminated.append(sub)
    assert mid_month >= 2
    assert anniversary == mid_month // 2
    assert len(terminated) == 1
    ended = _utc(terminated[0]["terminated_at"])
    assert terminated[0]["plan_code"] == "team_eur"
    assert ended.month == 9 and 10 <= ended.day <= 20


def test_plan_mix_matches_the_catalog() -> None:
    charges = _csv_rows(CATALOG / "charges.csv")
    plans = {r["plan_code"]: r["currency"] for r in _csv_rows(CATALOG / "plans.csv")}
    for plan, mix in PLAN_MIX.items():
        metrics = {METRICS[i] for i, share in enumerate(mix) if share > 0}
        assert metrics == {c["metric_code"] for c in charges if c["plan_code"] == plan}, plan
        assert mix[0] == max(mix)
    assert {p: c for c, options in PLANS_BY_CURRENCY.items() for p, _ in options} == plans


def test_one_month_and_a_later_start(tmp_path: Path) -> None:
    manifest = generate_demo_dataset(
        tmp_path, months=1, customers=8, events=3_000, first_month=date(2027, 2, 1)
    )
    assert manifest.files[-4:] == (
        "events/replay_2027-02.ndjson",
        "subscriptions/subscriptions.csv",
        "wallet_transactions/wallet_transactions.csv",
        "wallets/wallets.csv",
    )
    assert manifest.events_written == 3_000
    subs = _csv_rows(tmp_path / "subscriptions/subscriptions.csv")
    ended = [_utc(s["terminated_at"]) for s in subs if s["terminated_at"]]
    assert len(ended) == 1 and ended[0].month == 2


def test_default_size_has_the_documented_anomalies(tmp_path: Path) -> None:
    manifest = generate_demo_dataset(tmp_path)
    assert manifest.events_written == 1_000_000
    assert manifest.injected["exact_duplicate"] == 3_000


def test_large_months_are_split_into_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_draws, "MAX_ROWS_PER_FILE", 4_000)
    manifest = generate_demo_dataset(tmp_path, months=2, customers=12, events=20_000)
    events = [f for f in manifest.files if f.startswith("events/")]
    assert events[0] == "events/events_2026-08_part01.ndjson"
    assert events[-1] == "events/replay_2026-08.ndjson"
    assert len(events) > 4
    assert manifest.events_written == 20_000
    _check_counts(manifest, _load(tmp_path, manifest))


def test_account_inputs_use_catalog_coupons_in_the_customers_currency(tmp_path: Path) -> None:
    generate_demo_dataset(tmp_path, months=2, customers=20, events=2_000)
    customers = {
        c["external_customer_id"]: c for c in _csv_rows(tmp_path / "customers/customers.csv")
    }
    coupons = {c["coupon_code"]: c for c in _csv_rows(REPO_ROOT / "seeds/catalog/coupons.csv")}
    applied = _csv_rows(tmp_path / "applied_coupons/applied_coupons.csv")
    assert len(applied) == 5
    for row in applied:
        coupon = coupons[row["coupon_code"]]
        assert coupon["currency"] in ("", customers[row["external_customer_id"]]["currency"])
    wallets = _csv_rows(tmp_path / "wallets/wallets.csv")
    assert len(wallets) == 4
    assert all(w["currency"] == customers[w["external_customer_id"]]["currency"] for w in wallets)
    movements = _csv_rows(tmp_path / "wallet_transactions/wallet_transactions.csv")
    kinds = sorted({m["transaction_type"] for m in movements})
    assert kinds == ["granted", "purchased", "voided"]
