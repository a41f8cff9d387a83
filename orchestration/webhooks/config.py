"""Webhook endpoints, configured outside the repository (docs/webhooks.md).

`MH_WEBHOOKS_FILE` names a JSON file, or `MH_WEBHOOKS` holds the same JSON inline:

    {"endpoints": [{"url": "https://example.com/lago", "event_types": ["invoice.created"],
                    "signature_algo": "hmac", "secret": "..."}]}

A bare list of endpoints is accepted too. The rules are Lago's: at most 10 endpoints, each URL
once, event types from the list Meterhouse sends (null or ["*"]: all; []: none).
"""

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

MAX_ENDPOINTS = 10  # Lago's WebhookEndpoint::LIMIT

# Every type Meterhouse sends (docs/webhooks.md), and those reserved for what comes later
# (progressive billing): an endpoint may subscribe to them already.
EVENT_TYPES = (
    "invoice.drafted",
    "invoice.created",
    "credit_note.created",
    "fee.created",
    "wallet_transaction.created",
    "events.errors",
    "subscription.started",
    "subscription.terminated",
    "alert.triggered",
    "wallet.depleted_ongoing_balance",
    # A Meterhouse extension, not a Lago event: a spend cap reached (docs/rules.md §12b).
    "subscription.spend_cap_reached",
)
RESERVED_EVENT_TYPES = ("subscription.usage_threshold_reached",)
SIGNATURE_ALGORITHMS = ("hmac",)
DEFAULT_TIMEOUT_SECONDS = 30  # LAGO_WEBHOOK_TIMEOUT_SECONDS
DEFAULT_ATTEMPTS = 3  # LAGO_WEBHOOK_ATTEMPTS
ENDPOINT_NAMESPACE = uuid.UUID("0b7a4f9e-1c2d-4e8f-9a6b-3d5c7e9f1a2b")


