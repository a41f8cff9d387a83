"""API keys and signed portal links.

API keys come from outside the repository (`MH_API_KEYS`, comma-separated, or the file named by
`MH_API_KEYS_FILE`, one key a line). Only their SHA-256 digests are kept in memory, and a
presented key is hashed and compared with each digest in constant time (`hmac.compare_digest`),
so neither the keys nor the timing of a comparison leak.

A portal token names one customer and an expiry, signed with HMAC-SHA256 under
`MH_PORTAL_SECRET`: `<base64url(json)>.<base64url(mac)>`. It is verified in constant time and
refused once expired.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path


class ConfigurationError(Exception):
    """The server cannot start safely (no API key, no portal secret)."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """The accepted API keys, as SHA-256 digests."""

    digests: tuple[bytes, ...]

    @classmethod
    def from_keys(cls, keys: list[str]) -> "ApiKeys":
        cleaned = [k.strip() for k in keys if k.strip()]
        return cls(tuple(_digest(k) for k in cleaned))

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> "ApiKeys":
        environ = dict(os.environ) if environ is None else environ
        keys = environ.get("MH_API_KEYS", "").split(",")
        if environ.get("MH_API_KEYS_FILE"):
            keys += Path(environ["MH_API_KEYS_FILE"]).read_text().splitlines()
        api_keys = cls.from_keys(keys)
        if not api_keys.digests:
            raise ConfigurationError(
                "no API key: set MH_API_KEYS (comma-separated) or MH_API_KEYS_FILE"
            )
        return api_keys

    def accepts(self, presented: str | None) -> bool:
        """True when `presented` is one of the keys; every digest is compared, in constant time."""
        if not presented:
            return False
        digest = _digest(presented)
        matched = False
        for known in self.digests:
            matched |= hmac.compare_digest(digest, known)
        return matched


def bearer_token(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header (Lago's client sends exactly this)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidToken(Exception):
    """A portal token that is forged, malformed or expired."""


@dataclass(frozen=True, slots=True)
class PortalSigner:
    """Signs and verifies portal tokens with a server secret."""

    secret: bytes
    lifetime_seconds: int = 3600 * 24

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> "PortalSigner":
        environ = dict(os.environ) if environ is None else environ
        secret = environ.get("MH_PORTAL_SECRET", "")
        if len(secret) < 16:
            raise ConfigurationError("MH_PORTAL_SECRET must be set (at least 16 characters)")
        lifetime = int(environ.get("MH_PORTAL_LINK_SECONDS", str(3600 * 24)))
        return cls(secret.encode(), lifetime)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).digest()

    def sign(self, external_customer_id: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.lifetime_seconds)
        payload = json.dumps(
            {"c": external_customer_id, "e": expires, "n": secrets.token_hex(4)},
            separators=(",", ":"),
        ).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}"

    def verify(self, token: str, now: float | None = None) -> str:
        """The customer the token names; InvalidToken when forged, malformed or expired."""
        try:
            payload_text, mac_text = token.split(".")
            payload, mac = _b64decode(payload_text), _b64decode(mac_text)
        except ValueError as error:
            raise InvalidToken("malformed") from error
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidToken("bad signature")
        try:
            claims = json.loads(payload)
            customer, expires = claims["c"], int(claims["e"])
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidToken("malformed") from error
        if not isinstance(customer, str) or expires < (time.time() if now is None else now):
            raise InvalidToken("expired")
        return customer
