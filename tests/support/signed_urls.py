"""Discord-style signed attachment URLs for simcord's CDN.

Discord signs every attachment URL (`?ex=<hex expiry>&is=<hex issued>&hm=<signature>`)
and answers 404 once it has expired, about a day later; a message fetched again carries
freshly signed URLs. simcord's CDN has neither, so the harness adds both: URLs are signed
when an attachment is stored and again each time a message is serialized, and the CDN
(simcord's in-process one and the HTTP one the simulator downloads from) refuses an
expired or forged URL. Time is simcord's virtual clock, so a test can move two days on.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import simcord.backend.cdn
import simcord.backend.serializers

LIFETIME = 24 * 3600.0
_KEY = b"backline-tests-cdn"


class SignedUrls:
    def __init__(self) -> None:
        self.now: Callable[[], float] = lambda: 0.0

    def sign(self, url: str) -> str:
        base = unquote(url.split("?", 1)[0])
        issued = int(self.now())
        expiry = int(issued + LIFETIME)
        return f"{base}?ex={expiry:x}&is={issued:x}&hm={_mac(base, expiry, issued)}"

    def check(self, url: str) -> str | None:
        """The URL's blob key if it is validly signed and not expired (an unsigned URL
        passes as is: simcord's own assets); None otherwise."""
        parts = urlsplit(url)
        base = unquote(url.split("?", 1)[0])
        query = parse_qs(parts.query)
        if not query:
            return base
        try:
            expiry, issued = int(query["ex"][0], 16), int(query["is"][0], 16)
            good = hmac.compare_digest(query["hm"][0], _mac(base, expiry, issued))
        except (KeyError, ValueError):
            return None
        return base if good and expiry >= self.now() else None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        urls = self
        store_attachment = simcord.backend.cdn.CdnStore.store_attachment
        get = simcord.backend.cdn.CdnStore.get
        message_payload = simcord.backend.serializers.message_payload

        def signed_store(store: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            attachment = store_attachment(store, *args, **kwargs)
            return {**attachment, "url": urls.sign(attachment["url"]),
                    "proxy_url": urls.sign(attachment["proxy_url"])}  # fmt: skip

        def checked_get(store: Any, url: str) -> bytes | None:
            key = urls.check(url)
            return None if key is None else get(store, key)

        def signed_payload(backend: Any, message: Any, **kwargs: Any) -> Any:
            payload = message_payload(backend, message, **kwargs)
            if payload.get("attachments"):
                payload = dict(payload)
                payload["attachments"] = [
                    {**a, "url": urls.sign(a["url"]), "proxy_url": urls.sign(a["proxy_url"])}
                    for a in payload["attachments"]
                ]
            return payload

        monkeypatch.setattr(simcord.backend.cdn.CdnStore, "store_attachment", signed_store)
        monkeypatch.setattr(simcord.backend.cdn.CdnStore, "get", checked_get)
        monkeypatch.setattr(simcord.backend.serializers, "message_payload", signed_payload)


def _mac(base: str, expiry: int, issued: int) -> str:
    message = f"{base}|{expiry:x}|{issued:x}".encode()
    return hmac.new(_KEY, message, hashlib.sha256).hexdigest()[:32]