class WebhookConfigError(ValueError):
    """The webhook configuration is not valid; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    endpoint_id: str  # stable: derived from the URL, which is unique
    url: str
    name: str | None
    signature_algo: str
    secret: str
    event_types: tuple[str, ...] | None  # None: every event

    def subscribed(self, webhook_type: str) -> bool:
        return self.event_types is None or webhook_type in self.event_types


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    endpoints: tuple[Endpoint, ...]
    organization_id: str
    timeout_seconds: float
    attempts: int
    source: str  # where the endpoints came from, for messages


def _positive(name: str, default: float, kind: type) -> float:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        number = kind(value)
    except ValueError:
        raise WebhookConfigError(f"{name} must be a positive number, got {value!r}") from None
    if number <= 0:
        raise WebhookConfigError(f"{name} must be a positive number, got {value!r}")
    return number


def load_settings() -> WebhookSettings:
    """The endpoints of `MH_WEBHOOKS_FILE` or `MH_WEBHOOKS` (none when neither is set)."""
    timeout = _positive("MH_WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, float)
    attempts = int(_positive("MH_WEBHOOK_ATTEMPTS", DEFAULT_ATTEMPTS, int))
    path, inline = os.environ.get("MH_WEBHOOKS_FILE"), os.environ.get("MH_WEBHOOKS")
    if path and inline:
        raise WebhookConfigError("set MH_WEBHOOKS_FILE or MH_WEBHOOKS, not both")
    if path:
        source = f"MH_WEBHOOKS_FILE ({path})"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise WebhookConfigError(f"{source}: cannot read it: {error.strerror}") from None
    elif inline:
        source, text = "MH_WEBHOOKS", inline
    else:
        return WebhookSettings((), _default_organization(), timeout, attempts, "none configured")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise WebhookConfigError(f"{source}: not valid JSON: {error}") from None
    return parse(document, source, timeout=timeout, attempts=attempts)


def _default_organization() -> str:
    return str(uuid.uuid5(ENDPOINT_NAMESPACE, "organization"))


def parse(document: object, source: str, *, timeout: float, attempts: int) -> WebhookSettings:
    if isinstance(document, list):
        document = {"endpoints": document}
    if not isinstance(document, dict):
        raise WebhookConfigError(f"{source}: expected an object with `endpoints`, or a list")
    unknown = set(document) - {"endpoints", "organization_id"}
    if unknown:
        raise WebhookConfigError(f"{source}: unknown keys {sorted(unknown)}")
    raw = document.get("endpoints") or []
    if not isinstance(raw, list):
        raise WebhookConfigError(f"{source}: `endpoints` must be a list")
    if len(raw) > MAX_ENDPOINTS:
        raise WebhookConfigError(
            f"{source}: {len(raw)} endpoints; at most {MAX_ENDPOINTS} are allowed (as in Lago)"
        )
    endpoints = [_endpoint(item, f"{source}: endpoint {n + 1}") for n, item in enumerate(raw)]
    seen: set[str] = set()
    for endpoint in endpoints:
        if endpoint.url in seen:
            raise WebhookConfigError(f"{source}: the URL {endpoint.url} is configured twice")
        seen.add(endpoint.url)
    organization = document.get("organization_id") or _default_organization()
    if not isinstance(organization, str):
        raise WebhookConfigError(f"{source}: `organization_id` must be a string")
    return WebhookSettings(tuple(endpoints), organization, timeout, attempts, source)


ENDPOINT_KEYS = {"url", "name", "event_types", "signature_algo", "secret", "secret_env"}


def _endpoint(item: object, where: str) -> Endpoint:
    if not isinstance(item, dict):
        raise WebhookConfigError(f"{where}: expected an object")
    unknown = set(item) - ENDPOINT_KEYS
    if unknown:
        raise WebhookConfigError(f"{where}: unknown keys {sorted(unknown)}")
    url = item.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        not isinstance(url, str)
        or not parts
        or parts.scheme not in ("http", "https")
        or not parts.hostname
    ):
        raise WebhookConfigError(f"{where}: `url` must be an http:// or https:// URL, got {url!r}")
    algo = item.get("signature_algo", "hmac")
    if algo == "jwt":
        raise WebhookConfigError(
            f"{where}: signature_algo `jwt` is not supported yet; use `hmac` (docs/webhooks.md)"
        )
    if algo not in SIGNATURE_ALGORITHMS:
        raise WebhookConfigError(f"{where}: signature_algo must be `hmac`, got {algo!r}")
    secret = item.get("secret")
    if item.get("secret_env"):
        if secret:
            raise WebhookConfigError(f"{where}: give `secret` or `secret_env`, not both")
        secret = os.environ.get(str(item["secret_env"]))
        if not secret:
            raise WebhookConfigError(f"{where}: the variable {item['secret_env']} is not set")
    if not isinstance(secret, str) or len(secret) < 16:
        raise WebhookConfigError(
            f"{where}: `secret` (or `secret_env`) must be a string of at least 16 characters"
        )
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        raise WebhookConfigError(f"{where}: `name` must be a string")
    return Endpoint(
        endpoint_id=str(uuid.uuid5(ENDPOINT_NAMESPACE, url)),
        url=url,
        name=name,
        signature_algo=algo,
        secret=secret,
        event_types=_event_types(item.get("event_types"), where),
    )


def _event_types(value: object, where: str) -> tuple[str, ...] | None:
    """Lago's rule: null or ["*"] is every event, [] none, otherwise the listed ones."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WebhookConfigError(f"{where}: `event_types` must be a list of strings or null")
    types = list(dict.fromkeys(v.strip().lower() for v in value))
    if types == ["*"]:
        return None
    known = set(EVENT_TYPES) | set(RESERVED_EVENT_TYPES)
    unknown = [t for t in types if t not in known]
    if unknown:
        raise WebhookConfigError(
            f"{where}: unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}, "
            f'{", ".join(RESERVED_EVENT_TYPES)} (reserved), or ["*"] for all'
        )
    return tuple(types)
