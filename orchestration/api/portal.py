"""The customer portal: server-rendered pages behind a signed, expiring link (no script, no CDN).

A link's token names one customer (`security.PortalSigner`); every identifier in a portal URL is
checked against it, so a link never shows or serves another customer's data. Figures come from the
published marts, formatted in the customer's document locale with Babel.
"""

import html
from datetime import date, datetime
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from orchestration.api.context import Api
from orchestration.api.documents import document_path
from orchestration.api.security import InvalidToken
from orchestration.api.wallets import wallets_of

LABELS = {
    "en": {
        "title": "Billing portal",
        "usage": "Current usage",
        "period": "Period",
        "amount_to_date": "Amount to date",
        "charge": "Charge",
        "units": "Units",
        "amount": "Amount",
        "daily": "Daily usage",
        "thresholds": "Progressive billing thresholds",
        "wallets": "Wallets",
        "balance": "Balance",
        "credits": "Credits",
        "invoices": "Invoices",
        "credit_notes": "Credit notes",
        "number": "Number",
        "date": "Date",
        "status": "Status",
        "total": "Total",
        "download": "Download PDF",
        "type": "Type",
        "none": "Nothing yet.",
        "no_usage": "No usage has been computed for this period yet.",
        "invalid": "This link is invalid or has expired. Ask your provider for a new one.",
        "recurring": "recurring",
    },
    "fr": {
        "title": "Portail de facturation",
        "usage": "Consommation en cours",
        "period": "Période",
        "amount_to_date": "Montant à date",
        "charge": "Frais",
        "units": "Unités",
        "amount": "Montant",
        "daily": "Consommation quotidienne",
        "thresholds": "Seuils de facturation progressive",
        "wallets": "Portefeuilles",
        "balance": "Solde",
        "credits": "Crédits",
        "invoices": "Factures",
        "credit_notes": "Avoirs",
        "number": "Numéro",
        "date": "Date",
        "status": "Statut",
        "total": "Total",
        "download": "Télécharger le PDF",
        "type": "Type",
        "none": "Rien pour l'instant.",
        "no_usage": "Aucune consommation calculée pour cette période.",
        "invalid": "Ce lien est invalide ou a expiré.",
        "recurring": "récurrent",
    },
    "de": {
        "title": "Abrechnungsportal",
        "usage": "Aktuelle Nutzung",
        "period": "Zeitraum",
        "amount_to_date": "Betrag bis heute",
        "charge": "Gebühr",
        "units": "Einheiten",
        "amount": "Betrag",
        "daily": "Tägliche Nutzung",
        "thresholds": "Schwellen der progressiven Abrechnung",
        "wallets": "Guthabenkonten",
        "balance": "Saldo",
        "credits": "Guthaben",
        "invoices": "Rechnungen",
        "credit_notes": "Gutschriften",
        "number": "Nummer",
        "date": "Datum",
        "status": "Status",
        "total": "Gesamt",
        "download": "PDF herunterladen",
        "type": "Art",
        "none": "Noch nichts.",
        "no_usage": "Für diesen Zeitraum wurde noch keine Nutzung berechnet.",
        "invalid": "Dieser Link ist ungültig oder abgelaufen.",
        "recurring": "wiederkehrend",
    },
}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:60rem;color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d9e2ec}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e4e7eb}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
section.subscription{margin-bottom:1.5rem}.muted{color:#616e7c}
svg{background:#f5f7fa;border:1px solid #e4e7eb}
"""


def _escape(value: object) -> str:
    return html.escape("" if value is None else str(value))


class Portal:
    def __init__(self, api: Api) -> None:
        self.api = api

    def routes(self) -> list[Route]:
        return [
            Route("/portal/{token}", self.home, methods=["GET"]),
            Route("/portal/{token}/invoices/{document_id}.pdf", self.invoice_pdf, methods=["GET"]),
            Route(
                "/portal/{token}/credit_notes/{document_id}.pdf",
                self.credit_note_pdf,
                methods=["GET"],
            ),
        ]

    # -- helpers ------------------------------------------------------------------------------

    def _customer(self, request: Request) -> str | None:
        try:
            return self.api.settings.portal.verify(request.path_params["token"])
        except InvalidToken:
            return None

    def _locale(self, external_customer_id: str) -> str:
        customer = self.api.known_customer(external_customer_id) or {}
        wanted = customer.get("document_locale") or self.api.catalog.document_locale
        try:
            Locale.parse(wanted.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            return "en"
        return wanted.replace("-", "_")

    def _refused(self) -> Response:
        body = f"<!doctype html><html lang=en><head><meta charset=utf-8>{FAVICON}"
        body += "<title>Portal</title>"
        body += f"<style>{STYLE}</style></head><body><h1>{_escape(LABELS['en']['invalid'])}"
        body += "</h1></body></html>"
        return HTMLResponse(body, status_code=403, headers=SECURITY_HEADERS)

    # -- pages --------------------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        customer_id = self._customer(request)
        if customer_id is None:
            return self._refused()
        locale = self._locale(customer_id)
        labels = LABELS.get(locale.split("_")[0], LABELS["en"])
        token = request.path_params["token"]
        customer = self.api.known_customer(customer_id) or {}
        money = _Money(locale)
        parts = [
            f"<!doctype html><html lang={_escape(locale.split('_')[0])}><head>",
            "<meta charset=utf-8><meta name=viewport content='width=device-width'>",
            FAVICON,
            f"<title>{_escape(labels['title'])}</title><style>{STYLE}</style></head><body>",
            f"<h1>{_escape(labels['title'])}: {_escape(customer.get('name') or customer_id)}</h1>",
            f"<h2>{_escape(labels['usage'])}</h2>",
            self._usage(customer_id, labels, money),
            f"<h2>{_escape(labels['wallets'])}</h2>",
            self._wallets(customer_id, labels, money),
            f"<h2>{_escape(labels['invoices'])}</h2>",
            self._invoices(customer_id, token, labels, money),
            f"<h2>{_escape(labels['credit_notes'])}</h2>",
            self._credit_notes(customer_id, token, labels, money),
            "</body></html>",
        ]
        return HTMLResponse("".join(parts), headers=SECURITY_HEADERS)

    def _usage(self, customer_id: str, labels: dict, money: "_Money") -> str:
        marts = self.api.marts
        summaries = marts.where("fct_usage_current_subscriptions", external_customer_id=customer_id)
        if not summaries:
            return f"<p class=muted id=no-usage>{_escape(labels['no_usage'])}</p>"
        out = []
        for summary in sorted(summaries, key=lambda r: r["external_subscription_id"]):
            subscription = summary["external_subscription_id"]
            currency = summary["currency"]
            lines = [
                line
                for line in marts.where("fct_usage_current", external_subscription_id=subscription)
                if line.get("from_datetime") == summary.get("from_datetime")
            ]
            start, end = summary.get("from_datetime"), summary.get("to_datetime")
            period = f"{money.day(start)} \u2013 {money.day(end)}"
            out.append(f"<section class=subscription data-subscription='{_escape(subscription)}'>")
            out.append(f"<h3>{_escape(subscription)}</h3>")
            out.append(
                f"<p>{_escape(labels['period'])}: {_escape(period)}<br>"
                f"{_escape(labels['amount_to_date'])}: <strong class=amount-to-date>"
                f"{_escape(money.amount(summary.get('amount'), currency))}</strong></p>"
            )
            out.append(
                f"<table class=usage><thead><tr><th>{_escape(labels['charge'])}</th>"
                f"<th class=num>{_escape(labels['units'])}</th>"
                f"<th class=num>{_escape(labels['amount'])}</th></tr></thead><tbody>"
            )
            for line in sorted(lines, key=lambda r: (r["charge_code"], r.get("filter_code") or "")):
                name = line["charge_code"] + (
                    f" ({line['filter_code']})" if line.get("filter_code") else ""
                )
                out.append(
                    f"<tr><td>{_escape(name)}</td>"
                    f"<td class=num>{_escape(money.number(line.get('units')))}</td>"
                    f"<td class=num>{_escape(money.amount(line.get('amount'), currency))}</td></tr>"
                )
            out.append("</tbody></table>")
            out.append(self._chart(subscription, labels))
            out.append(self._thresholds(subscription, currency, labels, money))
            out.append("</section>")
        return "".join(out)

    def _chart(self, subscription: str, labels: dict) -> str:
        """Inline SVG bars of the subscription's daily amounts (billing.fct_usage_daily)."""
        rows = self.api.marts.where("fct_usage_daily", external_subscription_id=subscription)
        if not rows:
            return ""
        day_column = next(
            (c for c in ("usage_date", "date", "day", "from_datetime") if c in rows[0]), None
        )
        value_column = next((c for c in ("amount", "units") if c in rows[0]), None)
        if day_column is None or value_column is None:
            return ""
        totals: dict[date, Decimal] = {}
        for row in rows:
            day = row[day_column]
            day = day.date() if isinstance(day, datetime) else day
            totals[day] = totals.get(day, Decimal(0)) + Decimal(row.get(value_column) or 0)
        days = sorted(totals)
        peak = max(totals.values()) or Decimal(1)
        width, height, gap = 600, 120, 2
        bar = max(1, (width - gap * len(days)) // max(1, len(days)))
        bars = []
        for index, day in enumerate(days):
            h = int(Decimal(height - 10) * totals[day] / peak) if peak > 0 else 0
            x = index * (bar + gap)
            bars.append(
                f"<rect x='{x}' y='{height - h}' width='{bar}' height='{h}' fill='#3e7bfa'>"
                f"<title>{_escape(day)}: {_escape(totals[day])}</title></rect>"
            )
        return (
            f"<figure><figcaption>{_escape(labels['daily'])}</figcaption>"
            f"<svg class=daily-usage role=img width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' xmlns='http://www.w3.org/2000/svg'>"
            f"{''.join(bars)}</svg></figure>"
        )

    def _thresholds(self, subscription: str, currency: str, labels: dict, money) -> str:
        phases = self.api.state.subscription_phases(subscription)
        plan = phases[-1]["plan_code"] if phases else None
        thresholds = self.api.catalog.thresholds.get(plan or "", [])
        if not thresholds:
            return ""
        items = "".join(
            f"<li>{_escape(money.amount(Decimal(t['amount']), currency))}"
            + (f" ({_escape(labels['recurring'])})" if t.get("recurring") == "true" else "")
            + "</li>"
            for t in sorted(thresholds, key=lambda t: Decimal(t["amount"]))
        )
        return f"<p>{_escape(labels['thresholds'])}</p><ul class=thresholds>{items}</ul>"

    def _wallets(self, customer_id: str, labels: dict, money) -> str:
        wallets = wallets_of(self.api.marts, customer_id)
        if not wallets:
            return f"<p class=muted>{_escape(labels['none'])}</p>"
        currency = self.api.currency_of(customer_id)
        out = []
        for code, rows in sorted(wallets.items()):
            last = rows[-1]
            out.append(
                f"<h3>{_escape(code)}</h3><p>{_escape(labels['balance'])}: "
                f"<strong class=wallet-balance>"
                f"{_escape(money.amount(last.get('balance_amount_after'), currency))}</strong> "
                f"({_escape(money.number(last.get('credits_balance_after')))} "
                f"{_escape(labels['credits'])})</p>"
            )
            out.append(
                f"<table class=wallet-transactions><thead><tr><th>{_escape(labels['date'])}</th>"
                f"<th>{_escape(labels['type'])}</th><th>{_escape(labels['status'])}</th>"
                f"<th class=num>{_escape(labels['credits'])}</th>"
                f"<th class=num>{_escape(labels['amount'])}</th></tr></thead><tbody>"
            )
            out.extend(
                f"<tr><td>{_escape(money.day(row.get('created_at')))}</td>"
                f"<td>{_escape(row['transaction_type'])}</td><td>{_escape(row.get('status'))}</td>"
                f"<td class=num>{_escape(money.number(row.get('credits')))}</td>"
                f"<td class=num>{_escape(money.amount(row.get('amount'), currency))}</td></tr>"
                for row in reversed(rows)
            )
            out.append("</tbody></table>")
        return "".join(out)

    def _invoices(self, customer_id: str, token: str, labels: dict, money) -> str:
        rows = self.api.marts.where("fct_invoices", external_customer_id=customer_id)
        if not rows:
            return f"<p class=muted>{_escape(labels['none'])}</p>"
        rows.sort(key=lambda r: (r.get("issuing_date") or date.min, r["invoice_id"]), reverse=True)
        out = [
            f"<table class=invoices><thead><tr><th>{_escape(labels['number'])}</th>"
            f"<th>{_escape(labels['date'])}</th><th>{_escape(labels['status'])}</th>"
            f"<th class=num>{_escape(labels['total'])}</th><th></th></tr></thead><tbody>"
        ]
        for row in rows:
            link = ""
            if row.get("invoice_number") and self._pdf("invoices", row.get("invoice_number")):
                href = f"/portal/{token}/invoices/{row['invoice_id']}.pdf"
                link = _download_link(href, labels)
            out.append(
                f"<tr data-invoice='{_escape(row['invoice_id'])}'>"
                f"<td>{_escape(row.get('invoice_number') or '—')}</td>"
                f"<td>{_escape(money.day(row.get('issuing_date')))}</td>"
                f"<td>{_escape(row['status'])}</td>"
                f"<td class=num>{_escape(money.amount(row.get('total_amount'), row['currency']))}"
                "</td>"
                f"<td>{link}</td></tr>"
            )
        out.append("</tbody></table>")
        return "".join(out)

    def _credit_notes(self, customer_id: str, token: str, labels: dict, money) -> str:
        rows = self.api.marts.where("fct_credit_notes", external_customer_id=customer_id)
        if not rows:
            return f"<p class=muted>{_escape(labels['none'])}</p>"
        out = [
            f"<table class=credit-notes><thead><tr><th>{_escape(labels['number'])}</th>"
            f"<th>{_escape(labels['date'])}</th><th>{_escape(labels['status'])}</th>"
            f"<th class=num>{_escape(labels['total'])}</th><th></th></tr></thead><tbody>"
        ]
        for row in sorted(rows, key=lambda r: r["credit_note_id"]):
            link = ""
            if row.get("credit_note_number") and self._pdf(
                "credit_notes", row["credit_note_number"]
            ):
                href = f"/portal/{token}/credit_notes/{row['credit_note_id']}.pdf"
                link = _download_link(href, labels)
            out.append(
                f"<tr><td>{_escape(row.get('credit_note_number') or '—')}</td>"
                f"<td>{_escape(money.day(row.get('issuing_date')))}</td>"
                f"<td>{_escape(row.get('status'))}</td>"
                f"<td class=num>{_escape(money.amount(row.get('total_amount'), row['currency']))}"
                "</td>"
                f"<td>{link}</td></tr>"
            )
        out.append("</tbody></table>")
        return "".join(out)

    def _pdf(self, kind: str, number: str | None):
        return document_path(self.api.settings.output_dir, kind, number) if number else None

    # -- downloads ----------------------------------------------------------------------------

    def _download(
        self, request: Request, table: str, id_column: str, number_column: str, kind: str
    ) -> Response:
        customer_id = self._customer(request)
        if customer_id is None:
            return self._refused()
        rows = self.api.marts.where(table, **{id_column: request.path_params["document_id"]})
        # Another customer's document is answered exactly as a missing one.
        if not rows or rows[0]["external_customer_id"] != customer_id:
            return Response("Not Found", status_code=404, media_type="text/plain")
        path = self._pdf(kind, rows[0].get(number_column))
        if path is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return FileResponse(path, media_type="application/pdf", filename=path.name)

    def invoice_pdf(self, request: Request) -> Response:
        return self._download(request, "fct_invoices", "invoice_id", "invoice_number", "invoices")

    def credit_note_pdf(self, request: Request) -> Response:
        return self._download(
            request, "fct_credit_notes", "credit_note_id", "credit_note_number", "credit_notes"
        )


# An empty inline icon: browsers otherwise fetch /favicon.ico, a 404 in the console.
FAVICON = "<link rel=icon href='data:,'>"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _download_link(href: str, labels: dict) -> str:
    return f"<a class=download href='{_escape(href)}' download>{_escape(labels['download'])}</a>"


class _Money:
    def __init__(self, locale: str) -> None:
        self.locale = locale

    def amount(self, value, currency: str) -> str:
        return format_currency(Decimal(value or 0), currency, locale=self.locale)

    def number(self, value) -> str:
        return format_decimal(Decimal(value or 0), locale=self.locale, decimal_quantization=False)

    def day(self, value) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.date()
        return format_date(value, format="medium", locale=self.locale)
