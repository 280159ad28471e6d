"""The deployment files render and validate against their published schemas, without a cluster.

- The generated files (compose file, Strimzi topics and users, per-service resources, ingress)
  are what ``deploy/tools/generate.py`` writes from the contracts registry today.
- ``deploy/compose/compose.yaml`` validates against the Compose Specification's JSON schema
  (vendored under ``deploy/tools/schemas/compose-spec``).
- The kustomize overlays (dev, staging, prod) render with kustomize (installed from its Go module by
  ``deploy/tools/install-kustomize.sh``) and every built-in Kubernetes resource validates
  strictly against the Kubernetes OpenAPI schemas bundled by ``kubernetes-validate``.
  Strimzi's custom resources (Kafka, KafkaNodePool, KafkaTopic, KafkaUser) have no schema
  there; they are checked here against the registry instead (partitions, retention, ACLs).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from careflow.contracts import (
    PARTITIONS,
    SUBSCRIPTIONS,
    dead_letter_topic,
    may_read,
    restricted_topics,
    topic_for_event,
    topic_for_service,
    topics_written_by,
)
from careflow.contracts.registry import SERVICES

# Reading and validating the committed files is unit; rendering the overlays runs kustomize (a
# subprocess, built from its Go module on first use), so those tests are integration.
pytestmark = [pytest.mark.deploy]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.33.0"
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
CONSUMERS = [s for s in SERVICES if SUBSCRIPTIONS[s]]
#: The web front end: deployed like a service, but no Kafka topic, user or consumer.
WEB = "web"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "careflow_deploy_generate", DEPLOY / "tools" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> Any:
    return _generator()


@pytest.fixture(scope="module")
def kustomize() -> str:
    """The kustomize binary, installed from its Go module on first use."""
    result = subprocess.run(
        ["bash", str(DEPLOY / "tools" / "install-kustomize.sh")],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if result.returncode != 0:
        # The script's own message says what is missing and the command that installs it.
        pytest.fail(result.stderr.strip(), pytrace=False)
    return result.stdout.strip().splitlines()[-1]


def _render(kustomize: str, overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kustomize, "build", str(DEPLOY / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.fixture(scope="module", params=["dev", "staging", "prod"])
def rendered(request: pytest.FixtureRequest, kustomize: str) -> tuple[str, list[dict[str, Any]]]:
    return request.param, _render(kustomize, request.param)


def _of(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


# --------------------------------------------------------------------------- generated files


@pytest.mark.unit
def test_generated_manifests_are_up_to_date(generator: Any) -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, content in generator.outputs().items()
        if not path.exists() or path.read_text() != content
    ]
    assert stale == [], "run `uv run python deploy/tools/generate.py`"


@pytest.mark.unit
def test_each_user_reads_what_its_consumers_subscribe_to_and_what_the_registry_says(
    generator: Any,
) -> None:
    for plan in generator.plans():
        assert all(g.group_id.startswith(f"{plan.name}.") for g in plan.groups)
        subscribed = {t for g in plan.groups for t in g.topics}
        registry = {topic_for_event(e) for e in SUBSCRIPTIONS[plan.name]}
        assert subscribed | registry <= set(plan.reads)


# --------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    return loaded


@pytest.mark.unit
def test_compose_file_validates_against_the_compose_spec(compose_file: dict[str, Any]) -> None:
    schema = json.loads(
        (DEPLOY / "tools" / "schemas" / "compose-spec" / "compose-spec.json").read_text()
    )
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose_file)]
    assert errors == []


@pytest.mark.unit
def test_the_compose_schema_rejects_a_broken_file(compose_file: dict[str, Any]) -> None:
    """The validator above is not vacuous: a misspelt key is caught."""
    schema = json.loads(
        (DEPLOY / "tools" / "schemas" / "compose-spec" / "compose-spec.json").read_text()
    )
    broken = json.loads(json.dumps(compose_file))
    broken["services"]["queue"]["healthcheck"]["intervall"] = "5s"
    assert not jsonschema.Draft201909Validator(schema).is_valid(broken)


@pytest.mark.unit
def test_compose_runs_every_service_healthy_after_its_migration_and_the_topics(
    compose_file: dict[str, Any],
) -> None:
    services = compose_file["services"]
    # Every image from a variable whose default is the official image (issue 15).
    assert services["kafka"]["image"].startswith("${KAFKA_IMAGE:-apache/kafka:")
    assert services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:18}"
    assert all(s["image"].startswith("${") for s in services.values())
    assert "KAFKA_PROCESS_ROLES" in services["kafka"]["environment"]  # KRaft, no ZooKeeper
    script = services["topics"]["command"][0]
    for service in SERVICES:
        svc = services[service]
        assert svc["command"] == ["python", "-m", f"careflow.{service}"]
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
        assert svc["environment"]["CAREFLOW_HTTP_HOST"] == "0.0.0.0"
        assert svc["depends_on"][f"migrate-{service}"]["condition"] == (
            "service_completed_successfully"
        )
        assert svc["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert services[f"migrate-{service}"]["command"][-1] == service
        # Case topics keep everything; every topic has the registry's partition count.
        assert (
            f"--topic {topic_for_service(service)} --partitions {PARTITIONS}"
            f" --replication-factor 1 --config retention.ms=-1"
        ) in script
        assert f"--topic {dead_letter_topic(service)} --partitions {PARTITIONS}" in script


# --------------------------------------------------------------------------- kubernetes


def assert_routes_nothing_internal(paths: dict[str, str]) -> None:
    """No Ingress path reaches a service's API documents, metrics, probes or dev shortcuts."""
    internal = {"docs", "openapi.json", "metrics", "readyz", "healthz", "dev"}
    for path, backend in paths.items():
        if backend == f"careflow-{WEB}":
            # The web's pages sit at the root, page by page; never a service's prefix.
            first = path.strip("/").split("/")[0]
            assert first not in internal | set(SERVICES) | {WEB}, path
            continue
        service, _, rest = path.strip("/").partition("/")
        assert rest, f"{path} routes the whole of {service}"
        assert rest.split("/")[0] not in {"docs", "openapi.json", "metrics", "readyz", "dev"}


