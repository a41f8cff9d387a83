"""Webhooks (docs/webhooks.md): Lago's envelope and signature checked by a receiver written from
Lago's documentation, Lago's retry policy, a re-run close that queues nothing twice, and a slow
receiver that does not hold up a close.

The receivers are local HTTP servers on 127.0.0.1 (a free port each). The close reuses the
session's closed reference month (tests/integration/cli_runs.py)."""

import base64
import hmac
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import Locations
from orchestration.webhooks import outbox
from orchestration.webhooks.config import WebhookConfigError, parse
from orchestration.webhooks.delivery import deliver_due, retry_wait, utc_now

SECRET = "test-secret-0123456789abcdef"
CATALOG = Path(__file__).resolve().parents[2] / "seeds" / "catalog"


class Receiver:
    """A webhook receiver as Lago's documentation writes one (Format & Signature page):
    Base64(HMAC-SHA256(key, raw request body)) must equal `X-Lago-Signature`.

    Paths choose the behaviour: /ok answers 200, /flaky 500 twice per unique key then 200,
    /fail always 500, /redirect 302, /slow 200 after `slow_seconds`."""

    def __init__(self, secret: str, slow_seconds: float = 3.0) -> None:
        self.secret = secret.encode()
        self.slow_seconds = slow_seconds
        self.requests: list[dict] = []
        self.slow_entered = threading.Event()
        self.slow_answered: list[float] = []  # time.monotonic() of each slow answer
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calc_sig = hmac.new(receiver.secret, body, "sha256").digest()
                base64_sig = base64.b64encode(calc_sig).decode()
                record = {
                    "path": self.path,
                    "body": body,
                    "key": self.headers["X-Lago-Unique-Key"],
                    "algorithm": self.headers["X-Lago-Signature-Algorithm"],
                    "content_type": self.headers["Content-Type"],
                    "verified": self.headers.get("X-Lago-Signature") == base64_sig,
                }
                with receiver._lock:
                    receiver.requests.append(record)
                    seen = sum(1 for r in receiver.requests if r["key"] == record["key"])
                status = 200
                if self.path == "/slow":
                    receiver.slow_entered.set()
                    time.sleep(receiver.slow_seconds)
                    receiver.slow_answered.append(time.monotonic())
                elif self.path == "/fail" or (self.path == "/flaky" and seen <= 2):
                    status = 500
                elif self.path == "/redirect":
                    status = 302
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    yield server
    server.server.shutdown()
    server.server.server_close()


