"""The API's contract without a close: keys, Lago's error shapes, limits, durability of writes,
group commit, the mapping of published marts, and the portal's link checks.

Runs the application in-process (Starlette's test client); the folders are the test's own.
"""

import asyncio
import csv
import json
import shutil
import time
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from api.api_live import API_KEY, CUSTOMER, PORTAL_SECRET, SUBSCRIPTION, publish_current_usage
from orchestration.api.app import create_app
from orchestration.api.context import ApiSettings
from orchestration.api.documents import document_path
from orchestration.api.security import ApiKeys, InvalidToken, PortalSigner
from orchestration.settings import REPO_ROOT

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def settings(root: Path, **overrides) -> ApiSettings:
    return ApiSettings(
        landing_dir=root / "landing",
        output_dir=root / "output",
        catalog_dir=REPO_ROOT / "seeds" / "catalog",
        api_keys=ApiKeys.from_keys([API_KEY]),
        portal=PortalSigner(PORTAL_SECRET.encode()),
        **overrides,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def client(root: Path):
    with TestClient(create_app(settings(root))) as test_client:
        yield test_client


def landed(root: Path, kind: str = "events") -> list[dict]:
    """Rows on disk: in landing files, and in spool files not sealed yet (events)."""
    paths = [
        *(root / "landing" / kind).rglob("*.ndjson"),
        *(root / "landing" / kind).rglob("*.spool"),
    ]
    return [json.loads(line) for path in sorted(paths) for line in path.read_text().splitlines()]


def event(transaction_id: str = "t1", **fields) -> dict:
    return {
        "transaction_id": transaction_id,
        "external_subscription_id": SUBSCRIPTION,
        "code": "api_calls",
        "timestamp": "2026-11-05T10:00:00Z",
        "properties": {"endpoint": "/v1/x"},
        **fields,
    }


# -- keys ------------------------------------------------------------------------------------


def test_keys_are_kept_hashed_and_compared_whole(tmp_path: Path) -> None:
    keys = ApiKeys.from_keys(["alpha", " beta "])
    assert all(len(d) == 32 for d in keys.digests) and b"alpha" not in b"".join(keys.digests)
    assert keys.accepts("alpha") and keys.accepts("beta")
    assert not keys.accepts("alph") and not keys.accepts("") and not keys.accepts(None)
    key_file = tmp_path / "keys"
    key_file.write_text("from-file\n")
    loaded = ApiKeys.from_environment({"MH_API_KEYS": "", "MH_API_KEYS_FILE": str(key_file)})
    assert loaded.accepts("from-file")
    with pytest.raises(Exception, match="no API key"):
        ApiKeys.from_environment({})


def test_every_route_but_health_needs_a_key(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    calls = [
        ("POST", "/api/v1/events"),
        ("POST", "/api/v1/events/batch"),
        ("POST", "/api/v1/customers"),
        ("GET", "/api/v1/customers/c"),
        ("GET", "/api/v1/customers/c/current_usage"),
        ("GET", "/api/v1/customers/c/portal_url"),
        ("POST", "/api/v1/subscriptions"),
        ("DELETE", "/api/v1/subscriptions/s"),
        ("GET", "/api/v1/invoices"),
        ("GET", "/api/v1/invoices/i"),
        ("POST", "/api/v1/invoices/i/download"),
        ("GET", "/api/v1/credit_notes"),
        ("GET", "/api/v1/credit_notes/c"),
        ("POST", "/api/v1/credit_notes/c/download"),
        ("GET", "/api/v1/wallets"),
        ("GET", "/api/v1/wallets/w"),
        ("GET", "/api/v1/wallets/w/wallet_transactions"),
    ]
    api_routes = {r.path for r in client.app.routes if r.path.startswith("/api/")}
    assert len(api_routes) == len({path for _, path in calls})  # every API route is listed here
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        for method, path in calls:
            response = client.request(method, path, headers=headers, json={"event": event()})
            assert response.status_code == 401, (method, path)
            assert response.json() == {"status": 401, "error": "Unauthorized"}


def test_unknown_routes_answer_as_lago_does(client: TestClient) -> None:
    for method, path in (("GET", "/api/v1/plans"), ("PUT", "/api/v1/events"), ("GET", "/x")):
        response = client.request(method, path, headers=AUTH)
        assert response.status_code == 404
        assert response.json() == {
            "status": 404,
            "error": "Not Found",
            "code": "resource_not_found",
        }


# -- events ----------------------------------------------------------------------------------


def test_an_acknowledged_event_is_in_a_landing_file(client: TestClient, root: Path) -> None:
    response = client.post("/api/v1/events", headers=AUTH, json={"event": event()})
    assert response.status_code == 200
    body = response.json()["event"]
    assert body["transaction_id"] == "t1" and body["timestamp"] == "2026-11-05T10:00:00.000Z"
    assert landed(root) == [event()]
    assert not list((root / "landing").rglob("*.tmp"))


def test_lago_fills_a_missing_timestamp_on_receipt(client: TestClient, root: Path) -> None:
    given = event()
    del given["timestamp"]
    assert client.post("/api/v1/events", headers=AUTH, json={"event": given}).status_code == 200
    stamped = landed(root)[0]["timestamp"]
    assert abs(datetime.fromisoformat(stamped.rstrip("Z")) - datetime.utcnow()).seconds < 60


@pytest.mark.parametrize(
    ("body", "status", "details"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (b"{}", 400, None),
        (json.dumps({"event": event(), "extra": 1}).encode(), 422, {"extra": ["unknown_field"]}),
        (json.dumps({"event": event(colour="red")}).encode(), 422, {"colour": ["unknown_field"]}),
        (
            json.dumps({"event": event(precise_total_amount_cents="12")}).encode(),
            422,
            {"precise_total_amount_cents": ["not_supported"]},
        ),
        (json.dumps({"event": "text"}).encode(), 422, {"event": ["invalid_type"]}),
        (
            json.dumps({"event": event(code=None)}).encode(),
            422,
            {"code": ["value_is_mandatory"]},
        ),
        (
            json.dumps({"event": event(timestamp="yesterday")}).encode(),
            422,
            {"timestamp": ["invalid_format"]},
        ),
        (
            json.dumps({"event": event(timestamp="2999-01-01T00:00:00Z")}).encode(),
            422,
            {"timestamp": ["too_far_in_the_future"]},
        ),
        (
            json.dumps({"event": event(properties=[1, 2])}).encode(),
            422,
            {"properties": ["invalid_value"]},
        ),
        (
            json.dumps({"event": event(transaction_id={"a": 1})}).encode(),
            422,
            {"transaction_id": ["invalid_value"]},
        ),
        (
            json.dumps({"event": event(operation_type="multiply")}).encode(),
            422,
            {"event": ["invalid_value"]},
        ),
    ],
)
def test_bad_events_get_lago_errors_and_write_nothing(
    client: TestClient, root: Path, body: bytes, status: int, details: dict | None
) -> None:
    response = client.post(
        "/api/v1/events", headers={**AUTH, "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == status
    answer = response.json()
    assert answer["status"] == status and answer["error"]
    if status == 400:
        assert answer["error"].startswith("BadRequest: ")
    else:
        assert answer["code"] == "validation_errors" and answer["error_details"] == details
    assert landed(root) == []


def test_a_batch_is_all_or_nothing_with_details_per_index(client: TestClient, root: Path) -> None:
    events = [event(f"b{i}") for i in range(5)]
    events[3]["timestamp"] = "not a time"
    response = client.post("/api/v1/events/batch", headers=AUTH, json={"events": events})
    assert response.status_code == 422
    assert response.json()["error_details"] == {"3": {"timestamp": ["invalid_format"]}}
    assert landed(root) == []
    events[3]["timestamp"] = 1793000000
    response = client.post("/api/v1/events/batch", headers=AUTH, json={"events": events})
    assert response.status_code == 200
    assert [e["transaction_id"] for e in response.json()["events"]] == [f"b{i}" for i in range(5)]
    assert [e["transaction_id"] for e in landed(root)] == [f"b{i}" for i in range(5)]


def test_batch_and_body_limits(root: Path) -> None:
    with TestClient(create_app(settings(root, batch_limit=3, max_body_bytes=4000))) as client:
        too_many = {"events": [event(f"x{i}") for i in range(4)]}
        response = client.post("/api/v1/events/batch", headers=AUTH, json=too_many)
        assert response.status_code == 422
        assert response.json()["error_details"] == {"events": ["too_many_events"]}
        empty = client.post("/api/v1/events/batch", headers=AUTH, json={"events": []})
        assert empty.status_code == 400
        big = {"events": [event("y", properties={"pad": "x" * 5000})]}
        response = client.post("/api/v1/events/batch", headers=AUTH, json=big)
        assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
        assert landed(root) == []
    # Lago's default: 100 events a batch
    with TestClient(create_app(settings(root))) as client:
        hundred = {"events": [event(f"z{i}") for i in range(100)]}
        assert client.post("/api/v1/events/batch", headers=AUTH, json=hundred).status_code == 200
        hundred["events"].append(event("z100"))
        assert client.post("/api/v1/events/batch", headers=AUTH, json=hundred).status_code == 422


def test_requests_arriving_together_share_one_commit(root: Path) -> None:
    app = create_app(settings(root))

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                responses = await asyncio.gather(
                    *(
                        http.post("/api/v1/events", headers=AUTH, json={"event": event(f"c{i}")})
                        for i in range(40)
                    )
                )
            assert all(r.status_code == 200 for r in responses)
            stats = app.state.api.journals["events"].stats
            assert stats.rows == 40
            assert stats.commits < 40  # at least two requests shared a commit (and its fsync)

    asyncio.run(scenario())
    assert sorted(e["transaction_id"] for e in landed(root)) == sorted(f"c{i}" for i in range(40))


# -- customers and subscriptions ---------------------------------------------------------------


def test_customer_create_or_update_lands_the_merged_row(client: TestClient, root: Path) -> None:
    first = {
        "customer": {
            "external_id": "c1",
            "name": "Acme",
            "currency": "USD",
            "tax_codes": ["a", "b"],
        }
    }
    assert client.post("/api/v1/customers", headers=AUTH, json=first).status_code == 200
    update = {"customer": {"external_id": "c1", "email": "ap@acme.example"}}
    response = client.post("/api/v1/customers", headers=AUTH, json=update)
    assert response.status_code == 200
    assert response.json()["customer"]["name"] == "Acme"
    rows = landed(root, "customers")
    assert rows[-1]["name"] == "Acme" and rows[-1]["email"] == "ap@acme.example"
    assert rows[-1]["tax_codes"] == "a|b"
    bad = {"customer": {"external_id": "c2", "currency": "XXX1"}}
    response = client.post("/api/v1/customers", headers=AUTH, json=bad)
    assert response.status_code == 422 and response.json()["error_details"] == {
        "currency": ["invalid_value"]
    }
    unsupported = {"customer": {"external_id": "c2", "currency": "USD", "phone": "+1"}}
    response = client.post("/api/v1/customers", headers=AUTH, json=unsupported)
    assert response.json()["error_details"] == {"phone": ["not_supported"]}
    assert len(landed(root, "customers")) == 2


def test_subscriptions_are_created_changed_and_terminated_as_phases(
    client: TestClient, root: Path
) -> None:
    client.post(
        "/api/v1/customers",
        headers=AUTH,
        json={"customer": {"external_id": "c1", "currency": "USD"}},
    )
    missing_plan = {
        "subscription": {"external_id": "s1", "external_customer_id": "c1", "plan_code": "nope"}
    }
    response = client.post("/api/v1/subscriptions", headers=AUTH, json=missing_plan)
    assert response.status_code == 404 and response.json()["code"] == "plan_not_found"
    unknown = {
        "subscription": {
            "external_id": "s1",
            "external_customer_id": "zz",
            "plan_code": "starter_usd",
        }
    }
    assert (
        client.post("/api/v1/subscriptions", headers=AUTH, json=unknown).json()["code"]
        == "customer_not_found"
    )
    create = {
        "subscription": {
            "external_id": "s1",
            "external_customer_id": "c1",
            "plan_code": "starter_usd",
            "subscription_at": "2026-11-01T00:00:00Z",
        }
    }
    assert (
        client.post("/api/v1/subscriptions", headers=AUTH, json=create).json()["subscription"][
            "status"
        ]
        == "active"
    )
    again = client.post("/api/v1/subscriptions", headers=AUTH, json=create)  # idempotent
    assert again.status_code == 200
    upgrade = {
        "subscription": {
            "external_id": "s1",
            "external_customer_id": "c1",
            "plan_code": "scale_yearly_usd",
        }
    }
    changed = client.post("/api/v1/subscriptions", headers=AUTH, json=upgrade).json()
    assert changed["subscription"]["plan_code"] == "scale_yearly_usd"
    assert changed["subscription"]["subscription_at"] == "2026-11-01T00:00:00Z"
    ended = client.delete("/api/v1/subscriptions/s1", headers=AUTH)
    assert ended.status_code == 200 and ended.json()["subscription"]["status"] == "terminated"
    assert (
        client.delete("/api/v1/subscriptions/s1", headers=AUTH).json()["code"]
        == "subscription_not_found"
    )
    phases = landed(root, "subscriptions")
    assert phases[0]["started_at"] == phases[0]["subscription_at"] == "2026-11-01T00:00:00Z"
    assert phases[-1]["terminated_at"] and phases[-1]["plan_code"] == phases[-2]["plan_code"]
    assert all(p["subscription_at"] == "2026-11-01T00:00:00Z" for p in phases)


# -- reads -----------------------------------------------------------------------------------


def publish_invoices(root: Path) -> None:
    marts = root / "output" / "marts"
    marts.mkdir(parents=True, exist_ok=True)
    dec = pa.decimal128(38, 9)
    rows = {
        "invoice_id": ["inv_a", "inv_b", "inv_draft"],
        "invoice_number": ["LUM-001-001", "LUM-002-001", None],
        "status": ["finalized", "finalized", "draft"],
        "invoice_type": ["subscription"] * 3,
        "external_customer_id": [CUSTOMER, "someone_else", CUSTOMER],
        "currency": ["USD", "JPY", "USD"],
        "issuing_date": [date(2026, 12, 1), date(2026, 12, 1), date(2027, 1, 1)],
        "payment_due_date": [date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 31)],
        "billing_period_start": [datetime(2026, 11, 1)] * 3,
        "billing_period_end": [datetime(2026, 11, 30, 23, 59, 59)] * 3,
    }
    for name, values in (
        ("fees_amount", ["49.00", "7500", "10.00"]),
        ("total_amount", ["53.17", "7500", "10.00"]),
        ("taxes_amount", ["4.17", "0", "0"]),
    ):
        rows[name] = pa.array([Decimal(v) for v in values], dec)
    pq.write_table(pa.table(rows), marts / "fct_invoices.parquet")
    for number in ("LUM-001-001", "LUM-002-001"):
        pdf = root / "output" / "invoices" / "2026-11" / f"{number}.pdf"
        pdf.parent.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(b"%PDF-1.4 " + number.encode())
    (root / "output" / "secret.txt").write_text("not a document")


def test_invoices_list_filters_and_pagination(client: TestClient, root: Path) -> None:
    assert client.get("/api/v1/invoices", headers=AUTH).json()["meta"]["total_count"] == 0
    publish_invoices(root)
    listed = client.get("/api/v1/invoices", headers=AUTH, params={"per_page": 2}).json()
    assert listed["meta"] == {
        "current_page": 1,
        "next_page": 2,
        "prev_page": None,
        "total_pages": 2,
        "total_count": 3,
    }
    assert [i["lago_id"] for i in listed["invoices"]] == ["inv_draft", "inv_b"]
    jpy = client.get("/api/v1/invoices", headers=AUTH, params={"currency": "JPY"}).json()[
        "invoices"
    ]
    assert [(i["lago_id"], i["total_amount_cents"]) for i in jpy] == [("inv_b", 7500)]
    usd = client.get(
        "/api/v1/invoices",
        headers=AUTH,
        params={"external_customer_id": CUSTOMER, "status": "finalized", "amount_from": 5000},
    ).json()["invoices"]
    assert [(i["lago_id"], i["total_amount_cents"], i["net_payment_term"]) for i in usd] == [
        ("inv_a", 5317, 30)
    ]
    dated = client.get("/api/v1/invoices", headers=AUTH, params={"issuing_date_to": "2026-12-31"})
    assert {i["lago_id"] for i in dated.json()["invoices"]} == {"inv_a", "inv_b"}
    unsupported = client.get(
        "/api/v1/invoices", headers=AUTH, params={"payment_status": "succeeded"}
    )
    assert unsupported.status_code == 422
    assert unsupported.json()["error_details"] == {"payment_status": ["not_supported"]}
    assert client.get("/api/v1/invoices/nope", headers=AUTH).json()["code"] == "invoice_not_found"
    assert client.post("/api/v1/invoices/inv_draft/download", headers=AUTH).content == b""


def test_current_usage_reads_the_period_to_date_marts(client: TestClient, root: Path) -> None:
    url = f"/api/v1/customers/{CUSTOMER}/current_usage"
    params = {"external_subscription_id": SUBSCRIPTION}
    absent = client.get(url, headers=AUTH, params=params)
    assert absent.status_code == 404 and absent.json()["code"] == "customer_usage_not_found"
    (root / "output" / "marts").mkdir(parents=True)
    publish_current_usage(root / "output" / "marts")
    usage = client.get(url, headers=AUTH, params=params).json()["customer_usage"]
    assert usage["amount_cents"] == 133 and usage["total_amount_cents"] == 144
    assert usage["to_datetime"] == "2026-12-31T23:59:59Z" and usage["issuing_date"] == "2026-12-31"
    calls = next(
        c for c in usage["charges_usage"] if c["charge"]["code"] == "starter_usd_api_calls"
    )
    assert (
        calls["units"] == "1250.0"
        and calls["amount_cents"] == 125
        and calls["events_count"] == 1250
    )
    assert calls["billable_metric"]["aggregation_type"] == "count_agg"
    other = client.get("/api/v1/customers/else/current_usage", headers=AUTH, params=params)
    assert other.status_code == 404 and other.json()["code"] == "subscription_not_found"
    assert client.get(url, headers=AUTH).status_code == 422


# -- portal ----------------------------------------------------------------------------------


def test_portal_tokens_are_signed_and_expire() -> None:
    signer = PortalSigner(PORTAL_SECRET.encode(), lifetime_seconds=60)
    token = signer.sign("c1")
    assert signer.verify(token) == "c1"
    with pytest.raises(InvalidToken):
        signer.verify(token, now=time.time() + 61)
    payload, mac = token.split(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for forged in (f"{forged_payload}.{mac}", f"{payload}.{mac[:-2]}xx", "x", ""):
        with pytest.raises(InvalidToken):
            signer.verify(forged)
    with pytest.raises(InvalidToken):
        PortalSigner(b"another-secret-of-the-same-size!").verify(token)


def test_a_portal_link_serves_one_customer_only(client: TestClient, root: Path) -> None:
    publish_invoices(root)
    signer = client.app.state.api.settings.portal
    token = signer.sign(CUSTOMER)
    page = client.get(f"/portal/{token}")
    assert page.status_code == 200 and "LUM-001-001" in page.text and "LUM-002-001" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    own = client.get(f"/portal/{token}/invoices/inv_a.pdf")
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    assert 'filename="LUM-001-001.pdf"' in own.headers["content-disposition"]
    assert client.get(f"/portal/{token}/invoices/inv_b.pdf").status_code == 404  # not theirs
    for name in ("..%2F..%2Fsecret.txt", "%2E%2E", "inv_a%00"):
        assert client.get(f"/portal/{token}/invoices/{name}.pdf").status_code == 404
    expired = PortalSigner(PORTAL_SECRET.encode(), lifetime_seconds=-1).sign(CUSTOMER)
    assert client.get(f"/portal/{expired}").status_code == 403
    assert client.get(f"/portal/{expired}/invoices/inv_a.pdf").status_code == 403
    assert client.get(f"/portal/{token[:-3]}abc").status_code == 403


def test_document_file_names_cannot_leave_the_output_folder(root: Path) -> None:
    publish_invoices(root)
    output = root / "output"
    assert document_path(output, "invoices", "LUM-001-001") is not None
    for number in ("../secret", "../../output/secret.txt", "..", "/etc/passwd", ""):
        assert document_path(output, "invoices", number) is None


def test_portal_shows_the_plan_thresholds_in_the_customer_locale(root: Path) -> None:
    catalog = root / "catalog"
    shutil.copytree(REPO_ROOT / "seeds" / "catalog", catalog)
    (catalog / "usage_thresholds.csv").write_text(
        "plan_code,amount,recurring\nstarter_usd,1000,false\nstarter_usd,250.5,true\n"
    )
    with (catalog / "billing_entity.csv").open(newline="") as file:
        entity = list(csv.DictReader(file))
    entity[0]["document_locale"] = "fr"
    with (catalog / "billing_entity.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(entity[0]))
        writer.writeheader()
        writer.writerows(entity)
    (root / "output" / "marts").mkdir(parents=True)
    publish_current_usage(root / "output" / "marts")
    app = create_app(replace(settings(root), catalog_dir=catalog))
    with TestClient(app) as client:
        create = {"customer": {"external_id": CUSTOMER, "currency": "USD"}}
        client.post("/api/v1/customers", headers=AUTH, json=create)
        subscription = {
            "subscription": {
                "external_id": SUBSCRIPTION,
                "external_customer_id": CUSTOMER,
                "plan_code": "starter_usd",
            }
        }
        client.post("/api/v1/subscriptions", headers=AUTH, json=subscription)
        page = client.get(f"/portal/{app.state.api.settings.portal.sign(CUSTOMER)}").text
    assert "Consommation en cours" in page and "1,33\xa0$US" in page
    assert "250,50\xa0$US (récurrent)" in page and "1\u202f000,00\xa0$US" in page


def publish_credit_notes(root: Path) -> None:
    publish_invoices(root)
    dec = pa.decimal128(38, 9)
    money = {
        name: pa.array([Decimal(a), Decimal(b)], dec)
        for name, a, b in (
            ("sub_total_excluding_taxes_amount", "10.00", "500"),
            ("coupons_adjustment_amount", "0", "0"),
            ("taxes_amount", "2.00", "0"),
            ("total_amount", "12.00", "500"),
            ("credit_amount", "12.00", "500"),
            ("refund_amount", "0", "0"),
            ("balance_amount", "5.50", "0"),
        )
    }
    table = pa.table(
        {
            "credit_note_id": ["cn_a", "cn_b"],
            "credit_note_number": ["LUM-001-CN001", "LUM-002-CN001"],
            "invoice_id": ["inv_a", "inv_b"],
            "external_customer_id": [CUSTOMER, "someone_else"],
            "reason": ["manual", "termination"],
            "description": ["goodwill", None],
            "issuing_date": [date(2026, 12, 3), date(2026, 12, 4)],
            "currency": ["USD", "JPY"],
            "status": ["finalized", "finalized"],
            **money,
        }
    )
    pq.write_table(table, root / "output" / "marts" / "fct_credit_notes.parquet")
    pdf = root / "output" / "credit_notes" / "2026-12" / "LUM-001-CN001.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(b"%PDF-1.4 credit note")


def test_credit_notes_through_the_api_and_the_portal(client: TestClient, root: Path) -> None:
    publish_credit_notes(root)
    listed = client.get(
        "/api/v1/credit_notes", headers=AUTH, params={"external_customer_id": CUSTOMER}
    )
    notes = listed.json()["credit_notes"]
    assert [n["lago_id"] for n in notes] == ["cn_a"] and listed.json()["meta"]["total_count"] == 1
    note = notes[0]
    assert (
        note["total_amount_cents"],
        note["balance_amount_cents"],
        note["taxes_amount_cents"],
    ) == (
        1200,
        550,
        "200",
    )
    assert note["credit_status"] == "available" and note["invoice_number"] == "LUM-001-001"
    assert note["taxes_rate"] == 20.0 and note["file_url"].endswith("/credit_notes/cn_a.pdf")
    jpy = client.get("/api/v1/credit_notes/cn_b", headers=AUTH).json()["credit_note"]
    assert jpy["total_amount_cents"] == 500 and jpy["credit_status"] == "consumed"
    assert jpy["file_url"] is None
    assert client.post("/api/v1/credit_notes/cn_b/download", headers=AUTH).content == b""
    downloaded = client.post("/api/v1/credit_notes/cn_a/download", headers=AUTH).json()
    assert httpx.URL(downloaded["credit_note"]["file_url"]).path.startswith("/portal/")
    token = client.app.state.api.settings.portal.sign(CUSTOMER)
    page = client.get(f"/portal/{token}").text
    assert "LUM-001-CN001" in page and "LUM-002-CN001" not in page
    assert client.get(f"/portal/{token}/credit_notes/cn_a.pdf").content.startswith(b"%PDF")
    assert client.get(f"/portal/{token}/credit_notes/cn_b.pdf").status_code == 404
    reason = client.get("/api/v1/credit_notes", headers=AUTH, params={"reason": "termination"})
    assert [n["lago_id"] for n in reason.json()["credit_notes"]] == ["cn_b"]


def test_spooled_events_are_sealed_into_one_landing_file(root: Path) -> None:
    from orchestration.landing.readers import landing_files

    app = create_app(replace(settings(root), seal_seconds=3600))
    folder = root / "landing" / "events"
    with TestClient(app) as client:
        for i in range(3):
            client.post("/api/v1/events", headers=AUTH, json={"event": event(f"s{i}")})
        assert len(list(folder.rglob("*.spool"))) == 3  # acknowledged: on disk, in the spool
        assert landing_files(folder) == []  # not yet a file the loader reads
        assert app.state.api.journals["events"].seal() == 3
        assert not list(folder.rglob("*.spool"))
        (sealed,) = landing_files(folder)
        assert [json.loads(line)["transaction_id"] for line in sealed.read_text().splitlines()] == [
            "s0",
            "s1",
            "s2",
        ]
        client.post("/api/v1/events", headers=AUTH, json={"event": event("s3")})
    # stopping the server seals what is left
    assert not list(folder.rglob("*.spool")) and len(landing_files(folder)) == 2
    assert sorted(e["transaction_id"] for e in landed(root)) == ["s0", "s1", "s2", "s3"]