@pytest.mark.security
def test_low_the_ingress_routes_no_docs_openapi_or_metrics() -> None:
    """Low finding of issue 13: the committed Ingress routes only API paths, by prefix; a
    request for ``/<service>/docs``, ``/openapi.json`` or ``/metrics`` matches none of them."""
    [ingress] = [d for d in yaml.safe_load_all((DEPLOY / "k8s/base/ingress.yaml").read_text()) if d]
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for p in ingress["spec"]["rules"][0]["http"]["paths"]
    }
    assert_routes_nothing_internal(paths)
    for service in SERVICES:
        for internal in ("docs", "openapi.json", "metrics", "readyz", "healthz"):
            url = f"/{service}/{internal}"
            # Prefix matching is element-wise: /chat/cases matches /chat/cases/..., never these.
            assert not any(url == p or url.startswith(p + "/") for p in paths), url


@pytest.mark.integration
def test_overlays_validate_against_the_kubernetes_schemas(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    failures = []
    for doc in docs:
        if doc["kind"] in STRIMZI_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except (
            kubernetes_validate.ValidationError,
            kubernetes_validate.SchemaNotFoundError,
        ) as exc:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc}")
    assert failures == []
    assert {d["kind"] for d in docs} - STRIMZI_KINDS >= {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
        "Job",
        "ConfigMap",
    }