def closed_port() -> int:
    """A port nothing listens on (a receiver that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_for(endpoints: list[dict], attempts: int = 3):
    return parse({"endpoints": endpoints}, "test", timeout=10, attempts=attempts)


# -- configuration -------------------------------------------------------------------------


def _endpoint(**overrides: object) -> dict:
    return {"url": "https://example.com/hook", "secret": SECRET, **overrides}


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ([_endpoint(url=f"https://example.com/{n}") for n in range(11)], "at most 10"),
        ([_endpoint(), _endpoint()], "configured twice"),
        ([_endpoint(event_types=["invoice.paid_twice"])], "unknown event types"),
        ([_endpoint(signature_algo="jwt")], "`jwt` is not supported"),
        ([_endpoint(signature_algo="md5")], "signature_algo must be"),
        ([_endpoint(secret="short")], "at least 16 characters"),
        ([_endpoint(url="ftp://example.com")], "http:// or https://"),
        ([_endpoint(secret_env="MH_TEST_UNSET_SECRET", secret=None)], "is not set"),
        ([_endpoint(colour="blue")], "unknown keys"),
    ],
)
def test_a_bad_configuration_is_refused_with_its_reason(endpoints: list, message: str) -> None:
    with pytest.raises(WebhookConfigError, match=message):
        settings_for(endpoints)


def test_event_types_follow_lagos_rules() -> None:
    settings = settings_for(
        [
            _endpoint(url="https://a.example/1", event_types=None),
            _endpoint(url="https://a.example/2", event_types=["*"]),
            _endpoint(url="https://a.example/3", event_types=[]),
            _endpoint(
                url="https://a.example/4", event_types=["Invoice.Created", "invoice.created"]
            ),
        ]
    )
    every, star, none, listed = settings.endpoints
    assert every.subscribed("fee.created") and star.subscribed("events.errors")
    assert not none.subscribed("invoice.created")
    assert listed.event_types == ("invoice.created",)
    assert not listed.subscribed("invoice.drafted")
    assert len({e.endpoint_id for e in settings.endpoints}) == 4


# -- delivery policy on a bare outbox ------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _bare_outbox(tmp_path: Path, settings, clock: Clock) -> Locations:
    """An outbox holding one event queued for every endpoint (through the same SQL as a close)."""
    locations = Locations(CATALOG, tmp_path / "landing", tmp_path / "w.duckdb", tmp_path / "out")
    with duckdb.connect(str(locations.warehouse)) as conn:
        outbox.ensure_tables(conn)
        body = outbox.body_bytes(
            {
                "webhook_type": "fee.created",
                "object_type": "fee",
                "organization_id": settings.organization_id,
                "fee": {"lago_id": "f-1", "amount_cents": 1250, "units": "3.0"},
            }
        )
        conn.execute(
            "create temp table webhook_new_events as select 'e-1' as webhook_event_id, "
            "'fee.created' as webhook_type, 'fee' as object_type, 'f-1' as object_id"
        )
        conn.execute(
            "insert into webhooks.events values ('e-1', 'fee.created', 'fee', 'f-1', ?, ?)",
            [body, clock()],
        )
        outbox._queue_deliveries(conn, settings, clock())
    return locations


def _log(locations: Locations) -> dict[str, tuple]:
    with duckdb.connect(str(locations.warehouse)) as conn:
        rows = conn.execute(
            "select endpoint_url, status, attempts, http_status, last_error, next_attempt_at, "
            "delivered_at from billing.fct_webhook_deliveries"
        ).fetchall()
    return {row[0].rsplit("/", 1)[-1]: row[1:] for row in rows}


def test_a_receiver_that_fails_twice_then_succeeds(tmp_path: Path, receiver: Receiver) -> None:
    clock = Clock()
    settings = settings_for(
        [
            _endpoint(url=f"{receiver.url}/flaky"),
            _endpoint(url=f"{receiver.url}/fail"),
            _endpoint(url=f"{receiver.url}/redirect"),
        ]
    )
    locations = _bare_outbox(tmp_path, settings, clock)
    start = clock()

    first = deliver_due(locations, settings, now=clock, rand=lambda: 0.5)
    assert (first.attempted, first.failed) == (3, 3)
    log = _log(locations)
    assert log["flaky"][:4] == ("retrying", 1, 500, "HTTP 500 Internal Server Error")
    assert log["redirect"][:3] == ("retrying", 1, 302)  # a redirect is a failure, not followed
    # Lago's wait after the n-th failure: n⁴ + 0.15·n⁴·random + 2 seconds.
    assert log["flaky"][4] == start + timedelta(seconds=1 + 0.075 + 2)

    clock.advance(2)  # before the retry is due: nothing is sent
    assert deliver_due(locations, settings, now=clock).attempted == 0
    clock.advance(1.1)
    assert deliver_due(locations, settings, now=clock, rand=lambda: 0.5).attempted == 3
    log = _log(locations)
    assert log["flaky"][:2] == ("retrying", 2)
    assert log["flaky"][4] == clock() + timedelta(seconds=16 + 1.2 + 2)

    clock.advance(19.3)
    third = deliver_due(locations, settings, now=clock)
    assert (third.attempted, third.succeeded) == (3, 1)
    log = _log(locations)
    assert log["flaky"] == ("succeeded", 3, 200, None, None, clock())
    assert log["fail"][:3] == ("failed", 3, 500) and log["fail"][4] is None
    assert log["redirect"][:2] == ("failed", 3)
    clock.advance(3600)
    assert deliver_due(locations, settings, now=clock).attempted == 0  # no 4th try

    flaky = receiver.at("/flaky")
    assert len(flaky) == 3
    assert len({r["key"] for r in flaky}) == 1  # the same unique key on every retry
    assert len({r["body"] for r in flaky}) == 1
    assert all(r["verified"] for r in receiver.requests)
    # One event, three endpoints: three different unique keys.
    assert len({r["key"] for r in receiver.requests}) == 3


def test_lagos_retry_waits() -> None:
    assert retry_wait(1, lambda: 0) == 3
    assert retry_wait(1, lambda: 1) == pytest.approx(3.15)
    assert retry_wait(2, lambda: 0) == 18
    assert retry_wait(2, lambda: 1) == pytest.approx(20.4)


def test_a_receiver_that_is_down_is_recorded_and_retried(tmp_path: Path) -> None:
    clock = Clock()
    settings = settings_for([_endpoint(url=f"http://127.0.0.1:{closed_port()}/hook")])
    locations = _bare_outbox(tmp_path, settings, clock)
    report = deliver_due(locations, settings, now=clock)
    assert report.failed == 1 and report.counts["retrying"] == 1
    status, attempts, http_status, error, *_ = _log(locations)["hook"]
    assert (status, attempts, http_status) == ("retrying", 1, None)
    assert "ConnectionRefused" in error
    assert (locations.output_dir / "marts" / "fct_webhook_deliveries.parquet").exists()

    # docs/tables.md documents every column of the log.
    with duckdb.connect(str(locations.warehouse)) as conn:
        columns = [
            c[0] for c in conn.execute("select * from billing.fct_webhook_deliveries").description
        ]
    page = (CATALOG.parents[1] / "docs" / "tables.md").read_text()
    section = page.split("## `billing.fct_webhook_deliveries`", 1)[1].split("\n## ", 1)[0]
    assert [c for c in columns if f"| `{c}` |" not in section] == []


# -- which event when: the outbox's SQL over small marts ----------------------------------------

SMALL_MARTS = """
create schema billing;
create schema raw;
create table raw.closed_months as select date '2026-10-01' as billing_month;
create table raw.subscriptions as
select * from (values
    ('sub_a', 'cust_1', 'plan_x', 'calendar', timestamp '2026-10-03 00:00:00',
     timestamp '2026-10-03 00:00:00', null::timestamp, timestamp '2026-10-03 00:00:00'),
    ('sub_b', 'cust_1', 'plan_x', 'calendar', timestamp '2026-09-01 00:00:00',
     timestamp '2026-09-01 00:00:00', timestamp '2026-10-20 00:00:00',
     timestamp '2026-10-20 00:00:00'),
    ('sub_c', 'cust_1', 'plan_x', 'calendar', timestamp '2026-11-05 00:00:00',
     timestamp '2026-11-05 00:00:00', null::timestamp, timestamp '2026-11-05 00:00:00')
) as t(external_subscription_id, external_customer_id, plan_code, billing_time, subscription_at,
       started_at, terminated_at, updated_at);
