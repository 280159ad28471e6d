"""The population register over HTTPS with a client certificate (mutual TLS).

Navet and the regions' integration platforms authenticate a caller by its organisation
certificate, and the answer holds protected personal data: the connection verifies the
server against a pinned CA (or the system's) and its host name, and presents identity's
certificate. The number travels in the body of a POST, never in a URL, where proxies and
access logs would keep it.

The exchange (JSON both ways):

    POST {url}/lookup  {"personal_identity_number": "19121212..."}
    200 {"pin", "given_name", "family_name", "region", "protected_identity", "guardian_of"}
    404 the register does not know the number
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from careflow.identity.domain import Person


class RegisterUnavailable(ConnectionError):
    """The register did not answer, or answered with an error: the request may succeed later
    (a ``ConnectionError``, so the kit answers 503 with Retry-After)."""


def tls_context(certfile: str, keyfile: str, cafile: str | None) -> ssl.SSLContext:
    """A client context that verifies the server (certificate and host name) and presents
    ``certfile``; trusts ``cafile`` only when given, else the system's CAs."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


class HttpRegister:
    """``PopulationRegister`` over HTTPS with mutual TLS."""

    def __init__(
        self,
        url: str,
        certfile: str,
        keyfile: str,
        cafile: str | None = None,
        timeout_seconds: float = 5.0,
    ) -> None:
        if not url.lower().startswith("https://"):
            raise ValueError("the population register is reached over https only")
        self._url = url.rstrip("/")
        self._client = httpx.AsyncClient(
            verify=tls_context(certfile, keyfile, cafile),
            timeout=timeout_seconds,
            # Never through an environment proxy: the register is reached directly.
            trust_env=False,
        )

    async def lookup(self, pin: str) -> Person | None:
        """The person with this 12-digit number, or None when the register does not know them."""
        try:
            response = await self._client.post(
                f"{self._url}/lookup", json={"personal_identity_number": pin}
            )
        except (httpx.HTTPError, OSError) as exc:
            # OSError: with TLS 1.3 a refused client certificate arrives as an alert on the
            # first read, an ssl.SSLError httpx does not wrap. The message may quote the
            # request; the type says enough.
            raise RegisterUnavailable(f"population register: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RegisterUnavailable(f"population register answered {response.status_code}")
        return _person(response.json(), pin)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _person(body: dict[str, Any], asked: str) -> Person:
    if body.get("pin") != asked:
        # An answer about someone else must never become this caller's identity.
        raise RegisterUnavailable("population register answered for another number")
    return Person(
        pin=body["pin"],
        given_name=body["given_name"],
        family_name=body["family_name"],
        region=body.get("region"),
        protected_identity=bool(body.get("protected_identity", False)),
        guardian_of=tuple(body.get("guardian_of", ())),
    )