@pytest.mark.integration
def test_the_kubernetes_validator_rejects_a_broken_deployment(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    broken = json.loads(json.dumps(_of(docs, "Deployment")[0]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.integration
def test_every_service_is_probed_limited_secured_and_routed(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    deployments = {d["metadata"]["name"]: d for d in _of(docs, "Deployment")}
    assert set(deployments) == {f"careflow-{s}" for s in (*SERVICES, WEB)}
    for service in (*SERVICES, WEB):
        pod = deployments[f"careflow-{service}"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["command"] == ["python", "-m", f"careflow.{service}"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"requests", "limits"} <= set(container["resources"])
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["terminationGracePeriodSeconds"] > 20  # the kit drains for up to 20 s
        assert container["image"].split(":")[0].endswith("careflow")
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for p in _of(docs, "Ingress")[0]["spec"]["rules"][0]["http"]["paths"]
    }
    # Each service's API, path by path, and nothing internal (issue 13, Low).
    routed = {s: {p for p, name in paths.items() if name == f"careflow-{s}"} for s in SERVICES}
    assert all(routed[s] and all(p.startswith(f"/{s}/") for p in routed[s]) for s in SERVICES)
    # The web front end's home page and its pages (issue 15).
    assert {"/", "/login", "/staff"} <= {p for p, name in paths.items() if name == "careflow-web"}
    assert_routes_nothing_internal(paths)
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in _of(docs, "HorizontalPodAutoscaler")}
    assert hpas == {f"careflow-{s}" for s in CONSUMERS}
    assert all(h["spec"]["maxReplicas"] <= PARTITIONS for h in _of(docs, "HorizontalPodAutoscaler"))
    pdbs = {p["metadata"]["name"] for p in _of(docs, "PodDisruptionBudget")}
    assert pdbs == {f"careflow-{s}" for s in (*SERVICES, WEB)}
    jobs = {j["metadata"]["name"] for j in _of(docs, "Job")}
    assert jobs == {f"careflow-migrate-{s}" for s in (*SERVICES, WEB)}
    policies = {
        p["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
        for p in _of(docs, "NetworkPolicy")
    }
    assert {*SERVICES, WEB} <= policies


@pytest.mark.unit
@pytest.mark.ops
@pytest.mark.parametrize("service", SERVICES)
def test_only_a_services_migration_holds_its_owner_credentials(
    compose_file: dict[str, Any], generator: Any, service: str
) -> None:
    def names(env: list[dict[str, Any]]) -> set[str]:
        return {e["name"] for e in env}

    resources = generator.service_resources(generator.service_plan(service))
    deployment = next(r for r in resources if r["kind"] == "Deployment")
    job = next(r for r in resources if r["kind"] == "Job")
    running = names(deployment["spec"]["template"]["spec"]["containers"][0]["env"])
    migrating = names(job["spec"]["template"]["spec"]["containers"][0]["env"])
    assert "CAREFLOW_MIGRATION_DATABASE_URL" in migrating - running
    services = compose_file["services"]
    assert "CAREFLOW_MIGRATION_DATABASE_URL" not in services[service]["environment"]
    assert services[service]["environment"]["DATABASE_URL"].startswith(
        f"postgresql+asyncpg://careflow_{service}:"
    )
    assert "CAREFLOW_MIGRATION_DATABASE_URL" in services[f"migrate-{service}"]["environment"]
    assert services[service]["environment"]["CAREFLOW_MIGRATE_AT_START"] == "false"


@pytest.mark.integration
def test_every_referenced_secret_and_config_map_exists_or_is_provided_by_reference(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    overlay, docs = rendered
    secrets = {d["metadata"]["name"] for d in _of(docs, "Secret")}
    config_maps = {d["metadata"]["name"] for d in _of(docs, "ConfigMap")}
    referenced = set()
    for node in _walk([d for d in docs if d["kind"] in {"Deployment", "Job", "StatefulSet"}]):
        if "secretKeyRef" in node and not node["secretKeyRef"].get("optional"):
            referenced.add(node["secretKeyRef"]["name"])
        if "configMapRef" in node:
            assert node["configMapRef"]["name"] in config_maps
    if overlay == "dev":
        assert referenced <= secrets  # generated with development values
    else:
        # Production keeps secrets out of the repository: referenced, none generated.
        assert secrets == set()
        kinds = ("database", "migration-database")
        databases = {f"careflow-{s}-{k}" for s in (*SERVICES, WEB) for k in kinds}
        assert (
            referenced
            == {
                "careflow-token-secret",
                "careflow-identity-signing",
                "careflow-identity-pseudonym",
                "careflow-journal-signing",
            }
            | databases
        )


@pytest.mark.integration
@pytest.mark.security
def test_finding_17_only_the_journal_may_read_the_identity_numbers_topic(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    overlay, docs = rendered
    if overlay == "dev":
        return  # no authentication in dev, so no ACLs
    for user in _of(docs, "KafkaUser"):
        acls = user["spec"]["authorization"]["acls"]
        reads = {a["resource"]["name"] for a in acls if "Read" in a["operations"]}
        readers = "careflow-journal"
        if user["metadata"]["name"] != readers:
            assert not reads & set(restricted_topics()), user["metadata"]["name"]
        else:
            assert set(restricted_topics()) <= reads


@pytest.mark.integration
def test_strimzi_topics_and_users_follow_the_registry(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    overlay, docs = rendered
    topics = {t["spec"]["topicName"]: t["spec"] for t in _of(docs, "KafkaTopic")}
    assert set(topics) == {topic_for_service(s) for s in SERVICES} | {
        dead_letter_topic(s) for s in SERVICES
    } | set(restricted_topics())
    for name, spec in topics.items():
        assert spec["partitions"] == PARTITIONS
        if name.endswith(".events") or name in restricted_topics():
            assert spec["config"]["retention.ms"] == -1, name
    users = {u["metadata"]["name"]: u["spec"] for u in _of(docs, "KafkaUser")}
    assert set(users) == {f"careflow-{s}" for s in SERVICES}
    if overlay == "dev":
        return  # no authentication in dev, so no ACLs
    for service in SERVICES:
        acls = users[f"careflow-{service}"]["authorization"]["acls"]
        writes = {a["resource"]["name"] for a in acls if "Write" in a["operations"]}
        reads = {
            a["resource"]["name"]
            for a in acls
            if "Read" in a["operations"] and a["resource"]["type"] == "topic"
        }
        groups = {a["resource"]["name"] for a in acls if a["resource"]["type"] == "group"}
        assert topic_for_service(service) in writes
        assert writes <= {*topics_written_by(service), dead_letter_topic(service)}
        consumed = {topic_for_event(e) for e in SUBSCRIPTIONS[service]}
        assert consumed <= reads
        # A restricted topic (personal identity numbers) is read by its listed services only.
        assert all(may_read(service, t) for t in reads), service
        assert all(g.startswith(f"{service}.") for g in groups)
        assert bool(groups) == bool(SUBSCRIPTIONS[service])


@pytest.mark.integration
def test_kafka_traffic_is_encrypted_verified_and_authenticated_outside_dev(
    rendered: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13, finding 6: TLS listener with SCRAM-SHA-512, and services that trust its CA."""
    from careflow.kit.settings import ServiceSettings

    overlay, docs = rendered
    config = next(
        d["data"]
        for d in _of(docs, "ConfigMap")
        if d["metadata"]["name"].startswith("careflow-config")
    )
    # The services' settings, loaded from the config as a pod would (secrets stand-ins).
    for name, value in config.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CAREFLOW_TOKEN_SECRET", "t" * 40)
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql+asyncpg://chat:from-the-secret@db/careflow?ssl=verify-full"
    )
    settings = ServiceSettings(service_name="chat")
    listeners = {
        listener["port"]: listener
        for listener in _of(docs, "Kafka")[0]["spec"]["kafka"]["listeners"]
    }
    port = int(settings.kafka_bootstrap_servers.rsplit(":", 1)[1])
    if overlay == "dev":
        assert settings.kafka_security_protocol == "PLAINTEXT" and not settings.kafka_ssl_cafile
        return
    assert settings.environment == ("production" if overlay == "prod" else "staging")
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert listeners[port]["tls"] is True
    assert listeners[port]["authentication"]["type"] == "scram-sha-512"
    assert all(listener["tls"] for listener in listeners.values())
    assert settings.kafka_ssl_cafile is not None
    ca_dir, ca_name = settings.kafka_ssl_cafile.rsplit("/", 1)
    for deployment in _of(docs, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        if deployment["metadata"]["name"] == f"careflow-{WEB}":
            # The web front end talks to no Kafka: it holds no Kafka credential.
            assert not any("KAFKA" in e["name"] for e in container["env"])
            continue
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == ca_dir)
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == "careflow-cluster-ca-cert"  # Strimzi's CA
        assert {"key": "ca.crt", "path": ca_name} in volume["secret"]["items"]
        password = next(e for e in container["env"] if e["name"] == "CAREFLOW_KAFKA_SASL_PASSWORD")
        assert password["valueFrom"]["secretKeyRef"]["key"] == "password"


# --------------------------------------------------------------------------- image


@pytest.mark.unit
def test_the_image_holds_every_service_and_runs_unprivileged() -> None:
    """Static checks of the Dockerfile (no Docker engine here to build it)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2 and stages[-1].endswith("AS runtime")  # multi-stage
    for service in SERVICES:
        assert f"--package careflow-{service}" in dockerfile, service
    assert "--no-dev" in dockerfile and "--frozen" in dockerfile
    user = [line for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("0", "root"))
    # Everything the Dockerfile copies from the build context passes .dockerignore.
    allowed = [
        rule[1:] for rule in (ROOT / ".dockerignore").read_text().splitlines() if rule[:1] == "!"
    ]
    for line in dockerfile.splitlines():
        if not line.startswith("COPY ") or "--from=" in line:
            continue
        for source in line.split()[1:-1]:
            assert (ROOT / source).exists(), source
            assert any(
                fnmatch.fnmatch(source, rule) or rule.startswith(f"{source}/") for rule in allowed
            ), source