create table billing.dim_customers as
select 'cust_1' as external_customer_id, 'Acme' as name, 'USD' as currency, null as timezone;
create table billing.fct_invoices as
select * from (values
    ('inv_draft', null, 'draft', 'subscription', 'cust_1', 'USD', 12.5::decimal(38, 2)),
    ('inv_final', 'ACM-1', 'finalized', 'subscription', 'cust_1', 'USD', 30.0::decimal(38, 2)),
    ('inv_adv', null, 'draft', 'pay_in_advance', 'cust_1', 'USD', 5.0::decimal(38, 2))
) as t(invoice_id, invoice_number, status, invoice_type, external_customer_id, currency,
       total_amount);
create table billing.fct_invoice_lines as
select * from (values
    ('line_usage', 'inv_draft', 'sub_a', 'charge', 'api_calls', 'USD', 12.5::decimal(38, 2)),
    ('line_fee', 'inv_final', 'sub_a', 'subscription', null, 'USD', 30.0::decimal(38, 2)),
    ('line_adv', 'inv_adv', 'sub_a', 'charge', 'seats', 'USD', 5.0::decimal(38, 2)),
    ('line_not_invoiceable', null, 'sub_a', 'charge', 'seats', 'USD', 2.0::decimal(38, 2))
) as t(invoice_line_id, invoice_id, external_subscription_id, line_type, charge_code, currency,
       amount);
