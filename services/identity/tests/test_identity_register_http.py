"""The HTTP population register against a real HTTPS server that requires a client certificate.

The test makes a throwaway CA, a server certificate for 127.0.0.1 and a client certificate for
identity, and starts a real TLS server (Python's http.server) on a loopback port: identity's
adapter reaches it only with its certificate, only when the server's chains to the pinned CA,
and turns every failure into "unavailable" (503), never into a wrong person.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from careflow.identity.register_http import HttpRegister, RegisterUnavailable

pytestmark = [pytest.mark.ops, pytest.mark.identity, pytest.mark.integration]

KNOWN = {
    "pin": "191212121212",
    "given_name": "Tolvan",
    "family_name": "Tolvansson",
    "region": "Västmanland",
    "protected_identity": False,
    "guardian_of": ["201801012384"],
}


def _cert(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    ca: bool = False,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    stranger_cert: Path
    stranger_key: Path


def _write(
    folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None
) -> tuple[Path, Path]:
    crt, pem = folder / f"{name}.crt", folder / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return crt, pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key, other_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _cert("throwaway register CA", ca_key, None, ca=True)
    other = _cert("another CA", other_key, None, ca=True)
    keys = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("server", "client", "stranger")}
    server = _cert("127.0.0.1", keys["server"], (ca.subject, ca_key))
    client = _cert("careflow-identity", keys["client"], (ca.subject, ca_key))
    stranger = _cert("careflow-identity", keys["stranger"], (other.subject, other_key))
    ca_path, _ = _write(folder, "ca", ca, None)
    other_path, _ = _write(folder, "other-ca", other, None)
    return Pki(
        ca_path,
        *_write(folder, "server", server, keys["server"]),
        *_write(folder, "client", client, keys["client"]),
        other_path,
        *_write(folder, "stranger", stranger, keys["stranger"]),
    )


@dataclass
class Server:
    url: str
    callers: list[str]


@pytest.fixture(scope="module")
def register_server(pki: Pki) -> Iterator[Server]:
    callers: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            peer = self.connection.getpeercert()  # type: ignore[attr-defined]
            callers.append(dict(x[0] for x in peer["subject"])["commonName"])
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            pin = body["personal_identity_number"]
            if self.path != "/register/lookup" or pin == "199001012387":
                self.send_response(500 if pin == "199001012387" else 404)
                self.end_headers()
                return
            # 200001012386: a broken register, answering about someone else.
            if pin in ("200001012386", KNOWN["pin"]):
                answer = json.dumps(KNOWN).encode()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no answer
    context.load_cert_chain(pki.server_cert, pki.server_key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"https://127.0.0.1:{httpd.server_address[1]}/register", callers)
    finally:
        httpd.shutdown()
        httpd.server_close()


async def _lookup(register: HttpRegister, pin: str) -> object:
    try:
        return await register.lookup(pin)
    finally:
        await register.aclose()


def test_the_register_answers_identity_over_mutual_tls(pki: Pki, register_server: Server) -> None:
    def register() -> HttpRegister:
        return HttpRegister(
            register_server.url, str(pki.client_cert), str(pki.client_key), str(pki.ca)
        )

    person = asyncio.run(_lookup(register(), KNOWN["pin"]))  # type: ignore[arg-type]
    assert person is not None
    assert (person.pin, person.given_name, person.region) == (KNOWN["pin"], "Tolvan", "Västmanland")  # type: ignore[attr-defined]
    assert person.guardian_of == ("201801012384",)  # type: ignore[attr-defined]
    assert register_server.callers[-1] == "careflow-identity"  # the server saw our certificate
    assert asyncio.run(_lookup(register(), "198112289874")) is None  # unknown: None
    with pytest.raises(RegisterUnavailable, match="answered 500"):
        asyncio.run(_lookup(register(), "199001012387"))
    with pytest.raises(RegisterUnavailable, match="another number"):
        asyncio.run(_lookup(register(), "200001012386"))


def test_without_the_right_certificates_nothing_is_answered(
    pki: Pki, register_server: Server
) -> None:
    before = len(register_server.callers)
    # A client certificate from a CA the register does not trust: the handshake fails.
    stranger = HttpRegister(
        register_server.url, str(pki.stranger_cert), str(pki.stranger_key), str(pki.ca)
    )
    with pytest.raises(RegisterUnavailable):
        asyncio.run(_lookup(stranger, KNOWN["pin"]))
    # A server whose certificate does not chain to the pinned CA is not believed.
    pinned_elsewhere = HttpRegister(
        register_server.url, str(pki.client_cert), str(pki.client_key), str(pki.other_ca)
    )
    with pytest.raises(RegisterUnavailable):
        asyncio.run(_lookup(pinned_elsewhere, KNOWN["pin"]))
    # Nor one reached under a name its certificate does not carry.
    by_name = HttpRegister(
        register_server.url.replace("127.0.0.1", "localhost"),
        str(pki.client_cert),
        str(pki.client_key),
        str(pki.ca),
    )
    with pytest.raises(RegisterUnavailable):
        asyncio.run(_lookup(by_name, KNOWN["pin"]))
    assert len(register_server.callers) == before  # none of them got an answer
    with pytest.raises(ValueError, match="https only"):
        HttpRegister("http://127.0.0.1:1/register", str(pki.client_cert), str(pki.client_key))


def test_production_starts_only_with_the_http_register(
    pki: Pki, register_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careflow.identity.app import population_register
    from careflow.identity.register import SeedRegister
    from careflow.identity.settings import IdentitySettings
    from careflow.kit.settings import Environment

    staging = IdentitySettings.model_construct(
        **{**IdentitySettings().__dict__, "environment": Environment.STAGING}
    )
    assert isinstance(population_register(staging), SeedRegister)
    production = IdentitySettings.model_construct(
        **{**IdentitySettings().__dict__, "environment": Environment.PRODUCTION}
    )
    with pytest.raises(RuntimeError, match="seed population register"):
        population_register(production)
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER", "http")
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER_URL", register_server.url)
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER_CERTFILE", str(pki.client_cert))
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER_KEYFILE", str(pki.client_key))
    monkeypatch.setenv("CAREFLOW_POPULATION_REGISTER_CAFILE", str(pki.ca))
    chosen = population_register(IdentitySettings())
    assert isinstance(chosen, HttpRegister)
    assert asyncio.run(_lookup(chosen, KNOWN["pin"])) is not None
