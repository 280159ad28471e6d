"""A local broker as production runs it: TLS with SCRAM-SHA-512 (SASL_SSL), for tests.

The default local broker (``careflow.cli.infra``) is plaintext and stays so: it is fast and
every other test uses it. This second broker exists only to prove that careflow's Kafka
clients connect over TLS, verify the broker's certificate and authenticate with SCRAM. Its
certificate authority is made on the spot and thrown away with the folder.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from careflow.cli.infra import Infra, InfraError, project_root, start_kafka, stop_kafka

#: The local broker's only SCRAM user (what a service's KafkaUser is in production).
USERNAME = "careflow"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class CertificateAuthority:
    """A throwaway CA: its certificate (what clients trust) and key (to sign a server)."""

    cert_file: Path
    key_file: Path


def make_ca(folder: Path, name: str = "careflow test CA") -> CertificateAuthority:
    """A self-signed CA in ``folder`` (``ca.pem``, ``ca.key``), valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca = CertificateAuthority(folder / "ca.pem", folder / "ca.key")
    ca.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca.key_file.chmod(0o600)
    return ca


def issue_server_cert(ca: CertificateAuthority, folder: Path, hosts: list[str]) -> Path:
    """A server key and certificate for ``hosts`` (names or IP addresses), signed by ``ca``,
    in one PEM file (key first, then the chain) as Kafka's PEM keystore reads it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(ca.cert_file.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key_file.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    keystore = folder / "server.pem"
    keystore.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    keystore.chmod(0o600)
    return keystore


#: KRaft's authorizer: ACLs live in the cluster metadata, as in production (Strimzi's "simple").
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


@dataclass(frozen=True)
class TlsKafka:
    """A single-node KRaft broker in ``home`` whose only client listener is SASL_SSL with
    SCRAM-SHA-512 on 127.0.0.1:``port``; the CA that signed it is ``home/ca/ca.pem``.

    ``users``: more SCRAM users (name -> password), e.g. one per service. ``authorizer``: the
    StandardAuthorizer on, denying whatever no ACL allows; ``USERNAME`` is then the super user
    that creates topics and ACLs (``grant``), as Strimzi's operators are in production.
    """

    home: Path
    password: str
    port: int
    controller_port: int
    users: dict[str, str] = field(default_factory=dict)
    authorizer: bool = False

    @classmethod
    def for_slot(
        cls,
        home: Path,
        password: str,
        users: dict[str, str] | None = None,
        authorizer: bool = False,
        offset: int = 5,
    ) -> TlsKafka:
        """Ports next to the test profile's (CAREFLOW_INFRA_SLOT), so slots never collide;
        ``offset`` keeps two such brokers of one slot apart."""
        test = Infra.profile("test")
        port = test.kafka_port + offset
        return cls(home, password, port, port + 1, dict(users or {}), authorizer)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.home / "ca" / "ca.pem"

    def client_options(self) -> dict[str, Any]:
        """How a client that trusts the CA and knows the password reaches it (readiness)."""
        from aiokafka.helpers import create_ssl_context

        return {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": "SASL_SSL",
            "ssl_context": create_ssl_context(cafile=str(self.ca_file)),
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": USERNAME,
            "sasl_plain_password": self.password,
        }

    def up(self) -> None:
        """Make a fresh CA and server certificate, format with the SCRAM user, start, wait."""
        for password in (self.password, *self.users.values()):
            if not password or any(c in password for c in "\"',[]="):
                raise InfraError("a broker password must be non-empty, without quotes or ,[]=")
        shutil.rmtree(self.home, ignore_errors=True)
        ca = make_ca(self.home / "ca")
        keystore = issue_server_cert(ca, self.home / "server", ["127.0.0.1", "localhost"])
        start_kafka(
            Infra.profile("test").ensure_kafka_libs(),
            self.home,
            self._properties(keystore),
            self.port,
            self.client_options(),
            [
                arg
                for name, password in ((USERNAME, self.password), *self.users.items())
                for arg in ("--add-scram", f"{MECHANISM}=[name={name},password={password}]")
            ],
        )

    def client_properties(self) -> str:
        """The super user's Java client settings (the Admin client that creates ACLs)."""
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required"
            f' username="{USERNAME}" password="{self.password}";'
        )
        return "\n".join(
            [
                f"bootstrap.servers={self.bootstrap_servers}",
                "security.protocol=SASL_SSL",
                f"sasl.mechanism={MECHANISM}",
                f"sasl.jaas.config={jaas}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={self.ca_file}",
                "",
            ]
        )

    def grant(self, bindings: list[tuple[str, str, str, str, str]]) -> None:
        """Create ALLOW ACLs: (principal, resource type, name, pattern type, operation), e.g.
        ("User:careflow-queue", "topic", "careflow.queue.events", "literal", "Write")."""
        admin = self.home / "admin.properties"
        admin.write_text(self.client_properties())
        admin.chmod(0o600)
        table = self.home / "acls.tsv"
        table.write_text("".join("\t".join(b) + "\n" for b in bindings))
        java = shutil.which("java")
        if java is None:
            raise InfraError("Java 17 is needed to run Kafka")
        libs = Infra.profile("test").ensure_kafka_libs()
        source = project_root() / "deploy" / "kafka" / "KafkaAcls.java"
        done = subprocess.run(
            [java, "-cp", f"{libs}/*", str(source), str(admin), str(table)],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if done.returncode != 0:
            raise InfraError(f"creating ACLs failed:\n{done.stdout}{done.stderr[-3000:]}")

    def down(self) -> None:
        """Stop the broker and delete its folder (keys included)."""
        stop_kafka(self.home)
        shutil.rmtree(self.home, ignore_errors=True)

    def _properties(self, keystore: Path) -> str:
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required"
            f' username="{USERNAME}" password="{self.password}";'
        )
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                f"listeners=SASL_SSL://127.0.0.1:{self.port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=SASL_SSL://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                # The controller listens on loopback only, for this one node.
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
                "inter.broker.listener.name=SASL_SSL",
                f"sasl.enabled.mechanisms={MECHANISM}",
                f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
                f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}",
                "ssl.keystore.type=PEM",
                f"ssl.keystore.location={keystore}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={self.ca_file}",
                "ssl.endpoint.identification.algorithm=https",
                "ssl.client.auth=none",
                f"log.dirs={self.home / 'data'}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "min.insync.replicas=1",
                "default.replication.factor=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                *(self._authorizer_properties() if self.authorizer else []),
                "",
            ]
        )

    def _authorizer_properties(self) -> list[str]:
        return [
            f"authorizer.class.name={AUTHORIZER}",
            "allow.everyone.if.no.acl.found=false",
            # The admin (topics, ACLs, the broker's own inter-broker traffic) and the
            # controller listener's unauthenticated principal: that listener is PLAINTEXT on
            # loopback for this one node only (production's controllers authenticate).
            f"super.users=User:{USERNAME};User:ANONYMOUS",
        ]