create table billing.fct_credit_notes as
select * from (values
    ('cn_draft', 'inv_final', 'cust_1', 'USD', 'draft', 1.0::decimal(38, 2)),
    ('cn_final', 'inv_final', 'cust_1', 'USD', 'finalized', 3.0::decimal(38, 2))
) as t(credit_note_id, invoice_id, external_customer_id, currency, status, total_amount);
create table billing.fct_wallet_transactions as
select * from (values
    ('wt_grant', 'w1', 'cust_1', 'granted', 'settled', null, 10.0::decimal(38, 4)),
    ('wt_on_draft', 'w1', 'cust_1', 'consumed', 'settled', 'inv_draft', 4.0::decimal(38, 4)),
    ('wt_on_final', 'w1', 'cust_1', 'consumed', 'settled', 'inv_final', 6.0::decimal(38, 4))
) as t(wallet_transaction_id, wallet_code, external_customer_id, transaction_type, status,
       invoice_id, credits);
create table billing.rejected_inputs as
select * from (values
    ('rej_1', 'events', 'events/a.ndjson', 3, '{"transaction_id": "tx-9"}', 'unknown_metric'),
    ('rej_2', 'events', 'events/a.csv', 4, 'tx-bad,,', 'malformed'),
    ('rej_3', 'customers', 'customers/c.csv', 2, 'x', 'missing_field')
) as t(rejected_input_id, input_kind, source_file, line_number, raw, reason);
"""


def test_each_event_is_queued_when_the_marts_first_show_it(tmp_path: Path) -> None:
    settings = settings_for(
        [
            _endpoint(url="https://all.example/hook"),
            _endpoint(url="https://fin.example/hook", event_types=["invoice.created"]),
        ]
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        conn.execute(SMALL_MARTS)
        queued = outbox.enqueue(conn, settings, CATALOG, datetime(2026, 11, 1))
        events = conn.execute(
            "select webhook_type, object_id, body from webhooks.events order by all"
        ).fetchall()
        again = outbox.enqueue(conn, settings, CATALOG, datetime(2026, 11, 2))
    objects = sorted((kind, object_id) for kind, object_id, _ in events if kind != "events.errors")
    assert objects == [
        ("credit_note.created", "cn_final"),
        ("fee.created", "line_adv"),  # pay-in-advance fees, invoiced or not
        ("fee.created", "line_not_invoiceable"),
        ("invoice.created", "inv_final"),
        ("invoice.drafted", "inv_adv"),
        ("invoice.drafted", "inv_draft"),
        ("subscription.started", "sub_a"),  # sub_c starts after the closed month
        ("subscription.started", "sub_b"),
        ("subscription.terminated", "sub_b"),
        ("wallet_transaction.created", "wt_grant"),  # a consumption once its invoice is final
        ("wallet_transaction.created", "wt_on_final"),
    ]
    assert queued["deliveries"] == len(events) + 1  # every event, and invoice.created twice
    assert again == {"deliveries": 0}

    bodies = {(kind, object_id): json.loads(body) for kind, object_id, body in events}
    errors = next(body for (kind, _), body in bodies.items() if kind == "events.errors")
    assert errors["events_errors"]["invalid_code"] == ["tx-9"]
    assert errors["events_errors"]["malformed"] == ["events/a.csv:4"]
    assert errors["events_errors"]["missing_group_key"] == []
    fee = bodies[("fee.created", "line_not_invoiceable")]
    assert fee["object_type"] == "fee" and fee["fee"]["lago_id"] == "line_not_invoiceable"
    assert fee["fee"]["pay_in_advance"] is True and fee["fee"]["amount_cents"] == 200
    note = bodies[("credit_note.created", "cn_final")]["credit_note"]
    assert note["lago_invoice_id"] == "inv_final" and note["invoice_number"] == "ACM-1"
    terminated = bodies[("subscription.terminated", "sub_b")]["subscription"]
    assert terminated["status"] == "terminated"
    assert terminated["terminated_at"] == "2026-10-20T00:00:00Z"
    assert terminated["customer"]["name"] == "Acme"
    final = bodies[("invoice.created", "inv_final")]["invoice"]
    assert final["number"] == "ACM-1" and final["total_amount_cents"] == 3000
    assert [f["lago_id"] for f in final["fees"]] == ["line_fee"]


# -- a closed month: payloads, a re-run close, a slow receiver -------------------------------


def _counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse)) as conn:
        return dict(
            conn.execute(
                "select webhook_type, count(*) from webhooks.events group by webhook_type"
            ).fetchall()
        )


def test_a_closed_month_sends_each_webhook_once_and_a_slow_receiver_never_holds_the_close(
    cli_reference: dict,
    cli_workspace: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    from cli_runs import MONTH, finish, start

    from orchestration.cli import main

    shutil.copytree(cli_reference["closed"], cli_workspace)
    warehouse = cli_workspace / "warehouse.duckdb"
    down = f"http://127.0.0.1:{closed_port()}/down"
    config = {
        "endpoints": [
            {"url": f"{receiver.url}/ok", "secret": SECRET},
            {
                "url": f"{receiver.url}/slow",
                "secret": SECRET,
                "event_types": ["subscription.started"],
            },
            {"url": down, "secret": SECRET, "event_types": ["invoice.drafted"]},
        ]
    }
    config_file = cli_workspace / "webhooks.json"
    config_file.write_text(json.dumps(config))
    monkeypatch.setenv("MH_WEBHOOKS_FILE", str(config_file))
    settings = parse(config, "test", timeout=10, attempts=3)
    locations = Locations(CATALOG, cli_workspace / "landing", warehouse, cli_workspace / "output")

    # The reference close ran without endpoints: it recorded its events and queued nothing.
    recorded = _counts(warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        assert conn.execute("select count(*) from webhooks.deliveries").fetchone()[0] == 0
        # As if the warehouse predated webhooks: the same step as the close's `webhooks/outbox`
        # asset then finds every event new, and queues it for the endpoints.
        conn.execute("drop schema webhooks cascade")
        queued = outbox.enqueue(conn, settings, CATALOG, datetime(2026, 12, 1))
        drafts = conn.execute(
            "select count(*) from billing.fct_invoices where status = 'draft'"
        ).fetchone()[0]
        subscriptions = conn.execute(
            "select count(distinct external_subscription_id) from raw.subscriptions "
            "where started_at < "
            "(select max(billing_month) + interval 1 month from raw.closed_months)"
        ).fetchone()[0]
    assert queued["invoice.drafted"] == drafts > 0
    assert "invoice.created" not in queued  # nothing is finalized yet
    assert queued["subscription.started"] == subscriptions
    events = sum(v for k, v in queued.items() if k != "deliveries")
    assert queued["deliveries"] == events + subscriptions + drafts
    before = _counts(warehouse)
    assert before == recorded

    # A delivery pass talks to a slow receiver; meanwhile the month is closed again, with one
    # event of an unknown metric in a new landing file.
    passes: list = []
    delivering = threading.Thread(target=lambda: passes.append(deliver_due(locations, settings)))
    delivering.start()
    assert receiver.slow_entered.wait(60)
    bad = {
        "transaction_id": "tx-unknown-metric",
        "external_subscription_id": "sub_0001",
        "code": "no_such_metric",
        "timestamp": f"{MONTH}-10T10:00:00Z",
        "properties": {},
    }
    (cli_workspace / "landing" / "events" / "late_bad.ndjson").write_text(json.dumps(bad) + "\n")
    started = time.monotonic()
    close = start(cli_workspace, "close", "--month", MONTH)  # refused if the pass held the lock
    output = finish(close)
    assert close.returncode == 0, output[-3000:]
    # The close ran while the receiver was still answering: it did not wait for it.
    assert started < max(receiver.slow_answered)
    delivering.join(120)
    assert passes[0].attempted == queued["deliveries"]  # recorded once the close let go

    # The re-run close queued the new events.errors and nothing else again.
    after = _counts(warehouse)
    assert after.pop("events.errors") - before.pop("events.errors", 0) == 1
    assert after == before
    with duckdb.connect(str(warehouse)) as conn:
        (body,) = conn.execute(
            "select body from webhooks.events where webhook_type = 'events.errors' "
            "order by created_at desc limit 1"
        ).fetchone()
    errors = json.loads(body)["events_errors"]
    assert errors["invalid_code"] == ["tx-unknown-metric"]  # only what is new since the last run
    assert sum(len(ids) for ids in errors.values()) == 1
    assert set(errors) >= {
        "invalid_code",
        "missing_aggregation_property",
        "missing_group_key",
        "invalid_filter_values",
    }

    deliver_due(locations, settings)  # the events.errors; the down endpoint is not due yet
    ok = receiver.at("/ok")
    assert len(ok) == events + 1
    assert len({r["key"] for r in ok}) == len(ok)  # nothing sent twice
    assert all(r["verified"] for r in receiver.requests)
    assert {r["algorithm"] for r in receiver.requests} == {"hmac"}
    assert {r["content_type"] for r in receiver.requests} == {"application/json"}
    invoices = [json.loads(r["body"]) for r in ok if b'"invoice.drafted"' in r["body"]]
    assert len(invoices) == drafts
    envelope = invoices[0]
    assert list(envelope)[:3] == ["webhook_type", "object_type", "organization_id"]
    assert envelope["object_type"] == "invoice"
    invoice = envelope["invoice"]
    assert invoice["status"] == "draft" and invoice["customer"]["external_id"]
    assert isinstance(invoice["total_amount_cents"], int) and invoice["fees"]

    log = _log(locations)
    assert log["down"][0] == "retrying" and "ConnectionRefused" in log["down"][3]
    capsys.readouterr()
    assert (
        main(["webhooks", "list", "--status", "succeeded", f"--output={locations.output_dir}"]) == 0
    )
    listing = capsys.readouterr().out
    assert f"{len(ok) + subscriptions} deliveries succeeded" in listing


def test_closes_and_finalizations_queue_webhooks_and_a_sensor_delivers_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.webhooks.assets import (
        DELIVERIES_KEY,
        OUTBOX_KEY,
        webhook_delivery_job,
        webhook_delivery_sensor,
    )

    for job in ("monthly_close", "finalize_month"):
        assert OUTBOX_KEY in defs.resolve_job_def(job).asset_layer.asset_graph.get_all_asset_keys()

    monkeypatch.delenv("MH_WEBHOOKS_FILE", raising=False)
    monkeypatch.delenv("MH_WEBHOOKS", raising=False)
    monkeypatch.setenv("MH_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("MH_WAREHOUSE", str(tmp_path / "w.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    with dg.build_sensor_context(instance=instance) as context:
        skipped = webhook_delivery_sensor(context)
        assert isinstance(skipped, dg.SkipReason) and "no webhook endpoint" in skipped.skip_message

        config = [_endpoint(url=f"{receiver.url}/ok")]
        monkeypatch.setenv("MH_WEBHOOKS", json.dumps(config))
        assert "no webhook due" in webhook_delivery_sensor(context).skip_message
        clock = Clock()
        clock.now = utc_now() - timedelta(hours=1)
        locations = _bare_outbox(tmp_path, settings_for(config), clock)
        with duckdb.connect(str(locations.warehouse)) as conn:
            outbox.publish_log(conn, tmp_path / "out")
        assert isinstance(webhook_delivery_sensor(context), dg.RunRequest)

    result = webhook_delivery_job.execute_in_process(instance=instance)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("deliver_webhooks")
    assert materialization.asset_key == DELIVERIES_KEY
    figures = {key: value.value for key, value in materialization.metadata.items()}
    assert (figures["attempted"], figures["succeeded"], figures["pending"]) == (1, 1, 0)
    assert len(receiver.at("/ok")) == 1 and receiver.requests[0]["verified"]
    with dg.build_sensor_context(instance=instance) as context:
        assert "no webhook due" in webhook_delivery_sensor(context).skip_message
